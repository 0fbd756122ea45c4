"""Slater-Koster tight-binding models: two-centre s, p, d integrals on any lattice, and shipped metals.

Two-centre integrals
--------------------
For an orbital ``a`` on the atom at the origin and an orbital ``b`` on an atom at ``d = |d| (l, m, n)``
(direction cosines ``l, m, n``), the two-centre approximation writes the hopping

    E_ab(l, m, n) = <a, 0| H |b, d> = sum_{mu = sigma, pi, delta} c^mu_ab(l, m, n) V_{l_a l_b mu},

with the bond integrals ``V`` of the bond frame (bond along z: ``sigma`` for ``|m| = 0``, ``pi`` for
``|m| = 1``, ``delta`` for ``|m| = 2``) and the polynomials ``c`` of J. C. Slater and G. F. Koster,
"Simplified LCAO method for the periodic potential problem", Phys. Rev. 94, 1498 (1954), Table I.
They are written out below for every ordered pair with ``l_a <= l_b`` (the entries Table I leaves to
cyclic permutation included).  The parameter names are

    ss_sigma, sp_sigma, pp_sigma, pp_pi, sd_sigma, pd_sigma, pd_pi, dd_sigma, dd_pi, dd_delta

with the usual sign convention: ``sp_sigma = <s|H|p_z at +d z>`` (the p lobe pointing from the s atom
toward the p atom), and likewise for ``sd``, ``pd``.  The reversed order (``l_a > l_b``, e.g. a p
orbital on the origin atom and an s orbital on the neighbour) follows from the parity of the real
harmonics,

    E_ba(l, m, n) = (-1)^(l_a + l_b) E_ab(l, m, n)      (same two-centre integral),

and uses the parameters ``ps_sigma, ds_sigma, dp_sigma, dp_pi`` -- the integrals with the higher-l
orbital on the origin atom -- which equal ``sp_sigma, sd_sigma, pd_sigma, pd_pi`` between atoms of one
species (:func:`sk_block` takes them as defaults only when told the bond is between one species).

Orbital order and labels are Wannier90's real harmonics: ``s``; ``pz, px, py``; ``dz2, dxz, dyz,
dx2-y2, dxy`` (``dz2`` proportional to ``3z^2 - r^2``, the others to ``xz, yz, x^2 - y^2, xy``, all with
positive coefficients).  Any subset, in any order, may be given.

Model
-----
:func:`slater_koster` builds a :class:`~orbsym.materials.model.TightBinding` with

    H(R)_ij = <0, i| H |R, j> = E_{a_i b_j}(R + tau_j - tau_i)      (for a bond in a listed shell),
    H(0)_ii = the on-site energy of orbital i,

plus the optional Stoner exchange ``-(1/2) Delta . sigma`` on every orbital of an atom and the
spin-orbit coupling ``lambda L.S`` of :func:`orbsym.materials.shells.soc_matrix` (spinful models).
:func:`material` returns a shipped parameter set (:data:`MATERIALS`), read from the JSON files in
``orbsym/materials/data`` (never executed).

Units: energies in eV and lengths in Angstrom (the shipped sets are stored in the units the source
prints them in, Ry and bohr, and converted with :data:`RYDBERG_EV` and :data:`BOHR_ANGSTROM`).
No SymPy in this module.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..numeric.checks import unknown_name
from .model import Atom, TightBinding

__all__ = [
    "ORBITAL_L",
    "PARAMETERS",
    "REVERSED_PARAMETERS",
    "MATERIALS",
    "RYDBERG_EV",
    "BOHR_ANGSTROM",
    "sk_block",
    "slater_koster",
    "material",
    "material_data",
    "lattice",
]

#: Angular momentum of every supported orbital label (Wannier90's real harmonics, Wannier90's order).
ORBITAL_L = {"s": 0, "pz": 1, "px": 1, "py": 1, "dz2": 2, "dxz": 2, "dyz": 2, "dx2-y2": 2, "dxy": 2}
#: The two-centre bond integrals, lower-l orbital on the origin atom.
PARAMETERS = ("ss_sigma", "sp_sigma", "pp_sigma", "pp_pi", "sd_sigma", "pd_sigma", "pd_pi", "dd_sigma", "dd_pi", "dd_delta")
#: Reversed-order integrals (higher-l orbital on the origin atom) and their same-species partner.
REVERSED_PARAMETERS = {"ps_sigma": "sp_sigma", "ds_sigma": "sd_sigma", "dp_sigma": "pd_sigma", "dp_pi": "pd_pi"}
_ALL_PARAMETERS = PARAMETERS + tuple(REVERSED_PARAMETERS)
#: Bond integrals needed by each pair of shells (l_a, l_b) with l_a <= l_b.
_PAIR_PARAMETERS = {
    (0, 0): ("ss_sigma",),
    (0, 1): ("sp_sigma",),
    (1, 1): ("pp_sigma", "pp_pi"),
    (0, 2): ("sd_sigma",),
    (1, 2): ("pd_sigma", "pd_pi"),
    (2, 2): ("dd_sigma", "dd_pi", "dd_delta"),
}
_REVERSED_PAIR_PARAMETERS = {(1, 0): ("ps_sigma",), (2, 0): ("ds_sigma",), (2, 1): ("dp_sigma", "dp_pi")}
#: On-site keys: a label, a shell letter, or the cubic crystal-field sets of the d shell.
_ONSITE_GROUPS = {
    "s": ("s",),
    "p": ("pz", "px", "py"),
    "d": ("dz2", "dxz", "dyz", "dx2-y2", "dxy"),
    "t2g": ("dxz", "dyz", "dxy"),
    "eg": ("dz2", "dx2-y2"),
}
#: CODATA 2018: the Rydberg energy in eV and the Bohr radius in Angstrom.
RYDBERG_EV = 13.605693122994
BOHR_ANGSTROM = 0.529177210903
_UNITS = {"eV": 1.0, "Ry": RYDBERG_EV, "Angstrom": 1.0, "bohr": BOHR_ANGSTROM}
_DATA = Path(__file__).with_name("data")

S3 = math.sqrt(3.0)


# ---------------------------------------------------------------------------------------- table
def _table(a, b, l, m, n, V):
    """Slater-Koster Table I entry ``E_ab(l, m, n)`` for ``l_a <= l_b`` (arrays ``l, m, n``; ``V`` the integrals)."""
    l2, m2, n2 = l * l, m * m, n * n
    key = (a, b)
    # s-s, s-p, s-d
    if key == ("s", "s"):
        return V["ss_sigma"] * np.ones_like(l)
    if a == "s" and b in ("px", "py", "pz"):
        return {"px": l, "py": m, "pz": n}[b] * V["sp_sigma"]
    if a == "s":
        c = {
            "dxy": S3 * l * m,
            "dyz": S3 * m * n,
            "dxz": S3 * n * l,
            "dx2-y2": 0.5 * S3 * (l2 - m2),
            "dz2": n2 - 0.5 * (l2 + m2),
        }[b]
        return c * V["sd_sigma"]
    # p-p (symmetric)
    cos = {"px": l, "py": m, "pz": n}
    if b in cos:
        ca, cb = cos[a], cos[b]
        if a == b:
            return ca * ca * V["pp_sigma"] + (1.0 - ca * ca) * V["pp_pi"]
        return ca * cb * (V["pp_sigma"] - V["pp_pi"])
    if a in cos:
        return _pd(a, b, l, m, n, l2, m2, n2, V["pd_sigma"], V["pd_pi"])
    return _dd(a, b, l, m, n, l2, m2, n2, V["dd_sigma"], V["dd_pi"], V["dd_delta"])


def _pd(a, b, l, m, n, l2, m2, n2, s, p):
    """p-d entries of Table I (p orbital ``a`` on the origin atom, d orbital ``b`` on the neighbour)."""
    lmn = l * m * n
    if b == "dxy":
        return {
            "px": S3 * l2 * m * s + m * (1 - 2 * l2) * p,
            "py": S3 * m2 * l * s + l * (1 - 2 * m2) * p,
            "pz": S3 * lmn * s - 2 * lmn * p,
        }[a]
    if b == "dyz":
        return {
            "px": S3 * lmn * s - 2 * lmn * p,
            "py": S3 * m2 * n * s + n * (1 - 2 * m2) * p,
            "pz": S3 * n2 * m * s + m * (1 - 2 * n2) * p,
        }[a]
    if b == "dxz":
        return {
            "px": S3 * l2 * n * s + n * (1 - 2 * l2) * p,
            "py": S3 * lmn * s - 2 * lmn * p,
            "pz": S3 * n2 * l * s + l * (1 - 2 * n2) * p,
        }[a]
    if b == "dx2-y2":
        d = l2 - m2
        return {
            "px": 0.5 * S3 * l * d * s + l * (1 - d) * p,
            "py": 0.5 * S3 * m * d * s - m * (1 + d) * p,
            "pz": 0.5 * S3 * n * d * s - n * d * p,
        }[a]
    # dz2
    z = n2 - 0.5 * (l2 + m2)
    return {
        "px": l * z * s - S3 * l * n2 * p,
        "py": m * z * s - S3 * m * n2 * p,
        "pz": n * z * s + S3 * n * (l2 + m2) * p,
    }[a]


def _dd(a, b, l, m, n, l2, m2, n2, s, p, d):
    """d-d entries of Table I (symmetric in ``a, b``)."""
    order = ("dxy", "dyz", "dxz", "dx2-y2", "dz2")
    if order.index(a) > order.index(b):
        a, b = b, a
    key = (a, b)
    dxy = l2 - m2
    z = n2 - 0.5 * (l2 + m2)
    if key == ("dxy", "dxy"):
        return 3 * l2 * m2 * s + (l2 + m2 - 4 * l2 * m2) * p + (n2 + l2 * m2) * d
    if key == ("dyz", "dyz"):
        return 3 * m2 * n2 * s + (m2 + n2 - 4 * m2 * n2) * p + (l2 + m2 * n2) * d
    if key == ("dxz", "dxz"):
        return 3 * n2 * l2 * s + (n2 + l2 - 4 * n2 * l2) * p + (m2 + n2 * l2) * d
    if key == ("dxy", "dyz"):
        return 3 * l * m2 * n * s + l * n * (1 - 4 * m2) * p + l * n * (m2 - 1) * d
    if key == ("dyz", "dxz"):
        return 3 * m * n2 * l * s + m * l * (1 - 4 * n2) * p + m * l * (n2 - 1) * d
    if key == ("dxy", "dxz"):
        return 3 * l2 * m * n * s + m * n * (1 - 4 * l2) * p + m * n * (l2 - 1) * d
    if key == ("dxy", "dx2-y2"):
        return 1.5 * l * m * dxy * s - 2 * l * m * dxy * p + 0.5 * l * m * dxy * d
    if key == ("dyz", "dx2-y2"):
        return 1.5 * m * n * dxy * s - m * n * (1 + 2 * dxy) * p + m * n * (1 + 0.5 * dxy) * d
    if key == ("dxz", "dx2-y2"):
        return 1.5 * n * l * dxy * s + n * l * (1 - 2 * dxy) * p - n * l * (1 - 0.5 * dxy) * d
    if key == ("dxy", "dz2"):
        return S3 * l * m * z * s - 2 * S3 * l * m * n2 * p + 0.5 * S3 * l * m * (1 + n2) * d
    if key == ("dyz", "dz2"):
        return S3 * m * n * z * s + S3 * m * n * (l2 + m2 - n2) * p - 0.5 * S3 * m * n * (l2 + m2) * d
    if key == ("dxz", "dz2"):
        return S3 * l * n * z * s + S3 * l * n * (l2 + m2 - n2) * p - 0.5 * S3 * l * n * (l2 + m2) * d
    if key == ("dx2-y2", "dx2-y2"):
        return 0.75 * dxy * dxy * s + (l2 + m2 - dxy * dxy) * p + (n2 + 0.25 * dxy * dxy) * d
    if key == ("dx2-y2", "dz2"):
        return 0.5 * S3 * dxy * z * s - S3 * n2 * dxy * p + 0.25 * S3 * (1 + n2) * dxy * d
    # dz2, dz2
    return z * z * s + 3 * n2 * (l2 + m2) * p + 0.75 * (l2 + m2) ** 2 * d


def _check_labels(labels, where):
    if isinstance(labels, str):
        labels = (labels,)
    labels = tuple(labels)
    for lab in labels:
        if lab not in ORBITAL_L:
            raise unknown_name(f"orbital label in {where}", lab, ORBITAL_L)
    if not labels:
        raise ValueError(f"{where} must name at least one orbital ({', '.join(ORBITAL_L)})")
    return labels


def _check_params(params, where="params"):
    if not isinstance(params, Mapping):
        raise TypeError(f"{where} must be a dict of bond integrals {{name: value}}, got {type(params).__name__}")
    out = {}
    for k, v in params.items():
        if k not in _ALL_PARAMETERS:
            raise unknown_name(f"Slater-Koster parameter in {where}", k, _ALL_PARAMETERS)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise ValueError(f"Slater-Koster parameter {k} in {where} must be a finite real number (energy), got {v!r}")
        out[k] = float(v)
    return out


def sk_block(labels_i, labels_j, direction, params, *, same_species=True):
    """Two-centre hopping block ``E_ab(l, m, n) = <a, 0|H|b, d>`` for orbitals ``a`` of ``labels_i``, ``b`` of ``labels_j``.

    Parameters
    ----------
    labels_i, labels_j : sequence of str
        Orbital labels (Wannier90 real harmonics: ``s``, ``pz``, ``px``, ``py``, ``dz2``, ``dxz``, ``dyz``,
        ``dx2-y2``, ``dxy``) of the atom at the origin (rows) and of the neighbour (columns).
    direction : array_like, shape (..., 3)
        Bond vector(s) ``d`` from the origin atom to the neighbour (any length > 0; normalized here).
    params : dict
        Bond integrals (energy): ``ss_sigma, sp_sigma, pp_sigma, pp_pi, sd_sigma, pd_sigma, pd_pi,
        dd_sigma, dd_pi, dd_delta`` -- every one that a present orbital pair needs, a missing one is
        refused (never read as 0) -- and, for the reversed order (the higher-l orbital on the origin
        atom), ``ps_sigma, ds_sigma, dp_sigma, dp_pi``.
    same_species : bool
        The two atoms are of one species: a missing reversed integral is its partner (``ps_sigma =
        sp_sigma`` etc.).  With ``False`` the reversed integrals must be given.

    Returns
    -------
    ndarray, shape (..., len(labels_i), len(labels_j))
        Real matrices: Slater and Koster, Phys. Rev. 94, 1498 (1954), Table I, with
        ``E_ba = (-1)^(l_a + l_b) E_ab`` for the reversed order (module docstring).
    """
    li = _check_labels(labels_i, "labels_i")
    lj = _check_labels(labels_j, "labels_j")
    V = _check_params(params)
    d = np.asarray(direction, dtype=float)
    if d.shape[-1:] != (3,) or not np.all(np.isfinite(d)):
        raise ValueError(f"direction must be finite bond vector(s) of shape (..., 3), got shape {d.shape}")
    norm = np.linalg.norm(d, axis=-1)
    if np.any(norm < 1e-12):
        raise ValueError("direction must be nonzero (a bond between two different centres)")
    u = d / norm[..., None]
    l, m, n = u[..., 0], u[..., 1], u[..., 2]
    out = np.empty(u.shape[:-1] + (len(li), len(lj)))
    for a_i, a in enumerate(li):
        la = ORBITAL_L[a]
        for b_j, b in enumerate(lj):
            lb = ORBITAL_L[b]
            if la <= lb:
                needed = _PAIR_PARAMETERS[(la, lb)]
                Vp = {}
                for k in needed:
                    if k not in V:
                        raise ValueError(f"missing Slater-Koster parameter {k!r} for the orbital pair ({a}, {b}); given: {sorted(V) or 'none'}")
                    Vp[k] = V[k]
                out[..., a_i, b_j] = _table(a, b, l, m, n, Vp)
            else:  # reversed order: E_ab = (-1)^(la+lb) Table_ba(l, m, n) with the reversed integrals
                Vp = {}
                for k, partner in zip(_REVERSED_PAIR_PARAMETERS[(la, lb)], _PAIR_PARAMETERS[(lb, la)]):
                    if k in V:
                        Vp[partner] = V[k]
                    elif same_species and partner in V:
                        Vp[partner] = V[partner]
                    else:
                        extra = f" (or {partner!r}: one species)" if same_species else " (atoms of two species: the reversed integral must be given)"
                        raise ValueError(f"missing Slater-Koster parameter {k!r}{extra} for the orbital pair ({a}, {b}); given: {sorted(V) or 'none'}")
                out[..., a_i, b_j] = (-1) ** (la + lb) * _table(b, a, l, m, n, Vp)
    return out


# ---------------------------------------------------------------------------------------- builder
def _swap_roles(params):
    """The integrals of a bond seen from the other atom: ``sp <-> ps``, ``sd <-> ds``, ``pd <-> dp``."""
    swap = {**{k: v for k, v in REVERSED_PARAMETERS.items()}, **{v: k for k, v in REVERSED_PARAMETERS.items()}}
    return {swap.get(k, k): v for k, v in params.items()}


def _onsite_energies(atom, spec):
    """On-site energy of every orbital of ``atom`` from ``{key: E}`` (label > t2g/eg > shell letter)."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"on-site energies of atom {atom.name!r} must be a dict {{orbital key: energy}}, got {type(spec).__name__}")
    allowed = tuple(ORBITAL_L) + tuple(_ONSITE_GROUPS)
    for k, v in spec.items():
        if k not in allowed:
            raise unknown_name(f"on-site key for atom {atom.name!r}", k, allowed)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise ValueError(f"on-site energy {k!r} of atom {atom.name!r} must be a finite real number, got {v!r}")
    out = []
    for lab in atom.orbitals:
        rank = [k for k in (lab, "t2g" if lab in _ONSITE_GROUPS["t2g"] else "eg" if lab in _ONSITE_GROUPS["eg"] else None, lab[0]) if k]
        hit = [k for k in rank if k in spec and lab in _ONSITE_GROUPS.get(k, (k,))]
        if not hit:
            raise ValueError(f"no on-site energy for orbital {lab!r} of atom {atom.name!r}: give one of {rank}; given: {sorted(spec)}")
        out.append(float(spec[hit[0]]))
    return out


def _lattice_vectors_within(cell, radius):
    """Every lattice vector ``R`` (integer triple) with ``|R . cell| <= radius`` (a superset: a bounding box)."""
    recip = np.linalg.inv(cell).T  # rows b_i / 2 pi: n_i = r . b_i / 2 pi, |n_i| <= radius |b_i| / 2 pi
    nmax = np.floor(radius * np.linalg.norm(recip, axis=1)).astype(int) + 1
    axes = [np.arange(-k, k + 1) for k in nmax]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def _pair_key(neighbours, a, b):
    """The shell list and the role of the pair of atom names (a, b): (shells, swapped) or None."""
    if (a, b) in neighbours:
        return neighbours[(a, b)], False
    if (b, a) in neighbours:
        return neighbours[(b, a)], True
    return None


def _normalize_neighbours(neighbours, atoms):
    names = sorted({a.name for a in atoms})
    if isinstance(neighbours, (list, tuple)):
        if len(names) != 1:
            raise ValueError(f"neighbours given as one list of shells needs a crystal of one species; the atoms are {names}: give {{(name_i, name_j): [shells]}}")
        neighbours = {(names[0], names[0]): neighbours}
    if not isinstance(neighbours, Mapping) or not neighbours:
        raise TypeError("neighbours must be a list of shells (one species) or a dict {(name_i, name_j): [shell, ...]}")
    out = {}
    for key, shells in neighbours.items():
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)):
            raise ValueError(f"a neighbours key must be a pair of atom names (name_i, name_j), got {key!r}")
        for k in key:
            if k not in names:
                raise ValueError(f"neighbours name atom {k!r}, but the atoms are {names}")
        if (key[1], key[0]) in out and key[0] != key[1]:
            raise ValueError(f"neighbours give both {key} and {(key[1], key[0])}: give each pair of species once")
        if isinstance(shells, Mapping):
            shells = [shells]
        if not isinstance(shells, (list, tuple)) or not shells:
            raise ValueError(f"neighbours[{key!r}] must be a non-empty list of shells (dicts of bond integrals, optionally with 'distance')")
        parsed = []
        for s_i, shell in enumerate(shells):
            if not isinstance(shell, Mapping):
                raise TypeError(f"shell {s_i} of {key} must be a dict of bond integrals (and optionally 'distance'), got {type(shell).__name__}")
            dist = shell.get("distance")
            if dist is not None:
                if isinstance(dist, (bool, np.bool_)) or not isinstance(dist, numbers.Real) or not float(dist) > 0 or not math.isfinite(float(dist)):
                    raise ValueError(f"shell {s_i} of {key}: distance must be a positive length, got {dist!r}")
                dist = float(dist)
            params = _check_params({k: v for k, v in shell.items() if k != "distance"}, where=f"shell {s_i} of {key}")
            parsed.append((dist, params))
        has = [d is not None for d, _ in parsed]
        if any(has) and not all(has):
            raise ValueError(f"shells of {key}: give a 'distance' for every shell or for none (then they are the first {len(parsed)} shells)")
        out[key] = parsed
    return out


def _distances(atoms, cell, a, b, radius):
    """Cartesian bond vectors ``R + tau_b - tau_a`` (nonzero, length <= radius) and their ``R``."""
    R = _lattice_vectors_within(cell, radius + np.linalg.norm(np.subtract(atoms[b].position, atoms[a].position)))
    vec = R @ cell + np.subtract(atoms[b].position, atoms[a].position)
    dist = np.linalg.norm(vec, axis=1)
    keep = (dist > 1e-9) & (dist <= radius)
    return R[keep], vec[keep], dist[keep]


def _distinct(dists, tol):
    out = []
    for d in np.sort(dists):
        if not out or d - out[-1] > tol:
            out.append(float(d))
    return out


def slater_koster(cell, atoms, onsite, neighbours, *, spinful=False, soc=None, exchange=None, cutoff_tol=1e-6, spin_order="interleaved", name="slater-koster", length_unit="Angstrom", energy_unit="eV"):
    """A two-centre Slater-Koster tight-binding model of a crystal.

    Parameters
    ----------
    cell : array_like, shape (3, 3)
        Lattice vectors as rows (``length_unit``).
    atoms : sequence of :class:`~orbsym.materials.model.Atom`
        Positions (Cartesian) and orbital labels (Wannier90 real harmonics, any subset).
    onsite : dict
        On-site energies: ``{key: E}`` for every atom, or ``{atom name: {key: E}}``.  A key is an
        orbital label (``"dxy"``), ``"t2g"`` (dxz, dyz, dxy) or ``"eg"`` (dz2, dx2-y2) -- the cubic
        crystal-field split -- or a shell letter ``"s"``, ``"p"``, ``"d"``; the most specific one
        present applies.  Every orbital must get one.
    neighbours : list or dict
        Shells of neighbours with their bond integrals (names of :data:`PARAMETERS`; the reversed
        ``ps_sigma, ds_sigma, dp_sigma, dp_pi`` too between two species).  For one species a list of
        shells, else ``{(name_i, name_j): [shell, ...]}`` (each pair of species once; ``sp_sigma`` then
        has its s orbital on ``name_i``).  A shell is a dict of integrals with an optional
        ``"distance"`` (length): with distances, every bond of that length (within ``cutoff_tol``)
        gets the shell's integrals; without, the list is the first ``N`` shells (distinct bond
        lengths) of that pair.  A shell with no bond is refused, naming its distance.
    spinful : bool
        Spin up and down for every orbital (``spin_order`` as in :class:`TightBinding`).
    soc : dict or float, optional
        Spin-orbit ``lambda`` (energy) per atom name (or one value for all): adds
        ``orbsym.materials.shells.soc_matrix(labels, lam, order)`` to each atom's block.  Needs
        ``spinful=True``.
    exchange : array_like (3,) or dict, optional
        Stoner exchange field ``Delta`` (energy; its length is the splitting, its direction the
        magnetization ``m``): ``H += -(1/2) Delta . sigma`` on every orbital (majority spin along ``m``
        lowered by ``|Delta|/2``).  One vector for all atoms or ``{atom name: vector}``.  Needs
        ``spinful=True``.
    cutoff_tol : float
        Two bond lengths closer than this are one shell (length unit).

    Returns
    -------
    TightBinding
        ``H(R)_ij = <0, i|H|R, j>`` (module docstring), Hermitian by construction.
    """
    cell = np.asarray(cell, dtype=float)
    if cell.shape != (3, 3) or not np.all(np.isfinite(cell)) or abs(np.linalg.det(cell)) < 1e-12:
        raise ValueError(f"cell must be 3 linearly independent lattice vectors as rows, got {np.asarray(cell).tolist()}")
    atoms = (atoms,) if isinstance(atoms, Atom) else tuple(atoms)
    if not atoms or not all(isinstance(a, Atom) for a in atoms):
        raise TypeError("atoms must be a non-empty sequence of orbsym.materials.Atom")
    for a in atoms:
        _check_labels(a.orbitals, f"the orbitals of atom {a.name!r}")
    if not (isinstance(cutoff_tol, numbers.Real) and 0 < cutoff_tol < 0.1 * min(np.linalg.norm(cell, axis=1))):
        raise ValueError(f"cutoff_tol must be a small positive length (well below the lattice vectors), got {cutoff_tol!r}")
    names = sorted({a.name for a in atoms})
    shells = _normalize_neighbours(neighbours, atoms)

    # orbital (spatial) index offsets
    offsets = np.cumsum([0] + [len(a.orbitals) for a in atoms])
    n_orb = int(offsets[-1])

    # on-site
    if isinstance(onsite, Mapping) and onsite and all(isinstance(v, Mapping) for v in onsite.values()):
        for k in onsite:
            if k not in names:
                raise ValueError(f"on-site energies given for atom {k!r}, but the atoms are {names}")
        per_atom = onsite
    else:
        per_atom = {nm: onsite for nm in names}
    H0 = np.zeros((n_orb, n_orb))
    for a, atom in enumerate(atoms):
        if atom.name not in per_atom:
            raise ValueError(f"no on-site energies for atom {atom.name!r}; given for {sorted(per_atom)}")
        e = _onsite_energies(atom, per_atom[atom.name])
        H0[np.arange(offsets[a], offsets[a + 1]), np.arange(offsets[a], offsets[a + 1])] = e

    # shells: resolve distances per pair of species, then fill H(R) for every ordered atom pair
    hop = {(0, 0, 0): H0}
    resolved = {}
    for key, lst in shells.items():
        pairs = [(a, b) for a in range(len(atoms)) for b in range(len(atoms)) if {atoms[a].name, atoms[b].name} == set(key) and (key[0] == key[1] or atoms[a].name == key[0])]
        if not pairs:
            continue
        if lst[0][0] is not None:  # distances given
            dists = [d for d, _ in lst]
            for i, di in enumerate(dists):
                for dj in dists[i + 1:]:
                    if abs(di - dj) <= cutoff_tol:
                        raise ValueError(f"shells of {key} at distances {di} and {dj} coincide within cutoff_tol = {cutoff_tol}")
            radius = max(dists) + cutoff_tol
            found = _distinct(np.concatenate([_distances(atoms, cell, a, b, radius)[2] for a, b in pairs]), cutoff_tol)
            for d in dists:
                if not any(abs(d - f) <= cutoff_tol for f in found):
                    near = sorted(found, key=lambda f: abs(f - d))[:3]
                    raise ValueError(f"shell at distance {d} of {key} has no bond (within cutoff_tol = {cutoff_tol}); the nearest bond lengths are {[round(f, 6) for f in sorted(near)]}")
            resolved[key] = list(lst)
        else:  # first N shells
            N = len(lst)
            radius = max(np.linalg.norm(cell, axis=1)) * 1.01
            while True:
                found = _distinct(np.concatenate([_distances(atoms, cell, a, b, radius)[2] for a, b in pairs]), cutoff_tol)
                if len(found) >= N and found[N - 1] + 2 * cutoff_tol <= radius:
                    break  # every bond up to ``radius`` is enumerated: the first N lengths are complete
                radius *= 2
            resolved[key] = [(found[s], params) for s, (_, params) in enumerate(lst)]

    for a, A in enumerate(atoms):
        for b, B in enumerate(atoms):
            got = _pair_key(resolved, A.name, B.name)
            if got is None:
                continue
            lst, swapped = got
            same = A.name == B.name
            radius = max(d for d, _ in lst) + cutoff_tol
            R, vec, dist = _distances(atoms, cell, a, b, radius)
            for d, params in lst:
                sel = np.abs(dist - d) <= cutoff_tol
                if not np.any(sel):
                    continue
                p = _swap_roles(params) if (swapped and not same) else params
                blocks = sk_block(A.orbitals, B.orbitals, vec[sel], p, same_species=same)
                for r, blk in zip(R[sel], blocks):
                    key = tuple(int(v) for v in r)
                    M = hop.setdefault(key, np.zeros((n_orb, n_orb)))
                    M[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] += blk

    if not spinful:
        if soc is not None or exchange is not None:
            raise ValueError("soc and exchange act on spin: pass spinful=True")
        return TightBinding(cell, atoms, hop, name=name, length_unit=length_unit, energy_unit=energy_unit)

    # spinful: H(R) (x) 1 in the chosen spin order, then exchange and SOC on the on-site block
    if spin_order not in ("interleaved", "block"):
        raise unknown_name("spin_order", spin_order, ("interleaved", "block"))
    spin = (lambda M: np.kron(M, np.eye(2))) if spin_order == "interleaved" else (lambda M: np.kron(np.eye(2), M))
    hop = {R: spin(M).astype(complex) for R, M in hop.items()}
    model = TightBinding(cell, atoms, {(0, 0, 0): np.zeros((2 * n_orb,) * 2)}, spinful=True, spin_order=spin_order, name=name, length_unit=length_unit, energy_unit=energy_unit)
    H0 = hop[(0, 0, 0)]
    if exchange is not None:
        fields = exchange if isinstance(exchange, Mapping) else {nm: exchange for nm in names}
        sigma = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
        for nm, vec in fields.items():
            if nm not in names:
                raise ValueError(f"exchange given for atom {nm!r}, but the atoms are {names}")
            v = np.asarray(vec, dtype=float) if not isinstance(vec, str) else None
            if v is None or v.shape != (3,) or not np.all(np.isfinite(v)):
                raise ValueError(f"exchange of atom {nm!r} must be a vector Delta of 3 finite energies (its length is the splitting), got {vec!r}")
            hs = -0.5 * np.einsum("a,aij->ij", v, sigma)
            for a, atom in enumerate(atoms):
                if atom.name != nm:
                    continue
                for o in range(offsets[a], offsets[a + 1]):
                    i, j = _spin_indices(o, n_orb, spin_order)
                    H0[np.ix_([i, j], [i, j])] += hs
    if soc is not None:
        from .shells import soc_matrix  # lazily: shells.py is another module of this package

        lams = soc if isinstance(soc, Mapping) else {nm: soc for nm in names}
        for nm, lam in lams.items():
            if nm not in names:
                raise ValueError(f"soc given for atom {nm!r}, but the atoms are {names}")
            for a, atom in enumerate(atoms):
                if atom.name == nm:
                    idx = model.atom_indices(a)
                    H0[np.ix_(idx, idx)] += np.asarray(soc_matrix(list(atom.orbitals), lam, spin_order), dtype=complex)
    return TightBinding(cell, atoms, hop, spinful=True, spin_order=spin_order, name=name, length_unit=length_unit, energy_unit=energy_unit)


def _spin_indices(o, n_orb, spin_order):
    """Basis indices (up, down) of spatial orbital ``o``."""
    return (2 * o, 2 * o + 1) if spin_order == "interleaved" else (o, o + n_orb)


# ---------------------------------------------------------------------------------------- lattices
def lattice(structure, a, c=None):
    """Primitive cell (rows) and atom positions of a common structure, lengths in the unit of ``a``.

    ``"sc"``, ``"fcc"`` and ``"bcc"`` (one atom at the origin; ``a`` the cubic lattice constant),
    ``"hcp"`` (two atoms at ``(1/3, 2/3, 1/4)`` and ``(2/3, 1/3, 3/4)`` in the cell ``a_1 = a(1, 0, 0)``,
    ``a_2 = a(-1/2, sqrt3/2, 0)``, ``a_3 = c(0, 0, 1)``).
    """
    if structure == "sc":
        return a * np.eye(3), [np.zeros(3)]
    if structure == "fcc":
        return 0.5 * a * np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]), [np.zeros(3)]
    if structure == "bcc":
        return 0.5 * a * np.array([[-1.0, 1, 1], [1, -1, 1], [1, 1, -1]]), [np.zeros(3)]
    if structure == "hcp":
        if c is None:
            raise ValueError("hcp needs the lattice constant c")
        cell = np.array([[a, 0, 0], [-0.5 * a, 0.5 * S3 * a, 0], [0, 0, c]])
        return cell, [np.array([1 / 3, 2 / 3, 0.25]) @ cell, np.array([2 / 3, 1 / 3, 0.75]) @ cell]
    raise unknown_name("structure", structure, ("sc", "fcc", "bcc", "hcp"))


# ---------------------------------------------------------------------------------------- shipped sets
def _shipped():
    return tuple(sorted(p.stem for p in _DATA.glob("*.json")))


#: Names of the shipped parameter sets (files ``orbsym/materials/data/<name>.json``).
MATERIALS = _shipped()


def material_data(name):
    """The parameter file of a shipped set as a dict (source units, citation, check values)."""
    if not isinstance(name, str) or name not in MATERIALS:
        raise unknown_name("material", name, MATERIALS)
    with open(_DATA / f"{name}.json", encoding="utf-8") as fh:
        return json.load(fh)


def material(name, *, spinful=False, exchange=None, soc=None, spin_order="interleaved", lattice_constant=None):
    """A shipped Slater-Koster metal (:data:`MATERIALS`) as a :class:`TightBinding` in eV and Angstrom.

    The set's integrals and on-site energies (stored in the units of the source, converted here) on
    its structure and lattice constant; every orbital ``s, p, d`` in Wannier90's order.  ``exchange``
    and ``soc`` as in :func:`slater_koster` (either makes the model spinful).  Citations and the
    published check values: :func:`material_data`.  Unknown names are refused, listing the shipped ones.

    ``lattice_constant`` (Angstrom) strains the crystal to another cubic constant ``a`` (hcp: ``c``
    scaled by the same ratio), e.g. to stack two metals on a common lattice: the integrals keep their
    fitted values (two-centre parameters are not rescaled with distance), so the bands are those of
    the set, only the geometry (bond vectors, volume, hence velocities and conductivities) changes.
    """
    data = material_data(name)
    e_unit = _UNITS[data["units"]["energy"]]
    l_unit = _UNITS[data["units"]["length"]]
    lat = data["lattice"]
    a = lat["a"] * l_unit
    c = lat.get("c")
    c = None if c is None else c * l_unit
    if lattice_constant is not None:
        from ..numeric.checks import real_number

        new = real_number("lattice_constant (Angstrom)", lattice_constant, minimum=0.0, strict=True)
        c = None if c is None else c * new / a
        a = new
    cell, positions = lattice(lat["structure"], a, c)
    orbitals = tuple(data["orbitals"])
    atoms = [Atom(data["element"], tuple(p), orbitals) for p in positions]
    onsite = {k: v * e_unit for k, v in data["onsite"].items()}
    shells = [{k: v * e_unit for k, v in s["integrals"].items()} for s in data["shells"]]
    return slater_koster(cell, atoms, onsite, shells, spinful=spinful or exchange is not None or soc is not None, exchange=exchange, soc=soc, spin_order=spin_order, name=name)
