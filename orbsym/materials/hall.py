"""Bulk Hall conductivities and Edelstein responses of a crystal (:class:`~orbsym.materials.TightBinding`).

What is computed
----------------
For an operator ``O_gamma`` (orbital ``L``, spin ``S``, ``J = L + S``, the model's own generators,
a user matrix such as ``model.projected("L", atoms="Ti")``, or ``"charge"``: ``O = 1``) the
conventional current ``j^gamma_alpha = {v_alpha, O_gamma}/2`` (``v = i[H, r]`` in the gauge of
``H(k)``, :meth:`TightBinding.velocity`) responds to a static uniform field ``E_beta`` as

    sigma^gamma_{alpha beta} = 1/(N V) sum_k Tr( j^gamma_alpha(k) delta_beta(k) ),

with the steady-state deviation ``delta_beta`` of the density-matrix Kubo formula of
:mod:`orbsym.numeric.kubo` (relaxation rate ``eta`` toward the instantaneous equilibrium)::

    -i [h, delta] - eta delta = d f(h(k)) / dk_beta,
    delta_nm = K_nm (v_beta)_nm,   K = response_factors(E - mu, T, eta)  (eigenbasis of h(k)),

``N`` the number of k points of a Monkhorst-Pack grid and ``V`` the cell volume (the cell area for
a 2D crystal).  The Edelstein response is the accumulation ``<O_gamma>`` per cell,
``chi^gamma_beta = 1/N sum_k Tr(O_gamma delta_beta)`` (zero with inversion symmetry; its
Fermi-surface part grows as ``1/eta``).

Parts: ``fermi_sea`` (``K = i (f_n - f_m)/(eta^2 + D^2)``; for ``eta -> 0`` the intrinsic,
Berry-curvature-like sum over occupied states) and ``fermi_surface`` (``K = -F eta/(eta^2 + D^2)``;
``eta > 0`` only; its intraband (Drude-like) term needs ``T`` above the level spacing of the grid).
``total`` is their sum.

One diagonalization serves every chemical potential
----------------------------------------------------
Both parts are linear in the occupations: with ``P_nm = (j)_mn (v_beta)_nm``
(``P_mn = conj(P_nm)``), ``D = E_n - E_m``, ``den = eta^2 + D^2``::

    sum_nm K_nm P_nm = sum_n [ f_n (A^sea_n + A^surf_n) + f'_n B_n ],
    A^sea_n  = sum_{m not deg n} -2 Im P_nm / den,
    A^surf_n = sum_{m not deg n} -2 eta Re P_nm / (D den),
    B_n      = sum_{m deg n} -eta Re P_nm / den,

so the per-band weights ``A, B`` are formed once per k point and every ``mu`` costs one product
with ``f(E - mu)`` and ``f'(E - mu)``.  :func:`kubo_sum_reference` evaluates the same sums with
:func:`orbsym.numeric.kubo.response_factors` one ``mu`` at a time (the slow path of the tests).

Cost
----
Per k point: one ``eigh`` of ``H(k)``, the Fourier sums of ``H``, the needed velocities and
currents over half the lattice vectors (``X(-R) = X(R)^dagger``), their basis change (two batched
products with all operands side by side), the band weights (one real batched product) and, per
``mu``, one product with the occupations.  Measured (benchmarks/bench_hall.py, random spd fcc
model, 9 orbitals, 19 lattice vectors, all 27 components of sigma^gamma_{alpha beta}, one core of
the shared 2-core machine): ~50 us per k point (~70 ns per k point per orbital^3), i.e. ~50 s for
the 100^3 grid; 21 Fermi energies cost the same as one (the per-``mu`` work is ``O(n)`` per k).
:func:`hall_estimate` is the model (checked before any work, refused beyond the limits).

Units (:func:`orbsym.conventions.physical_response`)
---------------------------------------------------
``units="natural"``: ``e = hbar = 1``, the model's lengths and energies, per unit force ``q E``
(orbsym's convention); for a 2D orbsym model (``a = 1``) these are the numbers of
:func:`orbsym.response.orbital_hall` (per site = per cell of area ``a^2``).  ``units="physical"``
(models in Angstrom and eV): ``sigma`` in ``(hbar/e) (Ohm cm)^-1`` (3D) or ``(hbar/e) S``
(2D; ``S`` = siemens per square), with ``j^O = q x (current of O)`` (the charge-current
convention of the Wannier-function codes; the same for charge currents, where it is the electric
current); the Edelstein response in ``hbar`` per cell per ``V/cm`` for electrons (``q = -e``).
Operators in units of ``hbar`` (``S = sigma/2``).
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np

from ..execution import blas_limited
from ..numeric.checks import ENERGY_LIMIT, check_name, integer_at_least, real_number
from ..numeric.kubo import DEGENERACY_RTOL, fermi_derivative, response_factors
from ..numeric.thermo import check_temperature, fermi

__all__ = [
    "hall_conductivity",
    "edelstein",
    "kubo_sum_reference",
    "hall_estimate",
    "monkhorst_pack",
    "OPERATORS",
    "CURRENT",
    "SIGN_CONVENTION",
    "BATCH_BYTES",
]

#: Operators accepted by name.
OPERATORS = ("L", "S", "J", "model", "charge")
#: The current whose response is reported.
CURRENT = "conventional current j^gamma_alpha = {v_alpha, O_gamma}/2, v = i[H, r] (position-operator velocity of point-like orbitals)"
#: Sign convention statement attached to every output.
SIGN_CONVENTION = {
    "natural": "per unit force q E_beta (q the particles' charge; q E = -e E for electrons), e = hbar = 1: j^O = sigma q E",
    "physical": (
        "per unit field E_beta for electrons (charge q = -e); J^O_alpha = sigma E_beta with J^O = q x (current of O): "
        "the electric current for O = charge; for O = L, S, J the angular-momentum current density is -(hbar/e) sigma E "
        "(the sign of the Kubo formula of the Wannier-interpolation codes, e.g. Qiao et al. PRB 98, 214402 (2018)); charge Hall of a Chern insulator sigma_xy = -C e^2/h "
        "with C = (1/2pi) sum_occ int Omega_xy, Omega = curl A, A = i<u|grad_k u>"
    ),
    "edelstein_natural": "accumulation <O_gamma> per cell per unit force q E_beta (q E = -e E for electrons), e = hbar = 1",
    "edelstein_physical": "accumulation <O_gamma> (hbar) per cell per unit field E_beta (V/cm) for electrons (q = -e)",
}
#: Memory budget of one batch of k points (bytes).
BATCH_BYTES = 48 * 2**20
#: Seconds per k point (one core, OpenBLAS, measured on n = 9, 19 lattice vectors, 27 components; within
#: a factor ~2): fixed; eigh per n^3; basis change per operand and n^3; Fourier sum per lattice vector,
#: operand and n^2; band weights per component, weight kind and n^3; per component, n and chemical potential.
_COST = (3e-6, 1.9e-8, 1.8e-9, 4e-10, 4.5e-10, 2e-9)
AXES = "xyz"


# ============================================================================== inputs
def _operator(model, operator):
    """``(O, gamma_labels, description)``; ``O`` is None for the charge current (``O = 1``)."""
    if isinstance(operator, str):
        op = check_name("operator", operator, OPERATORS)
        if op == "charge":
            return None, ("charge",), "charge (O = 1: particle current; electric current = q x particle current)"
        O = model.angular_momentum(op)
        what = {"L": "orbital angular momentum L (atom-centred, hbar)", "S": "spin S = sigma/2 (hbar)", "J": "J = L + S (hbar)", "model": "the model's generators J (hbar)"}[op]
        return O, tuple(AXES), what
    try:
        O = np.asarray(operator, dtype=complex)
    except (TypeError, ValueError):
        raise TypeError(f"operator must be one of {OPERATORS} or a (3, n, n) / (n, n) matrix, got {type(operator).__name__}") from None
    if O.shape == (model.n, model.n):
        O, labels = O[None], ("O",)
    elif O.shape == (3, model.n, model.n):
        labels = tuple(AXES)
    else:
        raise ValueError(f"operator must be one of {OPERATORS} or an array of shape (3, {model.n}, {model.n}) or ({model.n}, {model.n}), got shape {O.shape}")
    if not np.all(np.isfinite(O)) or not np.allclose(O, O.conj().transpose(0, 2, 1), rtol=0, atol=1e-12 * max(1.0, float(np.abs(O).max()))):
        raise ValueError("operator must be Hermitian with finite entries (an observable)")
    return O, labels, "user operator (array)"


def _axes(model):
    return AXES[: model.periodic]


def _components(components, gammas, axes, edelstein=False):
    """Index tuples ``(g, a, b)`` (Hall) or ``(g, b)`` (Edelstein) of the requested components."""
    ng = len(gammas)
    if components is None:
        if edelstein:
            return [(g, b) for g in range(ng) for b in range(len(axes))]
        return [(g, a, b) for g in range(ng) for a in range(len(axes)) for b in range(len(axes))]
    if isinstance(components, str):
        components = [c.strip() for c in components.split(",") if c.strip()]
    out = []
    letters = "".join(gammas) if ng == 3 else None
    want = 1 if edelstein else 2  # letters of the spatial part
    form = ("'b' (field) or 'gb'" if edelstein else "'ab' (current, field) or 'gab'") + f" with letters in {axes!r}" + (" and g in 'xyz'" if ng == 3 else "")
    for c in components:
        if isinstance(c, str):
            s = c.strip().lower()
            if len(s) == want and all(ch in axes for ch in s):
                out += [(g,) + tuple(axes.index(ch) for ch in s) for g in range(ng)]
                continue
            if len(s) == want + 1 and letters and s[0] in letters and all(ch in axes for ch in s[1:]):
                out.append((letters.index(s[0]),) + tuple(axes.index(ch) for ch in s[1:]))
                continue
            raise ValueError(f"unknown component {c!r}: give {form}")
        if isinstance(c, (tuple, list)) and len(c) == want + 1 and all(isinstance(v, numbers.Integral) for v in c):
            if not (0 <= c[0] < ng and all(0 <= v < len(axes) for v in c[1:])):
                raise ValueError(f"component {tuple(c)} out of range: gamma in 0..{ng - 1}, directions in 0..{len(axes) - 1}")
            out.append(tuple(int(v) for v in c))
            continue
        raise ValueError(f"unknown component {c!r}: give {form}")
    if not out:
        raise ValueError(f"components is empty; give {form}")
    return list(dict.fromkeys(out))


def monkhorst_pack(N_k, periodic, start=0, stop=None):
    """Fractional k points ``start:stop`` of the Gamma-centred ``N_k^periodic`` grid, shape (m, 3).

    Along each periodic axis ``k_i = j / N_k``, ``j = 0 .. N_k - 1`` (the grid ``2 pi j / N_k`` of
    orbsym's 2D ``orbital_hall``); the point index is ``j_1 N_k^2 + j_2 N_k + j_3``.  Gamma-centred for
    every ``N_k``: the shifted Monkhorst-Pack grid of even ``N_k`` is not invariant under the point
    group of fcc, bcc or hcp crystals (its sums break the cubic symmetry, e.g. ``sigma^x_xy != 0``),
    while this grid is mapped onto itself by every operation of the lattice; the coarse grid ``N_k/2``
    of the convergence estimate is then a subset of the fine one.
    """
    total = N_k**periodic
    stop = total if stop is None else min(stop, total)
    idx = np.arange(start, stop)
    axis = np.arange(N_k) / N_k
    out = np.zeros((idx.size, 3))
    for d in range(periodic):
        out[:, d] = axis[(idx // N_k ** (periodic - 1 - d)) % N_k]
    return out


def _mus(mu):
    if isinstance(mu, (str, bytes)):
        raise ValueError(f"mu must be a real number or a sequence of them (energy unit of the model), got {mu!r}")
    arr = np.atleast_1d(np.asarray(mu, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"mu must be a real number or a non-empty 1D sequence of them, got {mu!r}")
    return np.array([real_number(f"mu[{i}]", v, bound=ENERGY_LIMIT) for i, v in enumerate(arr)], float)


# ============================================================================== cost
def hall_estimate(n, N_k, periodic, n_ops, n_comp, n_mu, n_R=27, parts=1, batch_bytes=BATCH_BYTES):
    """Memory and one-core time of :func:`hall_conductivity` on one ``N_k^periodic`` grid.

    ``n`` orbitals, ``n_ops`` operators (``H``, velocities, currents; Edelstein: and the constant
    ``O_gamma``), ``n_comp`` components, ``n_mu`` chemical potentials, ``n_R`` lattice vectors,
    ``parts`` weight kinds (1 for ``eta = 0``, else 3).  Time per k point (:data:`_COST`)::

        a + b n^3 + c n^3 n_ops + d (n_R/2) n^2 n_ops + e n^3 n_comp parts + f n n_comp n_mu

    (eigh, basis change, Fourier sum over half the lattice vectors, band weights, the sums over
    ``mu``).  Returns a :class:`orbsym.numeric.budget.ResourceEstimate`.
    """
    from ..numeric.budget import ResourceEstimate

    nk = float(N_k) ** periodic
    a, b, c, d, e, f = _COST
    per_k = a + b * n**3 + c * n**3 * n_ops + d * (n_R / 2 + 1) * n * n * n_ops + e * n**3 * n_comp * parts + f * n * n_comp * n_mu
    batch = _batch_size(n, n_ops, n_comp, batch_bytes)
    nbytes = min(nk, batch) * _bytes_per_k(n, n_ops, n_comp) + 64.0 * n_mu * n_comp + 2**20
    return ResourceEstimate("bulk Kubo (materials)", nbytes, nk * per_k, f"{nk:.3g} k points (N_k = {N_k}, {periodic}D) of {n} x {n} blocks, {n_comp} components, {n_mu} chemical potentials")


def _bytes_per_k(n, n_ops, n_comp):
    return 16.0 * n * n * (3 * n_ops + 4) + 8.0 * n * n * (2 * n_comp + 8) + 16.0 * n * n * n_comp


def _batch_size(n, n_ops, n_comp, batch_bytes):
    return int(max(16, min(4096, batch_bytes // _bytes_per_k(n, n_ops, n_comp))))


# ============================================================================== engine
def _fourier_stack(model, O, comps, edelstein, positions):
    """Per-R matrices of every k-dependent operator: ``H``, the needed ``v_b`` and currents ``j^g_a``.

    Returns ``stack (n_R, n_ops, n, n)``, the index of each ``v_b`` and ``j^{g a}`` in the stack, and
    the eigenbasis operand pairs ``(current index, field index)`` of each component (indices into the
    transformed operators, which exclude ``H``; constant operators of the Edelstein response appended).
    """
    Rc = model.bond_vectors()
    H = model.H
    disp = np.broadcast_to(Rc[:, None, None, :], H.shape + (3,)).copy()
    if positions:
        tau = model.positions
        disp = disp + (tau[None, None, :, :] - tau[None, :, None, :])
    betas = sorted({c[-1] for c in comps})
    ops = [H]
    vidx = {}

    def vel(a):
        if a not in vidx:
            vidx[a] = len(ops)
            ops.append(1j * disp[..., a] * H)
        return vidx[a]

    for b in betas:
        vel(b)
    pairs = []
    if edelstein:
        const = {}
        for g, b in comps:
            pairs.append((("const", g), vidx[b]))
            const[g] = None
        return np.stack(ops, 1), pairs, sorted(const)
    jidx = {}
    for g, a, b in comps:
        if O is None:
            cur = vel(a)
        else:
            if (g, a) not in jidx:
                Va = 1j * disp[..., a] * H
                jidx[(g, a)] = len(ops)
                ops.append(0.5 * (Va @ O[g] + O[g] @ Va))
            cur = jidx[(g, a)]
        pairs.append((cur, vidx[b]))
    return np.stack(ops, 1), pairs, []


def _zero_tol(model):
    scale = float(np.abs(model.H).max(axis=(1, 2)).sum()) * model.n
    return 1e-13 * max(1.0, scale), max(1.0, scale)


def _band_weights(E, J, V, eta, tol):
    """Per-band weights (module docstring) for every (current operand i, field operand b) pair.

    ``J`` (nb, I, n, n) and ``V`` (nb, B, n, n) in the eigenbasis, both Hermitian, so
    ``P_nm = (J)_mn (V)_nm = conj(J_nm) V_nm``: ``Im P = Re J Im V - Im J Re V`` and
    ``Re P = Re J Re V + Im J Im V``.  The sums over ``m`` are one real batched matrix product
    ``[Re J | Im J] @ [w Im V ; -w Re V | ...]`` per (k, n).  Returns an array (nb, n, I, n_w B)
    with ``n_w`` weight types: ``sea`` (Im P), and for ``eta > 0`` also ``surf`` and ``deg`` (Re P).
    """
    D = E[:, :, None] - E[:, None, :]
    deg = np.abs(D) <= tol
    den = eta * eta + D * D
    safe = np.where(deg, 1.0, den)
    Vr, Vi = V.real, V.imag
    w = np.where(deg, 0.0, -2.0 / safe)[:, None]
    blocks = [np.concatenate([w * Vi, -w * Vr], -1)]
    if eta > 0:
        Dsafe = np.where(deg, 1.0, D)
        w = np.where(deg, 0.0, -2.0 * eta / (Dsafe * safe))[:, None]
        blocks.append(np.concatenate([w * Vr, w * Vi], -1))
        w = np.where(deg, -eta / den, 0.0)[:, None]
        blocks.append(np.concatenate([w * Vr, w * Vi], -1))
    WW = np.concatenate(blocks, 1).transpose(0, 2, 3, 1)  # (nb, n, 2n, n_w B)
    JJ = np.concatenate([J.real, J.imag], -1).transpose(0, 2, 1, 3)  # (nb, n, I, 2n)
    return JJ @ WW


#: Plans of the running sums, inherited by forked workers (never pickled): ``{id: plan}``.
_PLANS = {}


def _plan(model, O, comps, edelstein, mus, N_k, T, eta, positions, batch_bytes):
    """Everything a chunk of k points needs (arrays only).

    Every Fourier-summed operator obeys ``X(-R) = X(R)^dagger``, so ``X(k) = S + S^dagger`` with
    ``S = X(0)/2 + sum_{R > 0} e^{ik.R} X(R)`` over half the lattice vectors; in the eigenbasis
    ``U^dagger X U = Z + Z^dagger`` with ``Z = U^dagger S U``.
    """
    stack, pairs, const = _fourier_stack(model, O, comps, edelstein, positions)
    nR, n_ops, n = stack.shape[0], stack.shape[1], model.n
    keys = [tuple(r) for r in model.R]
    half = [i for i, r in enumerate(keys) if r > (0, 0, 0)]
    zero = keys.index((0, 0, 0))
    sel = [zero] + half
    S = stack[sel].copy()
    S[0] *= 0.5
    zt, scale = _zero_tol(model)
    cidx = {g: n_ops - 1 + j for j, g in enumerate(const)}
    pairs_e = [((cidx[c[1]] if isinstance(c, tuple) else c - 1), b - 1) for c, b in pairs]
    cur = sorted({p[0] for p in pairs_e})
    fld = sorted({p[1] for p in pairs_e})
    Oc = None
    if const:
        Oc = 0.5 * np.stack([O[g] for g in const]).transpose(1, 0, 2).reshape(n, -1)  # layout (i, operator, j); Z + Z^dag = U^dag O U
    return {
        "n": n,
        "M": n_ops - 1 + len(const),
        "H": S[:, 0].reshape(len(sel), n * n),
        "O": S[:, 1:].transpose(0, 2, 1, 3).reshape(len(sel), -1),  # layout (i, operator, j)
        "Oc": Oc,
        "Rc": model.bond_vectors()[sel],
        "reciprocal": model.reciprocal,
        "periodic": model.periodic,
        "N_k": N_k,
        "cur": cur,
        "fld": fld,
        "ci": np.array([cur.index(p[0]) for p in pairs_e]),
        "bi": np.array([fld.index(p[1]) for p in pairs_e]),
        "C": len(pairs_e),
        "mus": mus,
        "T": T,
        "eta": eta,
        "tol": DEGENERACY_RTOL * scale,
        "zt": zt,
        "batch": _batch_size(n, n_ops + len(const), len(pairs_e), batch_bytes),
    }


def _chunk(plan, start, stop):
    """Partial sums ``(sea, surf)`` (n_mu, C) over the grid points ``start:stop``."""
    p = plan if isinstance(plan, dict) else _PLANS[plan]
    n, M, C, mus, T, eta = p["n"], p["M"], p["C"], p["mus"], p["T"], p["eta"]
    ci, bi, nB = p["ci"], p["bi"], len(p["fld"])
    sea = np.zeros((mus.size, C))
    surf = np.zeros((mus.size, C)) if eta > 0 else None
    for a in range(start, stop, p["batch"]):
        kf = monkhorst_pack(p["N_k"], p["periodic"], a, min(stop, a + p["batch"]))
        nb = len(kf)
        ph = np.exp(1j * ((kf @ p["reciprocal"]) @ p["Rc"].T))
        SH = (ph @ p["H"]).reshape(nb, n, n)
        E, U = np.linalg.eigh(SH + SH.conj().swapaxes(-1, -2))
        del SH
        Ud = U.conj().swapaxes(-1, -2)
        S = (ph @ p["O"]).reshape(nb, n, -1)
        if p["Oc"] is not None:
            S = np.concatenate([S, np.broadcast_to(p["Oc"], (nb,) + p["Oc"].shape)], -1)
        # U^dag S U for every operand: two batched products with the M operands side by side
        Z = ((Ud @ S).reshape(nb, n, M, n).transpose(0, 2, 1, 3).reshape(nb, M * n, n) @ U).reshape(nb, M, n, n)
        del S
        Y = Z + Z.conj().swapaxes(-1, -2)
        del Z
        R = _band_weights(E, Y[:, p["cur"]], Y[:, p["fld"]], eta, p["tol"])  # (nb, n, I, n_w B)
        del Y
        Em = E[None] - mus[:, None, None]  # (n_mu, nb, n)
        f = fermi(Em, T, p["zt"]).reshape(mus.size, -1)
        sea += f @ R[:, :, ci, bi].reshape(-1, C)
        if surf is not None:
            surf += f @ R[:, :, ci, nB + bi].reshape(-1, C)
            if T > 0:
                fp = fermi_derivative(Em, T).reshape(mus.size, -1)
                surf += fp @ R[:, :, ci, 2 * nB + bi].reshape(-1, C)
    return sea, surf


def _kubo_grid(model, O, comps, edelstein, mus, N_k, T, eta, positions, batch_bytes, progress=None, label="", workers=1):
    """Sums ``sum_k sum_nm K_nm P_nm`` on the ``N_k`` grid for every component and mu: dict of arrays (n_mu, n_comp).

    The grid is cut into ranges of k points (tasks of :func:`orbsym.execution.map_tasks`); with
    ``workers > 1`` they run on a :func:`orbsym.execution.process_pool` forked for this grid (one BLAS
    thread per worker), which inherits the plan; only the range and the partial sums cross the
    process boundary.
    """
    from .. import execution

    plan = _plan(model, O, comps, edelstein, mus, N_k, T, eta, positions, batch_bytes)
    nk = N_k**model.periodic
    step = plan["batch"] * max(1, math.ceil(nk / (plan["batch"] * 32 * max(1, workers))))
    tasks = [(start, min(nk, start + step)) for start in range(0, nk, step)]
    weights = [b - a for a, b in tasks]
    key = id(plan)
    _PLANS[key] = plan
    try:
        if workers > 1 and len(tasks) > 1:
            pool = execution.process_pool(workers, context="fork")  # forked now: the workers inherit this plan
            try:
                parts = execution.map_tasks(_chunk, [(key, a, b) for a, b in tasks], executor=pool, workers=workers, progress=progress,
                                            desc=f"orbsym hall{label}", errors="raise", weights=weights)
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.shutdown(wait=True)
        else:
            parts = execution.map_tasks(_chunk, [(plan, a, b) for a, b in tasks], executor="serial", progress=progress, desc=f"orbsym hall{label}",
                                        errors="raise", weights=weights)
    finally:
        _PLANS.pop(key, None)
    sea = sum(s for s, _ in parts)
    surf = None if eta == 0 else sum(u for _, u in parts)
    return {"fermi_sea": sea / nk, "fermi_surface": None if surf is None else surf / nk}


def kubo_sum_reference(model, operator, component, mu, N_k, T=0.0, eta=0.0, positions=True, edelstein=False):
    """Slow path: the same Kubo sum with :func:`orbsym.numeric.kubo.response_factors`, one ``mu``, one component.

    ``component = (g, a, b)`` (or ``(g, b)`` for ``edelstein``); returns ``{"fermi_sea", "fermi_surface"}``
    normalized like :func:`hall_conductivity` with ``units="natural"`` (per volume; Edelstein per cell).
    """
    O, _, _ = _operator(model, operator)
    zt, scale = _zero_tol(model)
    tol = DEGENERACY_RTOL * scale
    kf = monkhorst_pack(N_k, model.periodic)
    k = model.k_cartesian(kf)
    E, U = np.linalg.eigh(model.hamiltonian(k) - mu * np.eye(model.n))
    v = model.velocity(k, positions=positions)
    Ud = U.conj().swapaxes(-1, -2)
    b = component[-1]
    Vb = Ud @ v[b] @ U
    if edelstein:
        Op = Ud @ O[component[0]] @ U
    else:
        g, a = component[0], component[1]
        j = v[a] if O is None else 0.5 * (v[a] @ O[g] + O[g] @ v[a])
        Op = Ud @ j @ U
    fac = response_factors(E, T, eta, tol, zt)
    out = {}
    for part in ("fermi_sea", "fermi_surface"):
        K = fac[part]
        out[part] = None if K is None else float(np.sum(K * Vb * Op.swapaxes(-1, -2)).real) / len(kf)
    norm = 1.0 if edelstein else model.volume
    return {p: (None if v_ is None else v_ / norm) for p, v_ in out.items()}


# ============================================================================== API
def _check_common(model, N_k, T, eta, units, positions):
    from .model import TightBinding

    if not isinstance(model, TightBinding):
        raise TypeError(f"model must be an orbsym.materials.TightBinding (e.g. from orbsym.materials.load.load_model), got {type(model).__name__}")
    N_k = integer_at_least("N_k", N_k, 2, " (k points per direction)")
    T = check_temperature(real_number("temperature T", T, minimum=0.0, bound=ENERGY_LIMIT))
    eta = real_number("broadening eta", eta, minimum=0.0, bound=ENERGY_LIMIT)
    units = check_name("units", units, ("physical", "natural"))
    if units == "physical" and model.length_unit != "Angstrom":
        raise ValueError(
            f"units='physical' needs a model in Angstrom and eV; {model.name!r} is in natural units ({model.length_unit}, {model.energy_unit}): use units='natural'"
        )
    if not isinstance(positions, bool):
        raise TypeError(f"positions must be True or False, got {positions!r}")
    return N_k, T, eta, units


def _grids(N_k, convergence, periodic):
    if not convergence:
        return [N_k]
    coarse = max(2, N_k // 2)
    return [N_k, coarse] if coarse != N_k else [N_k]


def _resources(model, n_ops, C, n_mu, grids, parts=1, workers=1, max_bytes=None, max_seconds=None):
    from ..numeric.budget import check_resources

    ests = [hall_estimate(model.n, N, model.periodic, n_ops, C, n_mu, n_R=len(model.R), parts=parts) for N in grids]
    est = ests[0]
    for e in ests[1:]:
        est = est + e
    what = f"the bulk Kubo sum of {model.name!r} on N_k = {' and '.join(str(N) for N in grids)} ({model.periodic}D grids)"
    return check_resources(est, what=what, workers=workers, max_bytes=max_bytes, max_seconds=max_seconds, hint="reduce N_k (the work grows as N_k^%d), the components or convergence=False" % model.periodic)


@blas_limited
def _run(model, operator, components, mu, N_k, T, eta, units, positions, convergence, edelstein, progress, max_bytes, max_seconds, workers=1):
    import xarray as xr

    from ..conventions import physical_response

    N_k, T, eta, units = _check_common(model, N_k, T, eta, units, positions)
    mus = _mus(mu)
    O, gammas, what = _operator(model, operator)
    if edelstein and O is None:
        raise ValueError("the Edelstein response needs an operator (L, S, J, model or an array); the charge accumulation is not defined here")
    axes = _axes(model)
    comps = _components(components, gammas, axes, edelstein)
    stack, _, const = _fourier_stack(model, O, comps, edelstein, positions)
    grids = _grids(N_k, convergence, model.periodic)
    workers = integer_at_least("workers", workers, 1)
    est = _resources(model, stack.shape[1] + len(const), len(comps), mus.size, grids, parts=3 if eta > 0 else 1, workers=workers, max_bytes=max_bytes, max_seconds=max_seconds)
    t0, c0 = time.perf_counter(), time.process_time()
    res = []
    for i, N in enumerate(grids):
        res.append(_kubo_grid(model, O, comps, edelstein, mus, N, T, eta, positions, BATCH_BYTES, progress, label=f" N_k={N}", workers=workers))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    norm = 1.0 if edelstein else model.volume
    kind = "edelstein" if edelstein else "hall"
    if units == "physical":
        factor, unit = physical_response(1.0, kind, model.periodic)
    else:
        L, En = model.length_unit, model.energy_unit
        factor, unit = 1.0, (f"{L}/{En} per cell per unit force qE (e = hbar = 1)" if edelstein else f"{L}^{2 - model.periodic} per unit force qE (e = hbar = 1)")
        if not edelstein and model.periodic == 2:
            unit = "dimensionless (e^2/hbar = 1) per unit force qE"
    if O is None and units == "physical":  # the charge channel: an electric conductivity
        unit = unit.replace("(hbar/e) ", "")
    dims = ("mu", "gamma", "beta") if edelstein else ("mu", "gamma", "alpha", "beta")
    shape = (mus.size, len(gammas)) + (len(axes),) * (len(dims) - 2)

    def tensor(values):
        out = np.full(shape, np.nan)
        for c, idx in enumerate(comps):
            out[(slice(None),) + idx] = values[:, c] * factor / norm
        return out

    main = res[0]
    sea = tensor(main["fermi_sea"])
    surf = None if main["fermi_surface"] is None else tensor(main["fermi_surface"])
    total = sea + (0.0 if surf is None else surf)
    name = "edelstein" if edelstein else "sigma"
    sign = SIGN_CONVENTION[("edelstein_" if edelstein else "") + units]
    op_text = what if isinstance(operator, str) else "user operator (array)"
    desc_q = "accumulation <O_gamma> per unit field E_beta" if edelstein else "Hall/longitudinal conductivity of j^gamma_alpha to E_beta"
    data = {
        name: (dims, total, {"units": unit, "description": f"{desc_q}: fermi_sea + fermi_surface on N_k = {N_k}; {sign}"}),
        "fermi_sea": (dims, sea, {"units": unit, "description": "Fermi-sea part (intrinsic for eta -> 0)"}),
    }
    if surf is not None:
        data["fermi_surface"] = (dims, surf, {"units": unit, "description": "Fermi-surface part (eta > 0)"})
    if len(res) > 1:
        other = res[1]
        tot2 = tensor(other["fermi_sea"]) + (0.0 if other["fermi_surface"] is None else tensor(other["fermi_surface"]))
        data[f"{name}_coarse"] = (dims, tot2, {"units": unit, "description": f"the same total on the coarser grid N_k = {grids[1]}"})
        data["error_estimate"] = (dims, np.abs(total - tot2), {"units": unit, "description": f"k-grid error estimate |value(N_k = {N_k}) - value(N_k = {grids[1]})|"})
    coords = {"mu": ("mu", mus, {"units": model.energy_unit, "description": "chemical potential (Fermi energy)"}), "gamma": list(gammas), "beta": list(axes)}
    if not edelstein:
        coords["alpha"] = list(axes)
    attrs = {
        "calculation": "orbsym Edelstein response" if edelstein else "orbsym bulk Hall conductivity",
        "current": "none: accumulation of O" if edelstein else CURRENT,
        "operator": op_text,
        "model": model.name,
        "units": unit,
        "sign_convention": sign,
        "N_k": N_k,
        "N_k_coarse": grids[1] if len(grids) > 1 else -1,
        "periodic": model.periodic,
        "T": T,
        "eta": eta,
        "energy_unit": model.energy_unit,
        "length_unit": model.length_unit,
        "positions": int(positions),
        "engine": "density-matrix Kubo (orbsym.numeric.kubo.response_factors), per-band weights, one eigh per k for all mu; Monkhorst-Pack grid",
        "conventions": "orbsym.conventions (Materials)",
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "estimate": est.describe(workers),
        "workers": workers,
    }
    if eta > 0 and T == 0:
        attrs["note"] = ("T = 0 with eta > 0: the intraband (Drude-like) Fermi-surface term has no weight on a discrete k grid "
                         "(the step function); give T above the level spacing of the grid for it")
    return xr.Dataset(data, coords=coords, attrs=attrs)


def hall_conductivity(model, mu, *, operator="L", components=None, N_k=24, T=0.0, eta=0.0, units="physical", positions=True, convergence=True, progress=False,
                      workers=1, max_bytes=None, max_seconds=None):
    """Hall (and longitudinal) conductivity tensor ``sigma^gamma_{alpha beta}(mu)`` of a crystal.

    Response of the conventional current ``j^gamma_alpha = {v_alpha, O_gamma}/2`` to a static
    uniform field ``E_beta`` by the density-matrix Kubo formula (module docstring), on the
    ``N_k^d`` Monkhorst-Pack grid (``d = model.periodic``).

    Parameters
    ----------
    model : TightBinding
    mu : float or sequence of float
        Chemical potential(s) / Fermi energies (energy unit of the model); one diagonalization per
        k point serves all.
    operator : {"L", "S", "J", "model", "charge"} or ndarray (3, n, n) or (n, n)
        ``O_gamma`` (units of hbar; ``S = sigma/2``); ``"charge"``: ``O = 1`` (particle/charge current).
    components : None, str or sequence
        None: all (``gamma, alpha, beta``); ``"xy"`` (alpha beta, every gamma), ``"zxy"``
        (gamma alpha beta), index triples; comma-separated in one string.  The others are NaN.
    N_k : int
        k points per periodic direction (``>= 2``).
    T, eta : float
        Temperature ``k_B T`` and broadening ``hbar eta`` (energy unit, ``>= 0``).  ``eta = 0``:
        intrinsic (Fermi sea only); ``eta > 0`` adds the Fermi-surface part (whose intraband term
        needs ``T > 0`` above the level spacing of the grid).
    units : {"physical", "natural"}
        :func:`orbsym.conventions.physical_response` (module docstring).
    positions : bool
        Velocity ``i[H, r]`` with the orbital centres (default) or ``dH/dk`` of the lattice phases.
    convergence : bool
        Also compute on the ``N_k // 2`` grid; report it (``sigma_coarse``) and the difference
        (``error_estimate``).
    progress : bool or None
        tqdm bar over k points (None: on a terminal).
    workers : int
        Local processes sharing the k points (a forked :func:`orbsym.execution.process_pool` per
        grid, one BLAS thread each; the numbers do not depend on it beyond rounding).
    max_bytes, max_seconds : float, optional
        Limits of the up-front cost check (default: :func:`orbsym.numeric.budget.check_resources`).

    Returns
    -------
    xarray.Dataset
        ``sigma`` (total), ``fermi_sea``, ``fermi_surface`` (``eta > 0``), ``sigma_coarse`` and
        ``error_estimate`` (``convergence``), dims ``(mu, gamma, alpha, beta)``; attrs name the
        current, operator, units, sign convention, ``N_k``, ``T``, ``eta``, engine, timings.

    Raises
    ------
    ValueError
        Bad arguments; physical units for a model in natural units; a run whose estimated memory or
        time exceeds the limits (:class:`orbsym.numeric.budget.ResourceError`, with the estimate)
        before any k point is computed.
    """
    return _run(model, operator, components, mu, N_k, T, eta, units, positions, convergence, False, progress, max_bytes, max_seconds, workers)


def edelstein(model, mu, *, operator="L", components=None, N_k=24, T=0.0, eta=0.01, units="physical", positions=True, convergence=True, progress=False,
              workers=1, max_bytes=None, max_seconds=None):
    """Edelstein response: accumulation ``<O_gamma>`` per cell per unit field ``E_beta``.

    Same Kubo sum as :func:`hall_conductivity` with ``j`` replaced by ``O_gamma``; zero with
    inversion symmetry.  The Fermi-surface part (``~1/eta``) needs ``eta > 0`` and ``T > 0``;
    the Fermi-sea part is odd under time reversal.  Components ``"x"`` (beta) or ``"zx"``
    (gamma beta).  Units: natural, per cell per unit force ``q E``; physical, ``hbar`` per cell
    per ``V/cm`` for electrons (:func:`orbsym.conventions.physical_response`).  Returns a Dataset with
    ``edelstein`` (total), ``fermi_sea``, ``fermi_surface``, dims ``(mu, gamma, beta)``.
    """
    return _run(model, operator, components, mu, N_k, T, eta, units, positions, convergence, True, progress, max_bytes, max_seconds, workers)
