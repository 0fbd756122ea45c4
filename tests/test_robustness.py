"""Robustness: bad inputs fail at the public boundary with messages naming the value and the allowed
ones; the numerics stay sound at the edges (T -> 0, |mu| -> inf, degenerate levels, no FM, small
N_y, BLAS thread count); hypothesis checks sum rules on random valid systems."""

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.symbolic.continuity import kernels
from orbsym.symbolic.generators import GeneratorSet, pauli, t2g_L
from orbsym.kernels import Kernel, Term
from orbsym.symbolic.models import Model, builtin_model
from orbsym.numeric import Column, Lattice, dense_hamiltonian, fermi, grand_potential_terms, solve_realspace
from orbsym.numeric.thermo import check_temperature
from orbsym.systems import bilayer, heterostructure, layer, magnetization, rkky, solve, trilayer

NAN, INF = float("nan"), float("inf")
SMALL = dict(N_x=5, N_y=3)
FM_PARAMS = {"t": 1.0, "mu": 0.0, "m_x": 0.0, "m_y": 0.0, "m_z": 1.0}


def _fm_kernels():
    return kernels(builtin_model("ferromagnet"))


def _fake_onsite(matrix, coefficient="1", parameters=()):
    """The FM KernelSet with its on-site Hamiltonian kernel replaced (to reach the numeric checks)."""
    ks = _fm_kernels()
    onsite = Kernel("onsite", "site", None, None, (Term((0, 0), (0, 0), coefficient, np.asarray(matrix, complex)),), tuple(parameters))
    ham = dict(ks.hamiltonian)
    ham["onsite"] = onsite
    return dataclasses.replace(ks, hamiltonian=ham, parameters=tuple(ks.parameters) + tuple(p for p in parameters if p not in ks.parameters))


def _fake_hopping_with_reverse_term():
    """FM KernelSet whose x-hopping kernel also contains the reverse hop (h.c. given by hand)."""
    ks = _fm_kernels()
    k = ks.hamiltonian[(1, 0)]
    extra = Term((1, 0), (0, 0), "1", np.eye(3, dtype=complex))
    ham = dict(ks.hamiltonian)
    ham[(1, 0)] = dataclasses.replace(k, terms=tuple(k.terms) + (extra,))
    return dataclasses.replace(ks, hamiltonian=ham)


def _result():
    return solve(trilayer(**SMALL), 0.1)


PAULI_MATS = pauli().matrices

# (id, call, exception type, words that must appear in the message)
BAD_INPUTS = [
    # ---- geometry sizes
    ("trilayer N_x < 2 N_FM + 1", lambda: trilayer(N_x=4, N_FM=2, N_y=3), ValueError, ["N_x = 4", "N_FM = 2", ">= 2 N_FM + 1 = 5"]),
    ("trilayer N_x = 2", lambda: trilayer(N_x=2, N_y=3), ValueError, ["N_x", ">= 3", "got 2"]),
    ("bilayer N_x < N_FM + 1", lambda: bilayer(N_x=3, N_FM=3, N_y=3), ValueError, ["N_x = 3", "N_FM = 3", ">= N_FM + 1 = 4"]),
    ("N_FM = 0", lambda: trilayer(N_FM=0, **SMALL), ValueError, ["N_FM", ">= 1", "got 0"]),
    ("N_FM = -1 bilayer", lambda: bilayer(N_FM=-1, **SMALL), ValueError, ["N_FM", ">= 1", "got -1"]),
    ("N_y = 0", lambda: trilayer(N_x=5, N_y=0), ValueError, ["N_y", ">= 1", "periodic", "got 0"]),
    ("N_y float", lambda: trilayer(N_x=5, N_y=2.0), ValueError, ["N_y", "integer", "2.0"]),
    ("N_x bool", lambda: trilayer(N_x=True, N_y=2), ValueError, ["N_x", "integer", "True"]),
    ("layer width 0", lambda: layer("fm", 0), ValueError, ["width", ">= 1", "got 0"]),
    ("layer parameter typo", lambda: heterostructure([layer("nm", 2, gama=0.3), layer("fm")], N_y=2), ValueError, ["'gama'", "did you mean 'gamma'", "silently ignored"]),
    ("layer parameter of another model", lambda: heterostructure([layer("fm", gamma=0.3)], N_y=2), ValueError, ["'gamma'", "model 'ferromagnet'", "allowed: m, m_x"]),
    # a user Model never receives the built-in kinds' gamma = 1 / w = 0: its symbols must be given
    ("user model without gamma", lambda: heterostructure([layer(builtin_model("multiorbital"), 2)], N_y=2), ValueError, ["missing parameter values ['gamma']", "'multiorbital'"]),
    ("user model without w", lambda: heterostructure([layer(builtin_model("altermagnet"), 2)], N_y=2, basis="spin"), ValueError, ["missing parameter values ['w']", "'altermagnet'"]),
    ("magnetization on a metal layer", lambda: heterostructure([layer("nm", m="x")], N_y=2), ValueError, ["no exchange", "only to FM layers"]),
    ("heterostructure default typo", lambda: heterostructure([layer("nm")], N_y=2, gama=1.0), ValueError, ["'gama'", "did you mean 'gamma'"]),
    ("no layers", lambda: heterostructure([], N_y=2), ValueError, ["at least one layer"]),
    ("lattice N_y = 0", lambda: Lattice([Column(_fm_kernels(), FM_PARAMS)], 0), ValueError, ["N_y", ">= 1", "got 0"]),
    # ---- scalar parameters
    ("T < 0", lambda: solve(trilayer(**SMALL), -0.1), ValueError, ["temperature", ">= 0", "-0.1"]),
    ("T NaN", lambda: solve(trilayer(**SMALL), NAN), ValueError, ["temperature", "finite", "nan"]),
    ("T inf", lambda: solve(trilayer(**SMALL), INF), ValueError, ["temperature", "finite", "inf"]),
    ("T string", lambda: solve(trilayer(**SMALL), "hot"), ValueError, ["temperature", "number", "'hot'"]),
    ("rkky T < 0", lambda: rkky(trilayer(**SMALL), -1.0), ValueError, ["temperature", ">= 0"]),
    ("gamma NaN", lambda: trilayer(gamma=NAN, **SMALL), ValueError, ["gamma", "finite", "nan"]),
    ("gamma inf", lambda: bilayer(gamma=INF, **SMALL), ValueError, ["gamma", "finite", "inf"]),
    ("mu -inf", lambda: trilayer(mu=-INF, **SMALL), ValueError, ["mu", "finite", "-inf"]),
    ("mu NaN heterostructure", lambda: heterostructure([layer("nm", 2)], N_y=2, mu=NAN), ValueError, ["'mu'", "finite", "nan"]),
    ("t NaN", lambda: trilayer(t=NAN, **SMALL), ValueError, ["t must", "finite", "nan"]),
    ("t string", lambda: trilayer(t="one", **SMALL), ValueError, ["t must", "real number", "'one'"]),
    ("t complex", lambda: trilayer(t=1j, **SMALL), ValueError, ["t must", "complex", "1j"]),
    ("t bool", lambda: trilayer(t=True, **SMALL), ValueError, ["t must", "real number", "True"]),
    ("tp NaN", lambda: trilayer(tp=NAN, **SMALL), ValueError, ["tp", "finite"]),
    ("w NaN", lambda: trilayer("spin", metal="am", w=NAN, **SMALL), ValueError, ["w must", "finite", "nan"]),
    ("w on spin NM", lambda: trilayer("spin", metal="nm", w=0.3, **SMALL), ValueError, ["w = 0", "'am'"]),
    ("m NaN", lambda: trilayer(m=NAN, **SMALL), ValueError, ["m must", "finite", "nan"]),
    ("m < 0", lambda: trilayer(m=-1.0, **SMALL), ValueError, ["|m|", ">= 0", "-1.0"]),
    ("column param NaN", lambda: Column(_fm_kernels(), dict(FM_PARAMS, t=NAN)), ValueError, ["'t'", "finite", "nan"]),
    ("column param complex", lambda: Column(_fm_kernels(), dict(FM_PARAMS, t=1j)), ValueError, ["'t'", "real number", "1j"]),
    ("column param missing", lambda: Column(_fm_kernels(), {"t": 1.0}), ValueError, ["missing", "m_x", "mu"]),
    ("workers 0", lambda: solve(trilayer(**SMALL), 0.1, workers=0), ValueError, ["workers", ">= 1", "got 0"]),
    # ---- magnetizations
    ("m_L NaN component", lambda: trilayer(m_L=(0, NAN, 1), **SMALL), ValueError, ["magnetization", "finite", "nan"]),
    ("m_L 4 components", lambda: trilayer(m_L=(1, 2, 3, 4), **SMALL), ValueError, ["3 components", "2 angles", "4 values"]),
    ("m_L unknown axis", lambda: trilayer(m_L="w", **SMALL), ValueError, ["'w'", "x, y, z", "angles"]),
    ("magnetization of a number", lambda: magnetization(3.0), ValueError, ["axis name", "vector", "3.0"]),
    ("rkky zero m_L", lambda: rkky(trilayer(m_L=(0, 0, 0), **SMALL), 0.1), ValueError, ["nonzero m_L", "(0.0, 0.0, 0.0)"]),
    ("rkky of a bilayer", lambda: rkky(bilayer(**SMALL), 0.1), ValueError, ["trilayer"]),
    # ---- names, with close-match suggestions
    ("basis typo", lambda: trilayer("orbitl", **SMALL), ValueError, ["'orbitl'", "did you mean 'orbital'", "allowed: orbital, spin"]),
    ("metal typo", lambda: bilayer("an", **SMALL), ValueError, ["'an'", "did you mean", "'am'", "allowed: nm, am"]),
    ("altermagnet in orbital basis", lambda: trilayer("orbital", metal="am", **SMALL), ValueError, ["altermagnet", "basis='spin'"]),
    ("interface typo", lambda: trilayer(interface="metl", **SMALL), ValueError, ["'metl'", "did you mean 'metal'", "fm, metal"]),
    ("spin_unit typo", lambda: trilayer("spin", spin_unit="sigm", **SMALL), ValueError, ["'sigm'", "did you mean 'sigma'"]),
    ("layer kind typo", lambda: heterostructure([layer("fmm")], N_y=2), ValueError, ["'fmm'", "did you mean 'fm'", "fm, nm, am"]),
    ("heterostructure basis typo", lambda: heterostructure([layer("nm")], N_y=2, basis="spn"), ValueError, ["'spn'", "did you mean 'spin'"]),
    ("current kind typo", lambda: _result().currents("bnd"), ValueError, ["'bnd'", "did you mean 'bond'", "eq7"]),
    ("current direction", lambda: _result().currents("bond", "z"), ValueError, ["current direction 'z'", "x, y"]),
    ("torque kind typo", lambda: _result().torques("forwrd"), ValueError, ["'forwrd'", "did you mean 'forward'"]),
    ("polarization case", lambda: _result().observables.density("X"), ValueError, ["polarization 'X'", "did you mean 'x'", "charge"]),
    ("quantity typo", lambda: _result().to_dict(("density",)), ValueError, ["'density'", "did you mean 'densities'"]),
    ("model name typo", lambda: builtin_model("altermagent"), ValueError, ["'altermagent'", "did you mean 'altermagnet'"]),
    ("lattice interface typo", lambda: Lattice([Column(_fm_kernels(), FM_PARAMS)], 2, "metl"), ValueError, ["'metl'", "did you mean 'metal'"]),
    ("solve a non-system", lambda: solve("trilayer", 0.1), TypeError, ["System", "str"]),
    # ---- generator sets
    ("two generators", lambda: GeneratorSet(PAULI_MATS[:2], 2), ValueError, ["three matrices", "got 2"]),
    ("non-Hermitian generator", lambda: GeneratorSet(([[0, 1], [0, 0]], PAULI_MATS[1], PAULI_MATS[2]), 2), ValueError, ["J_x", "not Hermitian", "[0, 1] = 1"]),
    ("wrong algebra normalization", lambda: GeneratorSet(PAULI_MATS, 1), ValueError, ["declared algebra", "c = 1"]),
    ("generators of different sizes", lambda: GeneratorSet((PAULI_MATS[0], PAULI_MATS[1], sp.eye(3)), 2), ValueError, ["same size", "[2, 2, 3]"]),
    ("non-square generator", lambda: GeneratorSet(([[0, 1]], PAULI_MATS[1], PAULI_MATS[2]), 2), ValueError, ["square", "(1, 2)"]),
    ("NaN in a generator", lambda: GeneratorSet(([[0, NAN], [NAN, 0]], PAULI_MATS[1], PAULI_MATS[2]), 2), ValueError, ["non-finite", "nan", "(0, 1)"]),
    ("normalization zero", lambda: GeneratorSet(PAULI_MATS, 0), ValueError, ["normalization", "nonzero", "got 0"]),
    ("normalization NaN", lambda: GeneratorSet(PAULI_MATS, NAN), ValueError, ["normalization", "finite", "nan"]),
    ("basis labels vs size", lambda: GeneratorSet(PAULI_MATS, 2, basis=("up",)), ValueError, ["1 labels", "2x2"]),
    # ---- symbolic models
    ("model non-Hermitian on-site", lambda: Model("m", pauli(), {"x": sp.eye(2)}, sp.Matrix([[0, 1], [0, 0]])), ValueError, ["on-site", "not Hermitian", "[0, 1] = 1"]),
    ("model complex on-site parameter", lambda: Model("m", pauli(), {"x": sp.eye(2)}, sp.Matrix([[sp.I * sp.Symbol("a"), 0], [0, 1]])), ValueError, ["not Hermitian", "I*a"]),
    ("model hopping wrong shape", lambda: Model("m", pauli(), {"x": sp.eye(3)}), ValueError, ["shape (3, 3)", "2-state", "expected (2, 2)"]),
    ("model on-site wrong shape", lambda: Model("m", t2g_L(), {"x": sp.eye(3)}, sp.eye(2)), ValueError, ["shape (2, 2)", "3-state", "expected (3, 3)"]),
    ("model d and -d both given", lambda: Model("m", pauli(), {"x": sp.eye(2), (-1, 0): sp.eye(2)}), ValueError, ["given twice", "Hermitian conjugate"]),
    ("model zero offset", lambda: Model("m", pauli(), {(0, 0): sp.eye(2)}), ValueError, ["nonzero pair", "(0, 0)"]),
    ("model NaN hopping", lambda: Model("m", pauli(), {"x": sp.Matrix([[NAN, 0], [0, 1]])}), ValueError, ["hopping", "non-finite", "nan"]),
    ("model infinite on-site", lambda: Model("m", pauli(), {"x": sp.eye(2)}, sp.Matrix([[sp.oo, 0], [0, 1]])), ValueError, ["on-site", "non-finite", "oo"]),
    ("model without hoppings", lambda: Model("m", pauli(), {}), ValueError, ["at least one hopping"]),
    ("model generators not a set", lambda: Model("m", [sp.eye(2)], {"x": sp.eye(2)}), TypeError, ["GeneratorSet", "list"]),
    # ---- numeric columns and lattices
    ("numeric non-Hermitian on-site", lambda: Lattice([Column(_fake_onsite([[0, 1, 0], [0, 0, 0], [0, 0, 0]]), FM_PARAMS)], 2), ValueError, ["on-site", "column 0", "not Hermitian", "[0, 1]"]),
    ("numeric on-site division by zero", lambda: Lattice([Column(_fake_onsite(np.eye(3), "1/g", ("g",)), dict(FM_PARAMS, g=0.0))], 2), ValueError, ["on-site", "column 0", "cannot be evaluated", "'g': 0.0"]),
    ("numeric hopping with its h.c. term", lambda: Lattice([Column(_fake_hopping_with_reverse_term(), FM_PARAMS)] * 2, 2), ValueError, ["x hopping", "offsets [((1, 0), (0, 0))]", "Hermitian conjugate"]),
    ("numeric generators vs basis size", lambda: Lattice([Column(dataclasses.replace(_fm_kernels(), generators=np.zeros((3, 2, 2))), FM_PARAMS)], 2), ValueError, ["generators have shape (3, 2, 2)", "(3, 3, 3)"]),
    ("numeric mixed bases", lambda: Lattice([Column(_fm_kernels(), FM_PARAMS), Column(kernels(builtin_model("altermagnet")), {"t": 1.0, "mu": 0.0, "w": 0.0})], 2), ValueError, ["same on-site basis", "dim 2", "dim 3"]),
]


@pytest.mark.parametrize("call, exc, words", [pytest.param(c, e, w, id=i) for i, c, e, w in BAD_INPUTS])
def test_bad_input_is_rejected_with_a_precise_message(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    missing = [w for w in words if w not in msg]
    assert not missing, f"message {msg!r} lacks {missing}"
    assert "\n" not in msg.strip() or exc is TypeError


# =============================================================================== numerical edges
def _all_values(res):
    """Densities, bond/forward currents (x and y) and torques as one flat array."""
    vals = []
    for d in (res.densities(), res.currents("bond"), res.currents("bond", "y"), res.currents("forward"), res.torques("bond"), res.torques("forward")):
        for v in d.values():
            vals.extend(np.ravel(np.concatenate(list(v.values())) if isinstance(v, dict) else v))
    return np.array(vals)


def _strict(fn):
    """Run ``fn`` with every warning and every NumPy floating-point event raised as an error --
    including underflow, which the engine must silence itself where it is the correct limit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return fn()


@pytest.mark.parametrize("T", [1e-6, 1e-12, 1e-300, 5e-324])
def test_tiny_temperature_no_overflow_and_zero_T_limit(T):
    """No overflow/underflow error at any T > 0; the values approach T = 0 with |F(T) - F(0)| <= T ln 2 per state."""
    s = trilayer(gamma=0.5, m_L=(0.3, 1.0), m_R="y", N_x=5, N_y=6)
    r0, r = _strict(lambda: solve(s, 0.0)), _strict(lambda: solve(s, T))
    v0, v = _strict(lambda: _all_values(r0)), _strict(lambda: _all_values(r))
    assert np.all(np.isfinite(v))
    n_states = 5 * 3
    assert 0 <= r0.free_energy() - r.free_energy() <= T * np.log(2) * n_states + 1e-14
    np.testing.assert_allclose(v, v0, atol=1e-9)
    assert r.particle_number() == pytest.approx(r0.particle_number(), abs=1e-9)


def test_thermo_functions_at_extreme_ratios():
    E = np.array([-1e308, -1e3, -1e-300, 0.0, 1e-300, 1e3, 1e308])
    for T in (5e-324, 1e-300, 1e-6, 1.0, 1e300):
        f, g = _strict(lambda: fermi(E, T)), _strict(lambda: grand_potential_terms(E, T))
        assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
        assert np.all((f >= 0) & (f <= 1)) and np.all(np.diff(f) <= 0)
        assert f[3] == 0.5
        assert np.all(g <= np.minimum(E, 0.0))  # -T ln(1 + e^{-E/T}) <= min(E, 0)
    assert list(fermi(E, 1e-6)[[0, 1, -2, -1]]) == [1.0, 1.0, 0.0, 0.0]
    assert grand_potential_terms(E, 1e-6)[1] == -1e3 and grand_potential_terms(E, 1e-6)[-2] == 0.0
    assert grand_potential_terms([0.0], 0.5)[0] == pytest.approx(-0.5 * np.log(2), rel=1e-15)
    assert list(fermi([-1.0, 0.0, 1.0], 0)) == [1.0, 0.5, 0.0]
    assert list(fermi([-1e-16, 2e-16, 1.0], 0, zero_tol=1e-13)) == [0.5, 0.5, 0.0]
    assert check_temperature(np.float32(0.5)) == 0.5


@pytest.mark.parametrize("mu", [-1e6, -60.0])
def test_empty_band_limit(mu):
    """mu far below the band: F = 0, no particles, no currents or torques (at T = 0, 1e-6, 0.1)."""
    s = trilayer(gamma=0.5, m_L="x", m_R="y", mu=mu, N_x=5, N_y=4)
    for T in (0.0, 1e-6, 0.1):
        r = _strict(lambda: solve(s, T))
        assert abs(r.free_energy()) < 1e-200 and r.particle_number() < 1e-200
        assert np.abs(_strict(lambda: _all_values(r))).max() < 1e-200


@pytest.mark.parametrize("mu", [1e6, 60.0])
def test_full_band_limit(mu):
    """mu far above the band: F = sum of all levels, every state filled, densities = 1 per state,
    currents and torques vanish (relative to the scale mu of the matrix elements)."""
    s = trilayer(gamma=0.5, m_L="x", m_R="y", mu=mu, N_x=5, N_y=4)
    for T in (0.0, 1e-6, 0.1):
        r = _strict(lambda: solve(s, T))
        sol = r._eigen()
        levels = float((sol.weights[:, None] * sol.energies).sum()) / 4
        assert r.free_energy() == pytest.approx(levels, rel=1e-13)
        assert r.free_energy() == pytest.approx(-5 * 3 * mu, rel=1e-9)
        assert r.particle_number() == pytest.approx(15.0, rel=1e-13)
        np.testing.assert_allclose(r.densities()["charge"], 3.0, rtol=1e-12)
        for group in (r.currents(), r.torques()):
            for v in group.values():
                arr = np.concatenate(list(v.values())) if isinstance(v, dict) else v
                assert np.abs(arr).max() < 1e-12 * max(1.0, mu)


@pytest.mark.parametrize("T", [0.0, 1e-6])
def test_exactly_degenerate_spectrum(T):
    """Isotropic orbital NM without exchange and mu = 0: every level three-fold degenerate, several
    exactly at zero.  Bloch and real-space paths agree; T = 0 counts the zero levels half."""
    s = trilayer(gamma=1.0, m=0.0, mu=0.0, N_x=5, N_y=4)
    r, slow = solve(s, T), solve_realspace(s.lattice, T)
    E = np.sort(r._eigen().energies.ravel())
    assert np.sum(np.abs(E) < 1e-12) >= 3
    assert r.free_energy() == pytest.approx(slow.free_energy(), abs=1e-12)
    assert r.particle_number() == pytest.approx(slow.particle_number(), abs=1e-9)
    if T == 0:
        assert r.particle_number() == 7.5  # exactly half filled: zero levels half occupied
    o = slow.observables
    np.testing.assert_allclose(r.densities()["charge"], o.density(None), atol=1e-9)
    for p in "xyz":
        np.testing.assert_allclose(r.densities()[p], 0, atol=1e-12)
        np.testing.assert_allclose(r.currents()[p], 0, atol=1e-12)


@pytest.mark.parametrize("N_y", [1, 2])
def test_small_N_y_is_the_k_sampling(N_y):
    """N_y = 1, 2 mean k = 0 (self-bond) and k = 0, pi (doubled bond): Bloch = real space = explicit k sum."""
    s = trilayer(gamma=0.6, m_L=(1.0, 0.5), m_R="z", N_x=4, N_y=N_y)
    T = 0.05
    r = solve(s, T)
    slow = solve_realspace(s.lattice, T)
    assert r.free_energy() == pytest.approx(slow.free_energy(), abs=1e-12)
    np.testing.assert_allclose(r.densities()["x"], slow.observables.density("x"), atol=1e-12)
    assert dense_hamiltonian(s.lattice).shape == (4 * N_y * 3,) * 2
    F = 0.0
    for k in 2 * np.pi * np.arange(N_y) / N_y:
        from orbsym.numeric import bloch_hamiltonians

        F += grand_potential_terms(np.linalg.eigvalsh(bloch_hamiltonians(s.lattice, [k])[0]), T).sum()
    assert r.free_energy() == pytest.approx(F / N_y, abs=1e-12)


_THREADS_SCRIPT = """
import json, numpy as np
from orbsym.systems import solve, trilayer, bilayer
out = []
for s, T in ((trilayer(N_x=7, N_y=40, gamma=0.5, m_L=(0.3, 1.1), m_R="y"), 0.01),
             (bilayer("am", N_x=6, N_y=30, m_FM=(1.0, 0.4)), 0.0),
             (trilayer(N_x=5, N_y=8, gamma=1.0, m=0.0, mu=0.0), 0.0)):
    r = solve(s, T)
    out += [r.free_energy(), r.particle_number()]
    for d in (r.densities(), r.currents(), r.torques()):
        for v in d.values():
            out.extend(np.ravel(v["total"] if isinstance(v, dict) else v).tolist())
print(json.dumps(out))
"""


def test_results_independent_of_blas_threads():
    root = Path(__file__).resolve().parents[1]
    runs = []
    for n in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n, ORBSYM_BLAS_THREADS=n, PYTHONPATH=str(root))
        out = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], capture_output=True, text=True, env=env, cwd=root, timeout=120)
        assert out.returncode == 0, out.stderr
        runs.append(np.array(json.loads(out.stdout)))
    assert runs[0].size > 100 and np.all(np.isfinite(runs[0]))
    np.testing.assert_allclose(runs[0], runs[1], rtol=0, atol=1e-12)


# =============================================================================== hypothesis
def _layers(draw, basis, allow_fm):
    kinds = (["nm"] if basis == "orbital" else ["nm", "am"]) + (["fm"] if allow_fm else [])
    out = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds))
        params = {"t": draw(st.floats(0.3, 1.5)), "mu": draw(st.floats(-3.0, 3.0))}
        if kind == "nm" and basis == "orbital":
            params.update(gamma=draw(st.floats(0.0, 1.5)), tp=draw(st.floats(0.3, 1.5)))
        if kind == "am":
            params["w"] = draw(st.floats(-0.8, 0.8))
        m = None
        if kind == "fm":
            m = tuple(draw(st.floats(-1.5, 1.5)) for _ in range(3))
        out.append(layer(kind, draw(st.integers(1, 2)), m=m, **params))
    return out


@st.composite
def systems(draw, allow_fm=True):
    basis = draw(st.sampled_from(["orbital", "spin"]))
    layers = _layers(draw, basis, allow_fm)
    N_y = draw(st.integers(1, 6))
    return heterostructure(layers, N_y=N_y, basis=basis, interface=draw(st.sampled_from(["fm", "metal"])))


temperatures = st.one_of(st.just(0.0), st.just(1e-6), st.floats(1e-4, 2.0))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(system=systems(), T=temperatures, dT=st.floats(1e-3, 1.0))
def test_random_systems_finite_and_sum_rules(system, T, dT):
    """No NaN anywhere; 0 <= particles per row <= states per row; F <= 0 and non-increasing in T;
    equilibrium: no charge current, d<J>/dt = 0."""
    r = _strict(lambda: solve(system, T))
    vals = _strict(lambda: _all_values(r))
    assert np.all(np.isfinite(vals))
    eq7 = r.currents("eq7")
    for v in eq7.values():
        assert np.all(np.isfinite(v[1:-1]))
    lat = system.lattice
    n_states = lat.N_x * lat.dim
    N = r.particle_number()
    assert -1e-12 <= N <= n_states + 1e-12
    assert r.densities()["charge"].sum() == pytest.approx(N, abs=1e-10)
    F1 = r.free_energy()
    F2 = solve(system, T + dT).free_energy()
    assert F1 <= 1e-12 and F2 <= F1 + 1e-12
    np.testing.assert_allclose(r.currents()["charge"], 0, atol=1e-10)
    assert r.continuity_residual()["max_abs_dJ_dt"] < 1e-10


@settings(max_examples=20, deadline=None, derandomize=True)
@given(system=systems(allow_fm=False), T=temperatures)
def test_no_ferromagnet_no_equilibrium_currents_or_torques(system, T):
    """Without an FM there is no equilibrium current (any polarization, x and y bonds) and no torque."""
    r = solve(system, T)
    for direction in ("x", "y"):
        for kind in ("bond", "forward"):
            for p, v in r.currents(kind, direction).items():
                np.testing.assert_allclose(v, 0, atol=1e-10, err_msg=f"{kind} {direction} {p}")
    for kind in ("bond", "forward"):
        for p, terms in r.torques(kind).items():
            for name, v in terms.items():
                np.testing.assert_allclose(v, 0, atol=1e-10, err_msg=f"{kind} {p} {name}")


# =============================================================================== valid edge inputs
def test_floating_point_generator_sets_are_accepted_up_to_rounding():
    """A rotated Pauli set given as floats closes its algebra only to ~1e-16: accepted; a set off
    by 1e-3 or with the wrong normalization is still rejected."""
    P = pauli().to_numpy()
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))
    G = np.einsum("ij,ajk,lk->ail", U, P, U.conj())
    assert np.abs(G[0] @ G[1] - G[1] @ G[0] - 2j * G[2]).max() > 0  # really not exact
    assert GeneratorSet(tuple(G), 2).dim == 2
    with pytest.raises(ValueError, match="declared algebra"):
        GeneratorSet(tuple(G * 1.001), 2)
    with pytest.raises(ValueError, match="declared algebra"):
        GeneratorSet(tuple(G), 1)
    with pytest.raises(ValueError, match="not Hermitian"):
        GeneratorSet((G[0] + 1e-3j * np.eye(2), G[1], G[2]), 2)


def test_floating_point_onsite_matrix_hermitian_up_to_rounding():
    A = np.array([[0.3, 0.1 + 0.2j], [0.1 - 0.2j + 3e-14j, -0.3]])
    mu = sp.Symbol("mu", real=True)
    assert Model("u", pauli(), {"x": -sp.eye(2)}, -mu * sp.eye(2) + sp.Matrix(A)).dim == 2
    with pytest.raises(ValueError, match=r"not Hermitian: entry \[0, 1\]"):
        Model("u", pauli(), {"x": -sp.eye(2)}, -mu * sp.eye(2) + sp.Matrix(A + [[0, 1e-3], [0, 0]]))


@pytest.mark.parametrize("seconds, text", [(3.2, "3.2 s"), (90, "1.5 min"), (86400, "1 day"), (2 * 86400, "2 days"), (365.25 * 86400, "1 year"), (3e9, "95.1 years")])
def test_format_seconds_units(seconds, text):
    from orbsym.numeric.budget import format_seconds

    assert format_seconds(seconds) == text
