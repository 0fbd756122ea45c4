"""Test helper: dense real-space slow path for films, open in x and periodic in y AND z.

An independent reference for the film engines (issue 19): it builds the full one-body matrix of a
small film straight from the columns' :class:`~orbsym.kernels.KernelSet` Hamiltonian kernels,
diagonalizes it in one piece and evaluates kernels by direct indexing into the full correlation
matrix.  It does not use ``orbsym.numeric.lattice``, ``bloch``, ``greens`` or any film code: bond
ownership, the periodic wrap, the Fermi function and the grand potential are written out here from
the conventions (:mod:`orbsym.conventions`), so that an error there cannot cancel.

Geometry
--------
* Columns ``x = 0 .. N_x - 1`` along the stacking axis, hard walls at both ends (no bond leaves
  the film; a kernel term reaching outside ``0 .. N_x - 1`` vanishes).
* Rows ``y = 0 .. N_y - 1`` and layers ``z = 0 .. N_z - 1``, both periodic.
* Site ``n = (x, y, z)`` has index ``s = (x N_y + y) N_z + z`` and its orbital ``i`` (``0 .. dim-1``)
  the state index ``s dim + i``.  For ``N_z = 1`` this is the order of
  :mod:`orbsym.numeric.realspace` (``s = x N_y + y``).
* Offsets are 3-tuples ``(dx, dy, dz)`` (3D models) or 2-tuples ``(dx, dy)`` (2D models, read as
  ``dz = 0``; then ``N_z`` must be 1).  All columns of a film use the same tuple length.  Bond
  offsets must be canonical (each bond once): ``dx > 0``, or ``dx = 0`` and ``dy > 0``, or
  ``dx = dy = 0`` and ``dz > 0``.

Hamiltonian (every bond once, :mod:`orbsym.conventions`)
--------------------------------------------------------
::

    H = sum_n c_n^dag eps_x c_n + sum_n sum_d ( c_n^dag t_d c_{n+d} + h.c. ),

``eps_x`` from ``ks.hamiltonian["onsite"]`` of column ``x`` and ``t_d`` from ``ks.hamiltonian[d]``
of the bond's owner, so ``H[n, n+d] += t_d`` and ``H[n+d, n] += t_d^dag``.

Bond ownership: the bond ``(x, x + dx)`` with ``dx > 0`` between a ferromagnetic and a
non-ferromagnetic column belongs to the FM column for ``interface="fm"`` and to the non-FM column
for ``interface="metal"``; any other bond with ``dx > 0`` belongs to its left column ``x``; bonds
with ``dx = 0`` belong to their column.  If the owner's model has no hopping at that offset, the
bond is absent (zero hopping, and every kernel of it is 0).

Periodic wrap: every column holds ``N_y N_z`` bonds of each in-plane offset, from every transverse
position ``(y, z)`` to ``((y + dy) mod N_y, (z + dz) mod N_z)`` -- exactly a ring of ``N`` bonds,
i.e. the momenta ``k = 2 pi j / N``.  For ``N = 2`` a bond with ``d = 1`` along that direction
joins the same pair of sites twice (the hopping between them is doubled: ``k = 0, pi``); for
``N = 1`` it closes on the site itself and ``t + t^dag`` adds to the on-site block (``k = 0``).
These repeated bonds are added, never overwritten.

Thermal state (Eqs. 12-13)
--------------------------
``f(E) = 1 / (1 + exp(E / T))`` with ``mu`` inside ``H``; at ``T = 0`` the step function, a level
with ``|E| <= 1e-13 max(1, max |E|)`` counting 1/2 (the rule of :mod:`orbsym.numeric.thermo`,
written out again here).  ``F = -T sum_n ln(1 + exp(-E_n / T))`` (``T = 0``: the sum of the
negative levels).  ``F`` and ``N`` are returned per transverse cell (divided by ``N_y N_z``).

Correlations
------------
Every function here takes and returns ``rho[a, b] = <c_a^dag c_b>`` (the ``G`` of
:mod:`orbsym.conventions`; the one-body density matrix of the conventions is its transpose,
``rho.T``).  For the Fermi state ``rho = f(H)^T``.  A one-body operator ``c^dag A c`` has
``<c^dag A c> = sum_ab A_ab rho_ab``.

Contents
--------
:func:`film_hamiltonian` (dense ``H``), :func:`film_correlations` (Fermi ``rho``, ``F``, ``N`` per
cell), :func:`film_kernel` (any kernel at every anchor column), :func:`film_rate` (exact
``d<J>/dt`` from ``H``, no kernel), :func:`film_kernel_rate` (the same from the kernels, three
splits), :func:`hand_kernelset` (KernelSets with 2- or 3-tuple offsets written by hand, for 3D
tests before the symbolic layer derives them), :func:`bond_owner`, :func:`site_index`.

Cost: ``O((N_x N_y N_z dim)^3)``; refused above :data:`MAX_STATES` states.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "MAX_STATES",
    "INTERFACES",
    "FilmCorrelations",
    "site_index",
    "bond_owner",
    "film_hamiltonian",
    "fermi_occupation",
    "film_correlations",
    "film_kernel",
    "film_rate",
    "film_kernel_rate",
    "hand_kernelset",
]

#: Largest number of states ``N_x N_y N_z dim`` of a dense film (about 0.3 GB for H and rho).
MAX_STATES = 4000
#: Allowed interface rules.
INTERFACES = ("fm", "metal")
#: Relative tolerance of "a level exactly at zero" at T = 0 (same value as orbsym.numeric.thermo).
ZERO_LEVEL_RTOL = 1e-13
#: Charge kernels that are 0 by definition (the particle number has no torque): a model that does
#: not export them gives 0 instead of an error (as orbsym.numeric.observables does).
_ZERO_FOR_CHARGE = ("torque_onsite", "source")


class _Col(NamedTuple):
    ks: object
    params: dict
    magnetic: bool


class _Film(NamedTuple):
    cols: tuple
    D: int  # offset tuple length of the models (2 or 3)
    dim: int
    N_x: int
    N_y: int
    N_z: int


class FilmCorrelations(NamedTuple):
    """Return value of :func:`film_correlations` (unpacks as ``rho, F, N``).

    Attributes
    ----------
    rho : ndarray, shape (states, states)
        ``rho[a, b] = <c_a^dag c_b>`` (= ``f(H - mu_shift)^T``).
    F : float
        Grand potential per transverse cell (Eq. 13), units of ``t``.
    N : float
        Particle number per transverse cell.
    """

    rho: np.ndarray
    F: float
    N: float


# ---------------------------------------------------------------------------- input
def _size(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _check_interface(interface):
    if interface not in INTERFACES:
        raise ValueError(f"interface rule must be one of {INTERFACES}, got {interface!r}")
    return interface


def _canonical(d):
    dx, dy, dz = d
    return dx > 0 or (dx == 0 and dy > 0) or (dx == 0 and dy == 0 and dz > 0)


def _pad(offset, D):
    """Offset as a 3-tuple of ints (2D offsets get ``dz = 0``)."""
    off = tuple(int(v) for v in offset)
    if len(off) != D:
        raise ValueError(f"offset {tuple(offset)!r} has {len(off)} components; the film's models use {D}-component offsets")
    return off if D == 3 else off + (0,)


def _offset_length(ks):
    lengths = {len(tuple(b)) for b in ks.bonds}
    for t in ks.hamiltonian["onsite"].terms:
        lengths.update((len(tuple(t.left)), len(tuple(t.right))))
    if len(lengths) != 1 or not lengths <= {2, 3}:
        raise ValueError(
            f"model {ks.model!r}: offsets must all be 2-tuples (dx, dy) or all 3-tuples (dx, dy, dz), "
            f"got lengths {sorted(lengths)} (bonds {list(ks.bonds)})"
        )
    return lengths.pop()


def _film(columns, N_y, N_z):
    """Validate the column list and sizes; return a :class:`_Film`."""
    N_y, N_z = _size("N_y", N_y), _size("N_z", N_z)
    cols = []
    for x, c in enumerate(columns):
        if hasattr(c, "kernels") and hasattr(c, "params") and hasattr(c, "magnetic"):  # an orbsym.numeric.Column
            c = (c.kernels, c.params, c.magnetic)
        if not isinstance(c, (tuple, list)) or len(c) != 3:
            raise TypeError(f"column {x} must be a tuple (kernel_set, params, magnetic), got {c!r}")
        ks, params, magnetic = c
        if not hasattr(ks, "hamiltonian") or not hasattr(ks, "bonds"):
            raise TypeError(f"column {x}: expected an orbsym.kernels.KernelSet, got {type(ks).__name__}")
        if not isinstance(magnetic, (bool, np.bool_)):
            raise TypeError(f"column {x}: magnetic must be True or False, got {magnetic!r}")
        missing = [p for p in ks.parameters if p not in params]
        if missing:
            raise ValueError(f"column {x} (model {ks.model!r}): missing parameter values {missing}")
        cols.append(_Col(ks, dict(params), bool(magnetic)))
    if not cols:
        raise ValueError("a film needs at least one column")
    D = _offset_length(cols[0].ks)
    dim = cols[0].ks.dim
    for x, c in enumerate(cols):
        if _offset_length(c.ks) != D:
            raise ValueError(f"column {x} (model {c.ks.model!r}) uses {_offset_length(c.ks)}-component offsets, column 0 uses {D}")
        if c.ks.dim != dim:
            raise ValueError(f"column {x} (model {c.ks.model!r}) has dim {c.ks.dim}, column 0 has dim {dim}")
        for b in c.ks.bonds:
            if not _canonical(_pad(b, D)):
                raise ValueError(
                    f"model {c.ks.model!r} has the non-canonical bond offset {tuple(b)}; give each bond once with "
                    "dx > 0, or dx = 0 and dy > 0, or dx = dy = 0 and dz > 0"
                )
    if D == 2 and N_z != 1:
        raise ValueError(f"the columns' models have 2-component offsets (a 2D film): N_z must be 1, got {N_z}")
    states = len(cols) * N_y * N_z * dim
    if states > MAX_STATES:
        raise ValueError(
            f"dense film of N_x N_y N_z dim = {len(cols)}*{N_y}*{N_z}*{dim} = {states} states is above the "
            f"helper's limit of {MAX_STATES} (O(states^3) work)"
        )
    return _Film(tuple(cols), D, dim, len(cols), N_y, N_z)


def _check_rho(film, rho, what="rho"):
    S = film.N_x * film.N_y * film.N_z * film.dim
    rho = np.asarray(rho)
    if rho.shape != (S, S):
        raise ValueError(
            f"{what} has shape {rho.shape}; a film of N_x={film.N_x}, N_y={film.N_y}, N_z={film.N_z}, "
            f"dim={film.dim} needs ({S}, {S})"
        )
    dev = float(np.abs(rho - rho.conj().T).max(initial=0.0))
    if dev > 1e-10 * max(1.0, float(np.abs(rho).max(initial=0.0))):
        raise ValueError(f"{what} is not Hermitian (max |{what} - {what}^dag| = {dev:.3g}); <c_a^dag c_b> of a state always is")
    return rho


# ---------------------------------------------------------------------------- geometry
def site_index(N_y, N_z, x, y, z=0):
    """Site index ``(x N_y + (y mod N_y)) N_z + (z mod N_z)`` (arrays broadcast)."""
    return (np.asarray(x) * N_y + np.mod(y, N_y)) * N_z + np.mod(z, N_z)


def bond_owner(columns, x, dx, interface="fm"):
    """Owner column of the bond ``(x, x + dx)`` (``dx >= 0``), by the interface rule.

    ``columns`` as in :func:`film_hamiltonian` (only the ``magnetic`` flags are read).
    """
    _check_interface(interface)
    mag = [c.magnetic if hasattr(c, "magnetic") else c[2] for c in columns]
    if dx > 0 and mag[x] != mag[x + dx]:
        fm = x if mag[x] else x + dx
        return fm if interface == "fm" else (x + dx if fm == x else x)
    return x


def _single_block(kernel, params, key, what, dim):
    """The one block ``key`` of a Hamiltonian kernel; ValueError for stray blocks or a bad shape."""
    blocks = kernel.blocks(params)
    stray = [k for k, v in blocks.items() if k != key and np.any(v != 0)]
    if stray:
        raise ValueError(f"{what}: Hamiltonian kernel has blocks at {stray}; only {key} is allowed")
    m = np.asarray(blocks.get(key, np.zeros((dim, dim))), dtype=complex)
    if m.shape != (dim, dim) or not np.all(np.isfinite(m)):
        raise ValueError(f"{what}: block {key} must be a finite ({dim}, {dim}) matrix, got {m!r}")
    return m


def _onsite(film, x):
    c = film.cols[x]
    zero = (0,) * film.D
    e = _single_block(c.ks.hamiltonian["onsite"], c.params, (zero, zero), f"on-site matrix of column {x}", film.dim)
    if not np.allclose(e, e.conj().T, rtol=0, atol=1e-12 * max(1.0, float(np.abs(e).max()))):
        raise ValueError(f"on-site matrix of column {x} (model {c.ks.model!r}) is not Hermitian: {e.tolist()}")
    return e


def _bonds(film):
    """Every bond offset of the film's models, in the models' own tuple form (first-seen order)."""
    out = []
    for c in film.cols:
        for b in c.ks.bonds:
            b = tuple(int(v) for v in b)
            if b not in out:
                out.append(b)
    return out


def _owner_has(film, owner, bond):
    return tuple(bond) in {tuple(int(v) for v in b) for b in film.cols[owner].ks.bonds}


def _hopping(film, owner, bond):
    c = film.cols[owner]
    zero = (0,) * film.D
    return _single_block(c.ks.hamiltonian[tuple(bond)], c.params, (zero, tuple(bond)), f"hopping {tuple(bond)} of column {owner}", film.dim)


def _transverse(film):
    y, z = np.meshgrid(np.arange(film.N_y), np.arange(film.N_z), indexing="ij")
    return y.ravel(), z.ravel()


def film_hamiltonian(columns, N_y, N_z, interface="fm"):
    """Dense one-body matrix ``H`` of a film (see the module docstring for geometry and ownership).

    Parameters
    ----------
    columns : sequence of (KernelSet, dict, bool)
        ``(kernel_set, params, magnetic)`` per column ``x = 0 .. N_x - 1``; ``params`` holds a
        value for every name in ``kernel_set.parameters``; ``magnetic`` decides the interface rule.
        (An ``orbsym.numeric.Column`` is read as ``(kernels, params, magnetic)`` too.)
    N_y, N_z : int
        Periodic rows and layers, ``>= 1`` (``N_z = 1`` for 2D models).
    interface : {"fm", "metal"}
        Owner of bonds between an FM and a non-FM column.

    Returns
    -------
    ndarray, complex, shape (N_x N_y N_z dim, N_x N_y N_z dim)
        Hermitian ``H`` with ``H[n, n+d] = t_d`` (state index ``((x N_y + y) N_z + z) dim + i``).
    """
    _check_interface(interface)
    film = _film(columns, N_y, N_z)
    d = film.dim
    S = film.N_x * film.N_y * film.N_z
    H = np.zeros((S, d, S, d), complex)
    ys, zs = _transverse(film)
    for x in range(film.N_x):
        s = site_index(film.N_y, film.N_z, x, ys, zs)  # distinct sites: fancy-index += is safe
        H[s, :, s, :] += _onsite(film, x)
    for bond in _bonds(film):
        dx, dy, dz = _pad(bond, film.D)
        for x in range(film.N_x - dx):
            owner = bond_owner(film.cols, x, dx, interface)
            if not _owner_has(film, owner, bond):
                continue  # the owner has no hopping at this offset: the bond is absent
            t = _hopping(film, owner, bond)
            s1 = site_index(film.N_y, film.N_z, x, ys, zs)
            s2 = site_index(film.N_y, film.N_z, x + dx, ys + dy, zs + dz)
            for a, b in zip(s1, s2):  # one bond at a time: repeated pairs (N_y or N_z <= 2) add up
                H[a, :, b, :] += t
                H[b, :, a, :] += t.conj().T
    return H.reshape(S * d, S * d)


# ---------------------------------------------------------------------------- thermal state
def _temperature(T):
    if isinstance(T, (str, bytes, bool, np.bool_)) or not isinstance(T, (int, float, np.integer, np.floating)):
        raise ValueError(f"temperature T must be a real number >= 0, got {T!r}")
    T = float(T)
    if not math.isfinite(T) or T < 0:
        raise ValueError(f"temperature T must be a finite number >= 0, got {T!r}")
    return T


def fermi_occupation(E, T):
    """``f(E) = 1 / (1 + exp(E / T))``; ``T = 0``: step, ``1/2`` for ``|E| <= 1e-13 max(1, max|E|)``."""
    E = np.asarray(E, dtype=float)
    T = _temperature(T)
    if T == 0:
        tol = ZERO_LEVEL_RTOL * max(1.0, float(np.abs(E).max(initial=0.0)))
        return np.where(np.abs(E) <= tol, 0.5, (E < 0).astype(float))
    with np.errstate(over="ignore", under="ignore"):
        q = np.exp(-np.abs(E) / T)
    return np.where(E <= 0, 1.0 / (1.0 + q), q / (1.0 + q))


def _grand_potential(E, T):
    """``sum_n -T ln(1 + exp(-E_n / T))`` = ``sum_n [min(E_n, 0) - T ln(1 + exp(-|E_n| / T))]``."""
    E = np.asarray(E, dtype=float)
    if T == 0:
        return float(np.minimum(E, 0.0).sum())
    with np.errstate(over="ignore", under="ignore"):
        return float((np.minimum(E, 0.0) - T * np.log1p(np.exp(-np.abs(E) / T))).sum())


def film_correlations(H, T, mu_shift=0.0, *, N_y, N_z):
    """Fermi state of ``H``: correlations, grand potential and particle number per transverse cell.

    Parameters
    ----------
    H : ndarray
        Hermitian one-body matrix (:func:`film_hamiltonian`); ``mu`` is inside it.
    T : float
        Temperature ``>= 0`` (units of ``t``).
    mu_shift : float
        Extra chemical potential: the levels are ``E - mu_shift`` (``H -> H - mu_shift 1``).
    N_y, N_z : int (keyword only, required)
        Transverse cells of the film, to return ``F`` and ``N`` per cell.

    Returns
    -------
    FilmCorrelations
        ``(rho, F, N)``: ``rho[a, b] = <c_a^dag c_b> = [f(H - mu_shift)]_{ba}``;
        ``F = sum_n -T ln(1 + exp(-E_n / T)) / (N_y N_z)`` (Eq. 13); ``N = sum_n f(E_n) / (N_y N_z)``.
    """
    H = np.asarray(H)
    cells = _size("N_y", N_y) * _size("N_z", N_z)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] % cells:
        raise ValueError(f"H must be a square matrix whose size is a multiple of N_y N_z = {cells}, got shape {H.shape}")
    if not np.allclose(H, H.conj().T, rtol=0, atol=1e-12 * max(1.0, float(np.abs(H).max(initial=0.0)))):
        raise ValueError("H is not Hermitian")
    T = _temperature(T)
    if isinstance(mu_shift, (bool, np.bool_)) or not math.isfinite(float(mu_shift)):
        raise ValueError(f"mu_shift must be a finite real number, got {mu_shift!r}")
    E, U = np.linalg.eigh(H)
    E = E - float(mu_shift)
    f = fermi_occupation(E, T)
    rho = (U.conj() * f[None, :]) @ U.T  # <c_a^dag c_b> = sum_n U*_an f_n U_bn
    return FilmCorrelations(rho, _grand_potential(E, T) / cells, float(f.sum()) / cells)


# ---------------------------------------------------------------------------- observables
def film_kernel(columns, rho, N_y, N_z, name, polarization=None, bond=None, interface="fm", per_position=False):
    """Expectation value of the kernel ``(name, polarization, bond)`` at every anchor column.

    ``<O>(x) = sum_terms sum_ij M_ij <c^dag_{n+left, i} c_{n+right, j}>`` with ``n = (x, y, z)``,
    ``{(left, right): M} = ks.kernel(name, polarization, bond).blocks(params)`` of the OWNER column
    (site kernels: column ``x`` itself; bond kernels: :func:`bond_owner`), averaged over the
    ``N_y N_z`` transverse positions of the anchor.  Terms reaching outside ``0 .. N_x - 1`` vanish
    (hard walls); anchors whose owner has no such bond give 0; charge (``polarization=None``)
    ``torque_onsite``/``source`` give 0 for a model that does not export them.

    Parameters
    ----------
    columns, N_y, N_z, interface
        As in :func:`film_hamiltonian`.
    rho : ndarray
        ``rho[a, b] = <c_a^dag c_b>`` (any Hermitian state, e.g. from :func:`film_correlations`).
    name, polarization : str, str or None
        Kernel name (``density``, ``current``, ``source``, ``torque_onsite``, ``eom_start``,
        ``eom_end``, ...) and ``"x"``, ``"y"``, ``"z"`` or None (charge).
    bond : tuple or None
        None for site kernels; the bond offset (in the models' tuple length) for bond kernels.
    per_position : bool
        Return the values at every transverse position instead of their average.

    Returns
    -------
    ndarray, float
        Shape ``(anchors,)`` (or ``(anchors, N_y, N_z)``): ``anchors = N_x`` for site kernels and
        ``N_x - dx`` for bond kernels, anchor = the bond's start column ``x``.
    """
    _check_interface(interface)
    film = _film(columns, N_y, N_z)
    rho = _check_rho(film, rho)
    d = film.dim
    R = rho.reshape(film.N_x, film.N_y, film.N_z, d, film.N_x, film.N_y, film.N_z, d)
    if bond is None:
        dx, native = 0, None
        anchors = range(film.N_x)
    else:
        b = tuple(int(v) for v in bond)
        if film.D == 2 and len(b) == 3 and b[2] == 0:
            b = b[:2]
        native = b
        if native not in _bonds(film):
            raise ValueError(f"bond {tuple(bond)!r} is not a bond offset of the film's models {_bonds(film)}")
        dx = _pad(native, film.D)[0]
        anchors = range(max(0, film.N_x - dx))
    ys, zs = np.meshgrid(np.arange(film.N_y), np.arange(film.N_z), indexing="ij")
    out = np.zeros((len(anchors), film.N_y, film.N_z), complex)
    cache = {}
    for x in anchors:
        owner = x if bond is None else bond_owner(film.cols, x, dx, interface)
        c = film.cols[owner]
        if native is not None and not _owner_has(film, owner, native):
            continue
        key = (id(c.ks), tuple(sorted(c.params.items())))
        if key not in cache:
            if polarization is None and name in _ZERO_FOR_CHARGE and (name, None, native) not in c.ks.operators:
                cache[key] = {}
            else:
                kern = c.ks.kernel(name, polarization, native)
                if kern.anchor != ("site" if native is None else "bond"):
                    raise ValueError(f"kernel {name!r} of model {c.ks.model!r} has anchor {kern.anchor!r}")
                cache[key] = kern.blocks(c.params)
        for (left, right), M in cache[key].items():
            l, r = _pad(left, film.D), _pad(right, film.D)
            xl, xr = x + l[0], x + r[0]
            if not (0 <= xl < film.N_x and 0 <= xr < film.N_x):
                continue  # hard walls
            block = R[xl, (ys + l[1]) % film.N_y, (zs + l[2]) % film.N_z, :, xr, (ys + r[1]) % film.N_y, (zs + r[2]) % film.N_z, :]
            out[x] += np.einsum("ij,yzij->yz", M, block)
    out = out.real
    return out if per_position else out.mean(axis=(1, 2))


def _generator(film, polarization):
    if polarization is None:
        return np.eye(film.dim, dtype=complex)
    if polarization not in ("x", "y", "z"):
        raise ValueError(f"polarization must be 'x', 'y', 'z' or None (charge), got {polarization!r}")
    gens = [np.asarray(c.ks.generators, complex) for c in film.cols]
    for x, g in enumerate(gens):
        if g.shape != (3, film.dim, film.dim) or not np.allclose(g, gens[0]):
            raise ValueError(f"column {x} (model {film.cols[x].ks.model!r}) has other generators than column 0")
    return gens[0]["xyz".index(polarization)]


def film_rate(columns, rho, H, N_y, N_z, polarization, per_position=False):
    """Exact ``d<J_n>/dt = i <[H, c_n^dag J c_n]> = i sum_ab [H, J_n]_ab rho_ab`` per column.

    Computed from ``H`` and ``rho`` alone (no kernel): ``J_n`` is the generator ``J_alpha``
    (identity for ``polarization=None``: the particle number) on site ``n``, ``rho[a, b] =
    <c_a^dag c_b>`` any Hermitian state (for a Fermi state of ``H`` the rate is 0).  Equivalently
    ``i Tr(rho_1 [H, J_n])`` with the one-body density matrix ``rho_1 = rho.T``.

    Returns
    -------
    ndarray, float, shape (N_x,) (or (N_x, N_y, N_z) with ``per_position``)
        The rate averaged over the ``N_y N_z`` sites of each column.
    """
    film = _film(columns, N_y, N_z)
    rho = _check_rho(film, rho)
    H = np.asarray(H)
    if H.shape != rho.shape:
        raise ValueError(f"H has shape {H.shape}, rho {rho.shape}; both must be the film's ({rho.shape[0]}, {rho.shape[0]})")
    J = _generator(film, polarization)
    S, d = film.N_x * film.N_y * film.N_z, film.dim
    H4, R4 = H.reshape(S, d, S, d), rho.reshape(S, d, S, d)
    # sum_ab (H J_n)_ab rho_ab = sum_{a, k, j} H[a, (n, k)] J_kj rho[a, (n, j)]
    first = np.einsum("aink,kj,ainj->n", H4, J, R4)
    # sum_ab (J_n H)_ab rho_ab = sum_{i, k, b} J_ik H[(n, k), b] rho[(n, i), b]
    second = np.einsum("ik,nkbj,nibj->n", J, H4, R4)
    rate = (1j * (first - second)).real.reshape(film.N_x, film.N_y, film.N_z)
    return rate if per_position else rate.mean(axis=(1, 2))


_BALANCE = {
    # kind: (start-side kernels with sign, end-side kernels with sign); see the KernelSet docstring
    "eom": ((("eom_start", 1.0),), (("eom_end", 1.0),)),
    "bond": ((("current", -1.0), ("source", 1.0)), (("current", 1.0), ("source", 1.0))),
    "forward": ((("current_forward", -1.0), ("source_forward_start", 1.0)), (("current_forward", 1.0), ("source_forward_end", 1.0))),
}


def film_kernel_rate(columns, rho, N_y, N_z, polarization, interface="fm", kind="eom"):
    """``d<J>/dt`` per column assembled from the kernels (the continuity identity of KernelSet).

    ``kind="eom"``::

        rate(x) = torque_onsite(x) + sum_d [ eom_start(x, d) + eom_end(x - dx, d) ]

    ``kind="bond"`` (``-div j + tau`` with the bond current and the bond torque on each end)::

        rate(x) = torque_onsite(x) - sum_d [ current(x, d) - current(x - dx, d) ]
                  + sum_d [ source(x, d) + source(x - dx, d) ]

    ``kind="forward"``: the same with ``current_forward``, ``source_forward_start`` (at ``x``) and
    ``source_forward_end`` (at ``x - dx``).  Every term is averaged over transverse positions (the
    transverse shift of the end-side terms drops out of the average).  Equals :func:`film_rate` for
    any state when the kernels are right.
    """
    if kind not in _BALANCE:
        raise ValueError(f"kind must be one of {tuple(_BALANCE)}, got {kind!r}")
    film = _film(columns, N_y, N_z)
    out = film_kernel(columns, rho, N_y, N_z, "torque_onsite", polarization, None, interface).copy()
    start, end = _BALANCE[kind]
    for b in _bonds(film):
        dx = _pad(b, film.D)[0]
        if film.N_x - dx <= 0:
            continue
        for name, sign in start:
            out[: film.N_x - dx] += sign * film_kernel(columns, rho, N_y, N_z, name, polarization, b, interface)
        for name, sign in end:
            out[dx:] += sign * film_kernel(columns, rho, N_y, N_z, name, polarization, b, interface)
    return out


# ---------------------------------------------------------------------------- hand-built models
def hand_kernelset(name, generators, normalization, hoppings, onsite, basis=None):
    """KernelSet of ``H = sum_n [c_n^dag eps c_n + sum_d (c_n^dag t_d c_{n+d} + h.c.)]`` written by hand.

    For models linear in their parameters, with offsets of any length (2-tuples or 3-tuples), so
    that 3D films can be tested before the symbolic layer derives 3D kernels.  ``hoppings = {d:
    {p: M}}`` means ``t_d = sum_p p M_p`` and ``onsite = {p: E}`` likewise; the coefficient name
    ``"1"`` is the constant 1 (not a parameter).

    Kernels, written out from the one-body commutators (``J`` on site ``n``, bond ``(n, m = n + d)``,
    :mod:`orbsym.conventions`; the same operators as ``orbsym.symbolic.continuity.kernels`` derives,
    checked in tests/numeric/test_film_realspace.py)::

        density              c_n^dag J c_n
        torque_onsite        i c_n^dag [eps, J] c_n
        eom_start            i (-c_n^dag J t c_m + c_m^dag t^dag J c_n)      (the bond's part of dJ_n/dt)
        eom_end              i ( c_n^dag t J c_m - c_m^dag J t^dag c_n)      (its part of dJ_m/dt)
        current, source      (eom_end -+ eom_start) / 2
        current_forward      i c_n^dag J t (c_m - c_n) + h.c.          (Eq. 7, forward; twice the printed value)
        current_backward     i c_m^dag J t^dag (c_m - c_n) + h.c.      (Eq. 7, backward at m, anchored at n)
        source_forward_start eom_start + current_forward
        source_forward_end   eom_end - current_forward

    Parameters
    ----------
    name : str
    generators : array (3, dim, dim)
    normalization : float
        ``c`` in ``[J_a, J_b] = i c eps_abc J_c``.
    hoppings, onsite : dict
        As above; the bond offsets must be canonical for :func:`film_hamiltonian`.
    basis : sequence of str, optional
    """
    from orbsym.kernels import Kernel, KernelSet, Term

    gens = np.asarray(generators, complex)
    dim = gens.shape[1]
    if not hoppings:
        raise ValueError("hand_kernelset needs at least one hopping")
    D = len(next(iter(hoppings)))
    O = (0,) * D
    params = []
    for comp in list(hoppings.values()) + [onsite]:
        params += [p for p in comp if p != "1" and p not in params]
    params = tuple(params)

    def terms(pairs):
        return tuple(Term(tuple(l), tuple(r), p, np.asarray(m, complex)) for l, r, p, m in pairs if np.abs(m).max() > 0)

    def scaled(pairs, s):
        return [(l, r, p, s * m) for l, r, p, m in pairs]

    ham = {"onsite": Kernel("onsite", "site", None, None, terms([(O, O, p, E) for p, E in onsite.items()]), params)}
    for d, comp in hoppings.items():
        ham[tuple(d)] = Kernel("hopping", "bond", tuple(d), None, terms([(O, tuple(d), p, M) for p, M in comp.items()]), params)
    ops = {}
    for pol, J in [(None, np.eye(dim, dtype=complex))] + list(zip("xyz", gens)):
        ops["density", pol, None] = Kernel("density", "site", None, pol, terms([(O, O, "1", J)]), params)
        ops["torque_onsite", pol, None] = Kernel(
            "torque_onsite", "site", None, pol, terms([(O, O, p, 1j * (np.asarray(E) @ J - J @ np.asarray(E))) for p, E in onsite.items()]), params
        )
        for d, comp in hoppings.items():
            d = tuple(d)
            es, ee, cf, cb = [], [], [], []
            for p, M in comp.items():
                M = np.asarray(M, complex)
                Md = M.conj().T
                es += [(O, d, p, -1j * J @ M), (d, O, p, 1j * Md @ J)]
                ee += [(O, d, p, 1j * M @ J), (d, O, p, -1j * J @ Md)]
                A = 1j * J @ M  # forward: i c_n^dag J t (c_m - c_n) + h.c.
                Ad = A.conj().T
                cf += [(O, d, p, A), (d, O, p, Ad), (O, O, p, -(A + Ad))]
                B = 1j * J @ Md  # backward at m: i c_m^dag J t^dag (c_m - c_n) + h.c.
                Bd = B.conj().T
                cb += [(d, d, p, B + Bd), (d, O, p, -B), (O, d, p, -Bd)]
            pieces = {
                "eom_start": es,
                "eom_end": ee,
                "current": scaled(ee, 0.5) + scaled(es, -0.5),
                "source": scaled(ee, 0.5) + scaled(es, 0.5),
                "current_forward": cf,
                "current_backward": cb,
                "source_forward_start": es + cf,
                "source_forward_end": ee + scaled(cf, -1.0),
            }
            for nm, pairs in pieces.items():
                ops[nm, pol, d] = Kernel(nm, "bond", d, pol, terms(pairs), params)
    return KernelSet(
        name, dim, tuple(basis or (f"s{i}" for i in range(dim))), gens, float(normalization), params,
        tuple(tuple(d) for d in hoppings), ham, ops,
    )
