"""``orbsym response`` and the bulk Hall API refuse bad input before any work (issue 24).

Classes covered, each table-driven at the API and the CLI, with the Kubo solvers replaced by a
tripwire wherever nothing may run:

* a model parameter without a value (never zero), misspelled names ("did you mean"), complex /
  NaN / infinite / out-of-range values, empty list entries;
* options that do not apply to the geometry, the basis, the metal or a ``--metal-model`` file
  (every row of :data:`orbsym.commands.response.APPLIES`, for every geometry);
* sizes beyond the memory or time limit, refused with the estimate and the option's name;
* ``--out`` refused before computing, naming the user's path.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import orbsym.response as R
from orbsym.cli import main
from orbsym.commands import response as cmd

ROOT = Path(__file__).resolve().parents[2]
GEOMETRIES = ("trilayer", "bilayer", "bulk")
NNN = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)
HEADER = 'from orbsym.symbolic.symmetry import symmetric_hoppings\nmodel = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()\n'
MODEL_FILES = {
    "full": dict(NNN),
    "no_s3": {k: v for k, v in NNN.items() if k != "s_3"},
    "no_t2t3": {k: v for k, v in NNN.items() if k not in ("t_2", "t_3")},
    "none": {},
    "typo": {**{k: v for k, v in NNN.items() if k != "s_3"}, "s3": 0.2},
    "with_mu": {**NNN, "mu": 0.1},
    "complex": {**NNN, "s_3": 0.2j},
    "nan": {**NNN, "s_3": float("nan")},
    "huge": {**NNN, "t_1": 1e200},
    "string": {**NNN, "t_1": "-0.5"},
}


class Tripwire(RuntimeError):
    """Raised by the replaced solvers: reaching it means the input was accepted."""


def _trip(*args, **kwargs):
    raise Tripwire("tripwire: the solver was called")


@pytest.fixture()
def tripwire(monkeypatch):
    monkeypatch.setattr(R, "bulk_hall", _trip)
    monkeypatch.setattr(R, "solve_kubo", _trip)


@pytest.fixture(scope="module")
def nnn():
    from orbsym.symbolic.symmetry import symmetric_hoppings

    return symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    out = {}
    for name, params in MODEL_FILES.items():
        p = d / f"{name}.py"
        p.write_text(HEADER + f"params = {params!r}\n".replace("nan", "float('nan')"))
        out[name] = str(p)
    return out


# =============================================================================== API: orbital_hall
def _api(nnn, which):
    from orbsym.symbolic.continuity import kernels

    return {"model": nnn, "kernels": kernels(nnn)}[which]


API_BULK = [
    # (id, model, kwargs, env, exception, words)
    ("user model, no params", "model", {}, {}, ValueError, ["needs values", "s_1", "t_3", "never set to zero"]),
    ("user model, s_3 missing", "model", {k: v for k, v in NNN.items() if k != "s_3"}, {}, ValueError, ["needs values", "['s_3']"]),
    ("user model, t_2 t_3 missing", "model", {k: v for k, v in NNN.items() if k not in ("t_2", "t_3")}, {}, ValueError, ["['t_2', 't_3']"]),
    ("kernels, s_1 missing", "kernels", {k: v for k, v in NNN.items() if k != "s_1"}, {}, ValueError, ["needs values", "['s_1']"]),
    ("misspelled parameter", "model", {**NNN, "s3": 1.0}, {}, ValueError, ["'s3'", "did you mean 's_3'"]),
    ("built-in misspelled", "nm", {"gama": 0.5}, {}, ValueError, ["'gama'", "did you mean 'gamma'"]),
    ("built-in foreign parameter", "nm", {"w": 0.4}, {}, ValueError, ["'w'", "allowed"]),
    ("complex parameter", "model", {**NNN, "s_3": 0.2j}, {}, ValueError, ["s_3", "complex"]),
    ("NaN parameter", "model", {**NNN, "t_1": float("nan")}, {}, ValueError, ["t_1", "finite"]),
    ("infinite parameter", "nm", {"gamma": float("inf")}, {}, ValueError, ["gamma", "finite"]),
    ("huge parameter", "nm", {"t": 1e200}, {}, ValueError, ["parameter t", "allowed range"]),
    ("string parameter", "nm", {"gamma": "0.5"}, {}, ValueError, ["gamma", "real number"]),
    ("empty mu", "nm", {"mu": []}, {}, ValueError, ["mu is empty"]),
    ("complex mu", "nm", {"mu": [0.1, 0.2 + 1j]}, {}, ValueError, ["mu[1]", "complex"]),
    ("NaN mu", "nm", {"mu": np.array([0.0, np.nan])}, {}, ValueError, ["mu[1]", "finite"]),
    ("infinite scalar mu", "nm", {"mu": float("-inf")}, {}, ValueError, ["mu", "finite"]),
    ("string mu", "nm", {"mu": "0.1"}, {}, ValueError, ["mu", "real number"]),
    ("2D mu", "nm", {"mu": [[0.1, 0.2]]}, {}, ValueError, ["mu", "1D"]),
    ("N_k = 1", "nm", {"N_k": 1}, {}, ValueError, ["N_k", ">= 2"]),
    ("float N_k", "nm", {"N_k": 1e7}, {}, ValueError, ["N_k", "integer"]),
    ("bool N_k", "nm", {"N_k": True}, {}, ValueError, ["N_k", "integer"]),
    ("N_k = 10**7: time", "nm", {"N_k": 10**7}, {}, ValueError, ["N_k = 10000000", "years", "reduce N_k"]),
    ("N_k = 10**8: time", "model", {**NNN, "N_k": 10**8}, {}, ValueError, ["N_k = 100000000", "CPU time", "reduce N_k"]),
    ("time limit", "nm", {"N_k": 1000}, {"ORBSYM_MAX_SECONDS": "0.01"}, ValueError, ["N_k = 1000", "ORBSYM_MAX_SECONDS", "reduce N_k"]),
    ("memory limit", "nm", {"N_k": 200}, {"ORBSYM_MAX_MEMORY": "1M"}, ValueError, ["N_k = 200", "MiB", "reduce N_k"]),
    ("many mu: time", "nm", {"N_k": 100, "mu": np.zeros(2000)}, {"ORBSYM_MAX_SECONDS": "0.05"}, ValueError, ["2000 chemical potentials", "reduce N_k"]),
    ("negative T", "nm", {"T": -0.1}, {}, ValueError, ["temperature T", ">= 0"]),
    ("complex T", "nm", {"T": 0.1j}, {}, ValueError, ["temperature T", "complex"]),
    ("NaN eta", "nm", {"eta": float("nan")}, {}, ValueError, ["eta", "finite"]),
    ("negative eta", "nm", {"eta": -0.01}, {}, ValueError, ["eta", ">= 0"]),
    ("bad polarization", "nm", {"polarization": "Z"}, {}, ValueError, ["polarization", "'Z'", "did you mean 'z'"]),
    ("bad model name", "nmm", {}, {}, ValueError, ["bulk model", "did you mean 'nm'"]),
    ("bad basis", "nm", {"basis": "orbitl"}, {}, ValueError, ["basis", "did you mean 'orbital'"]),
    ("am in the orbital basis", "am", {}, {}, ValueError, ["altermagnet", "spin"]),
    ("basis with a user model", "model", {**NNN, "basis": "spin"}, {}, ValueError, ["basis='spin'", "built-in kinds"]),
    ("basis with kernels", "kernels", {**NNN, "basis": "orbital"}, {}, ValueError, ["basis='orbital'", "built-in kinds"]),
    ("spin basis, orbital parameter", "nm", {"basis": "spin", "gamma": 0.5}, {}, ValueError, ["'gamma'", "allowed"]),
]


@pytest.mark.parametrize("model, kwargs, env, exc, words", [pytest.param(*row[1:], id=row[0]) for row in API_BULK])
def test_orbital_hall_refuses_before_any_work(model, kwargs, env, exc, words, nnn, tripwire, monkeypatch):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    m = _api(nnn, model) if model in ("model", "kernels") else model
    with pytest.raises(exc) as info:
        R.orbital_hall(m, **kwargs)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_orbital_hall_accepted_input_reaches_the_solver(nnn, tripwire):
    """The same calls with every parameter given pass the checks (the tripwire is reached)."""
    for m, kw in ((nnn, NNN), ("nm", {}), ("am", {"basis": "spin", "w": 0.4}), ("fm", {"m_z": 1.0})):
        with pytest.raises(Tripwire):
            R.orbital_hall(m, N_k=10, mu=[-0.5, 0.5], **kw)


# ----------------------------------------------------------------------------- correct results unchanged
#: orbital_hall(nnn, mu=[-1, 0, 0.5], N_k=30, T=0.01, **NNN)["sigma"] before the fix (commit 375e166).
SIGMA_BEFORE = [0.14982289247527383, 0.14913274247335706, 0.14272082188135454]


def test_full_parameters_give_the_same_nonzero_result(nnn):
    from orbsym.symbolic.continuity import kernels

    r = R.orbital_hall(nnn, mu=[-1, 0, 0.5], N_k=30, T=0.01, **NNN)
    np.testing.assert_allclose(r["sigma"], SIGMA_BEFORE, rtol=1e-12, atol=0)
    assert np.all(np.abs(r["sigma"]) > 0.1)
    rk = R.orbital_hall(kernels(nnn), mu=[-1, 0.5], N_k=24, T=0.02, eta=0.1, **NNN)
    np.testing.assert_allclose(rk["sigma"], [0.15124487764961486, 0.15593515067455133], rtol=1e-12, atol=0)


def test_builtin_defaults_are_the_documented_ones():
    """Built-in kinds keep their documented defaults (t = 1, gamma = 1, tp = t), not zeros."""
    a = R.orbital_hall("nm", mu=[-0.2, 0.4], N_k=12, T=0.05, eta=0.1)
    b = R.orbital_hall("nm", mu=[-0.2, 0.4], N_k=12, T=0.05, eta=0.1, t=1.0, gamma=1.0, tp=1.0)
    np.testing.assert_array_equal(a["total"], b["total"])
    c = R.orbital_hall("nm", mu=[-0.2, 0.4], N_k=12, T=0.05, eta=0.1, t=2.0, gamma=1.0)  # tp = t
    d = R.orbital_hall("nm", mu=[-0.2, 0.4], N_k=12, T=0.05, eta=0.1, t=2.0, gamma=1.0, tp=2.0)
    np.testing.assert_array_equal(c["total"], d["total"])
    assert R.BULK_DEFAULTS["t"] == 1.0 and R.BULK_DEFAULTS["gamma"] == 1.0


def test_bulk_hall_batches_are_one_grid():
    """k points formed per batch: any batch size gives the same sums (memory O(batch))."""
    from orbsym.numeric.kubo import bulk_hall
    from orbsym.symbolic.generators import t2g_L

    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    hops = {(1, 0): a / 4, (0, 1): a.T / 4, (1, 1): np.eye(3) * 0.1}
    gens = np.array([np.array(g, dtype=complex) for g in t2g_L()])
    ref = bulk_hall(np.diag([0.1, -0.2, 0.3]).astype(complex), hops, gens, [-0.5, 0.2], 9, 0.05, 0.1, 2)
    for batch in (1, 7, 80, 81):
        r = bulk_hall(np.diag([0.1, -0.2, 0.3]).astype(complex), hops, gens, [-0.5, 0.2], 9, 0.05, 0.1, 2, batch=batch)
        for k in ("fermi_sea", "fermi_surface", "charge_hall"):
            np.testing.assert_allclose(r[k], ref[k], rtol=1e-12, atol=1e-15)
    assert np.abs(ref["fermi_sea"]).max() > 1e-4


def test_bulk_estimate_grows_with_the_sizes():
    from orbsym.numeric.budget import bulk_hall_estimate

    e = bulk_hall_estimate(100, 3)
    assert bulk_hall_estimate(200, 3).seconds == pytest.approx(4 * e.seconds, rel=0.05)
    assert bulk_hall_estimate(100, 6).seconds > 2 * e.seconds
    assert bulk_hall_estimate(100, 3, n_mu=100).seconds > 2 * e.seconds
    assert bulk_hall_estimate(10**8, 3).bytes < 2**30  # the grid is never held whole
    assert "N_k = 100" in e.detail


# =============================================================================== API: heterostructure response
def test_response_size_refused_before_any_solve(tripwire, monkeypatch):
    from orbsym.systems import bilayer

    s = bilayer(N_x=6, N_y=10)
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "1e-6")
    with pytest.raises(ValueError, match=r"linear response of N_x = 6, N_y = 10 .*CPU time.*reduce N_x or N_y"):
        R.response(s, 0.05, 0.05)
    monkeypatch.delenv("ORBSYM_MAX_SECONDS")
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "1M")
    with pytest.raises(ValueError, match=r"N_x = 6, N_y = 10 needs .*MiB of memory"):
        R.response(s, 0.05, 0.05)


def test_reciprocity_scans_refused_before_any_solve(tripwire, monkeypatch):
    """local_reciprocity runs one solve per boundary: refused as a whole, before the first."""
    from orbsym.numeric.budget import kubo_estimate
    from orbsym.systems import bilayer

    s = bilayer(N_x=12, N_y=10)
    one = kubo_estimate(12, 10, 3).seconds
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", repr(2 * one))
    r = R.response(s, 0.05, 0.05)  # one solve fits
    with pytest.raises(ValueError, match=r"\(12 solves\)"):
        r.local_reciprocity("z")
    with pytest.raises(ValueError, match=r"\(4 solves\)"):
        r.reciprocity()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        pytest.param({"T": -1}, ["temperature", ">= 0"], id="negative T"),
        pytest.param({"T": 0.1j}, ["temperature"], id="complex T"),
        pytest.param({"eta": 0}, ["eta", "> 0"], id="eta 0"),
        pytest.param({"eta": float("nan")}, ["eta", "finite"], id="NaN eta"),
        pytest.param({"part": "fermi_sae"}, ["fermi_sea"], id="misspelled part"),
    ],
)
def test_response_bad_arguments(kwargs, words, tripwire):
    from orbsym.systems import bilayer

    with pytest.raises(ValueError) as info:
        R.response(bilayer(N_x=4, N_y=6), **kwargs)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_heterostructure_user_model_missing_parameter_is_named(nnn, tripwire):
    from orbsym.systems import heterostructure, layer

    with pytest.raises(ValueError, match=r"missing parameter values \['s_3'\]"):
        R.response(heterostructure([layer(nnn, 3, **{k: v for k, v in NNN.items() if k != "s_3"}), layer("fm", 1)], N_y=6), 0.05, 0.05)


# =============================================================================== CLI
def _cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def _refused(argv, capsys, *words):
    code, err = _cli(argv, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("orbsym: error: ") and "tripwire" not in err, err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    return err


def _reaches_solver(argv, capsys):
    code, err = _cli(argv, capsys)
    assert code == 1 and "tripwire" in err, err


#: A valid value of every option of the APPLIES table.
VALUES = {"N_x": "6", "N_y": "10", "N_FM": "1", "m_L": "z", "m_R": "z", "m_FM": "y", "m": "0.5", "interface": "metal", "spin_unit": "S",
          "N_k": "10", "mu_range": "-1:1:3", "polarization": "x"}
SMALL = {"trilayer": ["--N-x", "5", "--N-y", "6"], "bilayer": ["--N-x", "4", "--N-y", "6"], "bulk": ["--N-k", "6"]}


def _option_rows():
    rows = []
    for dest, (flag, where) in cmd.APPLIES.items():
        for geo in GEOMETRIES:
            rows.append(pytest.param(dest, flag, geo, geo in where, id=f"{flag} {geo}"))
    return rows


@pytest.mark.parametrize("dest, flag, geometry, applies", _option_rows())
def test_every_option_applies_or_is_refused_by_name(dest, flag, geometry, applies, capsys, tripwire):
    """The whole option x geometry table: refused (naming the option and where it applies) or run."""
    extra = [f"{flag}={VALUES[dest]}"]
    if dest == "spin_unit":
        extra = ["--basis", "spin", *extra]
    argv = ["response", geometry, *_drop(SMALL[geometry], flag), *extra]
    if applies:
        _reaches_solver(argv, capsys)
    else:
        where = cmd.APPLIES[dest][1]
        _refused(argv, capsys, f"option {flag} does not apply", f"orbsym response {geometry}", " and ".join(where))


def _drop(argv, flag):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == flag:
            skip = True
            continue
        out.append(a)
    return out


CLI_REFUSALS = [
    # (id, geometry/argv tail, words)  -- all before any solve
    ("model file: --gamma", ["bulk", "--metal-model", "{full}", "--gamma", "0.5"], ["--gamma does not apply with --metal-model"]),
    ("model file: --basis", ["bilayer", "--metal-model", "{full}", "--basis", "orbital"], ["--basis does not apply with --metal-model"]),
    ("model file: --metal", ["trilayer", "--metal-model", "{full}", "--metal", "nm"], ["--metal does not apply with --metal-model"]),
    ("model file: --tp", ["bulk", "--metal-model", "{full}", "--tp", "1"], ["--tp does not apply with --metal-model"]),
    ("model file: --w", ["bulk", "--metal-model", "{full}", "--w", "0.1"], ["--w does not apply with --metal-model"]),
    ("model file: --spin-unit", ["bilayer", "--metal-model", "{full}", "--spin-unit", "S"], ["--spin-unit does not apply with --metal-model"]),
    ("model file: --t without t", ["bulk", "--metal-model", "{full}", "--t", "2"], ["--t does not apply", "no parameter 't'"]),
    ("model file: --mu and file mu", ["bulk", "--metal-model", "{with_mu}", "--mu", "0.3"], ["--mu conflicts", "'mu'", "with_mu.py"]),
    ("model file: --mu-range and file mu", ["bulk", "--metal-model", "{with_mu}", "--mu-range=-1:1:3"], ["--mu-range conflicts"]),
    ("model file: scan mu and file mu", ["bilayer", "--metal-model", "{with_mu}", "--scan", "mu=0,0.1"], ["--scan mu conflicts"]),
    ("model file: scan gamma", ["bilayer", "--metal-model", "{full}", "--scan", "gamma=0.5,1"], ["--scan gamma does not apply with --metal-model"]),
    ("model file: scan t without t", ["bulk", "--metal-model", "{full}", "--scan", "t=1,2"], ["--scan t does not apply", "no parameter 't'"]),
    ("bulk: s_3 missing", ["bulk", "--metal-model", "{no_s3}"], ["needs values for ['s_3']", "no_s3.py", "never set to zero"]),
    ("bulk: t_2 t_3 missing", ["bulk", "--metal-model", "{no_t2t3}"], ["['t_2', 't_3']"]),
    ("bulk: no params", ["bulk", "--metal-model", "{none}"], ["needs values for ['s_1', 's_2', 's_3', 't_1', 't_2', 't_3']"]),
    ("bilayer: s_3 missing", ["bilayer", "--metal-model", "{no_s3}"], ["needs values for ['s_3']"]),
    ("trilayer: t_2 t_3 missing", ["trilayer", "--metal-model", "{no_t2t3}"], ["['t_2', 't_3']"]),
    ("bulk: misspelled file parameter", ["bulk", "--metal-model", "{typo}"], ["'s3'", "did you mean 's_3'", "typo.py"]),
    ("bilayer: misspelled file parameter", ["bilayer", "--metal-model", "{typo}"], ["'s3'", "did you mean 's_3'"]),
    ("bulk: complex file parameter", ["bulk", "--metal-model", "{complex}"], ["s_3", "complex.py", "complex value"]),
    ("bilayer: complex file parameter", ["bilayer", "--metal-model", "{complex}"], ["s_3", "complex.py", "complex value"]),
    ("bulk: NaN file parameter", ["bulk", "--metal-model", "{nan}"], ["s_3", "nan.py", "finite"]),
    ("trilayer: NaN file parameter", ["trilayer", "--metal-model", "{nan}"], ["s_3", "nan.py", "finite"]),
    ("bulk: huge file parameter", ["bulk", "--metal-model", "{huge}"], ["t_1", "huge.py", "allowed range"]),
    ("bulk: string file parameter", ["bulk", "--metal-model", "{string}"], ["t_1", "string.py", "real number"]),
    ("spin basis: --gamma", ["bulk", "--basis", "spin", "--gamma", "0.5"], ["--gamma applies only to the orbital basis"]),
    ("spin basis: --tp", ["bilayer", "--metal", "am", "--tp", "0.5"], ["--tp applies only to the orbital basis"]),
    ("orbital: --spin-unit", ["trilayer", "--spin-unit", "S"], ["--spin-unit applies only to the spin basis"]),
    ("nm: --w", ["bulk", "--w", "0.3"], ["--w applies only to the altermagnet"]),
    ("am in orbital basis", ["bulk", "--metal", "am", "--basis", "orbital"], ["--metal am", "spin basis"]),
    ("--mu and --mu-range", ["bulk", "--mu", "0.1", "--mu-range=-1:1:3"], ["--mu and --mu-range"]),
    ("scan: empty entry", ["bulk", "--scan", "gamma=1,,2"], ["entry 2 is empty"]),
    ("scan: trailing comma", ["bilayer", "--scan", "mu=0.1,"], ["entry 2 is empty"]),
    ("scan: no values", ["bilayer", "--scan", "mu="], ["no values"]),
    ("scan: NaN", ["bulk", "--scan", "T=0.1,nan"], ["--scan T value", "finite"]),
    ("scan: inf", ["bilayer", "--scan", "gamma=inf"], ["--scan gamma value", "finite"]),
    ("scan: huge", ["bilayer", "--scan", "mu=1e300"], ["allowed range"]),
    ("scan: complex", ["bulk", "--scan", "gamma=1,1+2j"], ["'1+2j'", "not a real number"]),
    ("scan: non-integer N_x", ["bilayer", "--scan", "N_x=4,5.5"], ["'5.5'", "not an integer"]),
    ("scan: N_x 0", ["bilayer", "--scan", "N_x=4,0"], ["N_x must be an integer >= 1"]),
    ("scan: eta 0 (heterostructure)", ["bilayer", "--scan", "eta=0.1,0"], ["--scan eta value must be > 0"]),
    ("scan: negative T", ["bulk", "--scan", "T=-0.1"], ["--scan T value must be >= 0"]),
    ("scan: negative m", ["trilayer", "--scan", "m=1,-1"], ["--scan m value must be >= 0"]),
    ("scan: misspelled name", ["bilayer", "--scan", "gama=1"], ["'gama'", "did you mean 'gamma'"]),
    ("scan: not bulk", ["bulk", "--scan", "N_x=4,6"], ["not a bulk parameter"]),
    ("scan: mu in bulk", ["bulk", "--scan", "mu=0,1"], ["use --mu-range"]),
    ("scan and option", ["bilayer", "--gamma", "0.5", "--scan", "gamma=0.5,1"], ["--scan gamma=... and --gamma"]),
    ("scan and --N-x", ["trilayer", "--N-x", "7", "--scan", "N_x=5,7"], ["--scan N_x=... and --N-x"]),
    ("scan gamma, spin basis", ["bilayer", "--metal", "am", "--scan", "gamma=0.5,1"], ["--scan gamma applies only to the orbital basis"]),
    ("mu-range: empty part", ["bulk", "--mu-range", "1::3"], ["part 2 is empty"]),
    ("mu-range: empty N", ["bulk", "--mu-range", "1:2:"], ["part 3 is empty"]),
    ("mu-range: two parts", ["bulk", "--mu-range", "1:2"], ["A:B:N"]),
    ("mu-range: four parts", ["bulk", "--mu-range", "1:2:3:4"], ["A:B:N"]),
    ("mu-range: NaN", ["bulk", "--mu-range", "nan:1:3"], ["finite A, B"]),
    ("mu-range: N = 0", ["bulk", "--mu-range", "0:1:0"], ["N >= 1"]),
    ("mu-range: non-integer N", ["bulk", "--mu-range", "0:1:2.5"], ["A:B:N"]),
    ("mu-range: complex", ["bulk", "--mu-range", "1j:1:3"], ["A:B:N"]),
    ("mu-range: huge bound", ["bulk", "--mu-range", "0:1e300:3"], ["--mu-range bound", "allowed range"]),
    ("N-k 1", ["bulk", "--N-k", "1"], ["--N-k must be an integer >= 2"]),
    ("N-k non-integer", ["bulk", "--N-k", "2.5"], ["--N-k must be an integer >= 2", "'2.5'"]),
    ("N-k word", ["bulk", "--N-k", "many"], ["--N-k", "'many'"]),
    ("N-k 1e8", ["bulk", "--N-k", "1e8"], ["N_k = 100000000", "CPU time", "reduce N_k"]),
    ("N-k 100000000", ["bulk", "--N-k", "100000000"], ["N_k = 100000000", "years", "reduce N_k"]),
    ("N-k 10**7 with a model file", ["bulk", "--metal-model", "{full}", "--N-k", "10000000"], ["N_k = 10000000", "reduce N_k"]),
    ("mu-range N huge", ["bulk", "--N-k", "20", "--mu-range", "0:1:100000000000"], ["100000000000 chemical potentials", "N of --mu-range"]),
    ("scan points x N_k", ["bulk", "--N-k", "30000", "--scan", "T=" + ",".join(["0.1"] * 40)], ["N_k = 30000", "40 grids"]),
    ("N-x N-y huge", ["bilayer", "--N-x", "4000", "--N-y", "4000"], ["N_x = 4000, N_y = 4000", "GiB", "reduce N_x or N_y"]),
    ("N-y huge", ["trilayer", "--N-x", "40", "--N-y", "400000000"], ["N_x = 40, N_y = 400000000", "reduce N_x or N_y"]),
    ("N-y 1e9", ["bilayer", "--N-x", "10", "--N-y", "1e9"], ["N_x = 10, N_y = 1000000000", "reduce N_x or N_y"]),
    ("N-x 1e5", ["trilayer", "--N-x", "1e5", "--N-y", "10"], ["N_x = 100000, N_y = 10", "TiB", "reduce N_x or N_y"]),
    ("N-x 0", ["bilayer", "--N-x", "0", "--N-y", "10"], ["--N-x must be an integer >= 1"]),
    ("N-y 2.5", ["bilayer", "--N-x", "4", "--N-y", "2.5"], ["--N-y must be an integer >= 1", "'2.5'"]),
    ("N-FM nan", ["trilayer", "--N-FM", "nan"], ["--N-FM must be an integer >= 1", "'nan'"]),
    ("scan N_x huge", ["bilayer", "--scan", "N_x=4,100000"], ["N_x = 100000", "2 scan points"]),
    ("NaN T", ["bulk", "--T", "nan"], ["--T", "finite"]),
    ("NaN mu", ["bilayer", "--mu", "nan"], ["--mu", "finite"]),
    ("huge t", ["bulk", "--t", "1e200"], ["--t", "allowed range"]),
    ("inf gamma", ["trilayer", "--gamma", "inf"], ["--gamma", "finite"]),
    ("NaN m", ["bilayer", "--m", "nan"], ["--m", "finite"]),
    ("negative m", ["trilayer", "--m", "-1"], ["--m", ">= 0"]),
    ("eta 0 heterostructure", ["bilayer", "--eta", "0"], ["--eta must be", "> 0"]),
    ("negative eta bulk", ["bulk", "--eta", "-0.1"], ["--eta must be"]),
    ("out: a directory", ["bulk", "--out", "{tmp}"], ["--out", "{tmp}", "is a directory"]),
    ("out: under a file", ["bilayer", "--out", "{file}/x.nc"], ["--out", "{file}/x.nc", "not a directory"]),
    ("out: unknown format", ["bulk", "--out", "{tmp}/r.txt"], ["{tmp}/r.txt", "unknown format '.txt'", ".nc"]),
    ("out: empty", ["trilayer", "--out", ""], ["--out is empty"]),
    ("out: dash", ["bulk", "--out", "-"], ["--out '-'"]),
]


@pytest.mark.parametrize("tail, words", [pytest.param(t, w, id=i) for i, t, w in CLI_REFUSALS])
def test_cli_refuses_before_any_work(tail, words, files, tmp_path, capsys, tripwire):
    plain = tmp_path / "plain"
    plain.write_text("x")
    subs = {**files, "tmp": str(tmp_path), "file": str(plain)}

    def fill(s):
        for k, v in subs.items():
            s = s.replace("{" + k + "}", v)
        return s

    geometry, rest = tail[0], [fill(a) for a in tail[1:]]
    sizes = [] if any(a in ("--N-x", "--N-y", "--N-k") or a.startswith("N_x") for a in rest) else SMALL[geometry]
    _refused(["response", geometry, *sizes, *rest], capsys, *[fill(w) for w in words])


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(["bulk", "--metal-model", "{full}", "--mu-range=-1:1:3"], id="bulk model file"),
        pytest.param(["bulk", "--metal-model", "{with_mu}"], id="bulk model file with mu"),
        pytest.param(["bilayer", "--metal-model", "{full}", "--m-FM", "x"], id="bilayer model file"),
        pytest.param(["trilayer", "--metal-model", "{full}", "--scan", "t=1,2"], id="trilayer model file scan t"),
        pytest.param(["bulk", "--metal", "am", "--w", "0.3", "--scan", "T=0.1,0.2"], id="bulk am"),
        pytest.param(["bulk", "--basis", "spin"], id="bulk spin nm"),
        pytest.param(["bilayer", "--metal", "am", "--spin-unit", "S", "--scan", "eta=0.1,0.2"], id="bilayer am"),
        pytest.param(["trilayer", "--gamma", "0.5", "--tp", "0.8", "--interface", "metal", "--m", "0.7"], id="trilayer options"),
        pytest.param(["bulk", "--N-k", "1e2", "--polarization", "x", "--eta", "0"], id="bulk N_k 1e2"),
    ],
)
def test_cli_valid_input_reaches_the_solver(tail, files, capsys, tripwire):
    rest = [files.get(a[1:-1], a) if a.startswith("{") else a for a in tail[1:]]
    sizes = [] if "--N-k" in rest else SMALL[tail[0]]
    _reaches_solver(["response", tail[0], *sizes, *rest], capsys)


def test_bulk_model_file_with_all_parameters_is_nonzero_and_equals_the_api(files, nnn, tmp_path, capsys):
    """The fix refuses only what is missing: a complete model file gives the API's non-zero value."""
    out = tmp_path / "b.json"
    assert main(["response", "bulk", "--metal-model", files["full"], "--mu-range=-1:0.5:2", "--N-k", "20", "--T", "0.01", "--out", str(out)]) == 0
    import json

    d = json.loads(out.read_text())
    ref = R.orbital_hall(nnn, mu=[-1.0, 0.5], N_k=20, T=0.01, **NNN)["sigma"]
    np.testing.assert_allclose(d["data"]["sigma"]["values"][0], ref, rtol=1e-13)
    assert min(abs(v) for v in d["data"]["sigma"]["values"][0]) > 0.1


def test_scan_point_refused_before_the_first_solve(capsys, monkeypatch):
    """Every point's system is built before any solve: a bad later point costs nothing."""
    calls = []
    real = R.solve_kubo
    monkeypatch.setattr(R, "solve_kubo", lambda *a, **k: calls.append(1) or real(*a, **k))
    _refused(["response", "trilayer", "--N-y", "6", "--N-FM", "2", "--scan", "N_x=6,3"], capsys, "N_x")
    assert calls == []


# ----------------------------------------------------------------------------- through a subprocess (exit status, one line)
def _run(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "orbsym.cli", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_subprocess_missing_parameter_and_inapplicable_option(files):
    for argv, words in (
        (["response", "bulk", "--metal-model", files["no_s3"], "--N-k", "8"], ["s_3", "never set to zero"]),
        (["response", "bilayer", "--N-x", "4", "--N-y", "6", "--polarization", "x"], ["--polarization does not apply", "bulk"]),
        (["response", "bulk", "--N-k", "100000000"], ["N_k = 100000000", "reduce N_k"]),
    ):
        p = _run(*argv)
        assert p.returncode == 2 and p.stdout == "", (p.returncode, p.stderr)
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("orbsym: error: ") and "Traceback" not in p.stderr, p.stderr
        for w in words:
            assert w in p.stderr, p.stderr
