"""The orbital diffusion length of a disordered t2g strip: how far an injected OAM current reaches, and
what removes it (hopping torque or on-site torque), against the disorder strength W.

Reproduces the numbers of ``derivations/orbital-diffusion.md``.

Setup (transport, linear response, per unit bias)
-------------------------------------------------
* Region: the paper's multiorbital metal (Eq. 3, basis ``(d_yz, d_zx, d_xy)``, ``t = t' = 1``): a strip
  of ``N_x`` x-cells and ``width`` rows (open in y), x-bonds ``-diag(gamma, t, t')``, y-bonds
  ``-diag(t, gamma, t')``, no on-site term (degenerate orbitals), ``L`` of Eq. 2.  Disorder from
  :mod:`orbsym.numeric.disorder`: ``Anderson(W)`` (orbital-independent, ``V 1``) or
  ``Anderson(W, per_orbital=True)`` (a random crystal field ``diag(V_1, V_2, V_3)``), uniform in
  ``[-W/2, W/2]``.
* Left lead: an orbital ferromagnet (the paper's FM, Eq. 6): isotropic hopping ``-t 1`` and the on-site
  exchange ``-m L_axis``; it injects OAM polarized along ``axis`` into the metal.  Right lead: the clean
  metal continued.  Leads are clean; ``site_transport`` at temperature ``T`` (``n_energy`` nodes), chemical
  potential ``mu`` (energy axis of h).
* Observables per realization (:class:`orbsym.numeric.sites.SiteObservables` of the driven part):
  ``j(b)`` = :meth:`boundary_current` of ``L_axis`` through the boundary between x-cells ``b`` and ``b + 1``
  (``b = 0 .. N_x - 2``) per unit bias (``e = hbar = 1``; the table divides the ensemble means by the mean
  Landauer particle current ``<I>``: OAM (hbar) per transported electron); per layer ``x`` (summed over the
  width) the torque ``tau(x)`` = :meth:`torque` and its parts ``tau_hop`` (bond sources, x- and y-bonds
  touching the layer), ``tau_cf`` (on-site torque of the clean on-site matrices: 0 here) and ``tau_dis``
  (on-site torque of the disorder term).

:func:`run` takes these per-layer profiles of every realization from one transport ensemble
(:func:`orbsym.workflows.ensembles.ensemble`: ``boundary_current``, ``layer_torque``,
``layer_torque_onsite``, ``layer_torque_disorder``, the balance checked in every realization);
:func:`layer_profile` computes them for one sample directly (the independent path of the tests).

Exact layer balance (steady state, interior layers ``x = 1 .. N_x - 2``; y-bond currents cancel in the
layer sum)::

    j(x) - j(x - 1) = tau(x) = tau_hop(x) + tau_cf(x) + tau_dis(x)

so the OAM current lost between two boundaries IS the torque of the layer between them, realization by
realization; the orbital-independent potential commutes with ``L`` and adds no torque of its own
(``tau_dis = 0``), a random crystal field does.

Decay lengths of the ensemble-mean profile ``<j>(b)`` (``b = 0 .. N_x - 3``; the last boundary touches
the right lead's slice): ``lambda_fit`` from the damped precession ``A exp(-b / lambda) cos(q b + phi)``
(:func:`fit_decay`, least squares) and ``lambda_m`` from the centre of weight of ``<j>^2``
(:func:`moment_length`: no fit, the robust one); errors are the jackknife over realizations.

Torque split: the interior-layer torque profile ``tau(x) = sum_k tau_k(x)`` is split exactly into shares
``s_k = sum_x tau_k(x) tau(x) / sum_x tau(x)^2`` (``sum_k s_k = 1``; the projection of each part on the
total, so that parts that cancel each other are not counted as loss), of the ensemble means.

Usage::

    python benchmarks/orbital_diffusion.py            # the table of the findings page
    python benchmarks/orbital_diffusion.py --quick    # fewer realizations, shorter strip
"""

import os

if __name__ == "__main__":  # one BLAS thread when run as a script (not when imported by the tests)
    for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_k, "1")

import argparse  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.optimize import brentq, least_squares  # noqa: E402

from orbsym.numeric.disorder import Anderson  # noqa: E402
from orbsym.numeric.sites import Hopping, Site, SiteLattice, SiteObservables  # noqa: E402
from orbsym.numeric.sites_transport import site_transport  # noqa: E402

#: Eq. 2 of the paper: L_x, L_y, L_z in the basis (d_yz, d_zx, d_xy) (units of hbar).
L = np.array([[[0, 0, 0], [0, 0, 1j], [0, -1j, 0]],
              [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]],
              [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])
AXES = "xyz"

#: Defaults of the table: L_x injected at mu = -2, gamma = 0.4, T = 0.1.
DEFAULTS = dict(gamma=0.4, mu=-2.0, T=0.1, axis="x", m=1.0, n_energy=8)


def metal(N_x, width, gamma, t=1.0, tp=1.0, onsite=None):
    """The paper's multiorbital metal (Eq. 3) as a finite strip: one t2g site per cell (units of t)."""
    eps = np.zeros((3, 3)) if onsite is None else np.asarray(onsite)
    hops = [Hopping("m", "m", (1, 0), -np.diag([gamma, t, tp])), Hopping("m", "m", (0, 1), -np.diag([t, gamma, tp]))]
    return SiteLattice(Site("m", (0, 0, 0), eps, L), hops, N_x=N_x, width=width)


def ferromagnet(width, m=1.0, axis="x", t=1.0):
    """The orbital ferromagnet of the left lead: isotropic hopping ``-t 1``, exchange ``-m L_axis`` (Eq. 6)."""
    if axis not in tuple(AXES):
        raise ValueError(f"OAM axis must be one of 'x', 'y', 'z', got {axis!r}")
    a = AXES.index(axis)
    hops = [Hopping("m", "m", (1, 0), -t * np.eye(3)), Hopping("m", "m", (0, 1), -t * np.eye(3))]
    return SiteLattice(Site("m", (0, 0, 0), -m * L[a], L), hops, N_x=2, width=width)


def layer_profile(lat, clean, lead, T, mu, axis="x", n_energy=8):
    """Per-layer OAM balance of one sample between the FM lead and the clean metal.

    Parameters
    ----------
    lat : SiteLattice
        The (disordered) region.
    clean : SiteLattice
        The same region without disorder (same geometry): its on-site matrices give ``tau_cf`` with the
        bands of ``lat``; its last slice is the right lead.
    lead : SiteLattice
        The left lead's source lattice (slice 0 continued).

    Returns
    -------
    dict
        ``j`` (N_x - 1) boundary currents, ``tau``, ``tau_hop``, ``tau_cf``, ``tau_dis`` (N_x) per layer, linear
        response per unit bias (``e = hbar = 1``; L in units of hbar); ``I`` the Landauer particle current per
        unit bias (``G / 2 pi``, ``G`` in ``e^2/h``); ``residual`` the largest ``|j(x) - j(x-1) - tau(x)|`` over the interior layers.
    """
    kw = dict(n_energy=n_energy) if T > 0 else {}
    res = site_transport(lat, T=T, mu=mu, left=(lead, 0), right=(clean, clean.n_slices - 1), equilibrium=False, **kw)
    obs = res["response"]
    I = res.landauer_current()
    j = obs.boundary_current(axis)
    tau = obs.torque(axis).sum(axis=(1, 2))
    onsite = obs.onsite_torque(axis).sum(axis=(1, 2))
    cf = SiteObservables(clean, obs.bands).onsite_torque(axis).sum(axis=(1, 2))  # same G, clean eps
    x = np.arange(1, lat.N_x - 1)
    residual = float(np.abs(j[x] - j[x - 1] - tau[x]).max(initial=0.0))
    return {"j": j, "tau": tau, "tau_hop": tau - onsite, "tau_cf": cf, "tau_dis": onsite - cf, "I": I, "residual": residual}


def run(W, seeds, N_x=30, width=12, gamma=DEFAULTS["gamma"], mu=DEFAULTS["mu"], T=DEFAULTS["T"], axis=DEFAULTS["axis"],
        m=DEFAULTS["m"], n_energy=DEFAULTS["n_energy"], per_orbital=False, workers=1):
    """Profiles of every realization (seeds) at disorder strength ``W``: dict of arrays ``[realization, ...]``.

    One transport ensemble (:func:`orbsym.workflows.ensembles.ensemble`, clean leads: the FM lead on the left,
    the clean metal continued on the right), whose per-layer variables are the profiles: ``j`` =
    ``boundary_current``, ``tau`` = ``layer_torque``, ``tau_hop`` = ``layer_torque - layer_torque_onsite``,
    ``tau_dis`` = ``layer_torque_disorder``, ``tau_cf`` = the rest of the on-site torque, ``I`` =
    ``landauer_current``, ``residual`` = ``balance_residual`` (per-site and per-layer balance, checked by the
    ensemble in every realization).  ``W = 0`` runs the clean strip once (whatever ``seeds``)."""
    import functools

    from orbsym.workflows.ensembles import ensemble

    if W < 0:
        raise ValueError(f"disorder strength W must be >= 0 (units of t), got {W!r}")
    if W > 0 and not list(seeds):
        raise ValueError("a disordered ensemble needs at least one seed (seeds is empty)")
    lead = ferromagnet(width, m, axis)
    tr = dict(left=(lead, 0), mu=mu, n_energy=n_energy if T > 0 else None)
    ds = ensemble(functools.partial(metal, N_x, width, gamma), Anderson(W, per_orbital=per_orbital), [0] if W == 0 else list(seeds), T,
                  observables=("landauer_current", "boundary_current", "layer_torque"), transport=tr, workers=workers, progress=False)
    pol = 1 + AXES.index(axis)  # polarizations: charge, x, y, z
    tau, onsite, dis = (ds[v].values[:, pol] for v in ("layer_torque", "layer_torque_onsite", "layer_torque_disorder"))
    return {"j": ds["boundary_current"].values[:, pol], "tau": tau, "tau_hop": tau - onsite, "tau_cf": onsite - dis, "tau_dis": dis,
            "I": ds["landauer_current"].values, "residual": ds["balance_residual"].values}


def _model(p, x):
    A, lam, q, phi = p
    return A * np.exp(-x / lam) * np.cos(q * x + phi)


def fit_decay(j, start=0, stop=None, guesses=(3.0, 6.0, 12.0, 25.0)):
    """Fit ``j(b) ~ A exp(-b/lambda) cos(q b + phi)`` over ``b = start .. stop - 1`` -> ``(lambda, q)``.

    Several starting decay lengths and precession wavenumbers are tried; the best least-squares fit wins
    (``lambda`` in units of the lattice constant, bounded to ``[0.2, 1e3]``)."""
    y = np.asarray(j, float)[start:stop]
    x = np.arange(y.size, dtype=float)
    best = None
    for lam0 in guesses:
        for q0 in (0.05, 0.3, 0.6, 1.2, 2.0):
            try:
                r = least_squares(lambda p: _model(p, x) - y, [y[0] if y[0] else 1e-3, lam0, q0, 0.0],
                                  bounds=([-np.inf, 0.2, 0.0, -np.pi], [np.inf, 1e3, np.pi, np.pi]))
            except ValueError:
                continue
            if best is None or r.cost < best.cost:
                best = r
    return float(best.x[1]), float(best.x[2])


def moment_length(j):
    """Decay length from the second moment of the profile: the ``lambda`` whose pure exponential
    ``exp(-2 b / lambda)`` on the same window ``b = 0 .. B - 1`` has the centre of weight of ``j(b)^2``.

    ``<b>_obs = sum_b b j(b)^2 / sum_b j(b)^2`` is matched to ``<b>(lambda) = sum_b b e^{-2b/lambda} / sum_b e^{-2b/lambda}``
    (increasing in ``lambda``, from 0 to ``(B - 1)/2``); a flat or growing profile (``<b>_obs >= (B - 1)/2``)
    gives ``inf``.  Precession (``cos^2``) averages out over whole periods; no fit, no starting guesses."""
    y = np.asarray(j, float) ** 2
    b = np.arange(y.size, dtype=float)
    if not y.sum() > 0:
        raise ValueError("moment_length needs a profile that is not identically zero")
    target = float((b * y).sum() / y.sum())
    if target >= (y.size - 1) / 2 - 1e-12:
        return np.inf

    def centre(lam):
        w = np.exp(-2 * b / lam)
        return (b * w).sum() / w.sum() - target

    if centre(1e-3) >= 0:
        return 1e-3
    return float(brentq(centre, 1e-3, 1e6, xtol=1e-10))


def jackknife(samples, stat):
    """Jackknife standard error of ``stat(mean over realizations)``; 0 for one realization, NaN when a
    leave-one-out value is not finite."""
    n = len(samples)
    if n < 2:
        return 0.0
    vals = np.array([stat(np.delete(samples, i, axis=0).mean(0)) for i in range(n)])
    if not np.all(np.isfinite(vals)):  # e.g. an infinite decay length: no error bar
        return float("nan")
    return float(np.sqrt((n - 1) / n * ((vals - vals.mean()) ** 2).sum()))


def summarize(prof):
    """Decay lengths (jackknife errors), the torque shares and the balance of one ensemble (:func:`run`)."""
    n = prof["j"].shape[0]
    J = prof["j"][:, :-1]  # drop the boundary inside the right lead's slice
    lam, q = fit_decay(J.mean(0))
    interior = slice(1, prof["tau"].shape[1] - 1)
    tau = prof["tau"][:, interior].mean(0)
    shares = {k: float(prof[k][:, interior].mean(0) @ tau / (tau @ tau)) if tau @ tau > 0 else 0.0 for k in ("tau_hop", "tau_cf", "tau_dis")}
    I = prof["I"].mean()
    j0 = J[:, 0]
    return {"lambda": lam, "lambda_err": jackknife(J, lambda m: fit_decay(m)[0]), "q": q,
            "lambda_m": moment_length(J.mean(0)), "lambda_m_err": jackknife(J, moment_length),
            "j0": (j0.mean() / I, (j0.std(ddof=1) / np.sqrt(n) / I) if n > 1 else 0.0), "I": I,
            "abs_tau": float(np.abs(tau).sum() / I), "loss": float((J[:, -1] - J[:, 0]).mean() / I), **shares,
            "residual": float(prof["residual"].max()), "n": n}


def _fmt(v, e):
    return "inf" if not np.isfinite(v) else f"{v:.2f} ± {e:.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 realizations, N_x = 24")
    ap.add_argument("--realizations", type=int, default=24)
    ap.add_argument("--width", type=int, default=12)
    ap.add_argument("--length", type=int, default=30)
    args = ap.parse_args(argv)
    n, N_x = (8, 24) if args.quick else (args.realizations, args.length)
    p = dict(N_x=N_x, width=args.width, **{k: DEFAULTS[k] for k in ("gamma", "mu", "T", "axis", "m", "n_energy")})
    print(f"# t2g strip {N_x} x {args.width}, gamma = {p['gamma']}, mu = {p['mu']}, T = {p['T']} ({p['n_energy']} energies), "
          f"L_{p['axis']} injected by an FM lead (|m| = {p['m']}); {n} realizations; currents and torques per transported electron")
    print("| disorder | W | lambda_m (a) | lambda_fit (a) | q (1/a) | <G> (e^2/h) | l_el (a) | <j(0)>/<I> | (<j(end)> - <j(0)>)/<I> | "
          "sum_x abs<tau>/<I> | hopping share | on-site share (clean) | on-site share (disorder) | max balance residual | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    G0 = None
    cases = [("Anderson V 1", False, W) for W in (0.0, 0.5, 1.0, 2.0, 3.0)] + [("crystal field diag(V)", True, W) for W in (0.5, 1.0, 2.0, 3.0)]
    cases += [("gamma = t (conserved), Anderson", False, 1.0)]
    for name, per_orbital, W in cases:
        t0 = time.process_time()
        q = dict(p, gamma=1.0) if name.startswith("gamma") else p
        s = summarize(run(W, range(min(n, 4) if name.startswith("gamma") else n), per_orbital=per_orbital, **q))
        dt = time.process_time() - t0
        G = 2 * np.pi * s["I"]  # Landauer: I per unit bias = G / 2 pi
        G0 = G if G0 is None else G0  # the clean (ballistic) strip: its open channels
        l_el = "-" if W == 0 or G >= G0 or name.startswith("gamma") else f"{N_x / (G0 / G - 1):.1f}"  # Ohm: 1/G = (1 + N_x / l) / N_ch
        print(f"| {name} | {W:g} | {_fmt(s['lambda_m'], s['lambda_m_err'])} | {_fmt(s['lambda'], s['lambda_err'])} | {s['q']:.2f} | {G:.3f} | {l_el} | "
              f"{s['j0'][0]:.4f} ± {s['j0'][1]:.4f} | {s['loss']:.4f} | {s['abs_tau']:.2e} | {s['tau_hop']:.3f} | {s['tau_cf']:.3f} | "
              f"{s['tau_dis']:.3f} | {s['residual']:.1e} | {dt:.1f} |", flush=True)


if __name__ == "__main__":
    main()
