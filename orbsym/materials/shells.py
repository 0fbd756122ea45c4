"""Atomic shells: Wannier90's real orbitals, their rotations, L, S and the on-site L.S.

This module is the numeric (NumPy-only) physics of one atomic shell ``l = 0..3`` in the real-orbital
basis of Wannier90, and of the spin-1/2 attached to it.  It is what a numeric tight-binding model
(``orbsym.materials.model``) calls to attach angular-momentum operators to its orbitals.

Orbitals, order and phases (Wannier90)
--------------------------------------
The orbitals are Wannier90's real angular functions ``Theta_{l m_r}(theta, phi)``
(Wannier90 User Guide, chapter "Projections", table "Angular functions"; the same functions are
coded in ``ylm_wannier`` of ``pw2wannier90.f90``; checked against the Wannier90 sources of
2024-03, commit 7806b3f).  On the unit sphere ``(x, y, z) = r / |r|``:

====  ====  ==============  ==========================================
 l    m_r   label           Theta (x, y, z on the unit sphere)
====  ====  ==============  ==========================================
 0    1     ``s``           1 / sqrt(4 pi)
 1    1     ``pz``          sqrt(3 / 4pi) z
 1    2     ``px``          sqrt(3 / 4pi) x
 1    3     ``py``          sqrt(3 / 4pi) y
 2    1     ``dz2``         sqrt(5 / 16pi) (3 z^2 - 1)
 2    2     ``dxz``         sqrt(15 / 4pi) x z
 2    3     ``dyz``         sqrt(15 / 4pi) y z
 2    4     ``dx2-y2``      sqrt(15 / 16pi) (x^2 - y^2)
 2    5     ``dxy``         sqrt(15 / 4pi) x y
 3    1     ``fz3``         sqrt(7) / (4 sqrt(pi)) z (5 z^2 - 3)
 3    2     ``fxz2``        sqrt(21) / (4 sqrt(2 pi)) x (5 z^2 - 1)
 3    3     ``fyz2``        sqrt(21) / (4 sqrt(2 pi)) y (5 z^2 - 1)
 3    4     ``fz(x2-y2)``   sqrt(105) / (4 sqrt(pi)) z (x^2 - y^2)
 3    5     ``fxyz``        sqrt(105) / (2 sqrt(pi)) x y z
 3    6     ``fx(x2-3y2)``  sqrt(35) / (4 sqrt(2 pi)) x (x^2 - 3 y^2)
 3    7     ``fy(3x2-y2)``  sqrt(35) / (4 sqrt(2 pi)) y (3 x^2 - y^2)
====  ====  ==============  ==========================================

Each shell is in ``m_r`` order, which is the order in which Wannier90 emits the functions of a
shell (``readwrite.F90``, ``w90_readwrite_get_projections``: loops over ``l``, then ``m_r``, then spin).
Every function is normalised on the unit sphere and carries the *positive* sign of the monomial that
names it.  In terms of the complex spherical harmonics ``Y_l^m`` with the Condon-Shortley phase
(``Y_l^m`` proportional to ``(-1)^m e^{i m phi}`` for ``m > 0``), this is the standard real combination,
for ``m > 0``::

    cos type (m_r = 2m):      (Y_l^{-m} + (-1)^m Y_l^m) / sqrt(2)   ~ +cos(m phi)
    sin type (m_r = 2m + 1):  i (Y_l^{-m} - (-1)^m Y_l^m) / sqrt(2) ~ +sin(m phi)

and ``Y_l^0`` for ``m_r = 1``: the order in each shell is ``m = 0, cos 1, sin 1, cos 2, sin 2, ...``.
(:func:`complex_to_real` gives the matrix; the tests check it against ``scipy.special`` and against
finite rotations of the polynomials.)

Quirk of Wannier90 for f: its projection parser maps the *name* ``fxyz`` to ``m_r = 4`` and
``fz(x2-y2)`` to ``m_r = 5`` although the table and ``ylm_wannier`` have ``m_r = 4`` = z(x^2 - y^2) and
``m_r = 5`` = xyz.  Here a label always means the function it names; a full ``f`` shell (or ``l=3``)
is in ``m_r`` order, as Wannier90 emits it; ``parse_shells(..., wannier90_line=True)`` reproduces the
parser's swap when reading a ``.win`` file.

Caveat for importers: these orders are those of the *projections*.  The Wannier functions of a
``_hr.dat`` keep them only when the localisation does not reorder them (e.g. ``num_iter = 0`` or
well-localised projections); check ``_centres.xyz``.

Spin and spinor order
---------------------
``S = sigma / 2`` (``hbar = 1``) on ``(up, down)`` along +z.  A spinful basis of ``m`` orbitals has
``2m`` states in one of two orders (the ``order`` argument):

* ``"interleaved"``: ``(orb1 up, orb1 down, orb2 up, orb2 down, ...)``, index ``2 i + s``.  This is
  Wannier90's own order with ``spinors = .true.`` since version 2.0 (the spin loop is innermost in
  ``w90_readwrite_get_projections``), hence that of Quantum ESPRESSO (pw2wannier90) and of VASP >= 6
  (which adopted it: wannier_tools issue #198; WannSymm issue #8; TRIQS dft_tools PR #226).
* ``"block"``: ``(all orbitals up, then all orbitals down)``, index ``s m + i``.  This is what the old
  VASP2WANNIER90 interface of VASP 5.x gives (its projection loop runs over spinor components
  outermost; see the same threads), and what wannier_tools assumes for ``Package = 'VASP'``.

Units: L and S are dimensionless (``hbar = 1``); ``lam L.S`` has the units of ``lam`` (eV in the
materials layer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "SHELL_LETTERS",
    "SHELL_LABELS",
    "ORBITAL_GROUPS",
    "SPIN_ORDERS",
    "T2G_W90",
    "T2G_PAPER",
    "T2G_L_SIGNS",
    "label_shell",
    "w90_label",
    "parse_shells",
    "real_harmonic",
    "real_harmonics",
    "complex_to_real",
    "shell_rotation",
    "orbital_rotation",
    "shell_L",
    "orbital_L",
    "spin_matrices_half",
    "spin_rotation",
    "spinful",
    "spin_operator",
    "spin_reorder_index",
    "soc_matrix",
    "site_operators",
    "t2g_to_paper",
    "paper_t2g_L",
    "t2g_physical_L",
]

#: Shell letters and their angular momentum ``l``.
SHELL_LETTERS = {"s": 0, "p": 1, "d": 2, "f": 3}

#: Wannier90's real orbitals of each shell, in Wannier90's order (``m_r = 1, 2, ...``).
SHELL_LABELS = {
    0: ("s",),
    1: ("pz", "px", "py"),
    2: ("dz2", "dxz", "dyz", "dx2-y2", "dxy"),
    3: ("fz3", "fxz2", "fyz2", "fz(x2-y2)", "fxyz", "fx(x2-3y2)", "fy(3x2-y2)"),
}

#: Named subsets of the d shell (cubic crystal-field groups), each in Wannier90 order.
ORBITAL_GROUPS = {"t2g": ("dxz", "dyz", "dxy"), "eg": ("dz2", "dx2-y2")}

#: The two spinful orders (see the module docstring).
SPIN_ORDERS = ("interleaved", "block")

#: t2g orbitals in Wannier90 order and in orbsym's Eq.-2 order (``orbsym.conventions``).
T2G_W90 = ORBITAL_GROUPS["t2g"]
T2G_PAPER = ("dyz", "dxz", "dxy")

#: Component signs ``s_a`` of ``P L_a P = s_a Ltilde_a``: the physical d-shell L projected on t2g,
#: written in the Eq.-2 basis ``(d_yz, d_xz, d_xy)``, against the effective L of Eq. (2).
#: Found numerically and pinned by the tests (see :func:`t2g_physical_L`).
T2G_L_SIGNS = (1, 1, -1)

_LABEL_INFO = {lab: (l, i) for l, labs in SHELL_LABELS.items() for i, lab in enumerate(labs)}

# (kind, |m|) of each m_r in a shell: m = 0, then cos/sin pairs for |m| = 1..l.
_MR_KIND = {l: (("0", 0),) + tuple((k, m) for m in range(1, l + 1) for k in ("c", "s")) for l in SHELL_LABELS}


def w90_label(l, mr):
    """The label of Wannier90's ``(l, m_r)`` (``m_r = 1 .. 2l + 1``, the table's meaning)."""
    _check_l(l)
    if isinstance(mr, bool) or not isinstance(mr, (int, np.integer)) or not 1 <= mr <= 2 * l + 1:
        raise ValueError(f"m_r must be an integer 1..{2 * l + 1} for l = {l}, got {mr!r}")
    return SHELL_LABELS[int(l)][int(mr) - 1]


def label_shell(label):
    """``(l, index)`` of a Wannier90 orbital label: its shell and its position in that shell.

    Raises
    ------
    ValueError
        For an unknown label (the message lists the allowed ones).
    """
    if not isinstance(label, str):
        raise TypeError(f"an orbital label must be a string, got {label!r}")
    try:
        return _LABEL_INFO[label.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown orbital label {label!r}; allowed: {', '.join(_LABEL_INFO)}") from None


# --------------------------------------------------------------------------------------------------
# parsing of per-site orbital specs
# --------------------------------------------------------------------------------------------------

# wannier90.x's projection parser maps these names to each other's m_r (see parse_shells).
_W90_PARSER_SWAP = {"fxyz": "fz(x2-y2)", "fz(x2-y2)": "fxyz"}

_ALLOWED_TOKENS = (
    "shell letters " + ", ".join(SHELL_LETTERS)
    + "; groups " + ", ".join(ORBITAL_GROUPS)
    + "; 'l=L' or 'l=L,mr=i,j' with L in 0..3; orbitals " + ", ".join(_LABEL_INFO)
)


def _parse_l_group(group, spec):
    """``l=L`` or ``l=L,mr=i,j,...`` (Wannier90 syntax) -> list of (l, index)."""
    head, _, rest = group.partition(",")
    try:
        l = int(head[2:])
    except ValueError:
        raise ValueError(f"bad token {head!r} in orbital spec {spec!r}: expected 'l=L' with L in 0..3") from None
    if l not in SHELL_LABELS:
        what = "hybrid orbitals (l < 0) are not supported" if l < 0 else "l must be 0..3"
        raise ValueError(f"bad token {head!r} in orbital spec {spec!r}: {what}; allowed: {_ALLOWED_TOKENS}")
    if not rest:
        return [(l, i) for i in range(2 * l + 1)]
    if not rest.startswith("mr="):
        raise ValueError(f"bad token {rest!r} in orbital spec {spec!r}: after 'l={l},' Wannier90 expects 'mr=i,j,...'")
    out = []
    for tok in rest[3:].split(","):
        try:
            mr = int(tok)
        except ValueError:
            raise ValueError(f"bad m_r {tok!r} in orbital spec {spec!r}: expected integers 1..{2 * l + 1}") from None
        if not 1 <= mr <= 2 * l + 1:
            raise ValueError(f"bad m_r {tok!r} in orbital spec {spec!r}: for l={l} m_r must be 1..{2 * l + 1}")
        out.append((l, mr - 1))
    return out


def parse_shells(spec, wannier90_line=False):
    """Orbital labels of one site from a spec such as ``"s,p,d"``, ``"t2g"``, ``"p;d"`` or ``"l=2"``.

    Parameters
    ----------
    spec : str
        Comma- or semicolon-separated tokens, case-insensitive, blanks ignored.  A token is a shell
        letter (``s p d f``: the whole shell), a group (``t2g`` = dxz, dyz, dxy; ``eg`` = dz2, dx2-y2),
        a single Wannier90 label (``px``, ``dx2-y2``, ``fz(x2-y2)``, ...; see :data:`SHELL_LABELS`),
        or Wannier90's ``l=L`` / ``l=L,mr=i,j`` (a ``;``-separated group of its own).
    wannier90_line : bool
        ``False`` (default): shells appear in the order in which the spec first names them
        (``"d,s"`` -> the d shell, then s), and every label means the function it names.
        ``True``: read the spec as wannier90.x reads the orbitals of *one* line of a ``.win``
        projection block (``readwrite.F90``, ``w90_readwrite_get_projections``): shells sorted by
        ``l`` (``Ti: d;s`` gives s first), and the f names ``fxyz`` / ``fz(x2-y2)`` swapped as its
        parser swaps them (it sets ``m_r = 4``, the function z(x^2 - y^2), for the name ``fxyz``).
        The returned labels still name the functions actually obtained.  A ``.win`` importer should
        call this line by line.

    Returns
    -------
    tuple of str
        The labels; within each shell always in Wannier90's ``m_r`` order (``"dxy,dxz"`` ->
        ``("dxz", "dxy")``).

    Raises
    ------
    ValueError
        An unknown token (named, with the allowed ones), an orbital named twice, or an empty spec.
    TypeError
        ``spec`` is not a string.

    Examples
    --------
    >>> parse_shells("s,px")
    ('s', 'px')
    >>> parse_shells("t2g")
    ('dxz', 'dyz', 'dxy')
    """
    if not isinstance(spec, str):
        raise TypeError(f"an orbital spec must be a string such as 's,p,d', got {spec!r}")
    if not isinstance(wannier90_line, bool):
        raise TypeError(f"wannier90_line must be True or False, got {wannier90_line!r}")
    text = "".join(spec.split()).lower()
    if not text.strip(",;"):
        raise ValueError(f"empty orbital spec {spec!r}; allowed: {_ALLOWED_TOKENS}")
    picked = []  # (l, index) in the order named
    for group in text.split(";"):
        if not group:
            continue
        if group.startswith("l="):
            picked.extend(_parse_l_group(group, spec))
            continue
        for tok in group.split(","):
            if not tok:
                continue
            if tok in SHELL_LETTERS:
                l = SHELL_LETTERS[tok]
                picked.extend((l, i) for i in range(2 * l + 1))
            elif tok in ORBITAL_GROUPS:
                picked.extend(_LABEL_INFO[lab] for lab in ORBITAL_GROUPS[tok])
            elif tok in _LABEL_INFO:
                if wannier90_line and tok in _W90_PARSER_SWAP:
                    tok = _W90_PARSER_SWAP[tok]
                picked.append(_LABEL_INFO[tok])
            else:
                raise ValueError(f"unknown orbital token {tok!r} in spec {spec!r}; allowed: {_ALLOWED_TOKENS}")
    seen = set()
    for key in picked:
        if key in seen:
            raise ValueError(f"orbital {SHELL_LABELS[key[0]][key[1]]!r} is named twice in spec {spec!r}")
        seen.add(key)
    shells = list(dict.fromkeys(l for l, _ in picked))
    if wannier90_line:
        shells.sort()
    return tuple(SHELL_LABELS[l][i] for l in shells for i in sorted(i for ll, i in picked if ll == l))


def _as_labels(labels):
    """Normalise a spec string or a sequence of labels to a tuple of known, distinct labels."""
    if isinstance(labels, str):
        return parse_shells(labels)
    if not isinstance(labels, Sequence) or isinstance(labels, bytes):
        raise TypeError(f"orbitals must be a spec string or a sequence of labels, got {labels!r}")
    out = tuple(SHELL_LABELS[label_shell(lab)[0]][label_shell(lab)[1]] for lab in labels)
    if not out:
        raise ValueError("no orbitals given")
    dup = [lab for lab in dict.fromkeys(out) if out.count(lab) > 1]
    if dup:
        raise ValueError(f"orbital {dup[0]!r} appears twice in {tuple(labels)!r}")
    return out


# --------------------------------------------------------------------------------------------------
# the real harmonics
# --------------------------------------------------------------------------------------------------

_PI = math.pi
_C = {
    "s": 1 / math.sqrt(4 * _PI),
    "p": math.sqrt(3 / (4 * _PI)),
    "d0": math.sqrt(5 / (16 * _PI)),
    "d1": math.sqrt(15 / (4 * _PI)),
    "d2": math.sqrt(15 / (16 * _PI)),
    "f0": math.sqrt(7) / (4 * math.sqrt(_PI)),
    "f1": math.sqrt(21) / (4 * math.sqrt(2 * _PI)),
    "f2": math.sqrt(105) / (4 * math.sqrt(_PI)),
    "f3": math.sqrt(35) / (4 * math.sqrt(2 * _PI)),
}

_POLY = {
    "s": lambda x, y, z: _C["s"] * np.ones_like(x),
    "pz": lambda x, y, z: _C["p"] * z,
    "px": lambda x, y, z: _C["p"] * x,
    "py": lambda x, y, z: _C["p"] * y,
    "dz2": lambda x, y, z: _C["d0"] * (3 * z * z - 1),
    "dxz": lambda x, y, z: _C["d1"] * x * z,
    "dyz": lambda x, y, z: _C["d1"] * y * z,
    "dx2-y2": lambda x, y, z: _C["d2"] * (x * x - y * y),
    "dxy": lambda x, y, z: _C["d1"] * x * y,
    "fz3": lambda x, y, z: _C["f0"] * z * (5 * z * z - 3),
    "fxz2": lambda x, y, z: _C["f1"] * x * (5 * z * z - 1),
    "fyz2": lambda x, y, z: _C["f1"] * y * (5 * z * z - 1),
    "fz(x2-y2)": lambda x, y, z: _C["f2"] * z * (x * x - y * y),
    "fxyz": lambda x, y, z: 2 * _C["f2"] * x * y * z,
    "fx(x2-3y2)": lambda x, y, z: _C["f3"] * x * (x * x - 3 * y * y),
    "fy(3x2-y2)": lambda x, y, z: _C["f3"] * y * (3 * x * x - y * y),
}


def _unit(r):
    r = np.asarray(r, dtype=float)
    if r.ndim == 0 or r.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {r.shape}")
    norm = np.linalg.norm(r, axis=-1)
    if not np.all(np.isfinite(norm)) or np.any(norm == 0):
        raise ValueError("points must be finite and non-zero (the angular function is undefined at r = 0)")
    return r / norm[..., None]


def real_harmonic(label, r):
    """Wannier90's real angular function ``Theta_label(r / |r|)`` at Cartesian points.

    Parameters
    ----------
    label : str
        A Wannier90 orbital label (:data:`SHELL_LABELS`).
    r : array_like, shape (..., 3)
        Cartesian points (any non-zero length; only the direction matters).

    Returns
    -------
    ndarray, shape (...)
        The function of the module table: normalised so that ``int |Theta|^2 dOmega = 1`` and with the
        positive sign of its monomial (``real_harmonic("dxy", r)`` = ``sqrt(15/4pi) x y / r^2``).
    """
    l, i = label_shell(label)
    u = _unit(r)
    return _POLY[SHELL_LABELS[l][i]](u[..., 0], u[..., 1], u[..., 2])


def real_harmonics(l, r):
    """All ``2l + 1`` functions of shell ``l`` at points ``r``: shape ``(..., 2l + 1)``, W90 order."""
    _check_l(l)
    u = _unit(r)
    return np.stack([_POLY[lab](u[..., 0], u[..., 1], u[..., 2]) for lab in SHELL_LABELS[l]], axis=-1)


def _check_l(l):
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or int(l) not in SHELL_LABELS:
        raise ValueError(f"shell l must be one of {tuple(SHELL_LABELS)}, got {l!r}")


@lru_cache(maxsize=None)
def _complex_to_real(l):
    n = 2 * l + 1
    U = np.zeros((n, n), dtype=complex)
    col = {m: l - m for m in range(-l, l + 1)}  # columns m = l, l-1, ..., -l
    s2 = 1 / math.sqrt(2)
    for row, (kind, m) in enumerate(_MR_KIND[l]):
        if kind == "0":
            U[row, col[0]] = 1
        elif kind == "c":
            U[row, col[-m]] = s2
            U[row, col[m]] = (-1) ** m * s2
        else:
            U[row, col[-m]] = 1j * s2
            U[row, col[m]] = -1j * (-1) ** m * s2
    U.setflags(write=False)
    return U


def complex_to_real(l):
    """Unitary ``U`` with ``Theta_i = sum_m U[i, m] Y_l^m`` (Condon-Shortley ``Y_l^m``).

    Rows: the real orbitals of shell ``l`` in Wannier90 order; columns: ``m = l, l-1, ..., -l``
    (the order of ``orbsym.symbolic.generators.spin_matrices``).  Returns a copy.
    """
    _check_l(l)
    return _complex_to_real(int(l)).copy()


# --------------------------------------------------------------------------------------------------
# rotations
# --------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _sample_points(l):
    """Fixed, well-spread sample directions and the design matrix of shell l on them."""
    rng = np.random.default_rng(20_2026 + l)
    pts = rng.normal(size=(8 * (2 * l + 1) + 16, 3))
    pts /= np.linalg.norm(pts, axis=1)[:, None]
    A = real_harmonics(l, pts)
    pts.setflags(write=False)
    A.setflags(write=False)
    return pts, A


def _as_orthogonal(R):
    try:
        R = np.asarray(R, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"R must be a real 3x3 matrix, got {R!r}") from None
    if R.shape != (3, 3) or not np.all(np.isfinite(R)):
        raise ValueError(f"R must be a finite real 3x3 matrix, got shape {R.shape}")
    err = np.max(np.abs(R @ R.T - np.eye(3)))
    if err > 1e-8:
        raise ValueError(f"R must be orthogonal (R R^T = 1); |R R^T - 1|_max = {err:.3g}")
    return R


def shell_rotation(l, R):
    """Real orthogonal representation matrix ``D^l(R)`` of a point operation on shell ``l``.

    For a 3x3 orthogonal ``R`` (proper or improper), ``D`` is defined by::

        Theta_i(R^{-1} r) = sum_j Theta_j(r) D_ji        (i, j in Wannier90 order)

    i.e. column ``i`` of ``D`` holds the actively rotated orbital ``i`` (orbital ``i`` carried by
    ``R``) in the basis of the unrotated ones.  It is a homomorphism, ``D(R1 R2) = D(R1) D(R2)``, and
    ``D(-1) = (-1)^l`` (each orbital has parity ``(-1)^l``).  For proper rotations
    ``D(R_n(alpha)) = exp(-i alpha n.L)`` with the matrices of :func:`shell_L`.

    Computed by least squares on fixed sample directions (the rotated functions lie exactly in the
    span of the shell, so the fit is exact to rounding; the residual is checked).

    Raises
    ------
    ValueError
        ``l`` not in 0..3, or ``R`` not a finite orthogonal 3x3 matrix.
    """
    _check_l(l)
    R = _as_orthogonal(R)
    pts, A = _sample_points(int(l))
    B = real_harmonics(int(l), pts @ R)  # rows: Theta(R^{-1} p) = Theta(R^T p); (R^T p)^T = p^T R
    D, *_ = np.linalg.lstsq(A, B, rcond=None)
    resid = np.max(np.abs(A @ D - B))
    if resid > 1e-9:  # pragma: no cover - cannot happen for orthogonal R
        raise RuntimeError(f"rotated shell l={l} left its span (residual {resid:.3g})")
    return D


def orbital_rotation(labels, R):
    """``D(R)`` on the span of given orbitals (block diagonal per shell), same convention as
    :func:`shell_rotation`.

    The span must be closed under ``R`` (e.g. t2g under the cubic group); otherwise ValueError, naming
    how much weight leaves the span.
    """
    labs = _as_labels(labels)
    R = _as_orthogonal(R)
    info = [label_shell(lab) for lab in labs]
    D = np.zeros((len(labs), len(labs)))
    full = {l: shell_rotation(l, R) for l in {l for l, _ in info}}
    for a, (la, ia) in enumerate(info):
        for b, (lb, ib) in enumerate(info):
            if la == lb:
                D[a, b] = full[la][ia, ib]
    leak = np.max(np.abs(D.T @ D - np.eye(len(labs))))
    if leak > 1e-9:
        raise ValueError(f"the orbitals {labs} are not closed under R (|D^T D - 1|_max = {leak:.3g})")
    return D


def spin_rotation(R):
    """SU(2) matrix ``U(R)`` on ``(up, down)`` with ``U S_a U^dag = sum_b R_ba S_b`` for proper ``R``.

    ``U = exp(-i theta n.sigma / 2)`` for ``R = R_n(theta)``, ``theta`` in ``[0, pi]``: the sign of
    ``U`` (double group) is this choice.  Spin is a pseudovector: an improper ``R`` acts as the proper
    ``det(R) R`` (inversion leaves spin unchanged).
    """
    R = _as_orthogonal(R)
    R = R * np.sign(np.linalg.det(R))
    cos_t = np.clip((np.trace(R) - 1) / 2, -1.0, 1.0)
    theta = math.acos(cos_t)
    if theta < 1e-12:
        return np.eye(2, dtype=complex)
    if math.pi - theta < 1e-6:  # axis from the symmetric part: R = 2 n n^T - 1
        M = (R + np.eye(3)) / 2
        k = int(np.argmax(np.diag(M)))
        n = M[:, k] / math.sqrt(M[k, k])
    else:
        n = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * math.sin(theta))
    n = n / np.linalg.norm(n)
    sig = 2 * spin_matrices_half()
    return math.cos(theta / 2) * np.eye(2) - 1j * math.sin(theta / 2) * np.einsum("a,aij->ij", n, sig)


# --------------------------------------------------------------------------------------------------
# angular momentum
# --------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _spherical_L(l):
    """(L_x, L_y, L_z) on |l, m>, m = l..-l, Condon-Shortley phases (L_+ real, non-negative)."""
    ms = np.arange(l, -l - 1, -1, dtype=float)
    Lz = np.diag(ms).astype(complex)
    Lp = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    for k in range(1, 2 * l + 1):  # <m+1| L_+ |m>, row k-1 holds m+1 = ms[k] + 1
        m = ms[k]
        Lp[k - 1, k] = math.sqrt(l * (l + 1) - m * (m + 1))
    Lm = Lp.conj().T
    return np.stack([(Lp + Lm) / 2, (Lp - Lm) / 2j, Lz])


@lru_cache(maxsize=None)
def _shell_L(l):
    U = _complex_to_real(l)
    L = np.einsum("im,amn,jn->aij", U.conj(), _spherical_L(l), U)
    assert np.max(np.abs(L.real)) < 1e-13  # real orbitals: L is purely imaginary
    L = 1j * L.imag
    L.setflags(write=False)
    return L


def shell_L(l):
    """``(L_x, L_y, L_z)`` of a full shell in Wannier90's real basis, shape ``(3, 2l+1, 2l+1)``.

    ``(L_a)_ij = <Theta_i| L_a |Theta_j>`` with ``L = -i r x grad`` (``hbar = 1``), obtained as
    ``U^* L^{sph}_a U^T`` from the ``|l, m>`` matrices with Condon-Shortley phases
    (``L_+ |l,m> = sqrt(l(l+1) - m(m+1)) |l,m+1>``) and ``U`` = :func:`complex_to_real`.  The matrices
    are purely imaginary and antisymmetric (real orbitals), obey ``[L_a, L_b] = i eps_abc L_c`` and
    ``L^2 = l(l+1)``, and ``L_a = i dD(R_a(alpha))/dalpha |_0`` with :func:`shell_rotation`.
    """
    _check_l(l)
    return _shell_L(int(l)).copy()


def orbital_L(labels):
    """``(L_x, L_y, L_z)`` on the span of given real orbitals of one site, shape ``(3, m, m)``.

    Parameters
    ----------
    labels : str or sequence of str
        A spec for :func:`parse_shells` or Wannier90 labels, possibly from several shells and in any
        order (the matrices follow that order).

    Returns
    -------
    ndarray, complex, shape (3, m, m)
        ``(L_a)_ij = <Theta_i| L_a |Theta_j>``, Hermitian, block diagonal per shell (L does not mix
        different ``l``).  For a *complete* shell this is the exact L of :func:`shell_L`.  For an
        *incomplete* shell it is the projection ``P L_a P`` onto the given orbitals (``P`` the
        projector on their span), i.e. the operator a model restricted to those orbitals can carry;
        it no longer closes the su(2) algebra in general.  For t2g (dxz, dyz, dxy) the projected L
        obeys the *reversed* algebra ``[L_a, L_b] = -i eps_abc L_c`` with ``L^2 = 2`` (the T-P
        correspondence: t2g behaves as an l = 1 shell with L -> -L, see :func:`t2g_physical_L`); for
        eg (dz2, dx2-y2) it vanishes identically (quenched).
    """
    labs = _as_labels(labels)
    info = [label_shell(lab) for lab in labs]
    n = len(labs)
    L = np.zeros((3, n, n), dtype=complex)
    for a, (la, ia) in enumerate(info):
        full = _shell_L(la)
        for b, (lb, ib) in enumerate(info):
            if la == lb:
                L[:, a, b] = full[:, ia, ib]
    return L


# --------------------------------------------------------------------------------------------------
# spin
# --------------------------------------------------------------------------------------------------

def spin_matrices_half():
    """``S = sigma / 2`` on ``(up, down)`` (``hbar = 1``): shape ``(3, 2, 2)``, complex."""
    return np.array(
        [[[0, 0.5], [0.5, 0]], [[0, -0.5j], [0.5j, 0]], [[0.5, 0], [0, -0.5]]],
        dtype=complex,
    )


def _check_order(order):
    if order not in SPIN_ORDERS:
        raise ValueError(f"spin order must be one of {SPIN_ORDERS}, got {order!r}")


def spinful(M, order="interleaved"):
    """Lift an orbital operator to the spinful space: ``M (x) 1_spin``.

    Parameters
    ----------
    M : array_like, shape (..., m, m)
        One orbital matrix or a stack (e.g. the three ``L_a``).
    order : {"interleaved", "block"}
        Spinful basis order (module docstring): ``"interleaved"`` = Wannier90 >= 2 / QE / VASP >= 6,
        index ``2 i + s``; ``"block"`` = VASP 5 VASP2WANNIER90, index ``s m + i``.

    Returns
    -------
    ndarray, shape (..., 2m, 2m)
    """
    _check_order(order)
    M = np.asarray(M)
    if M.ndim < 2 or M.shape[-1] != M.shape[-2]:
        raise ValueError(f"M must be square in its last two axes, got shape {M.shape}")
    eye = np.eye(2, dtype=M.dtype)
    if order == "interleaved":
        out = np.einsum("...ij,st->...isjt", M, eye)
    else:
        out = np.einsum("...ij,st->...sitj", M, eye)
    m = M.shape[-1]
    return out.reshape(M.shape[:-2] + (2 * m, 2 * m))


def spin_operator(m, order="interleaved"):
    """``1_orb (x) S``, ``S = sigma / 2``, on ``m`` orbitals: shape ``(3, 2m, 2m)`` in the given order."""
    _check_order(order)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"the number of orbitals m must be a positive integer, got {m!r}")
    S = spin_matrices_half()
    eye = np.eye(int(m))
    if order == "interleaved":
        out = np.einsum("ij,ast->aisjt", eye, S)
    else:
        out = np.einsum("ij,ast->asitj", eye, S)
    return out.reshape(3, 2 * m, 2 * m)


def spin_reorder_index(m, source="block", target="interleaved"):
    """Index ``p`` converting spinful arrays between orders: ``v_target = v_source[p]`` and
    ``X_target = X_source[np.ix_(p, p)]`` (e.g. a VASP-5 Hamiltonian to Wannier90's order)."""
    _check_order(source)
    _check_order(target)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"the number of orbitals m must be a positive integer, got {m!r}")
    i, s = np.meshgrid(np.arange(m), np.arange(2), indexing="ij")  # a state = (orbital i, spin s)
    pos = {"interleaved": 2 * i + s, "block": s * m + i}
    p = np.empty(2 * m, dtype=int)
    p[pos[target].ravel()] = pos[source].ravel()
    return p


def soc_matrix(labels, lam, order="interleaved"):
    """On-site spin-orbit coupling ``sum_shells lam_l L.S`` on the spinful span of given orbitals.

    Parameters
    ----------
    labels : str or sequence of str
        Orbitals of one site (:func:`orbital_L`).
    lam : float or mapping
        ``lam`` (e.g. in eV; the result has its units), or per shell ``{l or letter: lam_l}`` (shells
        absent from the mapping get 0).  Convention: ``H_soc = lam L.S`` with ``S = sigma / 2``, so a
        full shell splits into ``j = l + 1/2`` at ``+lam l / 2`` (``2l + 2`` states) and
        ``j = l - 1/2`` at ``-lam (l + 1) / 2`` (``2l`` states).
    order : {"interleaved", "block"}

    Returns
    -------
    ndarray, complex, shape (2m, 2m)
        Hermitian; uses the projected ``P L P`` of :func:`orbital_L` for incomplete shells (for t2g,
        ``-lam L_eff.S``: ``-lam/2`` (x4) and ``+lam`` (x2)).
    """
    labs = _as_labels(labels)
    L = orbital_L(labs)
    ls = np.array([label_shell(lab)[0] for lab in labs])
    if isinstance(lam, Mapping):
        per = {}
        for key, val in lam.items():
            if isinstance(key, str) and key.strip().lower() in SHELL_LETTERS:
                key = SHELL_LETTERS[key.strip().lower()]
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or int(key) not in SHELL_LABELS:
                raise ValueError(f"SOC shell key {key!r} unknown; allowed: 0..3 or {', '.join(SHELL_LETTERS)}")
            per[int(key)] = float(val)
        scale = np.array([per.get(int(l), 0.0) for l in ls])
    else:
        try:
            scale = np.full(len(labs), float(lam))
        except (TypeError, ValueError):
            raise TypeError(f"lam must be a number or a mapping {{l: lam_l}}, got {lam!r}") from None
    if not np.all(np.isfinite(scale)):
        raise ValueError(f"lam must be finite, got {lam!r}")
    Ls = scale[None, :, None] * L  # L is block diagonal per shell: row scaling = block scaling
    S = spin_operator(len(labs), order)
    return np.einsum("aij,ajk->ik", spinful(Ls, order), S)


def site_operators(labels, spin_order=None):
    """The angular-momentum operators of one site, ready to serve as polarizations.

    Parameters
    ----------
    labels : str or sequence of str
        Orbitals of the site (:func:`orbital_L`).
    spin_order : None or {"interleaved", "block"}
        ``None``: spinless basis, ``{"L": (3, m, m)}``.  Otherwise the spinful basis in that order:
        ``{"L": L (x) 1, "S": 1 (x) S, "J": L + S}``, each ``(3, 2m, 2m)``.

    Returns
    -------
    dict of str to ndarray
        Hermitian matrices, ``hbar = 1``; ``L`` is the projected ``P L P`` for incomplete shells.
    """
    L = orbital_L(labels)
    if spin_order is None:
        return {"L": L}
    Lf = spinful(L, spin_order)
    S = spin_operator(L.shape[-1], spin_order)
    return {"L": Lf, "S": S, "J": Lf + S}


# --------------------------------------------------------------------------------------------------
# t2g and orbsym's Eq. 2
# --------------------------------------------------------------------------------------------------

def t2g_to_paper():
    """Matrix ``T`` from Wannier90's t2g ``(dxz, dyz, dxy)`` to orbsym's ``(d_yz, d_xz, d_xy)``.

    ``|paper_k> = sum_j T[k, j] |w90_j>``, so an operator converts as ``O_paper = T O_w90 T^T`` and a
    coefficient vector as ``c_paper = T c_w90``.  ``T`` is a pure permutation (no signs): the
    Wannier90 orbitals and those of ``orbsym.symbolic.generators.d_L`` are the same functions
    (positive ``xz, yz, xy``).
    """
    T = np.zeros((3, 3))
    for k, lab in enumerate(T2G_PAPER):
        T[k, T2G_W90.index(lab)] = 1.0
    return T


def paper_t2g_L():
    """orbsym's effective L of Eq. (2) (``orbsym.symbolic.generators.t2g_L``) as NumPy arrays.

    Basis ``(d_yz, d_xz, d_xy)``; obeys ``[L_a, L_b] = +i eps_abc L_c``.
    """
    i = 1j
    return np.array(
        [
            [[0, 0, 0], [0, 0, i], [0, -i, 0]],
            [[0, 0, -i], [0, 0, 0], [i, 0, 0]],
            [[0, -i, 0], [i, 0, 0], [0, 0, 0]],
        ],
        dtype=complex,
    )


def t2g_physical_L():
    """Physical d-shell L projected on t2g, in orbsym's Eq.-2 basis ``(d_yz, d_xz, d_xy)``.

    ``T (P L_a P) T^T`` with ``P L P`` = ``orbital_L("t2g")`` and ``T`` = :func:`t2g_to_paper`.  The
    exact relation to the effective L of Eq. (2), ``Ltilde`` (:func:`paper_t2g_L`), is::

        P L_x P = +Ltilde_x,   P L_y P = +Ltilde_y,   P L_z P = -Ltilde_z

    (:data:`T2G_L_SIGNS`; equivalently ``P L P = -C_2z(Ltilde)``: the projected L obeys the reversed
    algebra while Eq. 2 obeys the normal one).  If the sign of ``d_xy`` is flipped (a gauge choice the
    paper does not fix), the relation becomes ``P L P = -Ltilde`` for all three components.
    """
    T = t2g_to_paper()
    return np.einsum("ki,aij,lj->akl", T, orbital_L("t2g"), T)
