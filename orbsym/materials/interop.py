"""Tight-binding models of the Python ecosystem as :class:`~orbsym.materials.model.TightBinding` models.

Optional extras (``pip install "orbsym[interop]"``); each package is imported only inside the function
that reads it, so this module imports without any of them, and a missing package gives a
:class:`ModuleNotFoundError` naming the extra.

``from_sisl(H)``
    ``sisl.Hamiltonian``: convention II, ``H(k) = sum_R e^{i k.R} H(R)`` with ``R`` from the supercell
    offsets (``nsc``); Angstrom and eV (sisl's units).
``from_pythtb(model, cell=None)``
    ``pythtb.tb_model`` (1.x): convention I, ``e^{i k.(R + tau_j - tau_i)}``, ``tau`` in reduced
    coordinates; natural units ``a``/``t``, or Angstrom/eV with ``cell=``.
``from_tbmodels(model, cell=None)``
    ``tbmodels.Model``: convention I (``hamilton(k, convention=1)``; ``convention=2`` is II); units as
    for PythTB.
``from_qsymm(model, cell)``
    ``qsymm.BlochModel``: convention I, ``e^{i k.d}`` with Cartesian hopping vectors
    ``d = R + tau_j - tau_i``; natural units or Angstrom/eV (``length_unit``).
``to_sisl(model)``, ``to_pythtb(model)``
    The reverse (round trips exact).

Every importer returns the same matrices ``H(R)_ij = <0 i|H|R j>`` (:mod:`orbsym.materials.model`);
convention I only moves the orbital-centre phases ``e^{ik.(tau_j - tau_i)}`` into ``H(k)``:
``H^I(k) = U^dagger H^II(k) U`` with ``U = diag(e^{ik.tau})``, same eigenvalues, and
:meth:`TightBinding.hamiltonian` gives either (``convention="I"`` reproduces PythTB, TBmodels and
qsymm element by element; ``"II"`` reproduces sisl and ``_hr.dat``).

Units
-----
sisl works in Angstrom and eV: the model keeps them.  PythTB, TBmodels and qsymm have no units.
Their importers give natural units (``length_unit="a"``, ``energy_unit="t"``: the package's lattice
vectors as numbers in units of some length ``a``, energies in units of some ``t``) unless the caller
states the physical scale: ``cell=`` the lattice constant in Angstrom (a number multiplying the
package's lattice) or the lattice itself in Angstrom (rows, which must be a positive multiple of the
package's lattice: orbital labels such as ``px`` refer to the package's Cartesian axes, so a rotated
or sheared cell is refused, not guessed); the energies are then read as eV.  qsymm's hopping
vectors carry their own length: ``cell`` (same length unit) is required and ``length_unit`` says
which unit that is.

Orbitals
--------
sisl's ``AtomicOrbital`` objects are identified from their ``(l, m)``: sisl follows SIESTA's real
spherical harmonics, which carry the Condon-Shortley phase, so its ``m`` odd functions are minus
Wannier90's (``px, py, dxz, dyz, fxz2, fyz2, fx(x2-3y2), fy(3x2-y2)``; checked against
``AtomicOrbital.spher``): the importer flips their sign (``H -> D H D``, ``D = diag(+-1)``, a gauge
change: the same bands) so that every label means Wannier90's function and the atom-centred ``L``
of :mod:`orbsym.materials.shells` is right.  Several zetas of one shell on an atom (``DZP`` bases)
become several :class:`Atom` entries at the same position (one label once per atom).

PythTB, TBmodels and qsymm know no orbital kinds.  Without ``orbitals=``, consecutive orbitals at
one position form a generic atom ``site1, site2, ...`` with labels ``orb1 .. orbN`` (the basis
index), which carry ``L = 0`` (:meth:`TightBinding.angular_momentum`).  ``orbitals=`` identifies them:

* a spec ``"Ti: s,p,d; O: p; O: p"``: per entry ``name: states`` (Wannier90's names and order,
  :func:`orbsym.materials.shells.parse_shells`), **one entry per atom in basis order** (these
  packages have no species names to match a Wannier90-like "every atom of that name"); each entry
  takes the next orbitals of the basis, which must sit at one position.  For sisl, whose atoms have
  names, an entry ``Ti: s,p,d`` applies to every atom tagged ``Ti`` (its orbitals in sisl's order).
* a sequence of :class:`Atom` (name, Cartesian position in the model's length unit, labels): used
  as given, positions checked against the package's.

Spin: sisl's spin classes (unpolarized; polarized and non-colinear/spin-orbit as spinful models,
"interleaved" = sisl's order), PythTB's ``nspin=2`` (interleaved); TBmodels and qsymm have no spin:
an ``orbitals=`` giving half the basis makes the model spinful (``spin_order``, default
"interleaved": orbital 1 up, orbital 1 down, ...; "block": all up then all down).
"""

from __future__ import annotations

import importlib
import numbers
import re

import numpy as np

from .model import SPIN_ORDERS, Atom, TightBinding
from .shells import parse_shells

__all__ = ["from_sisl", "from_pythtb", "from_tbmodels", "from_qsymm", "to_sisl", "to_pythtb", "INSTALL_HINT", "SISL_HARMONICS"]

#: How to install the optional packages of this module.
INSTALL_HINT = 'pip install "orbsym[interop]"'

#: sisl's ``(l, m)`` (SIESTA's real spherical harmonics) -> (Wannier90 label, sign of sisl's function
#: against Wannier90's): ``(-1)^m``, the Condon-Shortley phase (pinned by the tests).
SISL_HARMONICS = {
    (0, 0): ("s", 1),
    (1, -1): ("py", -1), (1, 0): ("pz", 1), (1, 1): ("px", -1),
    (2, -2): ("dxy", 1), (2, -1): ("dyz", -1), (2, 0): ("dz2", 1), (2, 1): ("dxz", -1), (2, 2): ("dx2-y2", 1),
    (3, -3): ("fy(3x2-y2)", -1), (3, -2): ("fxyz", 1), (3, -1): ("fyz2", -1), (3, 0): ("fz3", 1),
    (3, 1): ("fxz2", -1), (3, 2): ("fz(x2-y2)", 1), (3, 3): ("fx(x2-3y2)", -1),
}

#: Relative tolerance of position comparisons (against the largest lattice-vector length).
POSITION_TOL = 1e-6


def _require(name, func):
    """Import the optional package ``name`` or raise a ModuleNotFoundError naming the extra."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"{func}() needs the optional package {name!r}, which is not installed: {INSTALL_HINT} (or pip install {name})",
            name=name,
        ) from exc


# ---------------------------------------------------------------------------------------------- orbitals
def _spec_entries(spec):
    """``"Ti: s,p,d; O: p"`` -> [(name, labels in Wannier90 order)]."""
    from .wannier90 import _parse_spec

    out = []
    for site, states in _parse_spec(spec):
        if not site:
            raise ValueError(f"orbitals={spec!r}: an entry has no atom name before ':'")
        try:
            labels = parse_shells(states, wannier90_line=True)
        except ValueError as exc:
            raise ValueError(f"orbitals={spec!r}: {exc}") from None
        out.append((site, labels))
    if not out:
        raise ValueError(f"orbitals={spec!r} names no atom; expected e.g. 'Ti: s,p,d; O: p'")
    return out


def _generic_atoms(tau, offset=0):
    """Consecutive orbitals at one position -> generic atoms ``site1..`` with labels ``orb<i>`` (L = 0)."""
    atoms, start = [], 0
    for i in range(1, len(tau) + 1):
        if i == len(tau) or not np.allclose(tau[i], tau[start], rtol=0, atol=1e-9):
            labels = tuple(f"orb{offset + j + 1}" for j in range(start, i))
            atoms.append(Atom(f"site{len(atoms) + 1}", tau[start], labels))
            start = i
    return atoms


def _spin_layout(n, n_spatial, spin, spin_order, where):
    """(spinful, order) of a basis of ``n`` states described by ``n_spatial`` orbitals.

    ``spin``: True (the package basis is spinors, interleaved), False (the package has no spin: twice
    the described orbitals means spin).
    """
    if spin_order is not None and spin_order not in SPIN_ORDERS:
        raise ValueError(f"unknown spin_order {spin_order!r}; allowed: {', '.join(SPIN_ORDERS)}")
    if spin:
        if n_spatial != n // 2:
            raise ValueError(f"{where} has {n // 2} orbitals with spin, but the orbitals given describe {n_spatial}")
        if spin_order not in (None, "interleaved"):
            raise ValueError(f"{where} has its own spinor order (interleaved: up, down per orbital); spin_order={spin_order!r} cannot change it")
        return True, "interleaved"
    if n_spatial == n:
        if spin_order is not None:
            raise ValueError(f"spin_order={spin_order!r} given, but the orbitals given describe all {n} basis states: no spin")
        return False, "interleaved"
    if 2 * n_spatial == n:
        return True, spin_order or "interleaved"
    raise ValueError(f"the orbitals given describe {n_spatial} orbitals ({2 * n_spatial} with spin), but {where} has {n} basis states")


def _spatial_positions(tau, spinful, order, where, tol):
    """Positions of the spatial orbitals of a spinful basis (both spin partners must agree)."""
    if not spinful:
        return tau
    m = len(tau) // 2
    up, dn = (tau[0::2], tau[1::2]) if order == "interleaved" else (tau[:m], tau[m:])
    bad = np.flatnonzero(np.abs(up - dn).max(axis=1) > tol)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{where}: the spin partners of orbital {i + 1} ({order} spin order) sit at different positions {up[i].tolist()} and {dn[i].tolist()}")
    return up


def _identify(tau, orbitals, *, spin, spin_order, where, tol):
    """(atoms, spinful, spin_order) for a name-less basis with orbital positions ``tau`` (n, 3).

    ``spin``: True if the basis is already spinors (interleaved), False if the package has no spin.
    """
    n = len(tau)
    if orbitals is None:
        if spin_order is not None and not spin:
            raise ValueError(f"spin_order={spin_order!r} needs orbitals= (which orbitals form a spinor); {where} has no spin of its own")
        spinful, order = _spin_layout(n, n // 2 if spin else n, spin, spin_order, where)
        return _generic_atoms(tau[0::2] if spin else tau), spinful, order
    if isinstance(orbitals, str):
        entries = _spec_entries(orbitals)
        spinful, order = _spin_layout(n, sum(len(lab) for _, lab in entries), spin, spin_order, where)
        spatial = _spatial_positions(tau, spinful, order, where, tol)
        atoms, p = [], 0
        for name, labels in entries:
            chunk = spatial[p:p + len(labels)]
            off = np.abs(chunk - chunk[0]).max()
            if off > tol:
                raise ValueError(
                    f"orbitals={orbitals!r}: the entry {name!r} ({len(labels)} orbitals: {', '.join(labels)}) takes orbitals {p + 1}..{p + len(labels)} "
                    f"of {where}, which sit at different positions ({chunk.round(6).tolist()}): one entry per atom, in basis order"
                )
            atoms.append(Atom(name, chunk[0], labels))
            p += len(labels)
        return atoms, spinful, order
    atoms = _atom_list(orbitals)
    spinful, order = _spin_layout(n, sum(len(a.orbitals) for a in atoms), spin, spin_order, where)
    spatial = _spatial_positions(tau, spinful, order, where, tol)
    p = 0
    for a in atoms:
        chunk = spatial[p:p + len(a.orbitals)]
        off = np.abs(chunk - np.array(a.position)).max()
        if off > tol:
            raise ValueError(f"atom {a.name!r} at {list(a.position)} holds orbitals {p + 1}..{p + len(a.orbitals)}, which {where} places at {chunk.round(6).tolist()}")
        p += len(a.orbitals)
    return atoms, spinful, order


def _atom_list(orbitals):
    """A sequence of Atom, or a TypeError naming what is allowed."""
    if isinstance(orbitals, Atom):
        return [orbitals]
    try:
        atoms = list(orbitals)
    except TypeError:
        atoms = None
    if not atoms or not all(isinstance(a, Atom) for a in atoms):
        raise TypeError(f"orbitals must be None, a spec such as 'Ti: s,p,d; O: p', or a sequence of orbsym.materials.Atom, got {orbitals!r}")
    return atoms


# ---------------------------------------------------------------------------------------------- cells
def _embed(lat):
    """A (d, d) lattice (d = 2 or 3) as 3 rows; a 2D lattice gets the unit normal x |a_1| as a_3."""
    lat = np.asarray(lat, dtype=float)
    if lat.shape == (3, 3):
        return lat
    out = np.zeros((3, 3))
    out[:2, :2] = lat
    out[2, 2] = np.linalg.norm(lat[0])
    return out


def _physical_cell(lat, cell, where):
    """(cell (d, d), length_unit, energy_unit) from the package lattice ``lat`` (d, d) and ``cell=``."""
    if cell is None:
        return lat, "a", "t"
    d = lat.shape[0]
    if isinstance(cell, numbers.Real) and not isinstance(cell, bool):
        s = float(cell)
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"cell= as a number is the length of the {where} lattice unit in Angstrom and must be positive, got {cell!r}")
        return s * lat, "Angstrom", "eV"
    try:
        c = np.asarray(cell, dtype=float)
    except (TypeError, ValueError):
        c = None
    if c is None or c.shape != (d, d) or not np.all(np.isfinite(c)):
        raise ValueError(f"cell= must be a positive number (Angstrom per unit of the {where} lattice) or {d} lattice vectors as rows ({d} x {d}, Angstrom), got {cell!r}")
    s = float(np.sum(c * lat) / np.sum(lat * lat))
    if not s > 0 or np.abs(c - s * lat).max() > 1e-8 * np.abs(c).max():
        raise ValueError(
            f"cell= {c.tolist()} (Angstrom) is not a positive multiple of the {where} lattice {lat.tolist()}: the positions and the "
            "orbital labels refer to that lattice's Cartesian axes; pass the lattice constant in Angstrom (a number) or that lattice scaled"
        )
    return c, "Angstrom", "eV"


def _dense(M):
    """A hopping value as a dense complex array (scipy.sparse and NumPy alike)."""
    if hasattr(M, "toarray"):
        M = M.toarray()
    return np.asarray(M, dtype=complex)


def _model(cell, atoms, hop, *, spinful, spin_order, periodic, length_unit, energy_unit, name, where):
    try:
        return TightBinding(cell, atoms, hop, spinful=spinful, spin_order=spin_order, periodic=periodic,
                            length_unit=length_unit, energy_unit=energy_unit, name=name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------------------------------- sisl
def _sisl_atoms(sisl, geom, orbitals):
    """(atoms, signs (no,)) for a sisl Geometry (module docstring)."""
    spec = {}
    if orbitals is not None:
        if not isinstance(orbitals, str):
            atoms = _atom_list(orbitals)
            if sum(len(a.orbitals) for a in atoms) != geom.no:
                raise ValueError(f"the Atom list holds {sum(len(a.orbitals) for a in atoms)} orbitals, the sisl geometry {geom.no}")
            where = np.asarray(geom.xyz, dtype=float)[geom.o2a(np.arange(geom.no))]
            mine = np.array([a.position for a in atoms for _ in a.orbitals])
            bad = np.flatnonzero(np.abs(where - mine).max(axis=1) > POSITION_TOL * np.abs(geom.lattice.cell).max())
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"orbital {i + 1} of the Atom list sits at {mine[i].tolist()}, in the sisl geometry at {where[i].tolist()} (Angstrom)")
            return atoms, np.ones(geom.no)
        tags = {a.tag.lower() for a in geom.atoms} | {a.symbol.lower() for a in geom.atoms}
        for name, labels in _spec_entries(orbitals):
            if name.lower() not in tags:
                raise ValueError(f"orbitals={orbitals!r}: no atom of the sisl geometry is named {name!r}; its atoms are {sorted({a.tag for a in geom.atoms})}")
            spec[name.lower()] = spec.get(name.lower(), ()) + labels
    atoms, signs = [], []
    xyz = np.asarray(geom.xyz, dtype=float)
    for ia in range(geom.na):
        atom = geom.atoms[ia]
        key = atom.tag.lower() if atom.tag.lower() in spec else atom.symbol.lower()
        first = int(geom.firsto[ia])
        if key in spec:
            labels = list(spec[key])
            if len(labels) != atom.no:
                raise ValueError(f"orbitals={orbitals!r}: atom {ia} ({atom.tag}) has {atom.no} orbitals in sisl, the spec gives {len(labels)} ({', '.join(labels)})")
            sg = [1] * atom.no
        else:
            labels, sg = [], []
            for io, orb in enumerate(atom.orbitals):
                entry = SISL_HARMONICS.get((getattr(orb, "l", None), getattr(orb, "m", None))) if isinstance(orb, sisl.AtomicOrbital) else None
                lab, s = entry if entry is not None else (f"orb{first + io + 1}", 1)
                labels.append(lab)
                sg.append(s)
        signs += sg
        run = []
        for lab in labels:  # a label again (another zeta) starts another Atom at the same position
            if lab in run:
                atoms.append(Atom(atom.tag, xyz[ia], tuple(run)))
                run = []
            run.append(lab)
        atoms.append(Atom(atom.tag, xyz[ia], tuple(run)))
    return atoms, np.array(signs, dtype=float)


def from_sisl(H, orbitals=None, *, periodic=3):
    """A ``sisl.Hamiltonian`` as a :class:`TightBinding` (Angstrom, eV).

    sisl stores ``H`` as a sparse ``(no, no x n_s)`` matrix whose column ``j + s no`` is orbital ``j``
    in supercell ``s`` at lattice vector ``R = lattice.sc_off[s]`` (``nsc`` supercells per direction,
    ``R_i`` in ``-(nsc_i - 1)/2 .. (nsc_i - 1)/2``); the element ``(i, j + s no)`` is
    ``<0 i|H|R j> = H(R)_ij``, and ``H.Hk(k)`` (default lattice gauge, ``k`` in reduced coordinates)
    is Wannier90's convention II, ``H(k) = sum_R e^{2 pi i k.R} H(R)`` -- the model's
    ``hamiltonian(k, "II")`` at the Cartesian ``k = k_red @ reciprocal``, up to the orbital signs below.

    Parameters
    ----------
    H : sisl.Hamiltonian
        Orthogonal (no overlap matrix).  Spin classes: unpolarized (spinless model), polarized
        (spinful: ``H_up`` and ``H_down`` blocks, no spin mixing), non-colinear and spin-orbit
        (spinful, sisl's 2 x 2 spin boxes; ``H(R)`` recovered exactly from ``H.Hk`` on the
        ``nsc`` grid: ``H(R) = prod(nsc)^-1 sum_k e^{-2 pi i k.R} H(k)``).  Nambu is refused.
    orbitals : None, str or sequence of Atom
        None: labels from sisl's ``AtomicOrbital`` ``(l, m)`` (:data:`SISL_HARMONICS`; their sign
        relative to Wannier90's functions flipped, module docstring), other orbitals ``orb<i>``
        (``L = 0``).  A spec ``"Ti: s,p,d; O: p"`` asserts the labels of every atom tagged (or of
        element) ``Ti``, in sisl's orbital order (no sign flip).  A list of :class:`Atom` replaces
        atoms and labels entirely.
    periodic : {3, 2}
        2: a 2D crystal in the ``a_1, a_2`` plane (``nsc_3`` must be 1).

    Returns
    -------
    TightBinding
        Basis in sisl's orbital order (spinful: ``(orbital 1 up, orbital 1 down, ...)``), sisl's
        cell (rows, Angstrom), atom names = sisl atom tags.
    """
    sisl = _require("sisl", "from_sisl")
    if not isinstance(H, sisl.Hamiltonian):
        raise TypeError(f"from_sisl needs a sisl.Hamiltonian, got {type(H).__name__}")
    if not H.orthogonal:
        raise ValueError("the sisl Hamiltonian has an overlap matrix (non-orthogonal basis); orbsym's TightBinding needs orthonormal orbitals: orthogonalize it first")
    geom = H.geometry
    no = geom.no
    nsc = np.asarray(geom.lattice.nsc, dtype=int)
    if periodic == 2 and nsc[2] != 1:
        raise ValueError(f"periodic=2 needs no coupling along a_3, but the sisl lattice has nsc = {nsc.tolist()}")
    sc_off = np.asarray(geom.lattice.sc_off, dtype=int)
    atoms, signs = _sisl_atoms(sisl, geom, orbitals)
    spin = H.spin
    kinds = {k: bool(getattr(spin, f"is_{k}", False)) for k in ("unpolarized", "polarized", "noncolinear", "spinorbit")}
    kinds["noncolinear"] |= bool(getattr(spin, "is_noncollinear", False))  # the spelling of other sisl versions

    def component(dim):
        A = H.tocsr(dim).tocoo()
        out = {}
        s, j = np.divmod(A.col, no)
        for sc in np.unique(s):
            sel = s == sc
            M = np.zeros((no, no), complex)
            np.add.at(M, (A.row[sel], j[sel]), A.data[sel])
            out[tuple(int(v) for v in sc_off[sc])] = M
        return out

    if kinds["unpolarized"]:
        hop, spinful, n = component(0), False, no
    elif kinds["polarized"]:
        up, dn = component(0), component(1)
        hop, spinful, n = {}, True, 2 * no
        for R in set(up) | set(dn):
            M = np.zeros((n, n), complex)
            M[0::2, 0::2] = up.get(R, 0)
            M[1::2, 1::2] = dn.get(R, 0)
            hop[R] = M
    elif kinds["noncolinear"] or kinds["spinorbit"]:
        spinful, n = True, 2 * no
        present = set()
        for d in range(H.dim):
            present |= set(component(d))
        axes = [np.arange(m) / m for m in nsc]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
        Hk = np.empty(tuple(nsc) + (n, n), complex)
        for idx in np.ndindex(*nsc):
            Hk[idx] = np.asarray(H.Hk(grid[idx], format="array"))
        HR = np.fft.fftn(Hk, axes=(0, 1, 2)) / np.prod(nsc)
        hop = {}
        for R in present | {tuple(-v for v in R) for R in present}:
            hop[R] = HR[tuple(int(R[a]) % nsc[a] for a in range(3))]
    else:
        raise ValueError(f"sisl spin class {spin!s} is not supported (unpolarized, polarized, non-colinear and spin-orbit are)")
    hop.setdefault((0, 0, 0), np.zeros((n, n), complex))
    for R in list(hop):
        hop.setdefault(tuple(-v for v in R), np.zeros((n, n), complex))
    D = np.repeat(signs, 2) if spinful else signs
    hop = {R: D[:, None] * M * D[None, :] for R, M in hop.items()}
    return _model(np.asarray(geom.lattice.cell, dtype=float), atoms, hop, spinful=spinful, spin_order="interleaved", periodic=periodic,
                  length_unit="Angstrom", energy_unit="eV", name="sisl", where="sisl Hamiltonian")


# ---------------------------------------------------------------------------------------------- PythTB
def from_pythtb(model, cell=None, orbitals=None, *, spin_order=None):
    """A PythTB ``tb_model`` as a :class:`TightBinding`.

    PythTB (1.x, ``pythtb.tb_model``) stores on-site energies and hoppings ``set_hop(t, i, j, R)``,
    ``t = <i, 0|H|j, R> = H(R)_ij`` (the Hermitian partner ``H(-R)_ji = t^*`` implied), with orbital
    positions ``tau`` in reduced coordinates, and builds ``H(k)`` in convention I:
    ``H_ij(k) = sum_R e^{2 pi i k.(R + tau_j - tau_i)} H(R)_ij`` (``k`` reduced) -- the model's
    ``hamiltonian(k, "I")`` at the Cartesian ``k = k_red @ reciprocal``, element by element.

    Parameters
    ----------
    model : pythtb.tb_model
        ``dim_k = 3`` (``dim_r = 3``), or ``dim_k = 2`` with periodic directions ``a_1, a_2``
        (``dim_r = 2``, embedded with ``a_3`` normal, or ``dim_r = 3``).  ``nspin = 2``: spinful,
        PythTB's order (orbital 1 up, orbital 1 down, ...: "interleaved").
    cell : None, float or array_like (dim_r, dim_r)
        PythTB has no units.  None: natural units (``length_unit="a"``, ``energy_unit="t"``), the
        lattice as given.  A number: Angstrom per unit of PythTB's lattice; an array: the lattice in
        Angstrom (a positive multiple of PythTB's, else refused); energies are then eV.
    orbitals : None, str or sequence of Atom
        Module docstring: None gives generic labels (``L = 0``); a spec has one entry per atom in
        basis order (``"Ti: d; O: p; O: p"``), describing the spatial orbitals.
    spin_order : None or "interleaved"
        PythTB's own order (the only one).

    Returns
    -------
    TightBinding
        Basis in PythTB's orbital order.
    """
    pythtb = _require("pythtb", "from_pythtb")
    if not isinstance(model, pythtb.tb_model):
        raise TypeError(f"from_pythtb needs a pythtb.tb_model (PythTB 1.x), got {type(model).__name__}")
    dim_k, dim_r = int(model._dim_k), int(model._dim_r)
    per = [int(p) for p in model._per]
    if dim_k == 3:
        periodic = 3
    elif dim_k == 2 and per == [0, 1] and dim_r in (2, 3):
        periodic = 2
    else:
        raise ValueError(f"PythTB model with dim_k = {dim_k}, dim_r = {dim_r}, periodic directions {per}: orbsym models are 3D crystals, "
                         "or 2D crystals periodic along the first two lattice vectors (dim_k = 2, per = [0, 1])")
    lat = np.asarray(model.get_lat(), dtype=float)
    cell_d, lunit, eunit = _physical_cell(lat, cell, "PythTB")
    cell3 = _embed(cell_d)
    red = np.zeros((model._norb, 3))
    red[:, :dim_r] = np.asarray(model.get_orb(), dtype=float).reshape(model._norb, dim_r)
    tau = red @ cell3
    nspin = int(model._nspin)
    n = model._norb * nspin
    tol = POSITION_TOL * np.abs(cell3).max()
    taun = np.repeat(tau, nspin, axis=0)
    atoms, spinful, order = _identify(taun, orbitals, spin=nspin == 2, spin_order=spin_order, where="the PythTB model", tol=tol)

    def block(i):
        return slice(nspin * i, nspin * (i + 1))

    hop = {(0, 0, 0): np.zeros((n, n), complex)}
    E = np.asarray(model._site_energies, dtype=complex)
    for i in range(model._norb):
        hop[(0, 0, 0)][block(i), block(i)] += E[i]
    for amp, i, j, R in model._hoppings:
        R3 = [0, 0, 0]
        R3[:dim_r] = [int(v) for v in np.asarray(R).reshape(-1)[:dim_r]]
        R3 = tuple(R3)
        mR = tuple(-v for v in R3)
        t = np.asarray(amp, dtype=complex).reshape(nspin, nspin)
        for key in (R3, mR):
            hop.setdefault(key, np.zeros((n, n), complex))
        hop[R3][block(i), block(j)] += t
        hop[mR][block(j), block(i)] += t.conj().T
    return _model(cell3, atoms, hop, spinful=spinful, spin_order=order, periodic=periodic, length_unit=lunit, energy_unit=eunit,
                  name="pythtb", where="PythTB model")


# ---------------------------------------------------------------------------------------------- TBmodels
def from_tbmodels(model, cell=None, orbitals=None, *, spin_order=None):
    """A TBmodels ``Model`` as a :class:`TightBinding`.

    TBmodels stores half of the hoppings, ``model.hop = {R: T_R}`` (``R`` and ``-R`` not both, the
    on-site block halved), with ``H(k) = sum_R e^{2 pi i k.R'} T_R + h.c.``; so
    ``H(R) = T_R + T_{-R}^dagger``, ``H(R)_ij = <i, 0|H|j, R>`` (``add_hop(t, i, j, R)`` adds ``t`` to
    ``H(R)_ij``).  ``model.hamilton(k, convention=1)`` is convention I with the orbital positions
    ``model.pos`` (reduced coordinates), ``R' = R + tau_j - tau_i``; ``convention=2`` is
    convention II, ``R' = R`` -- the model's ``hamiltonian(k, "I")`` / ``(k, "II")`` at the
    Cartesian ``k = k_red @ reciprocal``.

    Parameters
    ----------
    model : tbmodels.Model
        ``dim = 3``, or ``dim = 2`` (a 2D crystal; ``a_3`` normal).  Dense or sparse.
    cell : None, float or array_like (dim, dim)
        TBmodels has no units.  None: natural units (``a``, ``t``) with ``model.uc`` (refused when the
        model has no ``uc``).  A number: Angstrom per unit of ``model.uc``; an array: the lattice in
        Angstrom (a positive multiple of ``model.uc``; any lattice when ``uc`` is None); energies eV.
    orbitals : None, str or sequence of Atom
        Module docstring (one spec entry per atom, in basis order).  TBmodels has no spin: a spec
        describing half the basis makes the model spinful in ``spin_order``.
    spin_order : {"interleaved", "block"}, optional
        Spinor order of a spinful model (default "interleaved").

    Returns
    -------
    TightBinding
        Basis in TBmodels' orbital order.
    """
    tbmodels = _require("tbmodels", "from_tbmodels")
    if not isinstance(model, tbmodels.Model):
        raise TypeError(f"from_tbmodels needs a tbmodels.Model, got {type(model).__name__}")
    dim = int(model.dim)
    if dim not in (2, 3):
        raise ValueError(f"TBmodels model of dimension {dim}: orbsym models are 3D or 2D crystals")
    if model.uc is None:
        if cell is None or isinstance(cell, numbers.Real):
            raise ValueError("the TBmodels model has no unit cell (uc=None): pass cell= its lattice vectors as rows (Angstrom)")
        c = np.asarray(cell, dtype=float)
        if c.shape != (dim, dim) or not np.all(np.isfinite(c)):
            raise ValueError(f"cell= must be {dim} lattice vectors as rows ({dim} x {dim}, Angstrom), got {cell!r}")
        cell_d, lunit, eunit = c, "Angstrom", "eV"
    else:
        cell_d, lunit, eunit = _physical_cell(np.asarray(model.uc, dtype=float), cell, "TBmodels")
    cell3 = _embed(cell_d)
    n = int(model.size)
    red = np.zeros((n, 3))
    red[:, :dim] = np.asarray(model.pos, dtype=float)
    tau = red @ cell3
    atoms, spinful, order = _identify(tau, orbitals, spin=False, spin_order=spin_order, where="the TBmodels model", tol=POSITION_TOL * np.abs(cell3).max())
    hop = {}
    for R, T in model.hop.items():
        R3 = tuple(int(v) for v in R) + (0,) * (3 - dim)
        T = _dense(T)
        mR = tuple(-v for v in R3)
        for key in (R3, mR):
            hop.setdefault(key, np.zeros((n, n), complex))
        hop[R3] += T
        hop[mR] += T.conj().T
    hop.setdefault((0, 0, 0), np.zeros((n, n), complex))
    return _model(cell3, atoms, hop, spinful=spinful, spin_order=order, periodic=dim, length_unit=lunit, energy_unit=eunit,
                  name="tbmodels", where="TBmodels model")


# ---------------------------------------------------------------------------------------------- qsymm
def _coefficient(coeff, params, where):
    """The number of a qsymm BlochCoeff's symbolic coefficient (a SymPy expression) at ``params``."""
    free = sorted(coeff.free_symbols, key=lambda s: s.name)
    missing = [s.name for s in free if s.name not in params]
    if missing:
        raise ValueError(f"{where}: the coefficient {coeff} needs values for {', '.join(missing)}: pass params={{{', '.join(repr(m) + ': ...' for m in missing)}}}")
    value = coeff.subs({s: params[s.name] for s in free}) if free else coeff
    try:
        return complex(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: the coefficient {coeff} is not a number at params ({value})") from None


def from_qsymm(model, cell, orbitals=None, *, params=None, positions=None, length_unit="a", spin_order=None):
    """A qsymm ``BlochModel`` as a :class:`TightBinding`.

    A ``BlochModel`` is ``{BlochCoeff(d, c): V}``: ``H(k) = sum c e^{i k.d} V`` with ``d`` a Cartesian
    hopping vector (the keys' ``hop``; qsymm's ``bloch_family`` puts the hop from site ``a`` to site
    ``b`` in the block ``[a, b]``) and ``c`` a symbolic coefficient (SymPy; free symbols are the
    model's parameters).  That is convention I: the element ``V_ij`` at ``d`` is
    ``H(R)_ij`` with ``d = R + tau_j - tau_i``, so ``R = d - (tau_j - tau_i)`` must be a lattice
    vector of ``cell`` for every nonzero element (refused otherwise, naming the element).  The
    model's ``hamiltonian(k, "I")`` at Cartesian ``k`` equals qsymm's ``H(k)``.

    Parameters
    ----------
    model : qsymm.BlochModel
        Matrix-valued, 2 or 3 momenta (2: a 2D crystal).
    cell : array_like (d, d)
        The lattice vectors as rows, in the length unit of the hopping vectors (qsymm has none).
    orbitals : None, str or sequence of Atom
        None: every orbital at the origin (all ``d`` must then be lattice vectors), generic labels.
        A sequence of :class:`Atom`: names, Cartesian positions (unit of ``cell``) and labels in
        basis order.  A spec ``"Ti: d; O: p"`` (one entry per atom) with ``positions``.
    params : dict, optional
        Values of the coefficients' symbols, by name (``{"t": 1.0, "c0": 0.2}``); a missing one is
        refused, never read as zero.
    positions : sequence of 3-vectors, optional
        With a spec: the Cartesian position of each entry's atom (unit of ``cell``).
    length_unit : {"a", "Angstrom"}
        The unit of ``cell`` and the hopping vectors: natural (``a``; energies ``t``) or Angstrom
        (energies eV).
    spin_order : {"interleaved", "block"}, optional
        qsymm has no spin: ``orbitals`` describing half the basis makes the model spinful in this
        order (default "interleaved", qsymm's ``kron(orbital, spin)``).
    """
    qsymm = _require("qsymm", "from_qsymm")
    if not isinstance(model, qsymm.BlochModel):
        raise TypeError(f"from_qsymm needs a qsymm.BlochModel (convert a Model with qsymm.BlochModel(model)), got {type(model).__name__}")
    if length_unit not in ("a", "Angstrom"):
        raise ValueError(f"length_unit must be 'a' (natural units, energies t) or 'Angstrom' (energies eV), got {length_unit!r}")
    params = {} if params is None else dict(params)
    params = {getattr(k, "name", k): v for k, v in params.items()}
    dim = len(model.momenta)
    if dim not in (2, 3):
        raise ValueError(f"qsymm model with {dim} momenta {model.momenta}: orbsym models are 3D or 2D crystals")
    try:
        c = np.asarray(cell, dtype=float)
    except (TypeError, ValueError):
        c = None
    if c is None or c.shape != (dim, dim) or not np.all(np.isfinite(c)) or abs(np.linalg.det(c)) < 1e-12:
        raise ValueError(f"cell must be {dim} linearly independent lattice vectors as rows ({dim} x {dim}, unit of the hopping vectors), got {cell!r}")
    cell3 = _embed(c)
    shape = tuple(model.shape)
    if len(shape) == 0:
        n = 1
    elif len(shape) == 2 and shape[0] == shape[1]:
        n = shape[0]
    else:
        raise ValueError(f"the qsymm model must be a square matrix, got shape {shape}")
    tol = POSITION_TOL * np.abs(cell3).max()
    if orbitals is None:
        tau = np.zeros((n, 3))
        atoms, spinful, order = _identify(tau, None, spin=False, spin_order=spin_order, where="the qsymm model", tol=tol)
    elif isinstance(orbitals, str):
        entries = _spec_entries(orbitals)
        if positions is None:
            raise ValueError(f"orbitals={orbitals!r}: qsymm models hold no positions; pass positions= one Cartesian 3-vector per entry, or a list of orbsym Atom")
        pos = np.asarray(positions, dtype=float)
        if pos.shape != (len(entries), 3) or not np.all(np.isfinite(pos)):
            raise ValueError(f"positions must be {len(entries)} Cartesian 3-vectors (one per entry of orbitals={orbitals!r}), got {positions!r}")
        atoms = [Atom(name, p, labels) for (name, labels), p in zip(entries, pos)]
        spinful, order = _spin_layout(n, sum(len(a.orbitals) for a in atoms), False, spin_order, "the qsymm model")
    else:
        atoms = _atom_list(orbitals)
        spinful, order = _spin_layout(n, sum(len(a.orbitals) for a in atoms), False, spin_order, "the qsymm model")
    if orbitals is not None:
        spatial = np.array([a.position for a in atoms for _ in a.orbitals])
        if not spinful:
            tau = spatial
        elif order == "interleaved":
            tau = np.repeat(spatial, 2, axis=0)
        else:
            tau = np.concatenate([spatial, spatial])
    inv = np.linalg.inv(cell3)
    delta = tau[None, :, :] - tau[:, None, :]  # tau_j - tau_i
    hop = {(0, 0, 0): np.zeros((n, n), complex)}
    for key, V in model.items():
        d, coeff = key
        d3 = np.zeros(3)
        d3[:dim] = np.asarray(d, dtype=float)
        where = f"qsymm term with hopping vector {np.asarray(d, dtype=float).tolist()}"
        val = _coefficient(coeff, params, where) * _dense(V).reshape(n, n)
        ii, jj = np.nonzero(val)
        frac = (d3[None, :] - delta[ii, jj]) @ inv
        Rint = np.rint(frac)
        bad = np.flatnonzero(np.abs(frac - Rint).max(axis=1) > 1e-6) if len(ii) else []
        if len(bad):
            b = bad[0]
            raise ValueError(
                f"{where}: element ({ii[b]}, {jj[b]}) would need R = d - (tau_j - tau_i) = {frac[b].round(6).tolist()} (cell coordinates), "
                "not a lattice vector: the orbital positions (orbitals=, positions=) or the cell do not match the model"
            )
        for i, j, R in zip(ii, jj, Rint.astype(int)):
            Rt = tuple(int(v) for v in R)
            if Rt not in hop:
                hop[Rt] = np.zeros((n, n), complex)
            hop[Rt][i, j] += val[i, j]
    for R in list(hop):
        hop.setdefault(tuple(-v for v in R), np.zeros((n, n), complex))
    return _model(cell3, atoms, hop, spinful=spinful, spin_order=order, periodic=dim, length_unit=length_unit,
                  energy_unit="t" if length_unit == "a" else "eV", name="qsymm", where="qsymm model")


# ---------------------------------------------------------------------------------------------- exports
def _interleaved(model):
    """H(R) of ``model`` with spinors interleaved (a block-ordered model permuted), and the permutation."""
    if not model.spinful or model.spin_order == "interleaved":
        return model.H, np.arange(model.n)
    m = model.n // 2
    perm = np.ravel(np.column_stack([np.arange(m), np.arange(m) + m]))  # new index -> old index
    return model.H[:, perm[:, None], perm[None, :]], perm


def to_pythtb(model):
    """A :class:`TightBinding` as a PythTB ``tb_model`` (the reverse of :func:`from_pythtb`).

    ``dim_k = dim_r = 3`` (``periodic=2``: 2 and 2, ``a_3`` dropped); lattice = ``model.cell`` as numbers
    (PythTB has no units: they stay the model's, ``length_unit``/``energy_unit``); orbital positions
    reduced; ``set_hop(H(R)_ij, i, j, R)`` once per pair ``(R, -R)``, so PythTB's convention-I ``H(k)``
    equals ``model.hamiltonian(k, "I")``.  A spinful model becomes ``nspin = 2`` (2 x 2 blocks; a
    "block" spin order is permuted to PythTB's interleaved one).
    """
    pythtb = _require("pythtb", "to_pythtb")
    if not isinstance(model, TightBinding):
        raise TypeError(f"to_pythtb needs an orbsym.materials.TightBinding, got {type(model).__name__}")
    d = model.periodic
    H, perm = _interleaved(model)
    nspin = 2 if model.spinful else 1
    norb = model.n // nspin
    red = model.positions[perm][::nspin] @ np.linalg.inv(model.cell)
    out = pythtb.tb_model(d, d, model.cell[:d, :d].tolist(), red[:, :d].tolist(), nspin=nspin)
    z = int(np.flatnonzero(np.all(model.R == 0, axis=1))[0])
    blocks = H.reshape(len(model.R), norb, nspin, norb, nspin).transpose(0, 1, 3, 2, 4)
    onsite = [blocks[z, i, i].real if nspin == 1 else blocks[z, i, i] for i in range(norb)]
    out.set_onsite([float(o.item()) for o in onsite] if nspin == 1 else [np.asarray(o) for o in onsite])
    index = {tuple(r): a for a, r in enumerate(model.R)}
    for a, R in enumerate(model.R):
        Rt = tuple(int(v) for v in R)
        if Rt < tuple(-v for v in Rt):  # the partner -R carries these bonds
            continue
        for i in range(norb):
            for j in range(norb):
                if Rt == (0, 0, 0) and j <= i:
                    continue
                t = blocks[index[Rt], i, j]
                if np.any(t != 0):
                    out.set_hop(t.item() if nspin == 1 else t, i, j, list(Rt[:d]))
    return out


def to_sisl(model):
    """A :class:`TightBinding` (Angstrom, eV) as a ``sisl.Hamiltonian`` (the reverse of :func:`from_sisl`).

    Real-harmonic labels become ``sisl.AtomicOrbital(l, m)`` with the SIESTA sign (``H -> D H D``,
    :data:`SISL_HARMONICS`), other labels ``sisl.Orbital`` with the label as tag; ``nsc = 2 max|R_i| + 1``;
    a spinful model becomes sisl's ``spin-orbit`` class (complex, interleaved spin boxes).  Natural-unit
    models (``a``/``t``) are refused: sisl works in Angstrom and eV.  The result's ``Hk`` is checked
    against the model at one k (a different sisl storage of spin boxes raises RuntimeError).
    """
    sisl = _require("sisl", "to_sisl")
    if not isinstance(model, TightBinding):
        raise TypeError(f"to_sisl needs an orbsym.materials.TightBinding, got {type(model).__name__}")
    if model.length_unit != "Angstrom":
        raise ValueError(f"model {model.name!r} is in natural units (a, t); sisl works in Angstrom and eV: build it with a physical cell")
    inverse = {lab: (lm, s) for lm, (lab, s) in SISL_HARMONICS.items()}
    sisl_atoms, signs = [], []
    for atom in model.atoms:
        orbs = []
        for lab in atom.orbitals:
            if lab in inverse:
                (l, m), s = inverse[lab]
                orbs.append(sisl.AtomicOrbital(n=l + 1, l=l, m=m, R=-1.0))
                signs.append(s)
            else:
                orbs.append(sisl.Orbital(-1.0, tag=lab))
                signs.append(1)
        symbol = re.match(r"[A-Za-z]*", atom.name).group(0)
        try:  # the element of the name ('Ti1' -> Ti), else sisl's unknown atom (Z = 1000), tagged with the name
            sisl_atoms.append(sisl.Atom(symbol, tag=atom.name, orbitals=orbs))
        except (ValueError, KeyError):
            sisl_atoms.append(sisl.Atom(1000, tag=atom.name, orbitals=orbs))
    H, _ = _interleaved(model)
    nspin = 2 if model.spinful else 1
    D = np.repeat(np.array(signs, float), nspin)
    H = D[None, :, None] * H * D[None, None, :]
    nsc = [2 * int(np.abs(model.R[:, a]).max()) + 1 for a in range(3)]
    geom = sisl.Geometry([a.position for a in model.atoms], atoms=sisl_atoms, lattice=sisl.Lattice(model.cell, nsc=nsc))
    no = geom.no
    out = sisl.Hamiltonian(geom, dtype=complex, spin="spin-orbit" if model.spinful else "unpolarized")
    for R, M in zip(model.R, H):
        off = geom.lattice.sc_index(tuple(int(v) for v in R)) * no
        if nspin == 2:
            M = np.stack([M[0::2, 0::2], M[1::2, 1::2], M[0::2, 1::2], M[1::2, 0::2]], axis=-1)  # uu, dd, ud, du
        for i in range(no):
            row = M[i]
            js = np.flatnonzero(np.any(row != 0, axis=-1)) if nspin == 2 else np.flatnonzero(row != 0)
            if js.size:
                out[i, js + off] = row[js]
    kr = np.array([0.1234, 0.2345, 0.3456])
    Hs = np.asarray(out.Hk(kr, format="array"))
    perm = _interleaved(model)[1]
    ref = D[:, None] * model.hamiltonian(model.k_cartesian(kr))[perm[:, None], perm[None, :]] * D[None, :]
    if np.abs(Hs - ref).max() > 1e-9 * max(1.0, np.abs(ref).max()):
        raise RuntimeError(f"sisl {sisl.__version__} stores this spin class differently from what to_sisl writes; please report (tested with sisl 0.20)")
    return out
