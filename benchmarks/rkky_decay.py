"""The decay of the orbital RKKY coupling J(N_x) with the spacer length: prediction and measurement.

Reproduces the numbers of ``derivations/rkky-decay.md`` (the findings page).  The trilayer is the
paper's Fig. 5 one (FM / multiorbital NM / FM, ``N_FM = 1``, ``m_L = m_R = y``, ``|m| = 1``,
``mu = -0.2``, ``t = t' = 1``); ``J = F_AP - F_P`` per row (units of t) at ``N_y = infinity``
(:func:`orbsym.rkky.rkky_vs_length`, Lloyd's formula).

Prediction (``derivations/rkky-decay.md``).  The NM's Bloch bands along x at fixed k_y and energy
E (measured from the Fermi level) are, per orbital a with hoppings ``t_x^a, t_y^a``,
``E = -2 t_x^a cos k_x - 2 t_y^a cos k_y - mu`` (d_yz: ``t_x = gamma, t_y = t``; d_xy:
``t_x = t_y = t'``).  At E = 0 the channel a is evanescent when ``|t_y^a cos k_y + mu/2| > t_x^a``,
with ``k_x = (0 or pi) + i kappa_a`` and ``kappa_a = arccosh(|t_y^a cos k_y + mu/2| / t_x^a)``.
Every term of J (odd in m_R) has one d_yz and one d_xy leg across the spacer; their phase
``k_yz + k_xy`` is stationary in k_y only at 0 and pi (for gamma != t), so

    J ~ N^(-p) exp(-kappa N) x (a function of N periodic with period 2 pi / theta),
    kappa = min over k_y in {0, pi} of [kappa_yz(k_y) + kappa_xy(k_y)],    p = 3/2 at T -> 0,

with ``p = 1/2`` (Gaussian k_y integral at the stationary point) ``+ 1`` (the Fermi-level end of
the energy integral).  At mu = -0.2 this is ``kappa = arccosh((t + mu/2)/gamma)
= arccosh(0.9/gamma)`` for ``gamma < 0.9`` (d_yz evanescent at k_y = 0, d_xy open), 0 above.

Measurement: :func:`envelope_rate`, the log-ratio of the RMS of ``J N^p`` over two consecutive
windows of ``P`` columns, ``P`` a whole number of oscillation periods (so the sign changes drop
out), averaged over the window starts.

Usage::

    python benchmarks/rkky_decay.py            # the table of the findings page (~20 s CPU)
    python benchmarks/rkky_decay.py --quick    # gamma = 0.8 and 0.95 only
    python benchmarks/rkky_decay.py --far      # also later windows (N_x up to 59) at gamma = 0.8, 0.85
"""

import os

if __name__ == "__main__":  # one BLAS thread when run as a script (not when imported by the tests)
    for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_k, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

__all__ = [
    "channel_decay",
    "decay_rate",
    "oscillation_wavenumber",
    "thermal_coefficient",
    "window_period",
    "envelope_rate",
    "thermal_envelope",
    "measure",
    "prefactor_power",
    "sign_change_spacing",
]

#: The paper's Fig. 5 trilayer parameters used here (orbsym.conventions.PAPER_PARAMETERS).
MU, T_HOP, TP = -0.2, 1.0, 1.0
#: Window starts of :func:`envelope_rate` (columns N_x of the trilayer, FMs included).
STARTS = tuple(range(6, 13))


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def _real(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def channel_decay(t_x, t_y, mu, k_y, E=0.0):
    """Decay rate per column of one orbital channel along x at fixed ``k_y`` and energy ``E``.

    The channel's band is ``E = -2 t_x cos k_x - 2 t_y cos k_y - mu`` (units of t, lattice spacing
    1).  Solved for ``k_x``: ``cos k_x = -(E + mu + 2 t_y cos k_y) / (2 t_x)``; if ``|cos k_x| > 1``
    the channel is evanescent, ``k_x = (0 or pi) + i kappa`` with
    ``kappa = arccosh(|E + mu + 2 t_y cos k_y| / (2 |t_x|))``; otherwise it is open, ``kappa = 0``.

    Returns
    -------
    float
        ``kappa >= 0`` (inverse columns).
    """
    t_x = abs(_real("t_x", t_x))
    if t_x == 0:
        raise ValueError("t_x must be nonzero (a channel with no hopping along x has no k_x)")
    z = abs(_real("E", E) + _real("mu", mu) + 2 * _real("t_y", t_y) * math.cos(_real("k_y", k_y))) / (2 * t_x)
    return math.acosh(z) if z > 1 else 0.0


def decay_rate(gamma, mu=MU, t=T_HOP, tp=TP, detail=False):
    """Predicted exponential decay rate ``kappa`` of the orbital RKKY coupling J(N_x) at T -> 0.

    ``kappa = min_{k_y in {0, pi}} [kappa_yz(k_y) + kappa_xy(k_y)]`` with (:func:`channel_decay`, E = 0)
    ``kappa_yz(k_y) = arccosh_+(|t cos k_y + mu/2| / gamma)`` (d_yz: gamma along x, t along y) and
    ``kappa_xy(k_y) = arccosh_+(|t' cos k_y + mu/2| / t')`` (d_xy: t' both ways), where
    ``arccosh_+(z) = arccosh(z)`` for ``z > 1`` and 0 otherwise.  For ``-4 t' <= mu <= 0`` (d_xy open
    at k_y = 0) and ``gamma < t + mu/2`` this is ``arccosh((t + mu/2)/gamma)``: at the paper's
    mu = -0.2, ``arccosh(0.9/gamma)`` below the threshold gamma = 0.9 and 0 (thermal decay) above.

    Parameters
    ----------
    gamma, t, tp : float
        NM hoppings (units of t), ``> 0``.
    mu : float
        Chemical potential (units of t).
    detail : bool
        Also return the per-(k_y, orbital) rates.

    Returns
    -------
    float, or (float, dict) with ``detail=True``: ``{(k_y, "yz" | "xy"): kappa}``.
    """
    gamma, t, tp = _positive("gamma", gamma), _positive("t", t), _positive("tp", tp)
    mu = _real("mu", mu)
    parts = {}
    for ky in (0.0, math.pi):
        parts[(ky, "yz")] = channel_decay(gamma, t, mu, ky)
        parts[(ky, "xy")] = channel_decay(tp, tp, mu, ky)
    kappa = min(parts[(ky, "yz")] + parts[(ky, "xy")] for ky in (0.0, math.pi))
    return (kappa, parts) if detail else kappa


def oscillation_wavenumber(gamma, mu=MU, t=T_HOP, tp=TP):
    """Wavenumber ``theta`` (radians per column) of the sign changes of J(N_x) at T -> 0.

    The real part of the total phase at the stationary point k_y = 0, E = 0: each leg contributes
    ``Re k_x`` (``arccos`` of its ``cos k_x`` when open, 0 or pi when evanescent), and
    ``theta = |Re(k_yz + k_xy)|`` folded into ``[0, pi]``.  For ``gamma < t + mu/2`` (d_yz evanescent,
    ``Re k_yz = pi``) ``theta = pi - arccos(-(t' + mu/2)/t') = arccos((t' + mu/2)/t')`` does not depend on
    gamma: ``arccos(0.9) = 0.451`` at mu = -0.2, sign changes every ``pi/theta = 6.97`` columns.
    """
    gamma, t, tp = _positive("gamma", gamma), _positive("t", t), _positive("tp", tp)
    mu = _real("mu", mu)
    total = 0.0
    for tx, ty in ((gamma, t), (tp, tp)):
        c = -(mu + 2 * ty) / (2 * tx)
        total += math.acos(c) if abs(c) <= 1 else (math.pi if c < 0 else 0.0)
    theta = total % (2 * math.pi)
    return min(theta, 2 * math.pi - theta)


def thermal_coefficient(gamma, mu=MU, t=T_HOP, tp=TP):
    """``c = dq/dE`` of the total phase ``q = k_yz + k_xy`` at k_y = 0, E = 0 (complex, units 1/t).

    An open leg contributes ``1 / v`` with ``v = 2 t_x sin k_x`` its group velocity; an evanescent leg
    contributes ``i d kappa / dE = i / (2 t_x sinh kappa)``.  The Matsubara sum of the Fermi-level end
    point gives the thermal factor ``x / sinh x`` with ``x = pi T N c`` (:func:`thermal_envelope`):
    only ``Re c`` (the open legs' inverse velocities) damps the amplitude at large ``N``.
    """
    gamma, t, tp = _positive("gamma", gamma), _positive("t", t), _positive("tp", tp)
    mu = _real("mu", mu)
    c = 0j
    for tx, ty in ((gamma, t), (tp, tp)):
        z = -(mu + 2 * ty) / (2 * tx)  # cos k_x at k_y = 0, E = 0
        if abs(z) < 1:
            c += 1 / (2 * tx * math.sqrt(1 - z * z))
        elif abs(z) > 1:
            c += 1j / (2 * tx * math.sqrt(z * z - 1))
        else:
            raise ValueError(f"gamma = {gamma}, mu = {mu}: a band edge at the Fermi level (c diverges)")
    return c


def window_period(gamma, mu=MU, t=T_HOP, tp=TP, minimum=12):
    """Window length ``P`` of :func:`envelope_rate`: the whole number of columns nearest to the
    smallest multiple of the oscillation period ``2 pi / theta`` that is ``>= minimum``."""
    period = 2 * math.pi / oscillation_wavenumber(gamma, mu, t, tp)
    return int(round(period * math.ceil(minimum / period - 1e-9)))


def envelope_rate(N, J, period, p=0.0, starts=STARTS):
    """Decay rate of the envelope of an oscillating sequence, free of its sign changes.

    For each start ``a``: ``kappa_a = (1/P) ln( RMS_{a <= n < a+P}(J_n n^p) / RMS_{a+P <= n < a+2P}(J_n n^p) )``;
    returns the mean over ``starts``.  With ``P`` a whole number of periods of the oscillating
    factor, ``J = n^-p e^{-kappa n} g(n)``, ``g`` periodic, gives exactly ``kappa``; with ``p = 0`` it
    gives the apparent rate ``kappa + p_true x (window correction)``.

    Parameters
    ----------
    N : array of int
        Lengths (consecutive integers covering ``max(starts) + 2P - 1``).
    J : array
        Values at ``N``.
    period : int
        Window length ``P`` (columns, >= 1).
    p : float
        Power of the prefactor taken out (``J n^p``).
    """
    N = np.asarray(N)
    J = np.asarray(J, float)
    if N.shape != J.shape or N.ndim != 1:
        raise ValueError(f"N and J must be 1-D of equal length, got shapes {N.shape} and {J.shape}")
    if isinstance(period, bool) or int(period) != period or period < 1:
        raise ValueError(f"period must be an integer >= 1 (columns), got {period!r}")
    period = int(period)
    y = J * N.astype(float) ** p
    rates = []
    for a in starts:
        A = (N >= a) & (N < a + period)
        B = (N >= a + period) & (N < a + 2 * period)
        if A.sum() != period or B.sum() != period:
            raise ValueError(f"N must cover {a}..{a + 2 * period - 1} for the window start {a} and P = {period}")
        rates.append(math.log(math.sqrt(np.mean(y[A] ** 2) / np.mean(y[B] ** 2))) / period)
    return float(np.mean(rates))


def thermal_envelope(N, T, gamma, mu=MU, t=T_HOP, tp=TP, p=1.5):
    """Model envelope ``|x / sinh x| N^-p e^{-kappa N}``, ``x = pi T N c`` (:func:`thermal_coefficient`).

    The leading term of J: the Matsubara sum ``T sum_n exp(i q(i w_n) N)`` over ``w_n = (2n+1) pi T``
    with ``q(i w) = q(0) + i w c`` is ``(1 / 2 pi N c) (x / sinh x) e^{i q(0) N}``; the k_y saddle adds
    ``N^-1/2``.  At ``T = 0`` the factor is 1.
    """
    N = np.asarray(N, float)
    kappa = decay_rate(gamma, mu, t, tp)
    x = math.pi * T * N * thermal_coefficient(gamma, mu, t, tp)
    f = np.ones_like(N) if T == 0 else np.abs(x / np.sinh(x))
    return f * N**-p * np.exp(-kappa * N)


def measure(gamma, T, N_max=40, mu=MU):
    """``(N, J)`` of the Fig. 5 trilayer (``m_L = m_R = y``) for ``N_x = 3..N_max`` at ``N_y = infinity``."""
    from orbsym.rkky import rkky_vs_length
    from orbsym.systems import trilayer

    N = np.arange(3, N_max + 1)
    r = rkky_vs_length(trilayer(N_x=N_max, m_L="y", m_R="y", gamma=gamma, mu=mu), T=T, lengths=N, N_y=float("inf"))
    return N, r["J"]


def prefactor_power(N, J, kappa, period, starts=STARTS):
    """Power ``p`` of the prefactor of ``J = N^-p e^{-kappa N} g(N)`` with ``kappa`` given: the rate of
    ``J e^{kappa N}`` divided by the rate of ``N^-1`` over the same windows (:func:`envelope_rate`)."""
    N = np.asarray(N)
    return envelope_rate(N, np.asarray(J) * np.exp(kappa * N), period, starts=starts) / envelope_rate(N, 1.0 / N, period, starts=starts)


def sign_change_spacing(N, J, after=15):
    """Mean distance (columns) between the sign changes of J (linear interpolation) beyond ``N = after``."""
    N, J = np.asarray(N), np.asarray(J)
    i = np.nonzero(np.sign(J[:-1]) != np.sign(J[1:]))[0]
    z = N[i] + J[i] / (J[i] - J[i + 1])
    z = z[z > after]
    return float(np.mean(np.diff(z))) if len(z) > 1 else float("nan")


def main(argv=None):
    try:  # a source checkout that is not pip-installed: use the orbsym next to this script
        import orbsym  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="gamma = 0.8 and 0.95 only")
    ap.add_argument("--far", action="store_true", help="also the windows N_x = 6..39 to 26..59 at gamma = 0.8, 0.85 (~10 s more)")
    args = ap.parse_args(argv)
    gammas = (0.8, 0.95) if args.quick else (0.5, 0.7, 0.8, 0.85, 0.95, 1.0)
    temps = (0.04, 0.02, 0.01, 0.005, 0.0025)
    print(f"load average before start: {os.getloadavg()}")
    print("Fig. 5 trilayer, mu = -0.2, m_L = m_R = y, N_y = inf, N_x = 3..max(43, 11 + 2P); rates per column, window starts 6..12")
    print("kappa_app: rate of J (e-fold = 1/kappa_app); kappa_3/2: rate of J N^3/2; model: the same estimator on")
    print("|x/sinh x| N^-3/2 e^-kappa N, x = pi T N c; p: prefactor power with kappa given; gap: sign-change spacing beyond N_x = 15")
    hdr = f"{'gamma':>5} {'kappa':>6} {'P':>3} {'T':>7} {'kappa_app':>9} {'e-fold':>6} {'kappa_3/2':>9} {'model_app':>9} {'model_3/2':>9} {'p':>5} {'gap':>5} {'CPU s':>6}"
    print(hdr)
    for g in gammas:
        kappa = decay_rate(g)
        P = window_period(g)
        for T in temps:
            t0 = time.process_time()
            N, J = measure(g, T, N_max=max(43, max(STARTS) + 2 * P - 1))
            cpu = time.process_time() - t0
            ka, kc = envelope_rate(N, J, P), envelope_rate(N, J, P, p=1.5)
            mod = thermal_envelope(N, T, g)
            ma, mc = envelope_rate(N, mod, P), envelope_rate(N, mod, P, p=1.5)
            # p and the sign changes need J above the accuracy floor (~1e-18 t) up to N_max
            floor = kappa * (max(STARTS) + 2 * P) > 30
            p = "-" if floor else f"{prefactor_power(N, J, kappa, P):.2f}"
            gap = "-" if floor else f"{sign_change_spacing(N, J):.2f}"
            print(f"{g:5.2f} {kappa:6.3f} {P:3d} {T:7.4f} {ka:9.3f} {1 / ka:6.2f} {kc:9.3f} {ma:9.3f} {mc:9.3f} {p:>5} {gap:>5} {cpu:6.2f}")
            sys.stdout.flush()
    if args.far:
        print("\nlater windows (P = 14): prefactor power p with kappa given, and the rate of J N^3/2")
        for g in (0.8, 0.85):
            kappa = decay_rate(g)
            for T in (0.01, 0.00125):
                N, J = measure(g, T, N_max=59)
                row = []
                for a0 in (6, 13, 20, 26):
                    st = range(a0, a0 + 7)
                    row.append(f"N_x {a0}..{a0 + 33}: p {prefactor_power(N, J, kappa, 14, starts=st):.2f}, rate {envelope_rate(N, J, 14, p=1.5, starts=st):.3f}")
                print(f"gamma {g} (kappa {kappa:.3f}), T {T}: " + " | ".join(row))
                sys.stdout.flush()
    th = oscillation_wavenumber(0.8)
    print(f"gamma < 0.9: theta = arccos(0.9) = {th:.4f}, sign changes every pi/theta = {math.pi / th:.2f} columns (T -> 0)")
    print(f"thermal coefficient c = dq/dE at k_y = 0: gamma = 0.8: {thermal_coefficient(0.8):.4f}; gamma = 0.95: {thermal_coefficient(0.95):.4f}")


if __name__ == "__main__":
    main()
