"""The decay of the orbital RKKY coupling with the spacer length (derivations/rkky-decay.md).

Claim: for gamma < t + mu/2 (= 0.9 at the paper's mu = -0.2) J(N_x) of the Fig. 5 trilayer decays as
``N^-3/2 exp(-kappa N)`` with ``kappa = arccosh((t + mu/2)/gamma)`` (the d_yz leg is evanescent at the
stationary point k_y = 0), independently of T in the window N_x <~ v_xy/(pi T); above the threshold
the decay is thermal, ``x/sinh x`` with ``x = pi T N (1/v_yz + 1/v_xy)``.

The prediction (``decay_rate`` etc.) lives in ``benchmarks/rkky_decay.py``; it is checked here
against an independent slow path (the complex k_x of the NM bands from the transfer matrix of the
symbolic model), and the measured J(N_x) (Lloyd's formula, N_y = infinity) against it.
"""

import functools
import importlib.util
import math
import pathlib

import numpy as np
import pytest
import sympy as sp

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "rkky_decay.py"
_spec = importlib.util.spec_from_file_location("rkky_decay_bench", _PATH)
rd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rd)

KAPPA_08 = math.acosh(0.9 / 0.8)  # 0.49493...


# ---------------------------------------------------------------- slow path: complex k_x of the bands
@functools.lru_cache(maxsize=1)
def _nm_functions():
    """Lambdified (t_x, t_y, eps) of the multiorbital NM (Eq. 3) as functions of (gamma, mu, t, tp)."""
    from orbsym.symbolic.models import SYMBOLS, multiorbital_metal

    m = multiorbital_metal()
    args = [SYMBOLS[k] for k in ("gamma", "mu", "t", "tp")]
    mats = (m.hoppings[(1, 0)], m.hoppings[(0, 1)], m.onsite)
    return tuple(sp.lambdify(args, sp.Matrix(M), "numpy") for M in mats)


def _nm_matrices(gamma, mu, t, tp):
    """(t_x, t_y, eps) of the multiorbital NM as complex NumPy arrays, from the symbolic model."""
    return tuple(np.array(f(gamma, mu, t, tp), dtype=complex) for f in _nm_functions())


def _retarded_roots(gamma, mu, t, tp, k_y, E=0.0, eta=1e-10):
    """Per orbital, the eigenvalue lambda = e^{i k_x} of the x transfer matrix at (k_y, E + i eta)
    that decays to the right (|lambda| < 1: the retarded leg across the spacer)."""
    tx, ty, eps = _nm_matrices(gamma, mu, t, tp)
    h0 = eps + ty * np.exp(1j * k_y) + ty.conj().T * np.exp(-1j * k_y)
    n = len(h0)
    inv = np.linalg.inv(tx)
    M = np.block([[np.zeros((n, n)), np.eye(n)], [-inv @ tx.conj().T, -inv @ (h0 - (E + 1j * eta) * np.eye(n))]])
    lam, vec = np.linalg.eig(M)
    out = {}
    for i, name in enumerate(("yz", "xz", "xy")):
        mine = [j for j in range(2 * n) if np.linalg.norm(vec[[i, i + n], j]) > 0.5 * np.linalg.norm(vec[:, j])]
        assert len(mine) == 2, "each orbital has one pair lambda, 1/lambda"
        out[name] = min((lam[j] for j in mine), key=abs)
    return out


def _slow_rate(gamma, mu, t, tp):
    rates = []
    for ky in (0.0, math.pi):
        r = _retarded_roots(gamma, mu, t, tp, ky)
        rates.append(-math.log(abs(r["yz"])) - math.log(abs(r["xy"])))
    return min(rates)


def test_decay_rate_paper_values():
    assert rd.decay_rate(0.8) == pytest.approx(math.acosh(0.9 / 0.8), abs=1e-15)
    assert rd.decay_rate(0.8) == pytest.approx(0.4949329230945269, abs=1e-13)
    k, parts = rd.decay_rate(0.8, detail=True)
    # k_y = 0: d_yz evanescent, d_xy open; k_y = pi: both evanescent (arccosh(1.1/gamma) + arccosh(1.1))
    assert parts[(0.0, "xy")] == 0.0
    assert parts[(math.pi, "yz")] + parts[(math.pi, "xy")] == pytest.approx(math.acosh(1.1 / 0.8) + math.acosh(1.1), abs=1e-14)
    assert rd.decay_rate(0.9 - 1e-12) < 2e-6 and rd.decay_rate(0.95) == 0.0 and rd.decay_rate(1.0) == 0.0


def test_decay_rate_against_transfer_matrix():
    """The closed formula = min over k_y in {0, pi} of the slow path's |ln|lambda_yz|| + |ln|lambda_xy||,
    on random (gamma, mu, t') in both regimes (seeded), and at the paper's point."""
    rng = np.random.default_rng(22)
    cases = [(0.8, -0.2, 1.0, 1.0), (0.5, -0.2, 1.0, 1.0), (0.95, -0.2, 1.0, 1.0)]
    while len(cases) < 40:
        g, mu, tp = rng.uniform(0.2, 1.3), rng.uniform(-3.5, 0.5), rng.uniform(0.6, 1.4)
        # stay off the band edges (there the transfer matrix has a defective double root)
        zs = [abs(1 + mu / 2) / g, abs(1 - mu / 2) / g, abs(tp + mu / 2) / tp, abs(tp - mu / 2) / tp]
        if min(abs(z - 1) for z in zs) > 1e-2:
            cases.append((g, mu, 1.0, tp))
    for g, mu, t, tp in cases:
        assert rd.decay_rate(g, mu, t, tp) == pytest.approx(_slow_rate(g, mu, t, tp), abs=1e-8), (g, mu, tp)
    # and the paper's mu: kappa = arccosh(0.9/gamma) below 0.9 (the d_yz threshold at k_y = 0), 0 above
    for g in (0.3, 0.6, 0.85, 0.89, 0.91, 1.0, 1.05):
        assert _slow_rate(g, -0.2, 1.0, 1.0) == pytest.approx(math.acosh(0.9 / g) if g < 0.9 else 0.0, abs=1e-8)


def test_wavenumber_and_thermal_coefficient_against_transfer_matrix():
    """theta = |Re(k_yz + k_xy)| folded, and c = dq/dE, from the retarded roots (finite differences in E)."""
    h = 1e-5
    for g in (0.5, 0.8, 0.85, 0.95, 1.0, 1.2):
        r = _retarded_roots(g, -0.2, 1.0, 1.0, 0.0)
        q = -1j * (np.log(r["yz"]) + np.log(r["xy"]))
        th = q.real % (2 * math.pi)
        assert rd.oscillation_wavenumber(g) == pytest.approx(min(th, 2 * math.pi - th), abs=1e-8)
        qs = [-1j * sum(np.log(v) for k, v in _retarded_roots(g, -0.2, 1.0, 1.0, 0.0, E=e).items() if k != "xz") for e in (-h, h)]
        assert rd.thermal_coefficient(g) == pytest.approx((qs[1] - qs[0]) / (2 * h), rel=1e-6)
    # below the threshold theta does not depend on gamma: arccos(t' + mu/2) = arccos(0.9)
    assert rd.oscillation_wavenumber(0.5) == pytest.approx(math.acos(0.9), abs=1e-14)
    assert rd.oscillation_wavenumber(0.8) == pytest.approx(math.acos(0.9), abs=1e-14)


def test_phase_is_stationary_only_at_ky_0_and_pi():
    """q(k_y) = k_yz + k_xy of the retarded roots: dq/dk_y (finite differences) equals
    -sin k_y [t/(gamma sin k_yz) + 1/sin k_xy], whose bracket has modulus >= 1 for retarded legs, so
    |dq/dk_y| >= |sin k_y|: stationary only at k_y = 0 and pi (away from the band edges)."""
    h = 1e-6
    for g in (0.8, 0.95):
        for ky in np.linspace(0.05, math.pi - 0.05, 23):
            qs = []
            for k in (ky - h, ky + h):
                r = _retarded_roots(g, -0.2, 1.0, 1.0, k)
                qs.append(-1j * (np.log(r["yz"]) + np.log(r["xy"])))
            r = _retarded_roots(g, -0.2, 1.0, 1.0, ky)
            kyz, kxy = -1j * np.log(r["yz"]), -1j * np.log(r["xy"])
            if min(abs(np.sin(kyz)), abs(np.sin(kxy))) < 0.05:
                continue  # a band edge (branch point of the leg decomposition)
            dq = (qs[1] - qs[0]) / (2 * h)
            assert dq == pytest.approx(-math.sin(ky) * (1 / (g * np.sin(kyz)) + 1 / np.sin(kxy)), rel=1e-5)
            assert abs(dq) >= 0.999 * math.sin(ky)


def test_envelope_rate_is_exact_on_its_model():
    """J = n^-p e^{-kappa n} g(n), g of period exactly P (random odd harmonics) -> kappa to 1e-12."""
    rng = np.random.default_rng(5)
    N = np.arange(3, 50)
    for P in (8, 14):
        g = sum(rng.normal() * np.cos(2 * np.pi * k * N / P + rng.uniform(0, 6)) for k in (1, 3, 5))
        J = N**-1.5 * np.exp(-0.4 * N) * g
        assert rd.envelope_rate(N, J, P, p=1.5) == pytest.approx(0.4, abs=1e-12)
        # p = 0: the apparent rate exceeds kappa by the power-law (stationary-point) correction
        assert rd.envelope_rate(N, J, P) > 0.4 + 0.05


def test_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        rd.decay_rate(0.0)
    with pytest.raises(TypeError, match="gamma"):
        rd.decay_rate("0.8")
    with pytest.raises(ValueError, match="mu"):
        rd.decay_rate(0.8, mu=float("nan"))
    with pytest.raises(ValueError, match="cover"):
        rd.envelope_rate(np.arange(3, 20), np.ones(17), 14)
    with pytest.raises(ValueError, match="period"):
        rd.envelope_rate(np.arange(3, 60), np.ones(57), 2.5)
    with pytest.raises(ValueError, match="band edge"):
        rd.thermal_coefficient(0.9)


# ---------------------------------------------------------------- the measured J(N_x), N_y = infinity
@pytest.fixture(scope="module")
def J():
    """J(N_x) of the Fig. 5 trilayer (m_L = m_R = y, mu = -0.2), N_x = 3..43 (~2 s CPU)."""
    return {(g, T): rd.measure(g, T, N_max=43) for g, T in ((0.8, 0.01), (0.8, 0.0025), (0.7, 0.0025), (0.95, 0.02), (0.95, 0.005))}


def test_evanescent_decay_is_temperature_independent(J):
    """(a) gamma = 0.8: the apparent rates at T = 0.01 and 0.0025 agree (measured 0.577 vs 0.575 /column);
    the same estimator separates T = 0.02 and 0.005 by 0.11 at gamma = 0.95 (next test)."""
    P = rd.window_period(0.8)
    assert P == 14
    a, b = (rd.envelope_rate(*J[(0.8, T)], P) for T in (0.01, 0.0025))
    assert abs(a - b) < 0.01, (a, b)


def test_evanescent_decay_rate_is_arccosh(J):
    """(b) The rate of J N^3/2 is kappa = arccosh(0.9/gamma) (measured 0.477-0.480 vs 0.495 at 0.8,
    0.719 vs 0.739 at 0.7); the rate of J itself exceeds it by the stationary-point correction of
    the N^-3/2 prefactor, as the model predicts (0.575 vs 0.595)."""
    for g, T in ((0.8, 0.01), (0.8, 0.0025), (0.7, 0.0025)):
        N, Jv = J[(g, T)]
        kappa, P = rd.decay_rate(g), rd.window_period(g)
        corrected = rd.envelope_rate(N, Jv, P, p=1.5)
        assert abs(corrected - kappa) < 0.035, (g, T, corrected, kappa)
        apparent = rd.envelope_rate(N, Jv, P)
        model = rd.envelope_rate(N, rd.thermal_envelope(N, T, g), P)
        assert 0.05 < apparent - kappa < 0.13, (g, T, apparent, kappa)
        assert abs(apparent - model) < 0.035, (g, T, apparent, model)
    # rules out the other candidates: k_y = pi (both legs evanescent), or the d_yz rate alone there
    assert rd.decay_rate(0.8) < math.acosh(1.1 / 0.8) - 0.3


def test_sign_changes_follow_the_dxy_leg(J):
    """Below the threshold the d_yz leg has Re k_x = pi, so J changes sign every pi/arccos(0.9) = 6.97
    columns whatever gamma (measured spacing beyond N_x = 20, T = 0.0025: 6.86-6.95)."""
    half = math.pi / rd.oscillation_wavenumber(0.8)
    for g in (0.8, 0.7):
        N, Jv = J[(g, 0.0025)]
        i = np.nonzero(np.sign(Jv[:-1]) != np.sign(Jv[1:]))[0]
        z = N[i] + Jv[i] / (Jv[i] - Jv[i + 1])
        gaps = np.diff(z[z > 20])
        assert len(gaps) >= 2 and np.all(np.abs(gaps - half) < 0.25), (g, z)


def test_open_channel_decay_is_thermal(J):
    """(c) gamma = 0.95 (d_yz open at k_y = 0): the rate depends on T (0.204 at T = 0.02, 0.096 at 0.005),
    and the rate of J N^3/2 is the thermal one of x/sinh x, x = pi T N (1/v_yz + 1/v_xy), to 0.015 (measured 0.003)."""
    g, P = 0.95, rd.window_period(0.95)
    assert rd.decay_rate(g) == 0.0 and P == 16
    rates = {}
    for T in (0.02, 0.005):
        N, Jv = J[(g, T)]
        rates[T] = rd.envelope_rate(N, Jv, P)
        corrected = rd.envelope_rate(N, Jv, P, p=1.5)
        model = rd.envelope_rate(N, rd.thermal_envelope(N, T, g), P, p=1.5)
        assert abs(corrected - model) < 0.015, (T, corrected, model)
    assert rates[0.02] - rates[0.005] > 0.08, rates
