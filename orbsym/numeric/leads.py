"""Semi-infinite leads along x, periodic in y: surface Green's functions and self-energies.

A lead is a translation-invariant (in x) continuation of one orbsym :class:`~orbsym.numeric.Column`
(its model and parameters), attached to one open end of a :class:`~orbsym.numeric.Lattice` and kept
periodic in y, so that ``k = k_y`` stays a good quantum number.  In the Bloch basis of
:mod:`orbsym.numeric.bloch` a lead is a one-dimensional chain of cells (one column each) with::

    h_00(k) = eps + cos k (t_y + t_y^dag) + sin k i (t_y - t_y^dag),
    h_01(k) = h_{x, x+1}(k) = t_(1,0) + t_(1,1) e^{+ik} + t_(1,-1) e^{-ik},

exactly the diagonal block and the ``(x, x+1)`` block of ``h(k)`` in :func:`orbsym.numeric.bloch._pieces`
(a bond ``d = (dx, dy)`` puts ``t_d e^{i k dy}`` at block ``(x, x + dx)``, its conjugate at
``(x + dx, x)``; conventions, bond counted once: :mod:`orbsym.conventions`).  Diagonal bonds
``(1, +-1)`` of the lead's model thus make the inter-cell coupling k-dependent; ``t_x`` below
stands for ``h_01(k)`` at the k of the batch point.  Bonds with ``dx >= 2`` (e.g. ``(2, 0)``)
would couple non-adjacent cells and are refused.

Direction conventions
---------------------
* Left lead: cells ``x = ..., -2, -1`` to the left of the column it is attached to (``x = 0``),
  ``h_{x, x+1} = t_x``.  Its surface Green's function ``g_L = G_{-1,-1}`` is that of the isolated
  semi-infinite lead; the self-energy on column 0 is ``Sigma_L = h_{0,-1} g_L h_{-1,0} = t_x^dag g_L t_x``.
* Right lead: cells ``x = N, N+1, ...``; ``g_R = G_{N,N}`` of the isolated lead and, on column
  ``N - 1``, ``Sigma_R = h_{N-1,N} g_R h_{N,N-1} = t_x g_R t_x^dag``.
* Retarded: ``z = E + i eta`` with ``eta > 0`` (``Im z > 0`` anywhere in the upper half plane is
  allowed: the analytic continuation used by the equilibrium pole sum of :mod:`orbsym.numeric.negf`).
  ``Gamma = i (Sigma - Sigma^dag) >= 0`` is the broadening.

Surface Green's function: Lopez-Sancho decimation
-------------------------------------------------
M. P. Lopez Sancho, J. M. Lopez Sancho, J. Rubio, J. Phys. F 15, 851 (1985).  With ``a`` the
coupling from the surface cell into the bulk (``t_x`` for the right lead, ``t_x^dag`` for the left)
and ``b = a`` reversed, iteration ``i`` eliminates every other cell (effective chain of ``2^i``-spaced
cells)::

    g = (z - eps)^-1;  eps_s += a g b;  eps += a g b + b g a;  a <- a g a;  b <- b g b,

starting from ``eps_s = eps = h_00``; ``g_surface = (z - eps_s)^-1``.  **Convergence criterion**: the
decimated couplings are negligible, ``max(|a|, |b|) <= tol * scale`` (largest matrix entry, ``scale
= max(1, |h_00| + |t_x|)`` of that point: a point's result never depends on the other points of its batch), at every point of the batch; after ``max_iter`` iterations without
convergence a :class:`RuntimeError` names the worst point.  At real energies the decimated coupling
of propagating modes decays like ``exp(-eta 2^i / v)``, so ``eta`` must be > 0 (typically 1e-10
converges in ~40 iterations; the error in ``Sigma`` is ``O(eta)``).  Decimation is the fast path:
it is vectorized over the whole batch of (k, z) points.  For cells of at most :data:`NEWTON_MAX_DIM`
states its result is polished by Newton steps on the Dyson equation (a ``d^2 x d^2`` Jacobian) and,
where it then fails the acceptance test below, re-solved with supercells of 2, 3, 5, 7 cells (kept so
that every small-cell point that passed before keeps its value).  Every point that still fails -- and,
for larger cells, every point where decimation alone fails -- goes to the exact eigenmode route.  This
replaces a scalable Newton polish: the eigenmodes are exact (not a local correction of a possibly
wrong branch: at the centre of a sub-band decimation can converge to a non-retarded solution of the
Dyson equation, which Newton steps only polish) and cost one ``2d x 2d`` eigenproblem.

Surface Green's function: eigenmodes of the lead (exact route, any cell size)
-----------------------------------------------------------------------------
With ``a = h_{s,s+1}`` (surface cell into the bulk) and ``b = h_{s+1,s}``, a bulk solution
``psi_j = lambda^j phi`` (cell ``j = 0, 1, ...`` counted into the bulk) obeys the quadratic eigenproblem
``(z - h_00 - lambda a - lambda^-1 b) phi = 0``, linearized as the ``2d x 2d`` generalized eigenproblem
(pencil; a singular ``a`` or ``b`` gives infinite or zero ``lambda``, which the pencil handles)::

    [  0       1     ] [   phi    ]            [ 1  0 ] [   phi    ]
    [ -b   z - h_00  ] [lambda phi]  = lambda  [ 0  a ] [lambda phi] .

For ``Im z > 0`` exactly ``d`` of the ``2d`` modes decay into the bulk, ``|lambda| < 1``; with their
vectors ``Phi = [phi_1 .. phi_d]`` and ``Lambda = diag(lambda_i)`` the Bloch matrix ``F = Phi Lambda
Phi^-1`` maps ``psi_j`` to ``psi_{j+1}`` and (Ando's construction; T. Ando, Phys. Rev. B 44, 8017
(1991); see also Sanvito, Lambert, Jefferson, Bratkovsky, Phys. Rev. B 59, 11936 (1999))::

    g_surface = (z - h_00 - a F)^-1 = Phi [(z - h_00) Phi - a Phi Lambda]^-1 ,   F = g_surface b .

At ``z = E + i eta`` with ``eta = 1e-10`` a propagating mode has ``|lambda| = exp(-eta / v)``, too close
to 1 to classify by ``|lambda|`` in floating point.  Modes with ``| |lambda| - 1 | <= MODE_SHELL``
are therefore classified by the sign of their group velocity (the retarded solution keeps the modes
moving into the bulk): modes with the same ``lambda`` (within ``MODE_GROUP``; e.g. spin-degenerate
bands) are orthonormalized and the velocity form ``V_mn = i (lambda phi_m^dag a phi_n - conj(lambda)
phi_m^dag a^dag phi_n) = dE/dk_x`` (units of t times the cell length, ``b = a^dag``) is diagonalized in
that subspace; its eigenvectors with ``v > 0`` are kept.  Modes outside the shell are classified by
``|lambda| < 1``, which is then resolved.  (For a non-Hermitian lead, ``b != a^dag``, only ``|lambda|``
is used.)  This route costs one ``2d x 2d`` eigenproblem per point -- of the companion matrix
``[[0, 1], [-a^-1 b, a^-1 (z - h_00)]]`` when ``cond(a) < MODE_MAX_COND`` (batched), else QZ of the
pencil -- plus a short Python loop for the classification; it runs only where decimation failed.

Acceptance test
---------------
Every result must pass, per point: (1) the Dyson residual ``max |g (z - h_00 - a g b) - 1| <=
residual_tol * scale`` (decimation stages, unchanged; the final eigenmode stage allows for the rounding
floor of a large ``|g|``: ``* max(1, |g| |z - h_00 - a g b|)``, see :func:`acceptance`); (2) retardedness: the spectral function ``i (g - g^dag)`` is positive
semi-definite (then ``Gamma = i (Sigma - Sigma^dag) >= 0``), its lowest eigenvalue ``>= -1e-9 *
max(1, |g|)``; (3) finite entries.  A point that fails after every route raises
:class:`SurfaceGreenError` (a ``RuntimeError``) naming the failed criterion (``criterion`` attribute:
``"dyson_residual"``, ``"retarded"``, ``"not_converged"``, ``"mode_count"``, ``"band_edge"``), the
numbers, the energy ``z`` and the lead's ``k``.

Band edges
----------
At a band edge of the lead (a propagating mode with group velocity 0) two modes meet at ``|lambda| = 1``
and the self-energy has a square-root (van Hove) singularity in ``E``: its ``eta -> 0`` limit is not
analytic there (and for some leads ``|g| ~ eta^-1/2``).  At ``z = E + i eta`` the surface Green's function
is finite and **the returned value is the exact retarded value at that z** (the eta-smeared value: its
distance to the ``eta -> 0`` limit is ``O(eta^1/2)`` at the edge and ``O(eta)`` elsewhere), computed by
decimation or by the eigenmode route: the two modes that meet at the edge split by ``~eta^1/2``
(``| |lambda| - 1 | ~ 1e-5`` at the default ``eta``) and are classified by ``|lambda|``.  Only when ``eta`` is too small to resolve that split (a mode in the shell
with ``|v| < MODE_MIN_VELOCITY * scale``) is the point refused with :class:`BandEdgeError`, which names
the energy, ``k`` and the velocity and says what to do (increase eta, or move the energy off the edge).

Independent checks in ``tests/numeric/test_leads.py`` and ``tests/numeric/test_leads_scan.py``: a long
finite lead at complex ``z`` (dense inverse), the Dyson fixed point ``g = (z - h_00 - a g b)^-1``,
retardedness, decimation against eigenmodes on dense energy scans of strip leads (every energy of the
band incl. the band edges and the eigenvalues of ``h_00``), and clean-lead transmission = number of
open channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import check_name
from .lattice import Column, Lattice

__all__ = ["Lead", "SIDES", "surface_green", "self_energy", "broadening", "DEFAULT_ETA", "DEFAULT_TOL", "SurfaceGreenError", "BandEdgeError", "mode_surface_green", "acceptance"]

#: Lead sides.
SIDES = ("left", "right")
#: Default imaginary part of the energy in the leads' surface Green's functions (units of t).
DEFAULT_ETA = 1e-10
#: Default decimation tolerance (relative to the lead's energy scale).
DEFAULT_TOL = 1e-14
#: Default largest number of decimation steps (2^max_iter cells).
DEFAULT_MAX_ITER = 200
#: Newton polishing (and supercell re-solves) of the decimated surface Green's function only for cells of at
#: most this many states; larger cells go from decimation straight to the eigenmode route where it fails.
NEWTON_MAX_DIM = 8
#: Eigenmode route: results that fail the acceptance test are Newton-polished up to this cell size (the
#: ``d^2 x d^2`` Jacobian of a 40-state cell is 26 MB per point; only the few failing points are polished).
NEWTON_POLISH_MAX_DIM = 40
#: Working memory (bytes) of one slice of a batched Newton polish (:func:`_newton`; ``~4 d^4`` complex numbers per point).
NEWTON_CHUNK_BYTES = 8 * 2**20
#: Eigenmode route: modes with ``| |lambda| - 1 | <=`` this are classified by group velocity.
MODE_SHELL = 1e-7
#: Eigenmode route: propagating modes whose ``lambda`` differ by less than this form one degenerate group.
MODE_GROUP = 1e-9
#: Eigenmode route: smallest group velocity (relative to the lead's energy scale) that classifies a mode.
MODE_MIN_VELOCITY = 1e-6
#: Spectral function ``i (g - g^dag)``: lowest eigenvalue allowed, relative to ``max(1, |g|)``.
SPECTRAL_ATOL = 1e-9


def _dag(a):
    return np.conj(np.swapaxes(a, -1, -2))


@dataclass(frozen=True)
class Lead:
    """A semi-infinite lead: the translation-invariant continuation of one column.

    Attributes
    ----------
    column : orbsym.numeric.Column
        Model and parameters of every lead cell.
    onsite, hop_x, hop_y : ndarray, shape (dim, dim)
        ``eps``, ``t_(1,0)`` (``h_{x,x+1}`` without diagonal bonds) and ``t_y`` of the lead's model.
    hop_up, hop_down : ndarray, shape (dim, dim), optional
        ``t_(1,1)`` and ``t_(1,-1)`` (diagonal bonds; default zero).
    """

    column: Column
    onsite: np.ndarray
    hop_x: np.ndarray
    hop_y: np.ndarray
    hop_up: np.ndarray = None
    hop_down: np.ndarray = None

    def __post_init__(self):
        for name in ("hop_up", "hop_down"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros_like(np.asarray(self.hop_x, complex)))

    @classmethod
    def from_column(cls, column):
        """Lead continuing ``column`` (its model's own x- and diagonal hoppings between lead cells)."""
        if not isinstance(column, Column):
            raise TypeError(f"a lead is built from an orbsym.numeric.Column, got {type(column).__name__}")
        lat = Lattice([column] * 3, 1)
        far = [b for b in lat.bonds if b[0] >= 2 and np.any(lat.hoppings[b] != 0)]
        if far:
            raise ValueError(
                f"lead model {column.kernels.model!r} has bonds {far} that skip a cell (dx >= 2); the lead's surface Green's "
                "function needs nearest-cell coupling only (supported bonds: (1, 0), (0, 1), (1, 1), (1, -1)); regroup "
                "the model into supercells of 2 columns (orbsym.numeric.supercell.pair_lead)"
            )
        zero = np.zeros((column.kernels.dim,) * 2, complex)
        up = lat.hoppings[(1, 1)][0].copy() if (1, 1) in lat.hoppings else zero
        down = lat.hoppings[(1, -1)][0].copy() if (1, -1) in lat.hoppings else zero
        return cls(column, lat.onsite[0].copy(), lat.hop_x[0].copy(), Lattice._evaluate(column, 0, "y hopping", (0, 1)), up, down)

    @property
    def dim(self):
        return self.onsite.shape[0]

    @property
    def has_diagonal_bonds(self):
        """Whether ``h_01`` depends on k (diagonal bonds ``(1, +-1)``)."""
        return bool(np.any(self.hop_up != 0) or np.any(self.hop_down != 0))

    def h01(self, k):
        """Inter-cell coupling ``h_01(k) = t_(1,0) + t_(1,1) e^{ik} + t_(1,-1) e^{-ik}``, shape ``(len(k), dim, dim)``."""
        k = np.asarray(k, dtype=float).reshape(-1)
        e = np.exp(1j * k)[:, None, None]
        return self.hop_x[None] + e * self.hop_up[None] + e.conj() * self.hop_down[None]

    @property
    def coupling_hermitian(self):
        """``h_01(k) = h_01(k)^dag`` for every k (then the lead looks the same from either end)."""
        return bool(
            np.allclose(self.hop_x, self.hop_x.conj().T, rtol=0, atol=0) and np.allclose(self.hop_up, self.hop_down.conj().T, rtol=0, atol=0)
        )

    @property
    def k_even(self):
        """``h_00(-k) = h_00(k)`` and ``h_01(-k) = h_01(k)`` (Hermitian ``t_y``, ``t_(1,1) = t_(1,-1)``)."""
        return bool(np.allclose(self.hop_y, self.hop_y.conj().T, rtol=0, atol=1e-14) and np.allclose(self.hop_up, self.hop_down, rtol=0, atol=1e-14))

    def h00(self, k):
        """Cell Hamiltonian ``h_00(k)`` for every ``k`` (shape ``(len(k), dim, dim)``)."""
        k = np.asarray(k, dtype=float).reshape(-1)
        ty = self.hop_y
        C = ty + ty.conj().T
        S = 1j * (ty - ty.conj().T)
        return self.onsite[None] + np.cos(k)[:, None, None] * C[None] + np.sin(k)[:, None, None] * S[None]

    def coupling_into_bulk(self, side, k=None):
        """``(a, b)``: hopping from the surface cell into the lead's bulk and back.

        ``k=None``: the ``(dim, dim)`` matrices of ``t_(1,0)`` alone (leads without diagonal bonds);
        else ``h_01(k)``-based, shape ``(len(k), dim, dim)``.
        """
        check_name("lead side", side, SIDES)
        if k is None:
            if self.has_diagonal_bonds:
                raise ValueError("this lead has diagonal bonds: its inter-cell coupling h_01(k) depends on k; pass k")
            t = self.hop_x
        else:
            t = self.h01(k)
        td = _dag(t)
        return (td, t) if side == "left" else (t, td)

    def surface_green(self, k, z, side, tol=DEFAULT_TOL, max_iter=DEFAULT_MAX_ITER):
        """Retarded surface Green's function, shape ``(len(k), len(z), dim, dim)`` (see module docstring)."""
        h = self.h00(k)
        z = np.atleast_1d(np.asarray(z, dtype=complex))
        a, b = self.coupling_into_bulk(side, k)
        shp = (h.shape[0], z.size) + h.shape[1:]
        hb = np.broadcast_to(h[:, None], shp)
        kk = np.broadcast_to(np.asarray(k, float).reshape(-1)[:, None], shp[:2])
        return surface_green(hb, np.broadcast_to(a[:, None], shp), np.broadcast_to(b[:, None], shp), z[None, :], tol=tol, max_iter=max_iter, k=kk, side=side)

    def self_energy(self, k, z, side, tol=DEFAULT_TOL, max_iter=DEFAULT_MAX_ITER):
        """``Sigma_L = t^dag g_L t`` (side 'left') or ``Sigma_R = t g_R t^dag`` ('right'), ``t = h_01(k)``,
        shape ``(len(k), len(z), d, d)``."""
        g = self.surface_green(k, z, side, tol, max_iter)
        return self_energy(g, self.h01(k)[:, None], side)

    def self_energy_batch(self, k, z, side, tol=DEFAULT_TOL, max_iter=DEFAULT_MAX_ITER):
        """``Sigma`` for paired points ``(k_i, z_i)``, shape ``(len(k), dim, dim)``."""
        a, b = self.coupling_into_bulk(side, k)
        k = np.asarray(k, float).reshape(-1)
        g = surface_green(self.h00(k), a, b, np.asarray(z, complex).reshape(-1), tol=tol, max_iter=max_iter, k=k, side=side)
        return self_energy(g, self.h01(k), side)


def self_energy_points(parts, side, tol=DEFAULT_TOL, max_iter=DEFAULT_MAX_ITER):
    """``Sigma`` of several leads at their paired points in one batched surface solve.

    ``parts``: ``[(lead, k, z), ...]`` (e.g. the leads of the k_z sectors of a film, each with its points
    ``(k_i, z_i)``); returns ``(sum len(k), dim, dim)``, the parts' self-energies in order, each equal to
    ``lead.self_energy_batch(k, z, side)`` (one :func:`surface_green` call on the stacked ``h_00(k)``,
    ``h_01(k)`` instead of one per lead: small cells are bound by the calls' overhead).
    """
    if len(parts) == 1:
        lead, k, z = parts[0]
        return lead.self_energy_batch(k, z, side, tol, max_iter)
    check_name("lead side", side, SIDES)
    ks = [np.asarray(k, float).reshape(-1) for _, k, _ in parts]
    h = np.concatenate([lead.h00(k) for (lead, _, _), k in zip(parts, ks)])
    t = np.concatenate([lead.h01(k) for (lead, _, _), k in zip(parts, ks)])
    td = _dag(t)
    a, b = (td, t) if side == "left" else (t, td)
    z = np.concatenate([np.asarray(z, complex).reshape(-1) for _, _, z in parts])
    g = surface_green(h, a, b, z, tol=tol, max_iter=max_iter, k=np.concatenate(ks), side=side)
    return self_energy(g, t, side)


class SurfaceGreenError(RuntimeError):
    """A surface Green's function that failed the acceptance test (module docstring) after every route.

    Attributes
    ----------
    criterion : str
        What failed: ``"dyson_residual"``, ``"retarded"``, ``"not_converged"`` (non-finite result),
        ``"mode_count"`` (not ``d`` modes decay into the bulk) or ``"band_edge"``.
    z : complex
        Energy of the failing point (units of t).
    k : float or None
        The lead's ``k_y`` at that point (None when not known, e.g. a bare :func:`surface_green` call).
    index : tuple
        Batch index of the point.
    details : dict
        The numbers: ``residual``, ``residual_tol``, ``spectral_min``, ``spectral_tol``, ...
    """

    def __init__(self, message, criterion, z, k=None, index=(), details=None):
        super().__init__(message)
        self.criterion = criterion
        self.z = z
        self.k = k
        self.index = index
        self.details = dict(details or {})


class BandEdgeError(SurfaceGreenError):
    """The energy is at a band edge of the lead (a propagating mode with zero group velocity) and
    ``eta`` is too small to resolve the smeared surface Green's function there."""


def acceptance(g, h00, a, b, z, residual_tol, scale, relative=True):
    """Per-point acceptance test of surface Green's functions (module docstring).

    The residual tolerance is ``residual_tol * scale * max(1, |g| |M|)`` (largest entries,
    ``M = z - h_00 - a g b``): the rounding floor of ``g M - 1`` grows with ``|g| |M|`` (a surface
    resonance or a band edge can make ``|g| ~ 1e4``), so the test asks for a small *relative* residual.
    ``relative=False``: ``residual_tol * scale`` (the decimation stages' test).

    Returns
    -------
    dict of ndarray (batch shape)
        ``ok`` (bool), ``residual`` (Dyson residual, ``inf`` where non-finite), ``residual_tol``
        (per point), ``spectral_min`` (lowest eigenvalue of ``i (g - g^dag)``), ``spectral_tol`` (per
        point, ``SPECTRAL_ATOL * max(1, |g|)``) and ``finite``.
    """
    d = g.shape[-1]
    with np.errstate(all="ignore"):
        finite = np.isfinite(g).all(axis=(-1, -2))
        g0 = np.where(finite[..., None, None], g, 0)
        M = np.asarray(z)[..., None, None] * np.eye(d) - h00 - a @ g0 @ b
        res = np.where(finite, np.abs(g0 @ M - np.eye(d)).max(axis=(-1, -2)), np.inf)
        res = np.where(np.isfinite(res), res, np.inf)
        A = 1j * (g0 - _dag(g0))
        smin = np.linalg.eigvalsh(0.5 * (A + _dag(A))).min(axis=-1) if d else np.zeros(g.shape[:-2])
        gmax = np.abs(g0).max(axis=(-1, -2), initial=0.0)
        stol = SPECTRAL_ATOL * np.maximum(1.0, gmax)
        rtol = residual_tol * scale * (np.maximum(1.0, gmax * np.abs(M).max(axis=(-1, -2), initial=0.0)) if relative else np.ones_like(gmax))
    ok = finite & (res <= rtol) & (smin >= -stol)
    return dict(ok=ok, residual=res, residual_tol=rtol, spectral_min=smin, spectral_tol=stol, finite=finite)


def _verdict(acc, i):
    """``(criterion, text)`` of the acceptance test at batch index ``i`` (None when it passed)."""
    res, rtol, smin, stol = (float(acc[key][i]) for key in ("residual", "residual_tol", "spectral_min", "spectral_tol"))
    if not acc["finite"][i]:
        return "not_converged", "non-finite entries (no converged value)"
    parts = []
    crit = None
    if res > rtol:
        crit = "dyson_residual"
        parts.append(f"Dyson residual {res:.3g} > {rtol:.3g}")
    else:
        parts.append(f"Dyson residual {res:.3g} <= {rtol:.3g} (passes)")
    if smin < -stol:
        crit = crit or "retarded"
        parts.append(f"not retarded: i (g - g^dag) has eigenvalue {smin:.3g} < -{stol:.3g} (Gamma would not be >= 0)")
    else:
        parts.append(f"retarded (lowest eigenvalue of i (g - g^dag) {smin:.3g} >= -{stol:.3g})")
    return crit, "; ".join(parts)


class _ModeFailure(Exception):
    def __init__(self, criterion, text, details=None):
        super().__init__(text)
        self.criterion, self.text, self.details = criterion, text, dict(details or {})


def mode_surface_green(h00, a, b, z, scale=None):
    """Surface Green's function of one lead point from its eigenmodes (exact route; module docstring).

    Parameters
    ----------
    h00, a, b : ndarray, shape (d, d)
        Cell Hamiltonian, coupling from the surface cell into the bulk and back.
    z : complex
        Energy, ``Im z > 0``.
    scale : float, optional
        Energy scale of the lead (default ``max(1, |h00| + |a|)``), for the velocity threshold.

    Returns
    -------
    g : ndarray, shape (d, d)
    info : dict
        ``n_propagating`` (modes classified by velocity), ``min_velocity`` (smallest ``|v|`` among
        them, ``inf`` if none), ``n_decaying``.

    Raises
    ------
    BandEdgeError
        A propagating mode has ``|v| < MODE_MIN_VELOCITY * scale`` (``eta`` too small to resolve the edge).
    SurfaceGreenError
        Not ``d`` modes decay into the bulk (criterion ``"mode_count"``).
    """
    z = complex(z)
    if z.imag <= 0:
        raise ValueError(f"retarded surface Green's function needs Im z > 0 (eta > 0), got z = {z!r}")
    try:
        return _modes(np.asarray(h00, complex), np.asarray(a, complex), np.asarray(b, complex), z, float(_scale(h00, a)) if scale is None else scale)
    except _ModeFailure as exc:
        cls = BandEdgeError if exc.criterion == "band_edge" else SurfaceGreenError
        raise cls(f"eigenmodes of the lead at z = {z:.6g}: {exc.text}", exc.criterion, z, details=exc.details) from None


#: Eigenmode route: a coupling ``a`` with condition number below this is inverted (a standard eigenproblem
#: of the companion matrix, batched); otherwise the pencil is solved by QZ (scipy.linalg.eig).
MODE_MAX_COND = 1e6


def _pencil_eigs(h, a, b, z):
    """Eigenvalues ``lambda`` (``inf`` for infinite ones) and right eigenvectors of the mode pencil, batched."""
    n, d = h.shape[0], h.shape[-1]
    lam = np.empty((n, 2 * d), complex)
    V = np.empty((n, 2 * d, 2 * d), complex)
    one = np.eye(d)
    with np.errstate(all="ignore"):
        well = np.linalg.cond(a) < MODE_MAX_COND
    if well.any():
        ai = np.linalg.inv(a[well])
        M = np.zeros((int(well.sum()), 2 * d, 2 * d), complex)
        M[:, :d, d:] = one
        M[:, d:, :d] = -ai @ b[well]
        M[:, d:, d:] = ai @ (z[well][:, None, None] * one - h[well])
        lam[well], V[well] = np.linalg.eig(M)
    for j in np.nonzero(~well)[0]:
        from scipy.linalg import eig  # QZ only for an ill-conditioned coupling (importing SciPy costs ~0.5 s)

        zero = np.zeros((d, d))
        A = np.block([[zero, one], [-b[j], z[j] * one - h[j]]])
        B = np.block([[one, zero], [zero, a[j]]])
        (al, be), V[j] = eig(A, B, homogeneous_eigvals=True)
        with np.errstate(all="ignore"):
            lam[j] = np.where(be != 0, al / np.where(be != 0, be, 1), np.inf)
    return lam, V


def _modes(h, a, b, z, scale, eigs=None):
    d = h.shape[-1]
    one = np.eye(d)
    lam, V = _pencil_eigs(h[None], a[None], b[None], np.array([z])) if eigs is None else eigs
    lam, V = lam.reshape(-1), V.reshape(2 * d, 2 * d)
    mod = np.abs(lam)
    mod = np.where(np.isfinite(mod), mod, np.inf)
    shell = np.abs(mod - 1) <= MODE_SHELL
    hermitian = np.allclose(b, _dag(a), rtol=0, atol=1e-14 * scale)
    inside = (mod < 1) & ~(shell & hermitian)
    phi = V[:d]
    cols, lams = [phi[:, inside]], [lam[inside]]
    vmin = np.inf
    nprop = 0
    if hermitian and shell.any():
        idx = np.nonzero(shell)[0]
        ls = lam[idx]
        near = np.abs(ls[:, None] - ls[None, :]) <= MODE_GROUP
        label = np.arange(idx.size)
        for _ in range(idx.size):  # connected components of "near" (chains of close lambdas)
            new = np.where(near, label[None, :], idx.size).min(axis=1)
            if np.array_equal(new, label):
                break
            label = new
        for lab in np.unique(label):
            grp = idx[label == lab]
            P = phi[:, grp]
            P = np.linalg.qr(P)[0] if grp.size > 1 else P / np.linalg.norm(P)
            lb = complex(np.mean(lam[grp]))
            Pa = _dag(P) @ a @ P
            Q = 1j * (lb * Pa - np.conj(lb) * _dag(Pa))
            v, C = np.linalg.eigh(0.5 * (Q + _dag(Q)))
            nprop += v.size
            vmin = min(vmin, float(np.abs(v).min()))
            if np.abs(v).min() < MODE_MIN_VELOCITY * scale:
                raise _ModeFailure(
                    "band_edge",
                    f"a propagating mode (lambda = {lb:.6g}) has group velocity {float(np.abs(v).min()):.3g} < {MODE_MIN_VELOCITY * scale:.3g}: the energy "
                    "is at a band edge of the lead (two modes meet at |lambda| = 1) and eta is too small to resolve them",
                    dict(min_velocity=float(np.abs(v).min()), lam=lb),
                )
            keep = v > 0
            cols.append(P @ C[:, keep])
            lams.append(np.full(int(keep.sum()), lb))
    Phi = np.concatenate(cols, axis=1)
    Lam = np.concatenate(lams)
    info = dict(n_propagating=nprop, min_velocity=vmin, n_decaying=int(Phi.shape[1]))
    if Phi.shape[1] != d:
        raise _ModeFailure(
            "mode_count",
            f"{Phi.shape[1]} modes decay into the bulk (or propagate into it) instead of {d} (|lambda| of the modes: "
            f"{np.array2string(np.sort(mod), precision=4, max_line_width=10**6)})",
            info,
        )
    try:
        with np.errstate(all="ignore"):
            g = Phi @ np.linalg.inv((z * one - h) @ Phi - (a @ Phi) * Lam)
    except np.linalg.LinAlgError:
        raise _ModeFailure("not_converged", "the matrix of the decaying modes is singular", info) from None
    return g, info


def _decimate(h00, a, b, z, tol, max_iter):
    """Lopez-Sancho iteration; returns ``(g_surface, converged mask, decimated coupling size)``.

    Overflow at a (nearly singular) point gives non-finite values there, caught by the caller.
    """
    with np.errstate(all="ignore"):
        return _decimate_steps(h00, a, b, z, tol, max_iter)


def _decimate_steps(h00, a, b, z, tol, max_iter):
    d = h00.shape[-1]
    shape = np.broadcast_shapes(h00.shape[:-2], z.shape)
    n = int(np.prod(shape, dtype=int))
    zI = (np.broadcast_to(z, shape).reshape(n)[:, None, None] * np.eye(d))
    eps_s = np.array(np.broadcast_to(h00, shape + (d, d))).reshape(n, d, d)
    eps = eps_s.copy()
    a = np.array(np.broadcast_to(a, shape + (d, d))).reshape(n, d, d)
    b = np.array(np.broadcast_to(b, shape + (d, d))).reshape(n, d, d)
    scale = _scale(eps_s, a)  # (n,): both are flat here
    size = np.full(n, np.inf)
    act = np.arange(n)  # points still decimating (converged points leave the batch)
    A, B, E, Es, Z = a, b, eps, eps_s, zI
    for _ in range(int(max_iter)):
        sz = np.maximum(np.abs(A).max(axis=(-1, -2), initial=0.0), np.abs(B).max(axis=(-1, -2), initial=0.0))
        done = ~(sz > tol * scale[act])  # converged (or non-finite: caught by the caller)
        if done.any():
            size[act[done]] = sz[done]
            eps_s[act[done]] = Es[done]
            keep = ~done
            act, A, B, E, Es, Z = act[keep], A[keep], B[keep], E[keep], Es[keep], Z[keep]
        if act.size == 0:
            break
        g = _inv(Z - E)
        ga = g @ A
        gb = g @ B
        agb = A @ gb
        Es = Es + agb
        E = E + agb + B @ ga
        A = A @ ga
        B = B @ gb
    if act.size:
        size[act] = np.maximum(np.abs(A).max(axis=(-1, -2), initial=0.0), np.abs(B).max(axis=(-1, -2), initial=0.0))
        eps_s[act] = Es
    g = _inv(zI - eps_s)
    return g.reshape(shape + (d, d)), (size <= tol * scale).reshape(shape), size.reshape(shape)


def _inv(m):
    """Batched inverse; an exactly singular matrix gives NaN at its point (caught by the acceptance test)
    instead of a LinAlgError for the whole batch."""
    try:
        return np.linalg.inv(m)
    except np.linalg.LinAlgError:
        out = np.full(m.shape, np.nan, complex)
        for j in np.ndindex(m.shape[:-2]):
            try:
                out[j] = np.linalg.inv(m[j])
            except np.linalg.LinAlgError:
                pass
        return out


def _scale(h00, a):
    """Energy scale ``max(1, |h_00| + |a|)`` (largest entries) per batch point (the batch shape of ``h00`` and
    ``a`` broadcast): per point, so that a point's thresholds, and so its result, do not depend on the other
    points solved with it (e.g. the k_z sectors of a film batched together)."""
    h = np.abs(h00).max(axis=(-1, -2), initial=0.0)
    t = np.abs(a).max(axis=(-1, -2), initial=0.0)
    return np.maximum(1.0, h + t)


def dyson_residual(g, h00, a, b, z):
    """Largest entry of ``g (z - h_00 - a g b) - 1`` per batch point (zero for the exact surface g)."""
    d = g.shape[-1]
    M = np.asarray(z)[..., None, None] * np.eye(d) - h00 - a @ g @ b
    return np.abs(g @ M - np.eye(d)).max(axis=(-1, -2))


def _newton(g, h00, a, b, z, steps=8, tol=1e-13, max_dim=NEWTON_MAX_DIM):
    """Newton steps on the Dyson equation ``F(g) = g (z - h_00 - a g b) - 1 = 0`` (batched).

    Linearization: ``dg M - g a dg b = -F`` with ``M = z - h_00 - a g b``; in row-major vec form
    ``(1 (x) M^T - (g a) (x) b^T) vec(dg) = -vec(F)`` (``d^2 x d^2`` solves).  Cells of more than
    ``max_dim`` states are returned unchanged.
    """
    d = g.shape[-1]
    if d > max_dim:  # the d^2 x d^2 Jacobian would be too large; rely on the residual check
        return g
    shape = np.broadcast_shapes(g.shape[:-2], np.shape(z), h00.shape[:-2], a.shape[:-2], b.shape[:-2])
    n = int(np.prod(shape, dtype=int))
    per = NEWTON_CHUNK_BYTES // (4 * 16 * d**4)  # points whose Jacobians (and their temporaries) stay in cache
    if n > max(1, per):
        # the same steps on slices of the batch (every point is independent): the d^4 Jacobians of a large
        # batch would otherwise run out of cache (measured 1.5-2x slower per point at d = 6)
        def flat(v, matrix=True):
            v = np.asarray(v)
            return np.broadcast_to(v, shape + v.shape[-2:]).reshape((n, d, d)) if matrix else np.broadcast_to(v, shape).reshape(n)

        gf, hf, af, bf, zf = flat(g), flat(h00), flat(a), flat(b), flat(z, False)
        out = np.concatenate([_newton(gf[s : s + per], hf[s : s + per], af[s : s + per], bf[s : s + per], zf[s : s + per],
                                      steps=steps, tol=tol, max_dim=max_dim) for s in range(0, n, per)])
        return out.reshape(shape + (d, d))
    eye = np.eye(d)
    zz = np.asarray(z)[..., None, None]

    def residual(g):
        F = g @ (zz * eye - h00 - a @ g @ b) - eye
        with np.errstate(invalid="ignore"):
            r = np.abs(F).max(axis=(-1, -2))
        return F, np.where(np.isfinite(r), r, np.inf)

    F, r = residual(g)
    for _ in range(steps):
        if r.max(initial=0.0) <= tol:
            break
        M = zz * eye - h00 - a @ g @ b
        ga = g @ a
        J = np.einsum("ij,...lk->...iljk", eye, M).reshape(g.shape[:-2] + (d * d, d * d))
        J = J - np.einsum("...ij,...kl->...ikjl", ga, np.broadcast_to(b, g.shape)).reshape(J.shape)
        with np.errstate(all="ignore"):
            dg = np.linalg.solve(J, -F.reshape(g.shape[:-2] + (d * d, 1))).reshape(g.shape)
            trial = g + np.where(np.isfinite(dg), dg, 0)
        Ft, rt = residual(trial)
        better = (rt < r) & (r > tol)  # a step is kept only where it lowers that point's residual
        g = np.where(better[..., None, None], trial, g)
        F = np.where(better[..., None, None], Ft, F)
        r = np.where(better, rt, r)
    return g


def surface_green(h00, a, b, z, tol=DEFAULT_TOL, max_iter=DEFAULT_MAX_ITER, residual_tol=1e-8, k=None, side=None):
    """Retarded surface Green's function, batched over leading axes (module docstring).

    Parameters
    ----------
    h00 : ndarray, shape (..., d, d)
        Cell Hamiltonian (per k-point, energy, ...).
    a, b : ndarray, shape (d, d) or (..., d, d)
        Coupling from the surface cell into the bulk (``h_{s, s+1}`` in the lead's direction) and
        back (``b = a^dag`` for a Hermitian lead).
    z : complex or ndarray broadcastable to ``h00.shape[:-2]``
        Energies, ``Im z > 0`` (retarded).
    tol, max_iter
        Decimation convergence criterion (module docstring).
    residual_tol
        Required accuracy of the result: the Dyson residual ``|g (z - h_00 - a g b) - 1|`` (largest
        entry), relative to the lead's energy scale.
    k : ndarray broadcastable to the batch shape, optional
        The lead's ``k_y`` of every point, only for error messages.
    side : {"left", "right"}, optional
        Only for error messages.

    Returns
    -------
    ndarray, shape (..., d, d)
        ``g_surface``.

    Raises
    ------
    SurfaceGreenError
        A point failed the acceptance test after every route (the error names the criterion, the
        numbers, ``z`` and ``k``); :class:`BandEdgeError` at an unresolvable band edge.

    Notes
    -----
    Routes, in order, each only for the points that failed the acceptance test so far:

    1. Lopez-Sancho decimation (vectorized), Newton-polished on the Dyson equation for cells of at
       most :data:`NEWTON_MAX_DIM` states.  Decimation loses accuracy where ``z - h_00`` is nearly
       singular (``E`` within ``~sqrt(eta)`` of an eigenvalue of ``h_00(k)``, e.g. ``E = 0`` of a
       bipartite chain, where the first step divides by ``eta``) and may then even converge to a
       non-retarded solution of the Dyson equation.
    2. Cells of at most :data:`NEWTON_MAX_DIM` states: supercells of 2, 3, 5, 7 cells (their
       ``z - h_00`` is singular at other energies; the surface block of the supercell's surface
       Green's function is the lead's).
    3. The eigenmodes of the lead (exact for any cell size; one ``2d x 2d`` eigenproblem per point,
       batched).
    """
    h00 = np.asarray(h00, dtype=complex)
    z = np.asarray(z, dtype=complex)
    if np.any(z.imag <= 0):
        bad = z.reshape(-1)[np.argmin(z.imag.reshape(-1))]
        raise ValueError(f"retarded surface Green's function needs Im z > 0 (eta > 0), got z = {bad!r}")
    a = np.asarray(a, complex)
    b = np.asarray(b, complex)
    shape = np.broadcast_shapes(h00.shape[:-2], z.shape)
    d = h00.shape[-1]
    hb = np.broadcast_to(h00, shape + (d, d))
    zb = np.broadcast_to(z, shape)
    ab = np.broadcast_to(a, shape + (d, d))
    bb = np.broadcast_to(b, shape + (d, d))
    scale = np.broadcast_to(_scale(h00, a), shape)
    g, conv, size = _decimate(hb, ab, bb, zb, tol, max_iter)
    with np.errstate(all="ignore"):
        g = np.where(np.isfinite(g), g, 0)
        g = _newton(g, hb, ab, bb, zb)
        res = dyson_residual(g, hb, ab, bb, zb)
    bad = ~(np.isfinite(res) & (res <= residual_tol * scale) & _retarded(g))
    for n in (2, 3, 5, 7) if d <= NEWTON_MAX_DIM else ():  # larger cells: straight to the eigenmodes
        if not bad.any():
            break
        idx = np.nonzero(bad)
        hz, aa, bz, zz = hb[idx], ab[idx], bb[idx], zb[idx]
        H, A, B = _supercell(hz, aa, bz, n)
        with np.errstate(all="ignore"):
            gs, _, _ = _decimate(H, A, B, zz, tol, max_iter)
            gg = gs[..., :d, :d]
            gg = _newton(np.where(np.isfinite(gg), gg, 0), hz, aa, bz, zz)
            r2 = dyson_residual(gg, hz, aa, bz, zz)
        improve = np.isfinite(r2) & (r2 < res[idx])
        sel = tuple(i[improve] for i in idx)
        g[sel] = gg[improve]
        res[sel] = r2[improve]
        bad = ~(np.isfinite(res) & (res <= residual_tol * scale) & _retarded(g))
    if not bad.any():
        return g
    # 3. eigenmodes where decimation failed (eigenproblems batched, classification point by point)
    idx = np.nonzero(bad)
    H, Aa, Bb, Z = hb[idx], ab[idx], bb[idx], zb[idx]
    sc = scale[idx]
    before = acceptance(g[idx], H, Aa, Bb, Z, residual_tol, sc, relative=False)
    lam, V = _pencil_eigs(H, Aa, Bb, Z)
    gm = np.empty_like(H)
    points = list(zip(*idx))
    for j, point in enumerate(points):
        try:
            gm[j], _ = _modes(H[j], Aa[j], Bb[j], complex(Z[j]), float(sc[j]), (lam[j], V[j]))
        except _ModeFailure as exc:
            _raise(exc.criterion, exc.text, exc.details, point, zb, k, side, before, j, conv, size, max_iter)
    acc = acceptance(gm, H, Aa, Bb, Z, residual_tol, sc)
    if not acc["ok"].all() and d <= NEWTON_POLISH_MAX_DIM:
        # near a band edge the modes' vectors lose ~eta^-1/2 of accuracy: polish those few points
        j = np.nonzero(~acc["ok"])[0]
        with np.errstate(all="ignore"):
            gm[j] = _newton(np.where(np.isfinite(gm[j]), gm[j], 0), H[j], Aa[j], Bb[j], Z[j], max_dim=NEWTON_POLISH_MAX_DIM)
        acc = acceptance(gm, H, Aa, Bb, Z, residual_tol, sc)
    if not acc["ok"].all():
        j = int(np.nonzero(~acc["ok"])[0][0])
        crit, text = _verdict(acc, j)
        _raise(crit, "eigenmode route: " + text, dict(residual=float(acc["residual"][j]), spectral_min=float(acc["spectral_min"][j])), points[j], zb, k, side, before, j, conv, size, max_iter)
    g[idx] = gm
    return g


def _raise(criterion, text, details, point, zb, k, side, before, j, conv, size, max_iter):
    """Raise the :class:`SurfaceGreenError` of a point that failed every route."""
    zp = complex(zb[point])
    kp = None if k is None else float(np.broadcast_to(np.asarray(k, float), zb.shape)[point])
    where = f"{side} lead's " if side else ""
    at = f"E = {zp.real:.10g} (z = {zp:.6g})" + ("" if kp is None else f", k = {kp:.10g}")
    _, first = _verdict(before, j)
    dec = "converged" if conv[point] else f"not converged after {max_iter} iterations"
    what = {
        "dyson_residual": "Dyson residual too large",
        "retarded": "not retarded",
        "not_converged": "did not converge",
        "mode_count": "wrong number of decaying modes",
        "band_edge": "band edge",
    }[criterion]
    advice = (
        "increase eta (Im z) or move the energy off the band edge (e.g. by more than a few eta)"
        if criterion == "band_edge"
        else "increase eta (Im z) or max_iter, or report this lead"
    )
    cls = BandEdgeError if criterion == "band_edge" else SurfaceGreenError
    details = dict(details, decimation_coupling=float(size[point]), decimation_converged=bool(conv[point]), residual_tol=float(before["residual_tol"][j]))
    raise cls(
        f"{where}surface Green's function failed at {at} (batch index {tuple(int(i) for i in point)}): {what}. "
        f"{text}. Lopez-Sancho decimation ({dec}, decimated coupling {float(size[point]):.3g}) with Newton polish and "
        f"supercells: {first}. {advice}",
        criterion,
        zp,
        kp,
        tuple(int(i) for i in point),
        details,
    )


def _supercell(h, a, b, n):
    """Lead of supercells of ``n`` cells (surface cell first): on-site, coupling into the bulk and back."""
    d = h.shape[-1]
    lead = h.shape[:-2]
    H = np.zeros(lead + (n * d, n * d), complex)
    A = np.zeros_like(H)
    B = np.zeros_like(H)
    for i in range(n):
        H[..., i * d : (i + 1) * d, i * d : (i + 1) * d] = h
        if i + 1 < n:
            H[..., i * d : (i + 1) * d, (i + 1) * d : (i + 2) * d] = a
            H[..., (i + 1) * d : (i + 2) * d, i * d : (i + 1) * d] = b
    A[..., (n - 1) * d :, :d] = a
    B[..., :d, (n - 1) * d :] = b
    return H, A, B


def _retarded(g, atol=SPECTRAL_ATOL):
    """Whether ``i (g - g^dag)`` is positive semi-definite (spectral function of a retarded g), per point:
    lowest eigenvalue ``>= -atol * max(1, |g|)`` with that point's largest entry ``|g|``."""
    with np.errstate(all="ignore"):
        A = 1j * (g - _dag(g))
        A = 0.5 * (A + _dag(A))
        ok = np.isfinite(A).all(axis=(-1, -2))
        A = np.where(ok[..., None, None], A, 0)
        w = np.linalg.eigvalsh(A)
        size = np.maximum(1.0, np.abs(np.where(ok[..., None, None], g, 0)).max(axis=(-1, -2), initial=0.0))
    return ok & (w.min(axis=-1, initial=np.inf) >= -atol * size)


def self_energy(g, t, side):
    """``Sigma_L = t^dag g t`` (left) or ``Sigma_R = t g t^dag`` (right) from a surface Green's function
    (``t`` of shape ``(d, d)`` or batched like ``g``)."""
    check_name("lead side", side, SIDES)
    t = np.asarray(t, complex)
    td = _dag(t)
    return td @ g @ t if side == "left" else t @ g @ td


def broadening(sigma):
    """``Gamma = i (Sigma - Sigma^dag)`` (Hermitian, positive semi-definite for a retarded Sigma)."""
    return 1j * (sigma - _dag(sigma))


def lead_bands(lead, k, kx):
    """Lead band energies ``E_s(k_x, k)``, shape ``(len(k), len(kx), dim)`` (for channel counting)."""
    t = lead.h01(k)[:, None]
    h = lead.h00(k)[:, None] + np.exp(1j * np.asarray(kx))[None, :, None, None] * t + np.exp(-1j * np.asarray(kx))[None, :, None, None] * _dag(t)
    return np.linalg.eigvalsh(h)


def open_channels(lead, k, E, n_kx=4096):
    """Number of right-moving propagating modes of the lead at energy ``E`` per ``k`` (band crossings / 2)."""
    kx = 2 * np.pi * np.arange(n_kx) / n_kx
    bands = lead_bands(lead, k, kx) - E
    s = np.sign(bands)
    crossings = (s != np.roll(s, -1, axis=1)).sum(axis=(1, 2))
    return crossings // 2


__all__ += ["lead_bands", "open_channels", "dyson_residual", "self_energy_points"]


# ------------------------------------------------------------------ films: leads of the transverse group (k_y, k_z)
class FilmLead:
    """A semi-infinite lead of a film: film columns repeated along x, periodic in y and z.

    ``k_y`` and ``k_z`` are conserved, so the lead splits into k_z sectors exactly like the film
    (:meth:`orbsym.numeric.Lattice.sector`): at fixed ``k_z`` it is the 2D :class:`Lead` whose matrices
    are the folded ones, ``t_(dx,dy)(k_z) = sum_dz t_(dx,dy,dz) e^{i k_z dz}`` and
    ``eps(k_z) = eps + sum_{dz > 0} (t_(0,0,dz) e^{i k_z dz} + h.c.)``.  They are read from the sector
    of a film lattice made of lead cells alone (``cells`` repeated three times), so the folding and the
    bond ownership are those of every film.

    Parameters
    ----------
    cells : tuple of Column
        One column (``period = 1``) or a pair (``period = 2``: the cell ``first, second``, grouped as
        in :func:`orbsym.numeric.supercell.pair_lead`), of 3D models.
    N_z : int
        Cells of the film along z.
    interface : {"fm", "metal"}
        Owner rule of bonds between the two columns of a pair.

    Attributes
    ----------
    column : Column
        The first column of the cell (for output).
    lattice : orbsym.numeric.Lattice
        The film lattice of lead cells the sectors are taken from.
    """

    def __init__(self, cells, N_z, interface="fm"):
        cells = tuple(cells)
        if len(cells) not in (1, 2) or not all(isinstance(c, Column) for c in cells):
            raise TypeError(f"a film lead cell is one or two orbsym.numeric.Column objects, got {cells!r}")
        self.cells = cells
        self.period = len(cells)
        self.N_z = int(N_z)
        self.interface = interface
        self.column = cells[0]
        self.lattice = Lattice(cells * (3 if self.period == 1 else 2), 1, interface, N_z=self.N_z)
        if self.period == 1:
            far = [b for b in self.lattice.bonds if b[0] >= 2 and np.any(self.lattice.hoppings[b] != 0)]
            if far:
                raise ValueError(
                    f"lead model {cells[0].kernels.model!r} has bonds {far} that skip a cell (dx >= 2); the lead's surface Green's "
                    "function needs nearest-cell coupling only; regroup the lead into cells of 2 columns (period=2)"
                )
        self._sectors = {}

    @property
    def dim(self):
        return self.period * self.column.kernels.dim

    @property
    def z_symmetric(self):
        """Whether the lead's sector at ``-k_z`` equals the one at ``k_z`` (:attr:`Lattice.z_symmetric`)."""
        return bool(self.lattice.z_symmetric)

    def sector(self, k_z):
        """The 2D :class:`Lead` at fixed ``k_z`` (radians per cell; cached)."""
        key = float(k_z)
        hit = self._sectors.get(key)
        if hit is not None:
            return hit
        sec = self.lattice.sector(key)
        if self.period == 1:
            zero = np.zeros((sec.dim, sec.dim), complex)
            up = sec.hoppings[(1, 1)][0].copy() if (1, 1) in sec.hoppings else zero
            down = sec.hoppings[(1, -1)][0].copy() if (1, -1) in sec.hoppings else zero
            lead = Lead(self.column, sec.onsite[0].copy(), sec.hop_x[0].copy(), sec.hop_y[0].copy(), up, down)
        else:
            from .supercell import pair_columns

            p = pair_columns(sec)
            lead = Lead(self.column, p.onsite[0].copy(), p.hop_x[0].copy(), p.hop_y[0].copy(), p.hoppings[(1, 1)][0].copy(), p.hoppings[(1, -1)][0].copy())
        self._sectors[key] = lead
        return lead


__all__ += ["FilmLead"]
