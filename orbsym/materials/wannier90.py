"""Wannier90 files as :class:`~orbsym.materials.model.TightBinding` models (NumPy only; data is never executed).

One small reader per file ("siles", as sisl calls them):

``read_hr``       ``seedname_hr.dat``       H(R) with degeneracy weights (+ ``_wsvec.dat``, ``.win``, ``_centres.xyz``)
``read_tb``       ``seedname_tb.dat``       cell, H(R), position matrix (its R = 0 diagonal: the centres)
``read_win``      ``seedname.win``          cell, atoms, projections, num_wann, spinors
``read_centres``  ``seedname_centres.xyz``  Wannier centres and atoms
``read_wsvec``    ``seedname_wsvec.dat``    the lattice-vector shifts of ``use_ws_distance``
``write_hr``      a model as ``_hr.dat``    (integer weights; full double precision)

File formats (checked against Wannier90 3.x: ``hamiltonian_write_hr``, ``hamiltonian_write_tb`` in
``src/hamiltonian.F90``, ``ws_write_vec`` in ``src/ws_distance.F90``, the ``s-k`` band interpolation
of ``src/plot.F90`` and ``w90_readwrite_get_projections`` in ``src/readwrite.F90``).

``_hr.dat``
    a header line (date); ``num_wann``; ``nrpts``; the ``nrpts`` degeneracy weights ``ndegen(R)``
    (15 per line); then ``nrpts x num_wann^2`` lines ``R_1 R_2 R_3 m n Re Im``, ``m`` fastest.
    The numbers in the file are NOT divided by the weights; the model stores

        H(R)_mn = <0 m| H |R n> = (Re + i Im) / ndegen(R)        (eV; m, n = 1..num_wann).

``_wsvec.dat`` (``use_ws_distance = .true.``, the default since Wannier90 3.0: ``src/types.F90``)
    a header line, then for every ``(R, m, n)``: a line ``R_1 R_2 R_3 m n``, a line ``N``, and ``N``
    lines of integer shifts ``T_1 .. T_N`` (cell coordinates).  Each element is split over its images:

        H'(R + T_d)_mn += H(R)_mn / N          for d = 1..N,

    which is Wannier90's interpolation ``H(k)_mn = sum_R sum_d e^{ik.(R+T_d)} ham_r(m,n,R) / (ndegen(R) N)``.
    The ``T_d`` are multiples of the k-grid supercell, so ``H(k)`` is unchanged at the k points of
    the Wannier90 grid and differs (is better interpolated) between them.

``_tb.dat``
    a header line; the three lattice vectors ``a_1, a_2, a_3`` (rows, Angstrom); ``num_wann``;
    ``nrpts``; the weights; ``nrpts`` blocks ``R`` + ``num_wann^2`` lines ``m n Re Im`` (H(R), same
    convention and weights as ``_hr.dat``); then ``nrpts`` blocks ``R`` + ``num_wann^2`` lines
    ``m n Re x, Im x, Re y, Im y, Re z, Im z``: the position matrix ``<0 m| r |R n>`` (Angstrom, also
    to be divided by ``ndegen``).  Only its ``R = 0`` diagonal ``<0 m| r |0 m>`` -- the Wannier
    centres -- is used (as orbital centres when no other centres are given); the off-diagonal
    Berry-connection terms are parsed (for the checks) and ignored: orbsym's velocity is the one of
    point-like orbitals (:class:`~orbsym.materials.model.TightBinding`).

Phase convention
----------------
``_hr.dat`` and ``_tb.dat`` hold Wannier90's **convention II**: ``H(k) = sum_R e^{ik.R} H(R)``, phases
from the lattice vector only (:meth:`TightBinding.hamiltonian` with ``convention="II"``).
**Convention I** (PythTB, TBmodels), ``H^I(k)_mn = e^{-ik.tau_m} H(k)_mn e^{ik.tau_n}``, follows from
the orbital centres ``tau`` of the model (``convention="I"``); ``tau`` is the position of the orbital's
atom: the atom of its projection (``.win``), of the ``orbitals=`` spec, or -- for unidentified
orbitals -- the Wannier centre.  Both give the same bands; they differ in the Berry phases and the
velocity gauge.

Orbitals and spin
-----------------
The basis order is the Wannier functions' order, ``model`` index ``i`` = Wannier function ``i + 1``.
Projections (``.win``) and ``orbitals=`` specs follow Wannier90: every projection line in order, for
each atom of that species (in the order of ``atoms_cart``/``atoms_frac``), the angular states in
increasing ``l`` (hybrids ``l < 0`` first) and ``mr`` -- whatever order they are written in --, and with
``spinors = .true.`` spin up then down for each of them ("interleaved", Wannier90 >= 2 and the
QE/VASP 6 interfaces; ``(u)``/``(d)`` lines may give all up then all down, "block", which is detected).
``spin_order="block"`` overrides for files whose Wannier functions are all up then all down whatever
the projections say (the VASP 5 / Wannier90 1.x interface).  (Wannier90 issue #463 and PR #706 on the
l-ordering; WannSymm #8 and TRIQS dft_tools #215 on the spin orders of the interfaces.)

Labels are Wannier90's real harmonics: ``s``; ``pz, px, py``; ``dz2, dxz, dyz, dx2-y2, dxy``; ``fz3, fxz2, fyz2, fxyz, fz(x2-y2), fx(x2-3y2),
fy(3x2-y2)``; hybrids ``sp-1`` ... ``sp3d2-6`` (no L).  Without projections or a spec, every Wannier
function is a generic atom ``wf1 .. wfN`` with label ``wfN`` (``L = 0``) at its centre (``_centres.xyz``
or the ``_tb.dat`` position matrix) or at the origin.

Units: lengths Angstrom (``bohr`` inputs converted with Wannier90's ``0.52917721092``), energies eV.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import HERMITICITY_TOL, SPIN_ORDERS, Atom, TightBinding

__all__ = [
    "read_hr",
    "read_tb",
    "read_win",
    "read_centres",
    "read_wsvec",
    "write_hr",
    "Win",
    "Centres",
    "WannierOrbital",
    "BOHR_ANGSTROM",
    "W90_LABELS",
    "FILE_TOLERANCE",
]

#: Bohr radius in Angstrom, as Wannier90 3.x converts ``bohr`` inputs (``src/constants.F90``, CODATA 2010).
BOHR_ANGSTROM = 0.52917721092
#: Absolute tolerance (eV) of ``H(-R) = H(R)^dagger`` for values read from a file: Wannier90 prints
#: 6 decimals (``F12.6``), so two rounded partners may differ by 1e-6; pairs within
#: ``max(FILE_TOLERANCE, HERMITICITY_TOL x max|H|)`` are averaged, larger mismatches refused.
FILE_TOLERANCE = 2e-6

#: Wannier90's real-harmonic labels per ``l`` in ``mr`` order (``mr = 1, 2, ...``); ``l < 0`` hybrids.
W90_LABELS = {
    -5: tuple(f"sp3d2-{m}" for m in range(1, 7)),
    -4: tuple(f"sp3d-{m}" for m in range(1, 6)),
    -3: tuple(f"sp3-{m}" for m in range(1, 5)),
    -2: tuple(f"sp2-{m}" for m in range(1, 4)),
    -1: ("sp-1", "sp-2"),
    0: ("s",),
    1: ("pz", "px", "py"),
    2: ("dz2", "dxz", "dyz", "dx2-y2", "dxy"),
    3: ("fz3", "fxz2", "fyz2", "fxyz", "fz(x2-y2)", "fx(x2-3y2)", "fy(3x2-y2)"),
}
_SHELL_NAMES = {"s": 0, "p": 1, "d": 2, "f": 3, "sp": -1, "sp2": -2, "sp3": -3, "sp3d": -4, "sp3d2": -5}
#: projection name -> set of (l, mr)
_PROJ_NAMES = {name: {(l, m) for m in range(1, len(W90_LABELS[l]) + 1)} for name, l in _SHELL_NAMES.items()}
_PROJ_NAMES.update({lab: {(l, m + 1)} for l, labs in W90_LABELS.items() for m, lab in enumerate(labs)})


# ---------------------------------------------------------------------------------------------- lines
def _t(v):
    """A lattice vector as a tuple of Python ints (for messages and dict keys)."""
    return tuple(int(x) for x in v)


class _Lines:
    """The lines of a text file with a cursor; every error names the file and the 1-based line."""

    def __init__(self, path):
        self.path = str(path)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                self.lines = fh.read().splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        self.i = 0

    def error(self, lineno, msg):
        return ValueError(f"{self.path}, line {lineno}: {msg}")

    def end_error(self, what):
        return ValueError(f"{self.path}: the file ends at line {len(self.lines)} before {what} (truncated file?)")

    def next(self, what):
        """(line number, text) of the next non-blank line."""
        while self.i < len(self.lines) and not self.lines[self.i].strip():
            self.i += 1
        if self.i >= len(self.lines):
            raise self.end_error(what)
        self.i += 1
        return self.i, self.lines[self.i - 1]

    def ints(self, what, count=None):
        """The integers of the next non-blank line (``count`` of them when given)."""
        no, text = self.next(what)
        toks = text.split()
        if count is not None and len(toks) != count:
            raise self.error(no, f"expected {what} ({count} integer{'s' if count != 1 else ''}), got {text.strip()!r}")
        return no, [self.to_int(no, t, what) for t in toks]

    def to_int(self, no, tok, what):
        try:
            return int(tok)
        except ValueError:
            raise self.error(no, f"non-integer token {tok!r} where {what} is expected") from None

    def to_float(self, no, tok, what):
        try:
            v = float(tok.replace("D", "e").replace("d", "e"))
        except ValueError:
            raise self.error(no, f"non-numeric token {tok!r} in {what}") from None
        if not math.isfinite(v):
            raise self.error(no, f"non-finite value {tok!r} in {what}")
        return v

    def rows(self, nrows, ncols, n_int, what):
        """The next ``nrows`` non-blank lines of ``ncols`` numbers each (the first ``n_int`` integers).

        Returns (array (nrows, ncols) float, line numbers (nrows,)); vectorized, with a per-line
        search for the error only when something is wrong.
        """
        L, i, n = self.lines, self.i, len(self.lines)
        idx = []
        while len(idx) < nrows and i < n:
            if L[i].strip():
                idx.append(i)
            i += 1
        if len(idx) < nrows:
            raise ValueError(f"{self.path}: the file ends at line {n} after {len(idx)} of the {nrows} {what} lines (truncated file?)")
        self.i = i
        text = [L[j] for j in idx]
        joined = "\n".join(text) + "\n"
        buf = np.frombuffer(joined.encode("utf-8", "replace"), np.uint8)
        space = (buf == 32) | (buf == 9) | (buf == 10) | (buf == 13) | (buf == 11) | (buf == 12)
        starts = np.flatnonzero(~space & np.concatenate(([True], space[:-1])))  # first byte of every token
        counts = np.diff(np.searchsorted(starts, np.flatnonzero(buf == 10)), prepend=0)  # tokens per line
        bad = np.flatnonzero(counts != ncols)
        if bad.size:
            b = bad[0]
            raise self.error(idx[b] + 1, f"expected {ncols} numbers ({what}), got {len(text[b].split())}: {text[b].strip()!r}")
        arr = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # C parser; stops early (or raises) at a bad token
                arr = np.fromstring(joined, dtype=float, sep=" ")
            except ValueError:
                arr = None
        if arr is None or arr.size != nrows * ncols:  # slow path: find the token (accepts Fortran D exponents)
            arr = np.array([[self.to_float(j + 1, tok, what) for tok in t.split()] for j, t in zip(idx, text)])
        arr = arr.reshape(nrows, ncols)
        bad = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
        if bad.size:
            raise self.error(idx[bad[0]] + 1, f"non-finite value in {what}: {text[bad[0]].strip()!r}")
        if n_int:
            frac = arr[:, :n_int] != np.round(arr[:, :n_int])
            bad = np.flatnonzero(frac.any(axis=1))
            if bad.size:
                raise self.error(idx[bad[0]] + 1, f"the first {n_int} numbers of {what} must be integers, got {text[bad[0]].strip()!r}")
        return arr, np.array(idx) + 1

    def check_end(self, what):
        """Refuse non-blank lines after the expected content."""
        for j in range(self.i, len(self.lines)):
            if self.lines[j].strip():
                raise self.error(j + 1, f"unexpected data after {what}: {self.lines[j].strip()[:60]!r}")


def _header_counts(cur):
    """num_wann, nrpts and the weights (after the header line(s) already consumed)."""
    no_w, (num_wann,) = cur.ints("num_wann", 1)
    if num_wann < 1:
        raise cur.error(no_w, f"num_wann must be a positive integer, got {num_wann}")
    no_r, (nrpts,) = cur.ints("nrpts (the number of lattice vectors)", 1)
    if nrpts < 1:
        raise cur.error(no_r, f"nrpts must be a positive integer, got {nrpts}")
    weights, lines = [], []
    while len(weights) < nrpts:
        no, toks = cur.ints(f"degeneracy weights (nrpts = {nrpts}, {len(weights)} read so far)")
        if len(weights) + len(toks) > nrpts:
            raise cur.error(no, f"{len(weights) + len(toks)} degeneracy weights where nrpts = {nrpts} (line {no_r}) are expected: wrong nrpts or a missing line")
        weights += toks
        lines += [no] * len(toks)
    w = np.array(weights)
    bad = np.flatnonzero(w < 1)
    if bad.size:
        raise cur.error(lines[bad[0]], f"degeneracy weight ndegen = {w[bad[0]]} (lattice vector number {bad[0] + 1}) must be a positive integer")
    return num_wann, nrpts, w, (no_w, no_r)


def _blocks_from_rows(cur, ints, vals, lines, R_rows, R_lines, num_wann, nrpts, ndegen, what):
    """H(R) blocks from parsed element rows; checks indices, duplicates and the R sequence."""
    nw2 = num_wann * num_wann
    m, n = ints[:, 0], ints[:, 1]
    bad = np.flatnonzero((m < 1) | (m > num_wann) | (n < 1) | (n > num_wann))
    if bad.size:
        b = bad[0]
        raise cur.error(lines[b], f"orbital indices ({m[b]}, {n[b]}) outside 1..num_wann = {num_wann}")
    block = np.repeat(np.arange(nrpts), nw2)
    key = block * nw2 + (m - 1) * num_wann + (n - 1)
    counts = np.bincount(key, minlength=nrpts * nw2)
    if np.any(counts != 1):
        seen = set()
        for r, k in enumerate(key):
            if k in seen:
                raise cur.error(lines[r], f"element (m, n) = ({m[r]}, {n[r]}) of R = {_t(R_rows[block[r]])} given twice in its block of num_wann^2 = {nw2} lines")
            seen.add(k)
    Rt = [tuple(int(v) for v in r) for r in R_rows]
    first = {}
    for b, R in enumerate(Rt):
        if R in first:
            raise cur.error(R_lines[b], f"lattice vector R = {R} appears twice (first at line {first[R]})")
        first[R] = R_lines[b]
    H = np.zeros((nrpts, num_wann, num_wann), complex)
    H[block, m - 1, n - 1] = vals[:, 0] + 1j * vals[:, 1]
    H /= ndegen[:, None, None]
    return Rt, H


def _check_pairs(path, Rt, H, R_lines):
    """Every R has its -R with H(-R) = H(R)^dagger (to the file's precision); returns averaged pairs."""
    index = {R: b for b, R in enumerate(Rt)}
    scale = float(np.abs(H).max()) or 1.0
    tol = max(FILE_TOLERANCE, HERMITICITY_TOL * scale)
    out = H.copy()
    for b, R in enumerate(Rt):
        mR = tuple(-v for v in R)
        if mR not in index:
            raise ValueError(f"{path}, line {R_lines[b]}: H(R) is given for R = {R} but not for -R = {mR} (a Wannier90 file holds both, with H(-R) = H(R)^dagger)")
        c = index[mR]
        diff = np.abs(H[c] - H[b].conj().T)
        err = float(diff.max())
        if err > tol:
            i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
            raise ValueError(
                f"{path}, lines {R_lines[b]} and {R_lines[c]}: H(-R) != H(R)^dagger for R = {R}: largest mismatch {err:.3g} eV "
                f"between H({mR})_{i + 1},{j + 1} and conj H({R})_{j + 1},{i + 1} (tolerance {tol:.3g} eV)"
            )
        out[b] = 0.5 * (H[b] + H[c].conj().T)
    return out


# ---------------------------------------------------------------------------------------------- .win
@dataclass(frozen=True)
class WannierOrbital:
    """One Wannier function of a projection: site name, Cartesian position (Angstrom), label, spin (+1/-1/None).

    ``line`` is the projection's line in the ``.win``; ``axes`` the local ``(z, x)`` axes when they are
    not the Cartesian ones and ``spin_axis`` the spin quantisation axis when it is not ``+z`` (such
    projections are read, but a model refuses them: its labels and spins are Cartesian).
    """

    site: str
    position: tuple
    label: str
    spin: int | None = None
    line: int = 0
    axes: tuple | None = None
    spin_axis: tuple | None = None


@dataclass(frozen=True)
class Win:
    """What orbsym uses of a ``seedname.win``.

    Attributes
    ----------
    path : str
    cell : ndarray (3, 3) or None
        ``unit_cell_cart`` rows, Angstrom (converted from ``bohr`` when the block says so).
    atoms : tuple of (str, ndarray (3,))
        ``atoms_cart`` / ``atoms_frac`` as (label, Cartesian position in Angstrom), in file order.
    projections : tuple of WannierOrbital or None
        One entry per Wannier function, in Wannier90's order (module docstring), restricted to
        ``select_projections`` when given; None without a ``projections`` block or with ``random``
        projections only.
    num_wann : int or None
    spinors : bool
    random : bool
        The block asks for (some) random projections, which cannot be identified.
    settings : dict
        Every other ``key = value`` line (lower-case key -> raw value text).
    projection_lines : tuple (first, last) of the block's line numbers, or None
    """

    path: str
    cell: np.ndarray | None
    atoms: tuple
    projections: tuple | None
    num_wann: int | None
    spinors: bool
    random: bool = False
    settings: dict = field(default_factory=dict)
    projection_lines: tuple | None = None


_BLOCK = re.compile(r"^(begin|end)(?:\s+|\s*[_:]\s*)([a-z0-9_]+)$")  # 'end unit_cell_cart', 'end_unit_cell_cart'
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:[=:]\s*|\s+)(.*?)\s*$")


def _logical(cur, no, text, key):
    t = text.strip().lower().strip(".")
    if t in ("t", "true"):
        return True
    if t in ("f", "false"):
        return False
    raise cur.error(no, f"{key} must be a logical (.true./.false., T/F), got {text.strip()!r}")


def read_win(path):
    """Read the keys of a Wannier90 ``seedname.win`` that a model needs.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Win
        Cell (Angstrom), atoms (labels, Cartesian Angstrom), projections expanded to one
        :class:`WannierOrbital` per Wannier function, ``num_wann``, ``spinors``.

    Notes
    -----
    Keys and block names are case-insensitive; ``!`` and ``#`` start comments; ``key = value``,
    ``key : value`` and ``key value`` are accepted; blocks are ``begin NAME`` ... ``end NAME``.
    ``unit_cell_cart``, ``atoms_cart`` and the ``projections`` block may start with a units line
    ``bohr`` or ``ang`` (default Angstrom).  Projection lines are ``site : states [: options]`` with
    ``site`` an atom label, ``c=x,y,z`` (Cartesian) or ``f=x,y,z`` (fractional), ``states`` names
    (``s``, ``p``, ``d``, ``f``, ``pz``, ``dxy``, ..., ``sp3``, ...) or ``l=L`` / ``l=L,mr=m1,m2``
    separated by ``;`` or ``,``, with ``spinors``: optional ``(u)``, ``(d)`` and ``[qx,qy,qz]``.
    Rotated local axes (``z=``, ``x=`` other than the defaults) and spin axes other than z are
    recorded (:class:`WannierOrbital`) and refused when a model is built (its labels are the
    Cartesian harmonics and S_z states); ``r=`` and ``zona=`` are ignored.  ``select_projections``
    (indices and ranges) keeps the chosen projections.
    Every error names the file and line.
    """
    cur = _Lines(path)
    settings, seen, blocks = {}, {}, {}
    open_block = None
    for no, raw in enumerate(cur.lines, 1):
        text = re.split(r"[!#]", raw, maxsplit=1)[0].strip()
        if not text:
            continue
        low = text.lower()
        mb = _BLOCK.match(low)
        words = [mb.group(1), mb.group(2)] if mb else low.split()
        if words[0] == "begin":
            if open_block is not None:
                raise cur.error(no, f"'begin' inside the block {open_block[0]!r} opened at line {open_block[1]}")
            if len(words) != 2:
                raise cur.error(no, f"a block starts with 'begin NAME', got {text!r}")
            if words[1] in blocks:
                raise cur.error(no, f"block {words[1]!r} given twice (first at line {blocks[words[1]][0]})")
            open_block = (words[1], no, [])
            continue
        if words[0] == "end":
            if open_block is None or len(words) != 2 or words[1] != open_block[0]:
                raise cur.error(no, f"{text!r} does not close an open block" + (f" (open: {open_block[0]!r} from line {open_block[1]})" if open_block else ""))
            blocks[open_block[0]] = (open_block[1], no, open_block[2])
            open_block = None
            continue
        if open_block is not None:
            open_block[2].append((no, text))
            continue
        mt = _KEY.match(text)
        if not mt or not mt.group(2):
            raise cur.error(no, f"expected 'key = value', got {text!r}")
        key = mt.group(1).lower()
        if key in seen:
            raise cur.error(no, f"key {key!r} given twice (first at line {seen[key]})")
        seen[key] = no
        settings[key] = mt.group(2)
    if open_block is not None:
        raise cur.error(open_block[1], f"block {open_block[0]!r} is never closed ('end {open_block[0]}' missing)")

    num_wann = None
    if "num_wann" in settings:
        no = seen["num_wann"]
        num_wann = cur.to_int(no, settings.pop("num_wann").split()[0], "num_wann")
        if num_wann < 1:
            raise cur.error(no, f"num_wann must be a positive integer, got {num_wann}")
    spinors = _logical(cur, seen["spinors"], settings.pop("spinors"), "spinors") if "spinors" in settings else False

    def units(lines, name):
        """Split a leading 'bohr'/'ang' line off a block: (factor, remaining lines)."""
        if lines and lines[0][1].lower() in ("bohr", "ang", "angstrom"):
            return (BOHR_ANGSTROM if lines[0][1].lower() == "bohr" else 1.0), lines[1:]
        return 1.0, lines

    cell = None
    if "unit_cell_cart" in blocks:
        start, stop, lines = blocks["unit_cell_cart"]
        f, lines = units(lines, "unit_cell_cart")
        if len(lines) != 3:
            raise cur.error(start, f"unit_cell_cart must hold 3 lattice vectors (after an optional bohr/ang line), got {len(lines)} lines (lines {start}-{stop})")
        rows = []
        for no, text in lines:
            toks = text.split()
            if len(toks) != 3:
                raise cur.error(no, f"a lattice vector needs 3 Cartesian components, got {text!r}")
            rows.append([cur.to_float(no, t, "unit_cell_cart") * f for t in toks])
        cell = np.array(rows)
        if abs(np.linalg.det(cell)) < 1e-12:
            raise cur.error(start, f"unit_cell_cart vectors are linearly dependent: {cell.tolist()}")

    atoms = []
    if "atoms_cart" in blocks and "atoms_frac" in blocks:
        raise cur.error(blocks["atoms_frac"][0], f"both atoms_cart (line {blocks['atoms_cart'][0]}) and atoms_frac are given; Wannier90 allows one")
    for name in ("atoms_cart", "atoms_frac"):
        if name not in blocks:
            continue
        start, stop, lines = blocks[name]
        f, lines = units(lines, name) if name == "atoms_cart" else (1.0, lines)
        if name == "atoms_frac" and cell is None:
            raise cur.error(start, "atoms_frac needs the unit_cell_cart block (fractional coordinates)")
        for no, text in lines:
            toks = text.split()
            if len(toks) != 4:
                raise cur.error(no, f"an atom line is 'label x y z', got {text!r}")
            xyz = np.array([cur.to_float(no, t, name) for t in toks[1:]])
            atoms.append((toks[0], xyz * f if name == "atoms_cart" else xyz @ cell))

    projections, random_, plines = None, False, None
    if "projections" in blocks:
        start, stop, lines = blocks["projections"]
        plines = (start, stop)
        f = 1.0
        if lines and lines[0][1].lower() == "random":
            random_ = True
            lines = lines[1:]
        f, lines = units(lines, "projections")
        wfs = []
        for no, text in lines:
            wfs += _expand_projection(cur, no, text, atoms, cell, f, spinors)
        projections = tuple(wfs) if wfs else None
    if "select_projections" in settings:
        no = seen["select_projections"]
        text = settings.pop("select_projections")
        chosen = set()
        for tok in re.split(r"[\s,]+", text.strip()):
            mr = re.fullmatch(r"(\d+)(?:-(\d+))?", tok)
            if not mr or int(mr.group(1)) < 1 or (mr.group(2) and int(mr.group(2)) < int(mr.group(1))):
                raise cur.error(no, f"select_projections takes indices and ranges such as '1-4 7', got {tok!r}")
            chosen |= set(range(int(mr.group(1)), int(mr.group(2) or mr.group(1)) + 1))
        if projections is not None:
            if max(chosen) > len(projections):
                raise cur.error(no, f"select_projections asks for projection {max(chosen)}, the projections block gives {len(projections)}")
            projections = tuple(projections[i - 1] for i in sorted(chosen))  # Wannier90 keeps them in order
    return Win(str(path), cell, tuple(atoms), projections, num_wann, spinors, random_, settings, plines)


def _coords(cur, no, text, what):
    toks = text.split(",")
    if len(toks) != 3:
        raise cur.error(no, f"{what} needs 3 comma-separated numbers, got {text!r}")
    return np.array([cur.to_float(no, t, what) for t in toks])


def _expand_projection(cur, no, text, atoms, cell, unit, spinors):
    """One projection line -> its Wannier functions in Wannier90's order (module docstring)."""
    s = "".join(text.split())
    if ":" not in s:
        raise cur.error(no, f"a projection is 'site: states', got {text!r}")
    site, rest = s.split(":", 1)
    lsite = site.lower()
    if lsite.startswith("c="):
        sites = [(site, _coords(cur, no, site[2:], "c= (Cartesian site)") * unit)]
    elif lsite.startswith("f="):
        if cell is None:
            raise cur.error(no, f"the fractional site {site!r} needs the unit_cell_cart block")
        sites = [(site, _coords(cur, no, site[2:], "f= (fractional site)") @ cell)]
    else:
        sites = [(name, pos) for name, pos in atoms if name.lower() == lsite]
        if not sites:
            known = sorted({name for name, _ in atoms})
            raise cur.error(no, f"projection on atom {site!r}, which is not in atoms_cart/atoms_frac" + (f" (atoms: {', '.join(known)})" if known else " (no atoms are defined)"))
    spins = (1, -1) if spinors else (None,)
    spin_axis, axes = None, {}
    mq = re.search(r"\[([^\]]*)\]", rest)
    if mq:
        if not spinors:
            raise cur.error(no, f"a spin quantisation axis [{mq.group(1)}] needs spinors = .true.")
        q = _coords(cur, no, mq.group(1), "the spin axis")
        if np.linalg.norm(q) == 0:
            raise cur.error(no, f"spin quantisation axis [{mq.group(1)}] is the zero vector")
        if np.linalg.norm(q[:2]) > 1e-9 * np.linalg.norm(q) or q[2] < 0:
            spin_axis = tuple(float(v) for v in q / np.linalg.norm(q))
        rest = rest[: mq.start()] + rest[mq.end():]
    ms = re.search(r"\(([udUD,]+)\)", rest)  # not the parentheses of fz(x2-y2) & co
    if ms:
        if not spinors:
            raise cur.error(no, f"a spin selection ({ms.group(1)}) needs spinors = .true.")
        sel = ms.group(1).lower()
        spins = tuple(v for c, v in (("u", 1), ("d", -1)) if c in sel)
        rest = rest[: ms.start()] + rest[ms.end():]
    parts = rest.split(":")
    states = set()
    for chunk in parts[0].split(";"):
        lc = chunk.lower()
        if not lc:
            continue
        if lc.startswith("l="):
            mtl = re.fullmatch(r"l=(-?\d+)(?:,mr=(\d+(?:,\d+)*))?", lc)
            if not mtl or int(mtl.group(1)) not in W90_LABELS:
                raise cur.error(no, f"bad angular state {chunk!r}: expected l=L or l=L,mr=m1,m2,... with L in -5..3")
            l = int(mtl.group(1))
            nm = len(W90_LABELS[l])
            mrs = [int(v) for v in mtl.group(2).split(",")] if mtl.group(2) else range(1, nm + 1)
            for m in mrs:
                if not 1 <= m <= nm:
                    raise cur.error(no, f"mr = {m} is outside 1..{nm} for l = {l} in {chunk!r}")
                states.add((l, m))
            continue
        for name in lc.split(","):
            if name not in _PROJ_NAMES:
                raise cur.error(no, f"unknown projection {name!r}; allowed: s, p, d, f, sp, sp2, sp3, sp3d, sp3d2, the single states "
                                f"({', '.join(W90_LABELS[1] + W90_LABELS[2])}, ...) or l=L[,mr=...]")
            states |= _PROJ_NAMES[name]
    if not states:
        raise cur.error(no, f"no angular states in projection {text!r}")
    for opt in parts[1:]:
        lo = opt.lower()
        for key, default in (("z=", (0, 0, 1)), ("x=", (1, 0, 0))):
            if lo.startswith(key):
                v = _coords(cur, no, opt[2:], f"the {key[0]} axis")
                if np.linalg.norm(v) == 0:
                    raise cur.error(no, f"projection axis {opt!r} is the zero vector")
                v = v / np.linalg.norm(v)
                if not np.allclose(v, default, atol=1e-9):
                    axes[key[0]] = tuple(float(c) for c in v)
    rot = (axes.get("z", (0.0, 0.0, 1.0)), axes.get("x", (1.0, 0.0, 0.0))) if axes else None
    out = []
    ordered = sorted(states)  # increasing l, then mr: Wannier90's order
    for name, pos in sites:
        for l, m in ordered:
            for spin in spins:
                # an s orbital is the same in any local frame
                out.append(WannierOrbital(name, tuple(float(v) for v in pos), W90_LABELS[l][m - 1], spin, no, rot if l != 0 else None, spin_axis if spin else None))
    return out


# ---------------------------------------------------------------------------------------------- centres, wsvec
@dataclass(frozen=True)
class Centres:
    """``seedname_centres.xyz``: Wannier centres (``X`` lines) and atoms (other lines), Angstrom."""

    path: str
    centres: np.ndarray
    atoms: tuple


def read_centres(path):
    """Read ``seedname_centres.xyz``: a count line, a comment line, then ``X x y z`` (Wannier centres,
    in Wannier-function order) and ``Symbol x y z`` (atoms) lines, Cartesian Angstrom.

    Returns
    -------
    Centres
    """
    cur = _Lines(path)
    no, (count,) = cur.ints("the number of entries", 1)
    if cur.i >= len(cur.lines):
        raise cur.end_error("the comment line")
    cur.i += 1  # comment line (may be blank)
    centres, atoms = [], []
    for _ in range(count):
        no, text = cur.next(f"{count} centre/atom lines (line {no})")
        toks = text.split()
        if len(toks) != 4:
            raise cur.error(no, f"expected 'X x y z' or 'Symbol x y z', got {text.strip()!r}")
        xyz = np.array([cur.to_float(no, t, "a position") for t in toks[1:]])
        (centres if toks[0].upper() == "X" else atoms).append((toks[0], xyz))
    cur.check_end(f"the {count} entries announced on line 1")
    return Centres(str(path), np.array([c for _, c in centres]).reshape(-1, 3), tuple(atoms))


def read_wsvec(path):
    """Read ``seedname_wsvec.dat`` (module docstring).

    Returns
    -------
    table : dict
        ``{(R, m, n): T}``, ``T`` the (N, 3) integer shifts of element ``H(R)_mn`` (``m, n`` 1-based).
    lines : dict
        ``{(R, m, n): line number}`` of each entry.
    """
    cur = _Lines(path)
    if cur.lines and cur.lines[0].lstrip().startswith("#"):
        cur.i = 1
    out, where = {}, {}
    while True:
        while cur.i < len(cur.lines) and not cur.lines[cur.i].strip():
            cur.i += 1
        if cur.i >= len(cur.lines):
            break
        no, vals = cur.ints("'R_1 R_2 R_3 m n'", 5)
        key = (tuple(vals[:3]), vals[3], vals[4])
        if key in out:
            raise cur.error(no, f"(R, m, n) = {key} given twice (first at line {where[key]})")
        nno, (nd,) = cur.ints(f"the number of images of (R, m, n) = {key}", 1)
        if nd < 1:
            raise cur.error(nno, f"the number of images must be a positive integer, got {nd}")
        T = [cur.ints("a shift 'T_1 T_2 T_3'", 3)[1] for _ in range(nd)]
        out[key] = np.array(T, dtype=int)
        where[key] = no
    if not out:
        raise ValueError(f"{cur.path}: no entries (empty or header-only file)")
    return out, where


# ---------------------------------------------------------------------------------------------- orbitals
def _auto(arg, path, suffix):
    if isinstance(arg, str) and arg == "auto":
        p = Path(path)
        seed = p.name
        for tail in ("_hr.dat", "_tb.dat"):
            if seed.endswith(tail):
                seed = seed[: -len(tail)]
        cand = p.with_name(seed + suffix)
        return cand if cand.exists() else None
    return arg


def _seedname(path):
    name = Path(path).name
    for tail in ("_hr.dat", "_tb.dat"):
        if name.endswith(tail):
            return name[: -len(tail)]
    return name


def _parse_spec(spec):
    """``"Ti: s,p,d; O: p"`` -> [(site, states text)]."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"orbitals must be a spec such as 'Ti: s,p,d; O: p' (site: states; ...), got {spec!r}")
    entries = []
    for piece in re.split(r"[;\n]", spec):
        piece = piece.strip()
        if not piece:
            continue
        if ":" in piece:
            site, states = piece.split(":", 1)
            entries.append([site.strip(), [states.strip()]])
        elif entries:
            entries[-1][1].append(piece)
        else:
            raise ValueError(f"orbitals spec {spec!r}: {piece!r} comes before any 'site:'")
    return [(site, ";".join(s for s in states if s)) for site, states in entries]


class _SpecCursor:
    """Error adapter: spec errors name the spec instead of a file line."""

    def __init__(self, spec):
        self.spec = spec

    def error(self, no, msg):
        return ValueError(f"orbitals={self.spec!r}: {msg}")

    def to_float(self, no, tok, what):
        try:
            return float(tok)
        except ValueError:
            raise self.error(no, f"non-numeric token {tok!r} in {what}") from None


def _atoms_from_wfs(wfs, num_wann, spin_order, origin):
    """Atoms of the model from an ordered list of WannierOrbital (one per Wannier function).

    Returns (atoms, spinful, spin_order).  Consecutive functions on the same site form one atom (a
    site whose functions are not consecutive gives several atoms at one position, so that model
    index = Wannier function index).
    """
    spinful = wfs[0].spin is not None
    if not spinful:
        spatial = list(wfs)
        order = None
        if spin_order is not None:
            raise ValueError(f"spin_order={spin_order!r} given, but {origin} has no spin (spinors = .false.)")
    else:
        if spin_order is not None and spin_order not in SPIN_ORDERS:
            raise ValueError(f"unknown spin_order {spin_order!r}; allowed: {', '.join(SPIN_ORDERS)}")
        spatial, order = None, None
        n = len(wfs) // 2
        for so in SPIN_ORDERS:  # the order the projections themselves give (interleaved first: Wannier90's)
            if len(wfs) % 2:
                break
            up, dn = (wfs[0::2], wfs[1::2]) if so == "interleaved" else (wfs[:n], wfs[n:])
            if all(u.spin == 1 and d.spin == -1 and (u.site, u.position, u.label) == (d.site, d.position, d.label) for u, d in zip(up, dn)):
                spatial, order = list(up), so
                break
        if spatial is None:
            raise ValueError(
                f"the spinor projections of {origin} are neither interleaved (up, down per orbital) nor in blocks (all up, then all down): "
                "orbsym's model needs both spins of every orbital"
            )
        order = spin_order or order  # an explicit spin_order overrides (e.g. VASP 5 files: block)
    atoms, run = [], []
    for wf in spatial:
        if run and ((wf.site, wf.position) != (run[0].site, run[0].position) or wf.label in {r.label for r in run}):
            atoms.append(Atom(run[0].site, run[0].position, tuple(r.label for r in run)))
            run = []
        run.append(wf)
    atoms.append(Atom(run[0].site, run[0].position, tuple(r.label for r in run)))
    return atoms, spinful, order or "interleaved"


def _site_arg(a):
    """An ``atoms=`` entry as (name, Cartesian position)."""
    if isinstance(a, Atom):
        return a.name, np.array(a.position)
    try:
        name, pos = a
        pos = np.asarray(pos, dtype=float)
    except (TypeError, ValueError):
        pos = None
    if pos is None or pos.shape != (3,) or not np.all(np.isfinite(pos)) or not isinstance(name, str) or not name:
        raise ValueError(f"an atoms= entry must be an orbsym.materials.Atom or a (name, (x, y, z)) pair (Angstrom), got {a!r}")
    return name, pos


def _count_error(origin, count, num_wann, where):
    return ValueError(f"{origin} gives {count} Wannier functions, but {where} has num_wann = {num_wann}")


def _model_orbitals(num_wann, where, *, atoms, orbitals, win, centres, spin_order, tb_centres=None):
    """(atoms, spinful, spin_order) for a file of num_wann functions (see read_hr)."""
    cen = None
    if centres is not None:
        cen = centres if isinstance(centres, Centres) else read_centres(centres)
        if len(cen.centres) != num_wann:
            raise ValueError(f"{cen.path} has {len(cen.centres)} Wannier centres (X lines), but {where} has num_wann = {num_wann}")
    if win is not None and win.num_wann is not None and win.num_wann != num_wann:
        raise ValueError(f"{win.path} has num_wann = {win.num_wann}, but {where} has num_wann = {num_wann}")
    if orbitals is not None:
        if atoms is not None:
            sites = [_site_arg(a) for a in atoms]
            src = "atoms="
        elif win is not None and win.atoms:
            sites, src = list(win.atoms), win.path
        elif cen is not None and cen.atoms:
            sites, src = list(cen.atoms), cen.path
        else:
            raise ValueError(f"orbitals={orbitals!r} names atoms, but no atom positions are given: pass atoms=[(name, (x, y, z)), ...], a .win with atoms_cart/atoms_frac, or a _centres.xyz with atoms")
        sc = _SpecCursor(orbitals)
        wfs = []
        for site, states in _parse_spec(orbitals):
            try:
                wfs += _expand_projection(sc, 0, f"{site}:{states}", sites, None, 1.0, False)
            except ValueError as exc:
                raise ValueError(f"{exc} (atoms from {src})") from None
        n = len(wfs)
        if n == num_wann:
            if spin_order is not None:
                raise ValueError(f"spin_order={spin_order!r} given, but orbitals={orbitals!r} already gives num_wann = {num_wann} orbitals: no spin")
            return _atoms_from_wfs(wfs, num_wann, None, "the spec")
        if 2 * n == num_wann:
            so = spin_order or "interleaved"
            if so not in SPIN_ORDERS:
                raise ValueError(f"unknown spin_order {so!r}; allowed: {', '.join(SPIN_ORDERS)}")
            spinful = [WannierOrbital(w.site, w.position, w.label, s) for w in wfs for s in (1, -1)] if so == "interleaved" else [
                WannierOrbital(w.site, w.position, w.label, s) for s in (1, -1) for w in wfs]
            return _atoms_from_wfs(spinful, num_wann, so, "the spec")
        raise ValueError(f"orbitals={orbitals!r} gives {n} orbitals ({2 * n} with spin), but {where} has num_wann = {num_wann}")
    if atoms is not None and all(isinstance(a, Atom) for a in atoms):
        atoms = list(atoms)
        n = sum(len(a.orbitals) for a in atoms)
        if n == num_wann:
            if spin_order is not None:
                raise ValueError(f"spin_order={spin_order!r} given, but atoms= hold num_wann = {num_wann} orbitals: no spin")
            return atoms, False, "interleaved"
        if 2 * n == num_wann:
            so = spin_order or "interleaved"
            if so not in SPIN_ORDERS:
                raise ValueError(f"unknown spin_order {so!r}; allowed: {', '.join(SPIN_ORDERS)}")
            return atoms, True, so
        raise ValueError(f"atoms= hold {n} orbitals ({2 * n} with spin), but {where} has num_wann = {num_wann}")
    if atoms is not None:
        raise ValueError("atoms= without orbitals= must be orbsym.materials.Atom objects with their orbital labels; (name, position) pairs need an orbitals= spec such as 'Ti: d'")
    if win is not None and win.projections is not None:
        if win.random:
            raise ValueError(f"{win.path}, line {win.projection_lines[0]}: the projections are partly random and cannot be identified; pass orbitals=... or win=None")
        odd = next((p for p in win.projections if p.axes is not None or p.spin_axis is not None), None)
        if odd is not None:
            what = f"local axes z={odd.axes[0]}, x={odd.axes[1]}" if odd.axes is not None else f"spin axis {odd.spin_axis}"
            raise ValueError(
                f"{win.path}, line {odd.line}: projection with {what}: its Wannier functions are not the Cartesian real "
                "harmonics / S_z states that orbsym's labels mean (not supported); pass orbitals='...' to assert labels, "
                f"or win=None with cell=read_win({win.path!r}).cell for generic orbitals"
            )
        if len(win.projections) != num_wann:
            a, b = win.projection_lines
            raise _count_error(f"the projections of {win.path} (lines {a}-{b})" + (" with spinors" if win.spinors else ""), len(win.projections), num_wann, where)
        return _atoms_from_wfs(list(win.projections), num_wann, spin_order, win.path)
    # unidentified: one generic atom per Wannier function
    if spin_order is not None:
        raise ValueError(f"spin_order={spin_order!r} needs identified orbitals (projections in the .win, atoms= or orbitals=)")
    pos = cen.centres if cen is not None else (tb_centres if tb_centres is not None else np.zeros((num_wann, 3)))
    return [Atom(f"wf{i + 1}", pos[i], (f"wf{i + 1}",)) for i in range(num_wann)], False, "interleaved"


def _cell_arg(cell):
    """``cell=`` as a (3, 3) float array, or a ValueError naming it."""
    try:
        c = np.asarray(cell, dtype=float)
    except (TypeError, ValueError):
        c = None
    if c is None or c.shape != (3, 3) or not np.all(np.isfinite(c)):
        raise ValueError(f"cell must be 3 lattice vectors as rows (3 x 3 numbers, Angstrom), got {cell!r}")
    return c


def _resolve_cell(cell, win, where):
    if cell is not None:
        c = _cell_arg(cell)
        if win is not None and win.cell is not None and not np.allclose(c, win.cell, rtol=1e-6, atol=1e-6):
            raise ValueError(f"cell= {c.tolist()} differs from unit_cell_cart of {win.path} {win.cell.tolist()} (Angstrom): give one of them")
        return c
    if win is not None and win.cell is not None:
        return win.cell
    raise ValueError(
        f"{where} does not hold the lattice vectors, and physical units (Angstrom, eV; k in 1/Angstrom, "
        "conductivities in (hbar/e)(Ohm cm)^-1) need them: pass cell=[[a1], [a2], [a3]] (rows, Angstrom) or "
        "win='seedname.win' with a unit_cell_cart block"
    )


def _apply_wsvec(path_hr, Rt, H, wsvec, num_wann):
    """Split every element over its Wigner-Seitz images (module docstring)."""
    table, where = read_wsvec(wsvec)
    wpath = str(wsvec)
    needed = {(R, m, n) for R in Rt for m in range(1, num_wann + 1) for n in range(1, num_wann + 1)}
    extra = [k for k in table if k not in needed]
    if extra:
        k = min(extra, key=lambda k: where[k])
        raise ValueError(f"{wpath}, line {where[k]}: (R, m, n) = {k} is not an element of {path_hr} (num_wann = {num_wann}, {len(Rt)} lattice vectors): the files do not belong together")
    missing = [k for k in sorted(needed) if k not in table]
    if missing:
        raise ValueError(f"{wpath}: no images for (R, m, n) = {missing[0]} of {path_hr} ({len(missing)} elements missing): the files do not belong together")
    out = {}
    for b, R in enumerate(Rt):
        Rv = np.array(R)
        for m in range(num_wann):
            for n in range(num_wann):
                T = table[(R, m + 1, n + 1)]
                v = H[b, m, n] / len(T)
                for t in T:
                    key = tuple(int(x) for x in Rv + t)
                    if key not in out:
                        out[key] = np.zeros((num_wann, num_wann), complex)
                    out[key][m, n] += v
    out.setdefault((0, 0, 0), np.zeros((num_wann, num_wann), complex))
    return out


def _build(path, Rt, H, R_lines, num_wann, cell, *, atoms, orbitals, win, centres, wsvec, spin_order, file_cell=None, tb_centres=None):
    win_obj = None
    if win is not None:
        win_obj = win if isinstance(win, Win) else read_win(win)
    if file_cell is None:
        cell = _resolve_cell(cell, win_obj, path)
    else:
        for other, src in ((cell, "cell="), (None if win_obj is None else win_obj.cell, None if win_obj is None else f"unit_cell_cart of {win_obj.path}")):
            if other is not None and not np.allclose(_cell_arg(other), file_cell, rtol=1e-6, atol=1e-6):
                raise ValueError(f"{src} {np.asarray(other).tolist()} differs from the lattice of {path} {file_cell.tolist()} (Angstrom)")
        cell = file_cell
    where = f"{path}"
    atoms_, spinful, order = _model_orbitals(num_wann, where, atoms=atoms, orbitals=orbitals, win=win_obj, centres=centres, spin_order=spin_order, tb_centres=tb_centres)
    H = _check_pairs(path, Rt, H, R_lines)
    if wsvec is not None:
        hop = _apply_wsvec(path, Rt, H, wsvec, num_wann)
        src = f"{path} with the images of {wsvec}"
    else:
        hop = {R: H[b] for b, R in enumerate(Rt)}
        src = path
    if (0, 0, 0) not in hop:
        raise ValueError(f"{path}: no block for R = (0, 0, 0) (the on-site terms); a Wannier90 file always has one")
    try:
        return TightBinding(cell, atoms_, hop, spinful=spinful, spin_order=order, name=_seedname(path))
    except ValueError as exc:
        raise ValueError(f"{src}: {exc}") from None


# ---------------------------------------------------------------------------------------------- readers
def read_hr(path, *, cell=None, atoms=None, orbitals=None, win=None, centres=None, wsvec=None, spin_order=None):
    """Read a Wannier90 ``seedname_hr.dat`` as a :class:`~orbsym.materials.model.TightBinding`.

    ``H(R)_mn = <0 m|H|R n> = (Re + i Im) / ndegen(R)`` (eV; convention II, ``H(k) = sum_R e^{ik.R} H(R)``;
    module docstring), every element optionally split over its Wigner-Seitz images (``wsvec``).

    Parameters
    ----------
    path : str or Path
    cell : array_like (3, 3), optional
        Lattice vectors as rows (Angstrom).  Needed unless ``win`` has ``unit_cell_cart`` (the file
        holds no lattice; refused with a message otherwise).
    atoms : sequence, optional
        :class:`~orbsym.materials.model.Atom` objects with their orbital labels (used as given, in
        basis order; twice the orbital count = spinful), or ``(name, position)`` pairs (Angstrom)
        for an ``orbitals=`` spec.
    orbitals : str, optional
        A spec ``"Ti: s,p,d; O: p"``: per species (all atoms with that name, in order) the states in
        Wannier90's names and order (``s``, ``p``, ``d``, ``dxy``, ``l=2,mr=1``, ...).  Atoms from
        ``atoms``, else the ``.win``, else the atoms of ``centres``.  If it gives half of ``num_wann``
        orbitals, the model is spinful (``spin_order``, default "interleaved").
    win : str, Path, Win or "auto", optional
        ``seedname.win``: the cell, and the orbitals from its projections (``spinors`` included).
        ``"auto"``: ``seedname.win`` next to ``path`` if it exists.
    centres : str, Path, Centres or "auto", optional
        ``seedname_centres.xyz``: positions of unidentified Wannier functions; atoms for ``orbitals=``.
    wsvec : str, Path or "auto", optional
        ``seedname_wsvec.dat``: split each element over its images (``use_ws_distance``).
    spin_order : {"interleaved", "block"}, optional
        Spinor order of the Wannier functions.  Default: Wannier90's (up, down per projected orbital,
        "interleaved"), or "block" when the ``(u)``/``(d)`` projections are all up then all down.

    Returns
    -------
    TightBinding
        Basis index ``i`` = Wannier function ``i + 1``; lengths Angstrom, energies eV.  Without
        projections, ``orbitals`` or ``atoms``: generic spinless atoms ``wf1..wfN`` with ``L = 0``
        (each Wannier function its own orbital, spinors or not).

    Raises
    ------
    ValueError
        Naming the file and line: truncated file, non-numeric token, wrong counts (weights, lines
        per R), ``ndegen < 1``, a duplicate R or element, a missing ``-R`` or ``H(-R) != H(R)^dagger``
        beyond ``max(FILE_TOLERANCE, HERMITICITY_TOL x max|H|)`` (naming R and the mismatch), projections
        that do not give ``num_wann`` functions, an unknown projection, no cell.
    """
    win, centres, wsvec = _auto(win, path, ".win"), _auto(centres, path, "_centres.xyz"), _auto(wsvec, path, "_wsvec.dat")
    cur = _Lines(path)
    if not cur.lines:
        raise ValueError(f"{path}: empty file (expected a Wannier90 _hr.dat)")
    cur.i = 1  # the header line (date), any text
    num_wann, nrpts, ndegen, _ = _header_counts(cur)
    nw2 = num_wann * num_wann
    arr, lines = cur.rows(nrpts * nw2, 7, 5, f"matrix-element 'R_1 R_2 R_3 m n Re Im' (nrpts x num_wann^2 = {nrpts} x {nw2})")
    cur.check_end(f"the {nrpts} x {nw2} matrix elements")
    ints = arr[:, :5].astype(int)
    Rb = ints[:, :3].reshape(nrpts, nw2, 3)
    bad = np.argwhere(np.any(Rb != Rb[:, :1, :], axis=2))
    if bad.size:
        b, r = bad[0]
        row = b * nw2 + r
        raise cur.error(lines[row], f"R = {_t(Rb[b, r])} inside the block of R = {_t(Rb[b, 0])} (from line {lines[b * nw2]}): each R has num_wann^2 = {nw2} lines (wrong num_wann or a missing line?)")
    R_lines = lines[::nw2]
    Rt, H = _blocks_from_rows(cur, ints[:, 3:], arr[:, 5:], lines, Rb[:, 0], R_lines, num_wann, nrpts, ndegen, "H(R)")
    return _build(str(path), Rt, H, R_lines, num_wann, cell, atoms=atoms, orbitals=orbitals, win=win, centres=centres, wsvec=wsvec, spin_order=spin_order)


def read_tb(path, *, cell=None, atoms=None, orbitals=None, win=None, centres=None, wsvec=None, spin_order=None):
    """Read a Wannier90 ``seedname_tb.dat`` (cell in its header) as a :class:`TightBinding`.

    ``H(R)`` exactly as :func:`read_hr` (divided by ``ndegen``, convention II, optional ``wsvec``).
    The position matrix ``<0 m|r|R n> / ndegen(R)`` (Angstrom) is parsed and checked; its ``R = 0``
    diagonal -- the Wannier centres -- places unidentified Wannier functions when no ``centres`` are
    given; the rest (the Berry connection) is ignored: orbsym uses point-like orbitals.  ``cell`` is
    optional (the file's cell; a different ``cell=`` or ``.win`` cell is refused).  Other parameters
    as :func:`read_hr`.
    """
    win, centres, wsvec = _auto(win, path, ".win"), _auto(centres, path, "_centres.xyz"), _auto(wsvec, path, "_wsvec.dat")
    cur = _Lines(path)
    if not cur.lines:
        raise ValueError(f"{path}: empty file (expected a Wannier90 _tb.dat)")
    cur.i = 1
    rows = []
    for a in range(3):
        no, text = cur.next(f"lattice vector a_{a + 1}")
        toks = text.split()
        if len(toks) != 3:
            raise cur.error(no, f"lattice vector a_{a + 1} needs 3 Cartesian components (Angstrom), got {text.strip()!r}")
        rows.append([cur.to_float(no, t, f"lattice vector a_{a + 1}") for t in toks])
    file_cell = np.array(rows)
    if abs(np.linalg.det(file_cell)) < 1e-12:
        raise cur.error(no, f"the lattice vectors are linearly dependent: {file_cell.tolist()}")
    num_wann, nrpts, ndegen, _ = _header_counts(cur)
    nw2 = num_wann * num_wann

    def blocks(ncols, what):
        Rs, Rl, data, dl = [], [], [], []
        for b in range(nrpts):
            no, R = cur.ints(f"the lattice vector 'R_1 R_2 R_3' of {what} block {b + 1} of {nrpts}", 3)
            Rs.append(R)
            Rl.append(no)
            arr, lines = cur.rows(nw2, ncols, 2, f"{what} 'm n ...' (num_wann^2 = {nw2} per R, block {b + 1} of {nrpts})")
            data.append(arr)
            dl.append(lines)
        return np.array(Rs), np.array(Rl), np.concatenate(data), np.concatenate(dl)

    R_rows, R_lines, arr, lines = blocks(4, "H(R)")
    ints = arr[:, :2].astype(int)
    Rt, H = _blocks_from_rows(cur, ints, arr[:, 2:], lines, R_rows, R_lines, num_wann, nrpts, ndegen, "H(R)")
    P_rows, P_lines, parr, plines = blocks(8, "position")
    cur.check_end("the position matrix")
    for b in range(nrpts):
        if _t(P_rows[b]) != Rt[b]:
            raise cur.error(P_lines[b], f"position block {b + 1} is for R = {_t(P_rows[b])}, but H(R) block {b + 1} (line {R_lines[b]}) is for R = {Rt[b]}")
    Rp, X = _blocks_from_rows(cur, parr[:, :2].astype(int), parr[:, 2:4], plines, P_rows, P_lines, num_wann, nrpts, ndegen, "position")
    tb_centres = None
    if (0, 0, 0) in Rt:
        b0 = Rt.index((0, 0, 0))
        sel = parr.reshape(nrpts, nw2, 8)[b0]
        mm, nn = sel[:, 0].astype(int) - 1, sel[:, 1].astype(int) - 1
        diag = mm == nn
        tb_centres = np.zeros((num_wann, 3))
        tb_centres[mm[diag]] = sel[diag][:, [2, 4, 6]] / ndegen[b0]
    return _build(str(path), Rt, H, R_lines, num_wann, cell, atoms=atoms, orbitals=orbitals, win=win, centres=centres, wsvec=wsvec,
                  spin_order=spin_order, file_cell=file_cell, tb_centres=tb_centres)


# ---------------------------------------------------------------------------------------------- writer
def write_hr(model, path, ndegen=None):
    """Write ``model`` as a Wannier90 ``_hr.dat`` (atomically, :func:`orbsym.io.atomic_write`).

    Each line holds ``ndegen(R) x H(R)_mn`` (the file convention: the reader divides by the weight),
    ``m`` fastest, in full double precision (``%.16e``, not Wannier90's ``F12.6``), so that
    :func:`read_hr` gives back ``H(R)`` to rounding.

    Parameters
    ----------
    model : TightBinding
    path : str or Path
    ndegen : sequence of int (one per ``model.R``) or dict {R: int}, optional
        Degeneracy weights (positive integers); default 1 for every R.  The cell, atoms and spin are
        not part of the format: pass them (``cell=``, ``win=``, ``orbitals=``) when reading back.
    """
    from ..io import atomic_write

    if not isinstance(model, TightBinding):
        raise TypeError(f"model must be an orbsym.materials.TightBinding, got {type(model).__name__}")
    nR = len(model.R)
    if ndegen is None:
        w = np.ones(nR, dtype=int)
    else:
        if isinstance(ndegen, dict):
            missing = [tuple(int(v) for v in R) for R in model.R if tuple(int(v) for v in R) not in ndegen]
            if missing:
                raise ValueError(f"ndegen has no weight for R = {missing[0]}")
            ndegen = [ndegen[tuple(int(v) for v in R)] for R in model.R]
        w = np.asarray(ndegen)
        if w.shape != (nR,) or not np.all(np.equal(np.mod(w, 1), 0)) or np.any(w < 1):
            raise ValueError(f"ndegen must be {nR} positive integers (one per model.R), got {np.asarray(ndegen).tolist()}")
        w = w.astype(int)
    n = model.n
    with atomic_write(path) as fh:
        fh.write(f" written by orbsym: model {model.name!r}, H(R) x ndegen(R) in eV (Wannier90 _hr.dat layout)\n")
        fh.write(f"{n:12d}\n{nR:12d}\n")
        for s in range(0, nR, 15):
            fh.write("".join(f"{v:5d}" if v < 10000 else f" {v}" for v in w[s:s + 15]) + "\n")
        for R, M, wt in zip(model.R, model.H, w):
            head = " ".join(f"{int(v):4d}" for v in R)
            V = M * wt
            for j in range(n):
                for i in range(n):
                    fh.write(f"{head} {i + 1:4d} {j + 1:4d} {V[i, j].real: .16e} {V[i, j].imag: .16e}\n")
