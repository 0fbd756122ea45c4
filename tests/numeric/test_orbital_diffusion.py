"""The orbital diffusion length of a disordered t2g strip (benchmarks/orbital_diffusion.py,
derivations/orbital-diffusion.md).

An orbital ferromagnet lead injects L_x into the paper's metal (Eq. 3, gamma < t); per layer, the OAM
current lost between two slice boundaries equals the torque of the layer (hopping + on-site), in every
realization.  Checked here: that identity with the hopping torque rebuilt independently from the bond
sources, the clean strip against a direct (dense) solve, the decay length falling with W beyond the
jackknife errors, and the conserved case gamma = t (no torque, a constant OAM current).
"""

import importlib.util
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.numeric.disorder import Anderson, realize
from orbsym.numeric.sites_transport import site_transport

_PATH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "orbital_diffusion.py"
_spec = importlib.util.spec_from_file_location("orbital_diffusion_bench", _PATH)
od = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(od)

SMALL = dict(N_x=14, width=5, T=0.0, gamma=0.4, mu=-2.0, axis="x")


def _solve(lat, clean, p, solver="auto"):
    lead = od.ferromagnet(lat.width, axis=p["axis"])
    return site_transport(lat, T=p["T"], mu=p["mu"], left=(lead, 0), right=(clean, clean.n_slices - 1), equilibrium=False, solver=solver)


def _slow_layers(obs, axis):
    """Boundary currents from the x-bond currents and the per-layer hopping torque from the bond sources
    (each bond's source given to both ends), summed by hand over the width."""
    cur, src = obs.current(axis), obs.source(axis)  # (hopping, N_x, rows); hopping 0 = (1, 0), 1 = (0, 1)
    N_x = cur.shape[1]
    j = cur[0, : N_x - 1].sum(axis=1)
    hop = 2 * src[1].sum(axis=1)
    hop[: N_x - 1] += src[0, : N_x - 1].sum(axis=1)
    hop[1:] += src[0, : N_x - 1].sum(axis=1)
    return j, hop


# ---------------------------------------------------------------- the exact layer balance
@pytest.mark.parametrize("per_orbital", [False, True])
def test_current_loss_equals_layer_torque_in_every_realization(per_orbital):
    p = SMALL
    clean = od.metal(p["N_x"], p["width"], p["gamma"])
    lead = od.ferromagnet(p["width"], axis=p["axis"])
    for seed in range(3):
        lat = realize(clean, Anderson(1.5, per_orbital=per_orbital), seed=seed).lattice
        prof = od.layer_profile(lat, clean, lead, p["T"], p["mu"], p["axis"])
        obs = _solve(lat, clean, p)["response"]
        j_slow, hop_slow = _slow_layers(obs, p["axis"])
        scale = np.abs(prof["j"]).max()
        assert scale > 1e-3  # a real OAM current flows
        np.testing.assert_allclose(prof["j"], j_slow, atol=1e-12 * scale, rtol=0)
        np.testing.assert_allclose(prof["tau_hop"], hop_slow, atol=1e-12 * scale, rtol=0)
        x = np.arange(1, p["N_x"] - 1)
        loss = prof["j"][x] - prof["j"][x - 1]
        torque = hop_slow[x] + prof["tau_cf"][x] + prof["tau_dis"][x]
        assert np.abs(loss - torque).max() <= 1e-10 * scale
        assert prof["residual"] <= 1e-10 * scale
        assert np.abs(prof["tau_cf"]).max() <= 1e-14  # degenerate clean orbitals: no crystal-field torque
        if per_orbital:  # a random crystal field diag(V) does not commute with L_x: a torque of its own
            assert np.abs(prof["tau_dis"][x]).max() > 1e-3 * scale
        else:  # V 1 commutes with L: the potential adds no torque, the loss is all hopping torque
            assert np.abs(prof["tau_dis"]).max() <= 1e-13 * scale
            assert np.abs(loss - hop_slow[x]).max() <= 1e-10 * scale


# ---------------------------------------------------------------- W = 0
def test_zero_disorder_is_the_clean_strip_and_a_direct_solve():
    p = SMALL
    clean = od.metal(p["N_x"], p["width"], p["gamma"])
    prof = od.run(0.0, [], **{k: p[k] for k in ("N_x", "width", "T", "gamma", "mu", "axis")})
    j_zero = od.layer_profile(realize(clean, Anderson(0.0), seed=7).lattice, clean, od.ferromagnet(p["width"], axis=p["axis"]),
                              p["T"], p["mu"], p["axis"])["j"]
    j_dense, hop_dense = _slow_layers(_solve(clean, clean, p, solver="dense")["response"], p["axis"])
    scale = np.abs(j_dense).max()
    np.testing.assert_allclose(prof["j"][0], j_dense, atol=1e-10 * scale, rtol=0)
    np.testing.assert_allclose(j_zero, j_dense, atol=1e-10 * scale, rtol=0)
    np.testing.assert_allclose(prof["tau"][0, 1:-1], hop_dense[1:-1], atol=1e-10 * scale, rtol=0)
    # the clean strip's OAM current is not conserved (gamma < t): the hopping torque removes it
    assert np.abs(np.diff(j_dense)).max() > 1e-2 * scale


# ---------------------------------------------------------------- decay length against W
def test_decay_length_falls_with_disorder_beyond_the_errors():
    p = dict(N_x=20, width=8, T=0.1, n_energy=4)
    s = {W: od.summarize(od.run(W, range(8), **p)) for W in (0.0, 1.0, 2.0)}
    lam = [s[W]["lambda_m"] for W in (0.0, 1.0, 2.0)]
    err = [s[W]["lambda_m_err"] for W in (0.0, 1.0, 2.0)]
    assert err[0] == 0 and all(e > 0 for e in err[1:])
    for a, b in ((0, 1), (1, 2)):
        assert lam[a] - lam[b] > 2 * math.hypot(err[a], err[b]), (lam, err)
    for W in (1.0, 2.0):  # orbital-independent disorder: every bit of the loss is hopping torque
        assert s[W]["tau_hop"] == pytest.approx(1.0, abs=1e-12) and abs(s[W]["tau_dis"]) < 1e-12


# ---------------------------------------------------------------- conserved case
def test_gamma_equal_t_conserves_the_oam_current():
    p = dict(SMALL, gamma=1.0)
    prof = od.run(1.5, range(2), **p)
    for r in range(2):
        j = prof["j"][r]
        scale = np.abs(j).max()
        assert scale > 1e-3
        assert np.abs(prof["tau"][r]).max() <= 1e-12 * scale
        assert np.abs(prof["tau_hop"][r]).max() <= 1e-12 * scale
        assert np.ptp(j[:-1]) <= 1e-10 * scale  # constant along x: no decay without torque
    assert od.moment_length(prof["j"].mean(0)[:-1]) == math.inf


# ---------------------------------------------------------------- the estimators
@settings(max_examples=20, deadline=None)
@given(lam=st.floats(0.5, 40.0), n=st.integers(8, 40), A=st.floats(-3, 3).filter(lambda a: abs(a) > 1e-2))
def test_moment_length_inverts_a_pure_exponential(lam, n, A):
    j = A * np.exp(-np.arange(n) / lam)
    assert od.moment_length(j) == pytest.approx(lam, rel=1e-6)


def test_moment_length_edges():
    assert od.moment_length(np.ones(10)) == math.inf
    assert od.moment_length(np.exp(np.arange(10) / 5.0)) == math.inf
    with pytest.raises(ValueError, match="identically zero"):
        od.moment_length(np.zeros(5))


def test_fit_decay_recovers_a_damped_precession():
    b = np.arange(28)
    lam, q = od.fit_decay(0.12 * np.exp(-b / 7.5) * np.cos(0.41 * b + 0.3))
    assert lam == pytest.approx(7.5, rel=1e-6) and q == pytest.approx(0.41, rel=1e-6)


def test_jackknife_of_the_mean_is_the_standard_error():
    x = np.random.default_rng(3).normal(size=(9, 4))
    se = x.std(axis=0, ddof=1) / 3.0
    for c in range(4):
        assert od.jackknife(x, lambda m, c=c: m[c]) == pytest.approx(se[c], rel=1e-12)
    assert od.jackknife(x[:1], lambda m: m[0]) == 0.0
    assert math.isnan(od.jackknife(x, lambda m: math.inf))


# ---------------------------------------------------------------- against the ensemble workflow
def test_ensemble_means_match_the_ensemble_workflow():
    import functools

    from orbsym.workflows.ensembles import ensemble

    p = SMALL
    factory = functools.partial(od.metal, p["N_x"], p["width"], p["gamma"])
    lead = od.ferromagnet(p["width"], axis=p["axis"])
    ds = ensemble(factory, Anderson(1.0), [0, 1, 2], p["T"], observables=["boundary_current", "landauer_current"],
                  transport=dict(left=(lead, 0), mu=p["mu"]), progress=False)
    prof = od.run(1.0, [0, 1, 2], **p)
    pol = "xyz".index(p["axis"]) + 1  # polarizations: charge, x, y, z
    bc = np.asarray(ds["boundary_current_mean"])[pol]
    scale = np.abs(bc).max()
    np.testing.assert_allclose(prof["j"].mean(0), bc, atol=1e-10 * scale, rtol=0)
    np.testing.assert_allclose(prof["I"].mean(), float(ds["landauer_current_mean"]), rtol=1e-10)
    se = np.asarray(ds["boundary_current_stderr"])[pol]
    np.testing.assert_allclose(prof["j"].std(0, ddof=1) / np.sqrt(3), se, atol=1e-10 * scale, rtol=0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="OAM axis"):
        od.ferromagnet(4, axis="w")
    with pytest.raises(ValueError, match="W must be >= 0"):
        od.run(-1.0, [0], N_x=6, width=3)
    with pytest.raises(ValueError, match="at least one seed"):
        od.run(1.0, [], N_x=6, width=3)
