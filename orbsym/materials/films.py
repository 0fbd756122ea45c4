"""Crystals cut into films: supercells, films along a lattice vector, stacks of two materials.

A :class:`~orbsym.materials.model.TightBinding` becomes a :class:`orbsym.numeric.sites.SiteLattice`,
the geometry every engine and driver takes (``solve``, ``respond``, ``evolve_sites``,
``site_transport``), so that a material film gets the per-site densities, the per-bond currents and
hopping torques, the on-site (exchange, SOC) torques and the exact per-site balance of orbsym.

Geometry
--------
The film is stacked along the lattice vector ``a_s`` (``stacking = s``): ``N_x`` cells along it (open,
the slices of the engines), periodic along the two other lattice vectors (``N_y``, ``N_z``: a film,
transverse dimension 2) or, for a 2D crystal, along the other in-plane vector (``N_y``; or an open
``width``).  A film stacked along ``a_s`` exposes the lattice planes spanned by the two other vectors
(an fcc crystal in its primitive cell along ``a_1``: (111) planes); other orientations come from a
:func:`supercell` first (e.g. the conventional cubic cell for (001)).

Every atom is a :class:`~orbsym.numeric.sites.Site` at its Cartesian position, with its block of
``H(0)`` (minus ``mu``) as on-site matrix and its block of the chosen angular momentum (atom-centred
``L``, ``S`` or ``J``: :meth:`TightBinding.angular_momentum`) as generators.  Every atom pair and lattice
vector with a nonzero block of ``H(R)`` is a :class:`~orbsym.numeric.sites.Hopping`, once per bond.

Frame: by default (``frame="film"``) the film is rotated so that ``x`` is the film normal (pointing
from the first layer to the last), ``y`` runs along the first transverse lattice vector and
``z = x cross y``: then a field ``E_y`` or ``E_z`` lies in the film plane, as the Kubo response of
:meth:`SiteLattice.respond` needs, and the components of ``L``, ``S`` (and of every polarization) refer
to these axes (the generators are rotated as vectors, ``J'_a = sum_b R_ab J_b``).  ``frame="crystal"``
keeps the crystal's Cartesian axes.

Energies and lengths stay in the model's units (eV and Angstrom for materials): ``T``, ``mu`` and
``eta`` of the site-lattice engines are then in eV, and responses per unit ``qE`` in eV/Angstrom.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..numeric.checks import check_name, integer_at_least
from .model import Atom, TightBinding

__all__ = ["supercell", "film", "film_stack", "film_frame", "INTERFACE_RULES", "FRAMES", "HOPPING_TOL"]

#: Hopping blocks with every entry below this (energy unit) are no bond.
HOPPING_TOL = 1e-12
#: How a bond between the two materials of a stack takes its matrix.
INTERFACE_RULES = ("mean", "lower", "upper")
#: Coordinate frames of a film (module docstring).
FRAMES = ("film", "crystal")


def supercell(model, M):
    """The same crystal in a larger cell ``A' = M A`` (rows: new lattice vectors in the old ones).

    Parameters
    ----------
    model : TightBinding
    M : array_like of int, shape (3, 3)
        ``a'_i = sum_j M_ij a_j``; ``|det M|`` old cells per new cell (``det M != 0``).  A 2D crystal
        (``periodic=2``) needs ``M`` that keeps ``a_3`` (``M[2] = (0, 0, +-1)``, ``M[:2, 2] = 0``).

    Returns
    -------
    TightBinding
        Atoms ``atom@(n1,n2,n3)`` for every old cell inside the new one; ``H'(R')`` gathered from
        ``H(R)``.  The bands of the supercell at ``k`` are those of ``model`` at ``k + G'`` for the
        ``|det M|`` new reciprocal vectors ``G'`` in the old zone (band folding; tested).
    """
    if not isinstance(model, TightBinding):
        raise TypeError(f"model must be an orbsym.materials.TightBinding, got {type(model).__name__}")
    M = np.asarray(M)
    if M.shape != (3, 3) or not np.issubdtype(M.dtype, np.integer):
        raise ValueError(f"M must be a 3x3 integer matrix (new lattice vectors in units of the old ones), got {np.asarray(M).tolist()}")
    det = int(round(np.linalg.det(M)))
    if det == 0:
        raise ValueError(f"M = {M.tolist()} is singular: the new vectors must span the crystal")
    if model.periodic == 2 and (abs(M[2, 2]) != 1 or np.any(M[2, :2] != 0) or np.any(M[:2, 2] != 0)):
        raise ValueError(f"a 2D crystal keeps its normal a_3: M must have M[2] = (0, 0, +-1) and M[:2, 2] = 0, got {M.tolist()}")
    Minv = np.linalg.inv(M)
    # old cells inside the new one: integer n with frac = n M^-1 in [0, 1)^3
    span = np.abs(M).sum(axis=0)
    grid = np.stack(np.meshgrid(*[np.arange(-s, s + 1) for s in span], indexing="ij"), -1).reshape(-1, 3)
    frac = grid @ Minv
    inside = np.all((frac > -1e-9) & (frac < 1 - 1e-9), axis=1)
    cells = grid[inside]
    if len(cells) != abs(det):
        raise AssertionError(f"found {len(cells)} cells in the supercell, expected |det M| = {abs(det)}")
    new_cell = M @ model.cell
    atoms, blocks = [], []  # blocks: (old cell n, old basis indices) per new atom, in new basis order
    for n in cells:
        shift = n @ model.cell
        for a, atom in enumerate(model.atoms):
            atoms.append(Atom(f"{atom.name}@({n[0]},{n[1]},{n[2]})", np.array(atom.position) + shift, atom.orbitals))
            blocks.append((n, a))
    # old index of every new basis state, in the order TightBinding builds the new basis
    new_model_basis = TightBinding(new_cell, atoms, {(0, 0, 0): np.zeros((model.n * abs(det),) * 2)}, spinful=model.spinful, spin_order=model.spin_order,
                                   periodic=model.periodic, length_unit=model.length_unit, energy_unit=model.energy_unit).basis
    old_index = {(o.atom, o.label, o.spin): i for i, o in enumerate(model.basis)}
    cell_of = np.array([blocks[o.atom][0] for o in new_model_basis])
    old_of = np.array([old_index[(blocks[o.atom][1], o.label, o.spin)] for o in new_model_basis])
    nb = len(new_model_basis)
    H = {}
    for R, HR in zip(model.R, model.H):
        # <n_i + 0, i | H | n_j + R', j> with R' = new lattice vector: old R = R' M + n_j - n_i
        for i in range(nb):
            target = cell_of[i] + R  # old cell of the ket = R' M + n_j
            for j in range(nb):
                Rp = (target - cell_of[j]) @ Minv
                Rr = np.round(Rp)
                if np.all(np.abs(Rp - Rr) < 1e-9):
                    key = tuple(int(v) for v in Rr)
                    if key not in H:
                        H[key] = np.zeros((nb, nb), complex)
                    H[key][i, j] += HR[old_of[i], old_of[j]]
    H.setdefault((0, 0, 0), np.zeros((nb, nb), complex))
    return TightBinding(new_cell, atoms, H, spinful=model.spinful, spin_order=model.spin_order, periodic=model.periodic,
                        length_unit=model.length_unit, energy_unit=model.energy_unit, name=f"{model.name} supercell {M.tolist()}")


def _axes(model, stacking, N_y, N_z, width):
    s = stacking
    if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s < model.periodic:
        raise ValueError(f"stacking must be the index of a periodic lattice vector, 0 .. {model.periodic - 1}, got {stacking!r}")
    others = [i for i in range(model.periodic) if i != s]
    order = [int(s)] + others + ([2] if model.periodic == 2 else [])
    if model.periodic == 3:
        if width is not None or N_y is None or N_z is None:
            raise ValueError(f"a film of a 3D crystal is periodic along the two other lattice vectors: give N_y and N_z (and no width), got N_y={N_y!r}, N_z={N_z!r}, width={width!r}")
    else:
        if N_z is not None:
            raise ValueError(f"N_z = {N_z!r} applies to films of 3D crystals; {model.name!r} is a 2D crystal (periodic=2): give N_y (periodic) or width (open)")
        if (N_y is None) == (width is None):
            raise ValueError(f"a 2D crystal cut along a_{s} needs N_y (periodic along a_{others[0]}) or width (open), exactly one, got N_y={N_y!r}, width={width!r}")
    return order


def film_frame(model, order):
    """Rotation ``R`` (rows: the film's x, y, z in crystal coordinates): x the normal of the transverse
    vectors (sign: along the stacking vector), y along the first transverse vector, z = x cross y."""
    a_s, a_y, a_z = (model.cell[i] for i in order)
    n = np.cross(a_y, a_z)
    n = n / np.linalg.norm(n)
    if n @ a_s < 0:
        n = -n
    y = a_y / np.linalg.norm(a_y)
    return np.array([n, y, np.cross(n, y)])


def _sites(model, mu, J, rot):
    from ..numeric.sites import Site

    sites = []
    Jr = np.einsum("ab,bij->aij", rot, J)
    for a, atom in enumerate(model.atoms):
        idx = model.atom_indices(a)
        eps = model.H[_zero(model)][np.ix_(idx, idx)] - mu * np.eye(len(idx))
        sites.append(Site(f"{atom.name}{a}", rot @ np.asarray(atom.position), eps, Jr[:, idx[:, None], idx[None, :]]))
    return sites


def _zero(model):
    return int(np.flatnonzero(np.all(model.R == 0, axis=1))[0])


def _bond_blocks(model):
    """``{(a, b, R): block}`` for every bond once (``R > 0`` lexicographically, or ``R = 0`` and ``a < b``)."""
    out = {}
    for R, HR in zip(model.R, model.H):
        Rt = tuple(int(v) for v in R)
        if Rt < (0, 0, 0):
            continue
        for a in range(len(model.atoms)):
            ia = model.atom_indices(a)
            for b in range(len(model.atoms)):
                if Rt == (0, 0, 0) and b <= a:
                    continue
                ib = model.atom_indices(b)
                out[(a, b, Rt)] = HR[np.ix_(ia, ib)]
    return out


def _generators(model, generators):
    if isinstance(generators, str):
        return model.angular_momentum(generators)
    J = np.asarray(generators, complex)
    if J.shape != (3, model.n, model.n):
        raise ValueError(f"generators must be a kind ('L', 'S', 'J', 'model') or a (3, {model.n}, {model.n}) array, got shape {J.shape}")
    return J


def film(model, N_x, *, stacking=0, N_y=None, N_z=None, width=None, mu=0.0, generators="L", frame="film"):
    """A film of ``N_x`` cells of ``model`` stacked along the lattice vector ``a_stacking``.

    Parameters
    ----------
    model : TightBinding
    N_x : int
        Cells along ``a_stacking`` (open; the film's layers).
    stacking : int
        Index of the stacking lattice vector (0, 1, 2; 2D crystals: 0 or 1).
    N_y, N_z : int
        k points along the two other lattice vectors, in order (a 3D crystal: both, a film; a 2D
        crystal: ``N_y`` only, or ``width``).
    width : int
        2D crystals: open cells along the other in-plane vector (a finite sample, transverse dimension 0).
    mu : float
        Chemical potential (energy unit of the model), subtracted on every site.
    generators : {"L", "S", "J", "model"} or array (3, n, n)
        The angular momentum whose densities, currents and torques the site lattice evaluates (crystal
        axes; rotated with the frame).
    frame : {"film", "crystal"}
        Coordinates of the site lattice (module docstring).

    Returns
    -------
    orbsym.numeric.sites.SiteLattice
        ``vectors`` = the lattice vectors permuted to (stacking, the others), in the chosen frame; real
        bond vectors ``R + tau_j - tau_i`` (the Peierls phases of ``respond``).
    """
    return film_stack([(model, N_x)], stacking=stacking, N_y=N_y, N_z=N_z, width=width, mu=mu, generators=generators, frame=frame)


def film_stack(layers, *, stacking=0, N_y=None, N_z=None, width=None, mu=0.0, generators="L", interface="mean", frame="film"):
    """A film of several materials on the same lattice, stacked along ``a_stacking`` (e.g. Cu on Ni).

    Parameters
    ----------
    layers : sequence of (TightBinding, int)
        Each material and its number of cells, from ``x = 0`` upward.  Every model must share the cell,
        the atoms (names aside: positions and orbitals) and the spin layout -- a commensurate
        stack, as in the paper's heterostructures (lattice mismatch is not modelled).
    interface : {"mean", "lower", "upper"}
        The matrix of a bond between cells of two materials: the mean of the two materials' matrices
        (Hermitian by construction), or that of the lower (smaller x) or upper material.
    stacking, N_y, N_z, width, mu, generators, frame
        As in :func:`film`; ``generators`` of each layer from its own model.

    Returns
    -------
    orbsym.numeric.sites.SiteLattice
        Per-cell on-site matrices and generators; per-cell hopping matrices ``T[x]`` for the bonds
        starting in cell ``x``.
    """
    from ..numeric.sites import Hopping, SiteLattice

    layers = list(layers)
    if not layers:
        raise ValueError("layers must list at least one (model, N_x) pair")
    for i, item in enumerate(layers):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], TightBinding)):
            raise TypeError(f"layers[{i}] must be a (TightBinding, number of cells) pair, got {item!r}")
    interface = check_name("interface", interface, INTERFACE_RULES)
    frame = check_name("frame", frame, FRAMES)
    models = [m for m, _ in layers]
    counts = [integer_at_least(f"cells of layer {i} ({m.name!r})", n, 1) for i, (m, n) in enumerate(layers)]
    ref = models[0]
    for m in models[1:]:
        same = (np.allclose(m.cell, ref.cell, atol=1e-6) and m.periodic == ref.periodic and m.spinful == ref.spinful and m.spin_order == ref.spin_order
                and len(m.atoms) == len(ref.atoms)
                and all(np.allclose(a.position, b.position, atol=1e-6) and len(a.orbitals) == len(b.orbitals) for a, b in zip(m.atoms, ref.atoms)))
        if not same:
            raise ValueError(f"models {ref.name!r} and {m.name!r} must share the cell, the atom positions, the orbital counts and the spin layout to be stacked (a commensurate stack)")
    order = _axes(ref, stacking, N_y, N_z, width)
    N_x = sum(counts)
    layer_of = np.repeat(np.arange(len(models)), counts)
    rot = film_frame(ref, order) if frame == "film" else np.eye(3)
    Js = [_generators(m, generators) for m in models]
    site_sets = [_sites(m, mu, J, rot) for m, J in zip(models, Js)]
    # identical names in every cell (the SiteLattice requires it): those of the first model
    names = [s.name for s in site_sets[0]]
    from ..numeric.sites import Site

    cells = [tuple(Site(nm, s.position, s.onsite, s.generators) for nm, s in zip(names, site_sets[layer_of[x]])) for x in range(N_x)]
    blocks = [_bond_blocks(m) for m in models]
    keys = sorted(set().union(*blocks))
    perm = np.array(order)
    hoppings = []
    for a, b, R in keys:
        off = tuple(int(v) for v in np.asarray(R)[perm])
        dx = off[0]
        mats = [blk.get((a, b, R)) for blk in blocks]
        shape = next(m for m in mats if m is not None).shape
        mats = [np.zeros(shape, complex) if m is None else m for m in mats]
        T = np.empty((N_x,) + shape, complex)
        for x in range(N_x):
            lo, hi = layer_of[x], layer_of[min(max(x + dx, 0), N_x - 1)]
            if lo == hi:
                T[x] = mats[lo]
            elif interface == "mean":
                T[x] = 0.5 * (mats[lo] + mats[hi])
            else:
                first, second = (lo, hi) if dx >= 0 else (hi, lo)  # lower / upper in x
                T[x] = mats[first if interface == "lower" else second]
        if np.abs(T).max() <= HOPPING_TOL:
            continue
        if model_is_2d(ref):
            off = off[:2]
        hoppings.append(Hopping(names[a], names[b], off, T if len(models) > 1 else T[0]))
    vectors = ref.cell[perm] @ rot.T
    return SiteLattice(cells, hoppings, N_y=N_y, N_z=N_z, width=width, vectors=vectors)


def model_is_2d(model):
    return model.periodic == 2
