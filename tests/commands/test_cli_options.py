"""Issue 15 items 3-6, 8: every option checked against the command it is given to, sizes and energy
ranges refused up front with the estimate, outputs checked before computing, model files executed
once with one-line errors, figure sets published together (also under SIGTERM), no matplotlib
warnings with an unwritable HOME.

The usage-error table runs in-process with the solver replaced by a tripwire: a check that happened
only after a solve started would show up as exit status 1 ("solver called"), not 2.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orbsym import cli

ROOT = Path(__file__).resolve().parents[2]
TRI = ["compute", "trilayer", "--N-x", "5", "--N-y", "4"]
BI = ["compute", "bilayer", "--N-x", "4", "--N-y", "4"]
F4 = ["figure", "4", "--quick", "--no-progress"]


@pytest.fixture
def no_solver(monkeypatch):
    """Fail loudly if any Bloch solve starts (the checks must come first)."""
    import orbsym.numeric.bloch as bloch

    def tripwire(*a, **k):
        raise RuntimeError("solver called before the input was refused")

    monkeypatch.setattr(bloch, "_solve_bloch", tripwire)


def _main(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# (id, argv, words in the one-line message); {tmp} is replaced by a fresh directory
USAGE = [
    # ---- item 4: options that do not apply
    ("gamma in spin basis", [*TRI, "--basis", "spin", "--gamma", "0.5"], ["--gamma", "orbital basis"]),
    ("gamma with altermagnet", [*TRI, "--metal", "am", "--gamma", "0.5"], ["--gamma", "orbital basis"]),
    ("tp in spin basis", [*BI, "--basis", "spin", "--tp", "0.5"], ["--tp", "orbital basis"]),
    ("w in orbital basis", [*TRI, "--w", "0.3"], ["--w", "--metal am"]),
    ("w on spin NM", [*TRI, "--basis", "spin", "--w", "0.3"], ["--w", "--metal am", "w = 0"]),
    ("m-L on bilayer", [*BI, "--m-L", "x"], ["--m-L", "trilayer", "--m-FM"]),
    ("m-R on bilayer", [*BI, "--m-R", "x"], ["--m-R", "trilayer"]),
    ("m-FM on trilayer", [*TRI, "--m-FM", "x"], ["--m-FM", "bilayer", "--m-L/--m-R"]),
    ("spin-unit in orbital basis", [*TRI, "--spin-unit", "S"], ["--spin-unit", "spin basis"]),
    ("quantity twice", [*TRI, "--quantities", "free_energy,free_energy"], ["--quantities", "twice"]),
    ("progress and no-progress", [*F4, "--progress", "--no-progress"], ["--no-progress", "not allowed with", "--progress"]),
    ("figure 4 has no --w", [*F4, "--w", "0.3"], ["--w", "does not apply to figure 4"]),
    ("figure 3 --w without AM panel", ["figure", "3", "--panels", "nm", "--w", "0.5"], ["--w", "AM/FM panel", "--panels nm"]),
    ("figure 3 --gamma without NM panel", ["figure", "3", "--panels", "am", "--gamma", "0.5"], ["--gamma", "NM/FM panel"]),
    ("reproduce --current without Fig. 2", ["reproduce", "--figures", "3,4", "--current", "eq7", "--out", "{tmp}"], ["--current", "does not apply", "3,4"]),
    ("reproduce figure twice", ["reproduce", "--figures", "4,4", "--out", "{tmp}"], ["--figures", "twice"]),
    # ---- item 8
    ("figure two", ["figure", "two"], ["unknown figure 'two'", "2, 3, 4, 5"]),
    # ---- item 3: sizes and energy ranges
    ("N_x 1e6 x N_y 1e9", [*TRI, "--N-x", "1000000", "--N-y", "1000000000", "--engine", "dense"], ["N_x = 1000000", "PiB of memory", "years of CPU time", "available"]),
    # engine auto: beyond the dense engine the linear-scaling one is estimated too, and refused only if out of reach
    ("N_x 1e8 x N_y 1e9 auto", [*TRI, "--N-x", "100000000", "--N-y", "1000000000"], ["N_x = 100000000", "Green's-function engine", "days of CPU time", "76 batches", "limit"]),
    ("N_x 1e5", ["compute", "trilayer", "--N-x", "100000", "--engine", "dense"], ["N_x = 100000", "TiB of memory", "300000 x 300000", "available"]),
    ("F-only N_y 1e9", [*TRI, "--N-y", "1000000000", "--quantities", "free_energy", "--engine", "dense"], ["eigenvalues only", "GiB of memory", "500000001 k-points", "available"]),
    ("mu 1e308", [*TRI, "--mu", "1e308"], ["--mu = 1e+308", "allowed range [-1e+100, 1e+100]", "overflow"]),
    ("T 1e308", [*TRI, "--T", "1e308"], ["--T = 1e+308", "allowed range"]),
    ("t -1e200", [*TRI, "--t=-1e200"], ["--t = -1e+200", "allowed range"]),
    ("figure T 1e308", [*F4, "--T", "1e308", "--out", "{tmp}"], ["--T = 1e+308", "allowed range"]),
    ("figure mu-range 1e200", ["figure", "4", "--mu-range=-1e200:1:5", "--out", "{tmp}"], ["--mu-min = -1e+200", "allowed range"]),
    ("reproduce T 1e308", ["reproduce", "--T", "1e308", "--out", "{tmp}"], ["--T = 1e+308", "allowed range"]),
    ("figure 2 N_x 1e7", ["figure", "2", "--N-x", "10000000", "--out", "{tmp}"], ["figure 2 needs", "days of CPU time", "N_x = 10000000", "--N-x"]),
    ("figure 4 mu grid 1e8", [*F4, "--mu-range=-3:3:100000000", "--out", "{tmp}"], ["figure 4 needs", "GiB of memory"]),
    ("figure 5 N_x range", ["figure", "5", "--N-x-range", "3:30000", "--out", "{tmp}"], ["figure 5 needs", "days of CPU time", "ORBSYM_MAX_SECONDS", "--N-x-range"]),
    # ---- item 5: outputs
    ("compute --out -", [*TRI, "--out", "-"], ["--out '-'", "omit --out"]),
    ("compute --out empty", [*TRI, "--out", ""], ["--out is empty"]),
    ("compute --out dir/", [*TRI, "--out", "{tmp}/new/"], ["is a directory"]),
    ("figure --out file", [*F4, "--out", "{tmp}/plain"], ["is a file, not a directory"]),
    ("figure --out empty", [*F4, "--out", ""], ["--out is empty"]),
    ("figure --out -", [*F4, "--out", "-"], ["--out '-'", "output directory"]),
    ("figure --name ../x", [*F4, "--out", "{tmp}", "--name", "../x"], ["--name '../x'", "plain file name"]),
    ("figure --name a/b", [*F4, "--out", "{tmp}", "--name", "a/b"], ["--name 'a/b'"]),
    ("figure --name hidden", [*F4, "--out", "{tmp}", "--name", ".x"], ["--name '.x'"]),
    ("figure --name empty", [*F4, "--out", "{tmp}", "--name", ""], ["--name is empty"]),
    ("figure target is a directory", [*F4, "--out", "{tmp}", "--name", "sub"], ["sub.png", "existing directory"]),
    ("reproduce --out file", ["reproduce", "--out", "{tmp}/plain", "--quick"], ["is a file"]),
    ("derive --out directory", ["derive", "multiorbital", "--out", "{tmp}"], ["--out", "is a directory"]),
    ("derive --write-all file", ["derive", "--write-all", "{tmp}/plain"], ["--write-all", "is a file"]),
    ("hoppings --out -", ["hoppings", "--out", "-"], ["--out '-'"]),
    ("hoppings --out directory", ["hoppings", "--out", "{tmp}"], ["is a directory"]),
]


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in USAGE])
def test_refused_up_front_in_one_line(argv, words, tmp_path, capsys, no_solver):
    (tmp_path / "plain").write_text("x")
    (tmp_path / "sub.png").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc, out, err = _main(argv, capsys)
    assert rc == 2, err
    assert out == "" and err.startswith("orbsym: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert (tmp_path / "plain").read_text() == "x"


def test_given_defaults_are_accepted_where_they_apply(capsys):
    """The applicability check must not reject options that do apply (spin unit with the AM, ...)."""
    for argv in (
        [*TRI, "--metal", "am", "--w", "0.3", "--spin-unit", "S", "--m-L", "x", "--m-R", "y"],
        [*BI, "--gamma", "0.5", "--tp", "0.8", "--m-FM", "x"],
    ):
        rc, out, err = _main(argv + ["--quantities", "free_energy", "--json"], capsys)
        assert rc == 0, err
        s = json.loads(out)["system"]
        assert s.get("w", s.get("gamma")) in (0.3, 0.5)


# ------------------------------------------------------------------------------ model files
COUNTING = '''
from pathlib import Path
counter = Path(__file__).with_suffix(".count")
counter.write_text(str(int(counter.read_text()) + 1) if counter.exists() else "1")
from orbsym.symbolic.symmetry import symmetric_hoppings
model = symmetric_hoppings("t2g", "D4h").to_model(name="t2g-D4h")
params = {"t_1": -0.5, "t_2": -1.0, "t_3": -1.0}
'''


def test_model_file_runs_once_and_the_json_records_it(tmp_path, capsys):
    f = tmp_path / "gen.py"
    f.write_text(COUNTING)
    argv = ["compute", "bilayer", "--N-x", "4", "--N-y", "4", "--N-FM", "2", "--m", "0.7", "--mu", "-0.3",
            "--metal-model", str(f), "--quantities", "free_energy"]
    rc, out, err = _main(argv + ["--json"], capsys)
    assert rc == 0, err
    assert (tmp_path / "gen.count").read_text() == "1"
    s = json.loads(out)["system"]
    assert s["metal_model"] == {"file": str(f), "name": "t2g-D4h", "parameters": {"mu": -0.3, "t_1": -0.5, "t_2": -1.0, "t_3": -1.0}}
    assert (s["N_FM"], s["m"], s["mu"], s["m_FM"]) == (2, 0.7, -0.3, [0.0, 0.0, 0.7])
    rc, out, err = _main(argv, capsys)  # text output
    assert rc == 0 and "N_FM=2" in out and "None" not in out and "t2g-D4h" in out and "gen.py" in out
    (tmp_path / "gen.count").unlink()
    rc, out, err = _main(["derive", str(f)], capsys)
    assert rc == 0 and (tmp_path / "gen.count").read_text() == "1"


@pytest.mark.parametrize(
    "source, words",
    [
        ("import sys\nsys.exit(3)\n", ["called sys.exit(3)"]),
        ("x = 1\nraise RuntimeError('boom')\n", ["raised RuntimeError (line 2): boom"]),
        ("x = (\n", ["raised SyntaxError (line 1)"]),
        ("model = 3\n", ["must define `model`"]),
        ("def model():\n    return 1 / 0\n", ["`model()`", "ZeroDivisionError"]),
    ],
    ids=["sys.exit", "raises", "syntax error", "no model", "model() raises"],
)
@pytest.mark.parametrize("command", ["compute", "derive"])
def test_broken_model_file_is_one_line_naming_the_file(tmp_path, capsys, source, words, command):
    f = tmp_path / "bad_model.py"
    f.write_text(source)
    argv = [*TRI, "--metal-model", str(f)] if command == "compute" else ["derive", str(f)]
    rc, out, err = _main(argv, capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1, err
    assert "bad_model.py" in err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize("name", ["t'", "lambda", "t_{1}", "a b", "numpy"])
def test_parameter_names_must_be_identifiers(name):
    import sympy as sp

    from orbsym.symbolic.generators import pauli
    from orbsym.symbolic.models import Model

    s = sp.Symbol(name, real=True)
    with pytest.raises(ValueError, match="not a valid parameter name") as info:
        Model("bad", pauli(), {"x": s * sp.eye(2), "y": sp.eye(2)})
    assert repr(name) in str(info.value)


def test_kernel_source_is_built_only_from_validated_names():
    from orbsym.kernels import compile_coefficients

    assert compile_coefficients(("t", "w"), ["-1j*t + 1j*w", "numpy.sqrt(2)*t"])(t=1.0, w=0.5) == (-0.5j, 2**0.5)
    for params, sources, word in (
        (("t'",), ["t"], "not a valid parameter name"),
        (("lambda",), ["1"], "not a valid parameter name"),
        (("t",), ["__import__('os').getcwd()"], "not an arithmetic expression"),
        (("t",), ["t.real"], "not an arithmetic expression"),
        (("t",), ["u + t"], "not an arithmetic expression"),
        (("t",), ["t)"], "not a valid expression"),
    ):
        with pytest.raises(ValueError, match=word):
            compile_coefficients(params, sources)


def test_help_says_model_files_are_executed_and_shows_defaults(capsys):
    for argv in (["compute", "--help"], ["derive", "--help"], ["figure", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        text = " ".join(capsys.readouterr().out.split())
        if argv[0] in ("compute", "derive"):
            assert "executed as Python" in text and "trust" in text
        if argv[0] == "compute":
            for d in ("(default: 25)", "(default: 800)", "(default: 0.01)", "(default: -0.2)", "(default: fm)", "(default: 1)"):
                assert d in text, d
        if argv[0] == "figure":
            assert "--T TEMP" in text and "--t HOP" in text and "(default: 0.01)" in text


# ------------------------------------------------------------------------------ API
def test_strings_are_rejected_consistently_as_numbers():
    from orbsym.numeric import Column
    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.models import builtin_model
    from orbsym.systems import magnetization, solve, trilayer

    system = trilayer(N_x=5, N_y=3)
    for T in ("0.01", "hot", b"0.01", True):
        with pytest.raises(ValueError, match="temperature T must be a real number"):
            solve(system, T)
    with pytest.raises(ValueError, match="magnetization must be"):
        magnetization(("1", "0", "0"))
    ks = kernels(builtin_model("ferromagnet"))
    with pytest.raises(ValueError, match="'t' .* must be a real number"):
        Column(ks, {"t": "1.0", "mu": 0.0, "m_x": 0.0, "m_y": 0.0, "m_z": 1.0})
    assert solve(system, 0.01).T == solve(system, __import__("numpy").float64(0.01)).T == 0.01


def test_energy_limit_is_finite_at_the_bound_and_refused_beyond():
    """|x| <= 1e100 (units of t) keeps F, N and the currents finite; beyond it the input is refused
    (F = -inf with exit status 0 before)."""
    import numpy as np

    from orbsym.numeric.checks import ENERGY_LIMIT
    from orbsym.systems import heterostructure, layer, solve, trilayer

    L = ENERGY_LIMIT
    for kw, T in ((dict(mu=L), L), (dict(mu=-L, t=L, m=L, gamma=-L), 0.0), (dict(tp=L), 0.01)):
        r = solve(trilayer(N_x=4, N_y=3, **kw), T)
        vals = [r.free_energy(), r.particle_number()] + [v for a in r.currents().values() for v in a]
        assert np.all(np.isfinite(vals)), (kw, T)
    for bad in (dict(mu=1.01 * L), dict(t=-1e300), dict(w=2 * L)):
        with pytest.raises(ValueError, match=r"allowed range \[-1e\+100, 1e\+100\]"):
            trilayer("spin" if "w" in bad else None, metal="am" if "w" in bad else "nm", N_x=4, N_y=3, **bad)
    with pytest.raises(ValueError, match="temperature T = 1e\\+101 is outside the allowed range"):
        solve(trilayer(N_x=4, N_y=3), 1e101)
    with pytest.raises(ValueError, match="parameter mu of column"):
        heterostructure([layer("nm", 2, mu=1e200)], N_y=2)


def test_torque_derivative_form_bad_keys_and_readable_print():
    from orbsym.symbolic.continuity import derive
    from orbsym.symbolic.models import builtin_model

    der = derive(builtin_model("multiorbital"))
    with pytest.raises(ValueError, match="unknown polarization 'w'; allowed: x, y, z"):
        der.torque_derivative_form("w", (1, 0))
    with pytest.raises(ValueError, match=r"unknown bond offset \(2, 0\).*allowed: \(1, 0\), \(0, 1\)"):
        der.torque_derivative_form("z", (2, 0))
    form = der.torque_derivative_form("z", "x")
    assert form == der.torque_derivative_form("z", (1, 0))  # still the plain dict of matrices
    text = str(form)
    assert text.startswith("torque on J_z from the x-bonds of model 'multiorbital'")
    assert "c_n^dag X (d+_x c_n)" in text and "gamma" in text and "Matrix(" not in text
    assert form._repr_latex_().startswith("$") and "\\partial^{+}_{x}" in form._repr_latex_()


# ------------------------------------------------------------------------------ resource estimates
def test_budget_estimate_bounds_the_measured_peak_and_refuses_with_the_estimate(monkeypatch):
    """The dense Bloch estimate is an upper bound of the measured peak (tracemalloc sees NumPy's
    allocations) and within a small factor of it when the n x n pieces dominate; solve() refuses a
    system that does not fit the limit, naming the estimate (engine="dense": the Green's-function
    engine, which "auto" picks for long strips, checks its own O(N_x) batches)."""
    import tracemalloc

    from orbsym.numeric.budget import ResourceError, dense_bloch_estimate, format_bytes
    from orbsym.systems import solve, trilayer

    system = trilayer(N_x=150, N_y=6)
    est = solve(system, 0.1, engine="dense").estimate(vectors=False)
    assert est.bytes == dense_bloch_estimate(150, 6, 3, vectors=False).bytes
    tracemalloc.start()
    solve(system, 0.1, engine="dense").free_energy()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert est.bytes / 4 < peak <= est.bytes, (format_bytes(peak), format_bytes(est.bytes))
    big = dense_bloch_estimate(10**5, 800, 3)
    assert big.bytes > 6 * 16 * (3 * 10**5) ** 2 and big.seconds > 401 * 1e-10 * (3e5) ** 3
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "1M")
    with pytest.raises(ResourceError, match=r"the eigenvalue solve needs ~[0-9.]+ MiB of memory .* more than the 1 MiB available"):
        solve(trilayer(N_x=60, N_y=8), 0.1, engine="dense")
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "64G")
    small = trilayer(N_x=40, N_y=4)
    t_values = dense_bloch_estimate(40, 4, 3, vectors=False).seconds
    t_vectors = dense_bloch_estimate(40, 4, 3, vectors=True).seconds
    assert t_vectors > 2 * t_values
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", repr((t_values * t_vectors) ** 0.5))
    r = solve(small, 0.1, engine="dense")
    assert r.free_energy() < 0  # the eigenvalue solve fits the limit ...
    with pytest.raises(ResourceError, match="with eigenvectors needs .* more than the limit of"):
        r.currents()  # ... the one with eigenvectors does not
    from orbsym.numeric import solve_realspace

    with pytest.raises(ResourceError, match="dense real-space solve needs ~268 GiB .* one 60000 x 60000 matrix"):
        solve_realspace(trilayer(N_x=25, N_y=800).lattice, 0.01)
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "lots")
    with pytest.raises(ValueError, match="ORBSYM_MAX_MEMORY must be a size"):
        solve(trilayer(N_x=4, N_y=2), 0.1)


# ------------------------------------------------------------------------------ atomic sets
def test_atomic_files_publishes_all_or_nothing(tmp_path):
    import errno

    from orbsym.io import OutputError, atomic_files, atomic_path, atomic_write

    a, b = tmp_path / "f.png", tmp_path / "f.csv"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(KeyboardInterrupt):
        with atomic_files():
            with atomic_write(a) as fh:
                fh.write("new a")
            assert a.read_text() == "old a"  # deferred until the whole set is complete
            raise KeyboardInterrupt
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "f.png"]
    with atomic_files([a, b]) as (ta, tb):
        ta.write_text("new a")
        with atomic_files():  # nested: joins the outer set
            with atomic_path(b) as tmp:
                assert tmp == tb.parent / tmp.name and tmp != tb  # a fresh temporary replaces the reserved one
                tmp.write_text("new b")
        assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "f.png"]
    with pytest.raises(OutputError, match=r"cannot write .*f\.csv.*No space left on device \(disk full\)"):
        with atomic_files():
            with atomic_path(b):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with pytest.raises(OutputError, match=r"f\.png.*File too large"):
        with atomic_path(a):
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "f.png"]


# ------------------------------------------------------------------------------ subprocesses
def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop("MPLCONFIGDIR", None)
    env.update(extra)
    return env


FIG4_TINY = ["figure", "4", "--quick", "--no-progress", "--N-x", "4", "--N-y", "8", "--mu-range=-1:1:5"]
NAMES = ("fig4.png", "fig4.pdf", "fig4.csv", "fig4.nc")
RESUME = ".orbsym-resume"  # sweep state of an interrupted figure (removed once the figure is written)

# SIGTERM sent by the process to itself at a chosen point of the save: while the PDF is being
# written (the set must stay old), or during the renames (held off: the set must be all new).
# In-process through cli.main (it installs the SIGTERM handler in the main thread, as a real run
# does); the real-process exit path is covered by test_sigterm_from_outside_while_saving.
def _self_kill_at(where, monkeypatch):
    if where == "pdf":
        from matplotlib.figure import Figure

        real = Figure.savefig

        def savefig(self, fname, *a, **kw):
            if kw.get("format") == "pdf":
                with open(fname, "wb") as fh:
                    fh.write(b"%PDF-1.4 half")
                os.kill(os.getpid(), signal.SIGTERM)
            return real(self, fname, *a, **kw)

        monkeypatch.setattr(Figure, "savefig", savefig)
    else:
        import orbsym.io

        real_replace = os.replace

        def replace(src, dst):
            if os.path.basename(str(dst)).startswith("fig4."):
                os.kill(os.getpid(), signal.SIGTERM)
            return real_replace(src, dst)

        monkeypatch.setattr(orbsym.io.os, "replace", replace)


def _old_set(d):
    for n in NAMES:
        (d / n).write_text("old")


def _state(d):
    names = sorted(p.name for p in d.iterdir() if p.name != RESUME)
    old = [n for n in NAMES if (d / n).read_bytes() == b"old"]
    return names, old


@pytest.mark.parametrize("where, expect_old", [("pdf", True), ("rename", False)])
def test_sigterm_during_figure_save_leaves_a_matched_set_and_no_temporary(tmp_path, where, expect_old, monkeypatch, capsys):
    _old_set(tmp_path)
    previous = signal.getsignal(signal.SIGTERM)
    _self_kill_at(where, monkeypatch)
    rc, out, err = _main([*FIG4_TINY, "--out", str(tmp_path)], capsys)
    assert signal.getsignal(signal.SIGTERM) == previous  # the CLI's handler is removed again
    assert rc == 143, err
    assert err.strip().splitlines()[-1] == "orbsym: terminated (SIGTERM)"
    names, old = _state(tmp_path)
    assert names == sorted(NAMES)  # no hidden temporary file left
    assert old == (list(NAMES) if expect_old else [])  # all old or all new, never mixed
    if not expect_old:
        assert (tmp_path / "fig4.png").read_bytes()[:4] == b"\x89PNG"


def test_sigterm_from_outside_while_saving(tmp_path):
    """A real SIGTERM from another process the moment the first temporary file appears."""
    _old_set(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "orbsym.cli", *FIG4_TINY, "--out", str(tmp_path)], env=_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.name.startswith(".fig4.") and p.name.endswith(".tmp.png") for p in tmp_path.iterdir()):
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.002)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    names, old = _state(tmp_path)
    assert names == sorted(NAMES), (names, err)
    assert old in (list(NAMES), []), old
    assert proc.returncode in (0, 143), err
    if proc.returncode == 143:
        assert old == list(NAMES) or "terminated" in err


def test_no_matplotlib_warning_with_an_unusable_home(tmp_path):
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    env = _env(HOME=str(home))
    for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env.pop(k, None)
    proc = subprocess.run([sys.executable, "-m", "orbsym.cli", *FIG4_TINY, "--out", str(tmp_path / "f")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert sorted(os.listdir(tmp_path / "f")) == sorted(NAMES)


def test_sigterm_that_surfaces_as_another_exception_still_exits_143(monkeypatch, capsys):
    """A SIGTERM that lands inside a C-extension import surfaces as ``ImportError: initialization
    failed``; the CLI must report the termination (143), not a one-line error with status 1."""
    import argparse

    from orbsym import cli
    from orbsym.io import Terminated

    def run(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except Terminated:
            raise ImportError("initialization failed") from None

    def build_parser():
        p = argparse.ArgumentParser()
        p.set_defaults(command="x", _run=run)
        return p

    monkeypatch.setattr(cli, "build_parser", build_parser)
    assert cli.main([]) == 143
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["orbsym: terminated (SIGTERM)"]
