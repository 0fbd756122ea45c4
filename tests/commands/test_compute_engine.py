"""``orbsym compute --engine`` and ``--N-y inf``: the engine that ran and the k integral are recorded."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orbsym.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["compute", "trilayer", "--N-x", "5", "--N-y", "6", "--gamma", "0.5", "--T", "0.05"]


def _json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _values(d):
    out = []
    for q in ("densities", "currents", "torques"):
        stack = [d[q]]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                stack.extend(v[k] for k in sorted(v))
            else:
                out.extend(np.nan if x is None else x for x in v)
    return np.array(out + [d["free_energy_per_row"], d["particle_number_per_row"]])


def test_engine_option_records_and_agrees(capsys):
    q = ["--quantities", "densities,currents,torques,free_energy,particle_number"]
    dense = _json(capsys, *SMALL, "--engine", "dense", *q)
    greens = _json(capsys, *SMALL, "--engine", "greens", *q)
    assert (dense["engine"], dense["engine_requested"]) == ("dense", "dense")
    assert (greens["engine"], greens["engine_requested"]) == ("greens", "greens")
    np.testing.assert_allclose(_values(greens), _values(dense), rtol=0, atol=1e-10, equal_nan=True)
    assert main([*SMALL, "--engine", "greens", "--quantities", "free_energy"]) == 0
    assert "engine: greens (requested greens)" in capsys.readouterr().out


def test_infinite_rows_option(capsys):
    argv = ["compute", "trilayer", "--N-x", "5", "--gamma", "0.5", "--T", "0.05", "--quantities", "free_energy,particle_number"]
    g = _json(capsys, *argv, "--N-y", "inf", "--engine", "greens")
    d = _json(capsys, *argv, "--N-y", "inf", "--engine", "dense")
    assert g["system"]["N_y"] == d["system"]["N_y"] == "inf" and g["free_energy_total"] is None
    assert g["k_integral"]["engine"] == "greens" and d["k_integral"]["method"] in ("trapezoid", "adaptive")
    assert g["free_energy_per_row"] == pytest.approx(d["free_energy_per_row"], abs=1e-10)
    assert g["particle_number_per_row"] == pytest.approx(d["particle_number_per_row"], abs=1e-10)
    assert main([*argv, "--N-y", "inf"]) == 0
    text = capsys.readouterr().out
    assert "N_y=inf" in text and "k integral by poles+k-subgrids" in text and "total infinite" in text


def _run(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "orbsym.cli", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--engine", "grens"], ["unknown engine 'grens'", "greens", "allowed: auto, dense, greens"]),
        (["--engine", ""], ["unknown engine", "allowed: auto, dense, greens"]),
        (["--N-y", "infinite-ish"], ["--N-y must be an integer >= 1 or inf", "'infinite-ish'"]),
    ],
)
def test_bad_engine_or_rows_is_one_line_usage_error(argv, words, capsys):
    """The first case through a real process (exit status, stderr), the others through main()."""
    if argv[1] == "grens":
        proc = _run(*SMALL, *argv)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        capsys.readouterr()
        rc = main([*SMALL, *argv])
        out, err = capsys.readouterr()
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("orbsym: ") and "Traceback" not in err
    for w in words:
        assert w in err
    assert out == ""


def test_auto_runs_a_strip_too_long_for_the_dense_engine_and_dense_is_refused(capsys):
    """The up-front size check knows the linear-scaling engine: a strip whose dense solve would need
    ~1e2 GiB or more runs under ``--engine auto`` (greens), while ``--engine dense`` is refused at once."""
    long = ["compute", "trilayer", "--N-x", "15000", "--N-y", "4", "--gamma", "0.5", "--T", "0.5", "--quantities", "free_energy"]
    d = _json(capsys, *long)
    assert d["engine"] == "greens" and np.isfinite(d["free_energy_per_row"])
    assert main([*long, "--engine", "dense"]) == 2
    err = capsys.readouterr().err
    assert "memory" in err and "dense Bloch" in err and len(err.strip().splitlines()) == 1
