"""The numeric tight-binding model of a crystal: lattice vectors, atoms with their orbitals, H(R).

One object, as small as PythTB's and sisl's: every importer (Wannier90, Slater-Koster, sisl, PythTB,
TBmodels, qsymm) returns a :class:`TightBinding`, and every consumer (bulk Hall conductivities, the
films of :mod:`orbsym.numeric.sites`, ``orbsym model info``) takes one.  No SymPy.

Hamiltonian
-----------
The basis is a list of orbitals ``|R, i>`` (atom, real-harmonic label, spin), ``i = 0 .. n-1``, in cell
``R = n_1 a_1 + n_2 a_2 + n_3 a_3``.  The model stores the hopping matrices

    H(R)_ij = <0, i| H |R, j>        (energies; ``H(-R) = H(R)^dagger``, checked),

``H(0)`` holding the on-site terms.  The Bloch Hamiltonian in Wannier90's phase convention II (phases
from the lattice vector only, as ``seedname_hr.dat`` is written) is

    H(k) = sum_R e^{i k.R} H(R),

and in convention I (phases from the orbital centres ``tau_i``, as PythTB and TBmodels write it)

    H^I(k)_ij = sum_R e^{i k.(R + tau_j - tau_i)} H(R)_ij = [U^dagger H(k) U]_ij,   U = diag(e^{i k.tau}).

Both have the same eigenvalues.  The velocity of the tight-binding position operator (orbitals
point-like at their centres, ``r = R + tau_i``; the approximation of every TB code without the
Wannier position matrix) is, in the gauge of ``H(k)``,

    v(k) = i [H, r](k) = dH/dk + i [H(k), tau] = U (dH^I/dk) U^dagger

(``hbar = 1``; units energy x length).  ``positions=False`` gives ``dH/dk`` alone: the current of
lattice vectors only, which equals the former for one-atom crystals with every centre at 0.

Units: lengths in :attr:`TightBinding.length_unit` (Angstrom for materials, ``a`` for orbsym's lattice
models), energies in :attr:`TightBinding.energy_unit` (eV, or ``t``), k in inverse length.
Conventions: :mod:`orbsym.conventions` ("Materials").
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from ..numeric.checks import check_name, integer_at_least

__all__ = ["Atom", "Orbital", "TightBinding", "HERMITICITY_TOL", "SPIN_ORDERS"]

#: Relative tolerance of the check ``H(-R) = H(R)^dagger`` (against the largest |H(R)| entry).
HERMITICITY_TOL = 1e-8
#: Spinor orderings of the basis: per orbital (up, down) pairs, or all up then all down.
SPIN_ORDERS = ("interleaved", "block")
#: Length and energy units the model may carry (the natural ones of orbsym's lattice models, or physical).
LENGTH_UNITS = ("Angstrom", "a")
ENERGY_UNITS = ("eV", "t")


@dataclass(frozen=True)
class Orbital:
    """One basis state: atom index, orbital label (Wannier90 real harmonic, or free text) and spin.

    ``spin`` is None (spinless), ``+1`` (up along z) or ``-1`` (down).
    """

    atom: int
    label: str
    spin: int | None = None


@dataclass(frozen=True)
class Atom:
    """An atom (or Wannier centre) of the cell.

    Parameters
    ----------
    name : str
        Species or site name (``"Cu"``, ``"Ti1"``); need not be unique.
    position : sequence of 3 floats
        Cartesian position (length unit of the model).
    orbitals : sequence of str
        Orbital labels in basis order, e.g. ``("s", "pz", "px", "py")`` or the output of
        :func:`orbsym.materials.shells.parse_shells` (``"s,p,d"``).  Labels from Wannier90's real
        harmonics (``s``, ``pz``, ``px``, ``py``, ``dz2``, ``dxz``, ``dyz``, ``dx2-y2``, ``dxy``...) give
        the atom its angular momentum; any other label is allowed and carries ``L = 0``.
    """

    name: str
    position: tuple
    orbitals: tuple = field(default=())

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"an atom name must be a non-empty string, got {self.name!r}")
        try:
            pos = np.asarray(self.position, dtype=float)
        except (TypeError, ValueError):
            pos = None
        if pos is None or pos.shape != (3,) or not np.all(np.isfinite(pos)):
            raise ValueError(f"position of atom {self.name!r} must be 3 finite Cartesian coordinates, got {self.position!r}")
        orbs = (self.orbitals,) if isinstance(self.orbitals, str) else tuple(self.orbitals)
        if not orbs or not all(isinstance(o, str) and o for o in orbs):
            raise ValueError(f"orbitals of atom {self.name!r} must be a non-empty sequence of labels (e.g. ('dxy', 'dxz')), got {self.orbitals!r}")
        object.__setattr__(self, "position", tuple(float(v) for v in pos))
        object.__setattr__(self, "orbitals", orbs)


def _basis(atoms, spinful, spin_order):
    """The orbital table in Hamiltonian order (see :class:`TightBinding`)."""
    spatial = [(a, lab) for a, atom in enumerate(atoms) for lab in atom.orbitals]
    if not spinful:
        return tuple(Orbital(a, lab) for a, lab in spatial)
    if spin_order == "interleaved":
        return tuple(Orbital(a, lab, s) for a, lab in spatial for s in (1, -1))
    return tuple(Orbital(a, lab, s) for s in (1, -1) for a, lab in spatial)


class TightBinding:
    """A crystal's tight-binding Hamiltonian: cell, atoms with orbitals, hopping matrices ``H(R)``.

    Parameters
    ----------
    cell : array_like, shape (3, 3)
        Lattice vectors ``a_1, a_2, a_3`` as rows (Cartesian, ``length_unit``).  A 2D crystal
        (``periodic=2``) still gives a third vector, normal to the plane (its length is not used).
    atoms : sequence of Atom
    hoppings : dict
        ``{R: H(R)}`` with ``R`` a triple of integers (cell coordinates in ``a_1, a_2, a_3``) and
        ``H(R)`` an ``(n, n)`` complex matrix (``energy_unit``), ``n`` the basis size.  Both ``R`` and
        ``-R`` must be present with ``H(-R) = H(R)^dagger`` (refused otherwise, naming ``R`` and the
        mismatch); :meth:`from_bonds` completes a half set.  ``H(0)`` holds the on-site terms.
    spinful : bool
        Every orbital comes with spin up and down (``n = 2 x`` the orbital count).
    spin_order : {"interleaved", "block"}
        Spinor order of the basis: ``(orb_1 up, orb_1 down, orb_2 up, ...)`` or all up then all down.
    periodic : {3, 2}
        Number of periodic directions (2: ``a_3`` is the normal of a 2D crystal; every ``R_3 = 0``).
    length_unit, energy_unit : str
        ``"Angstrom"``/``"eV"`` for materials (physical units available), ``"a"``/``"t"`` for
        orbsym's lattice models (natural units only).
    name : str
    generators : array_like, shape (3, n, n), optional
        The model's own angular momentum ``J`` (e.g. the effective ``L`` of Eq. 2 for orbsym's t2g
        models), returned by ``angular_momentum("model")``.

    Attributes
    ----------
    basis : tuple of Orbital
        The orbital of every basis index.
    R : ndarray of int, shape (n_R, 3)
    H : ndarray, shape (n_R, n, n)
        ``H[r] = H(R[r])``.
    positions : ndarray, shape (n, 3)
        Centre ``tau_i`` of every basis orbital (its atom's position).
    """

    def __init__(self, cell, atoms, hoppings, *, spinful=False, spin_order="interleaved", periodic=3, length_unit="Angstrom", energy_unit="eV", name="model", generators=None):
        self.cell = np.asarray(cell, dtype=float)
        if self.cell.shape != (3, 3) or not np.all(np.isfinite(self.cell)) or abs(np.linalg.det(self.cell)) < 1e-12:
            raise ValueError(f"cell must be 3 linearly independent lattice vectors (rows a_1, a_2, a_3), got {np.asarray(cell).tolist()}")
        self.atoms = tuple(atoms) if not isinstance(atoms, Atom) else (atoms,)
        bad = [a for a in self.atoms if not isinstance(a, Atom)]
        if not self.atoms or bad:
            raise TypeError(f"atoms must be a non-empty sequence of orbsym.materials.Atom, got {bad[0] if bad else atoms!r}")
        if not isinstance(spinful, bool):
            raise TypeError(f"spinful must be True or False, got {spinful!r}")
        self.spinful = spinful
        self.spin_order = check_name("spin_order", spin_order, SPIN_ORDERS)
        if periodic not in (2, 3) or isinstance(periodic, bool):
            raise ValueError(f"periodic must be 3 (bulk crystal) or 2 (2D crystal in the a_1, a_2 plane), got {periodic!r}")
        self.periodic = int(periodic)
        self.length_unit = check_name("length_unit", length_unit, LENGTH_UNITS)
        self.energy_unit = check_name("energy_unit", energy_unit, ENERGY_UNITS)
        if (self.length_unit == "a") != (self.energy_unit == "t"):
            raise ValueError(f"units must be physical (Angstrom, eV) or natural (a, t) together, got length_unit={length_unit!r}, energy_unit={energy_unit!r}")
        self.name = str(name)
        self.basis = _basis(self.atoms, spinful, self.spin_order)
        self.n = len(self.basis)
        self.positions = np.array([self.atoms[o.atom].position for o in self.basis])
        self.R, self.H = self._check_hoppings(hoppings)
        self.generators = None
        if generators is not None:
            J = np.asarray(generators, dtype=complex)
            if J.shape != (3, self.n, self.n) or not np.allclose(J, J.conj().transpose(0, 2, 1), rtol=0, atol=1e-12):
                raise ValueError(f"generators must be 3 Hermitian ({self.n}, {self.n}) matrices J_x, J_y, J_z, got shape {J.shape}")
            self.generators = J

    # ------------------------------------------------------------------ construction
    def _check_hoppings(self, hoppings):
        if not isinstance(hoppings, dict) or not hoppings:
            raise TypeError(f"hoppings must be a non-empty dict {{R: H(R)}} with R a triple of integers, got {type(hoppings).__name__}")
        keys, mats = [], []
        for R, M in hoppings.items():
            if not (isinstance(R, (tuple, list)) and len(R) == 3 and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in R)):
                raise ValueError(f"a hopping key must be a lattice vector R = (n_1, n_2, n_3) of integers, got {R!r}")
            R = tuple(int(v) for v in R)
            if self.periodic == 2 and R[2] != 0:
                raise ValueError(f"a 2D crystal (periodic=2) has no hopping along a_3, got R = {R}")
            try:
                M = np.asarray(M, dtype=complex)
            except (TypeError, ValueError):
                raise TypeError(f"H(R) for R = {R} must be a numeric (n, n) matrix, got {type(M).__name__}") from None
            if M.shape != (self.n, self.n):
                raise ValueError(f"H(R) for R = {R} has shape {M.shape}, the basis has n = {self.n} orbitals ({self._basis_summary()}): expected ({self.n}, {self.n})")
            if not np.all(np.isfinite(M)):
                raise ValueError(f"H(R) for R = {R} has non-finite entries")
            if R in keys:
                raise ValueError(f"lattice vector R = {R} given twice")
            keys.append(R)
            mats.append(M)
        index = {R: i for i, R in enumerate(keys)}
        if (0, 0, 0) not in index:
            raise ValueError("hoppings must contain R = (0, 0, 0) (the on-site matrix H(0), zeros if there is none)")
        scale = max(float(np.abs(m).max()) for m in mats) or 1.0
        for R, i in index.items():
            mR = tuple(-v for v in R)
            if mR not in index:
                raise ValueError(f"H(R) is given for R = {R} but not for -R = {mR}: give both with H(-R) = H(R)^dagger, or use TightBinding.from_bonds(...) to complete a half set")
            err = float(np.abs(mats[index[mR]] - mats[i].conj().T).max())
            if err > HERMITICITY_TOL * scale:
                raise ValueError(f"H(-R) != H(R)^dagger for R = {R}: largest mismatch {err:.3g} {self.energy_unit} (tolerance {HERMITICITY_TOL:g} x {scale:.3g})")
        order = sorted(range(len(keys)), key=lambda i: keys[i])
        R = np.array([keys[i] for i in order], dtype=int)
        H = np.array([mats[i] for i in order])
        # exact hermiticity (averaged pairs): H(k) Hermitian to rounding at every k
        pos = {tuple(r): j for j, r in enumerate(R)}
        Hs = np.empty_like(H)
        for j, r in enumerate(R):
            Hs[j] = 0.5 * (H[j] + H[pos[tuple(-r)]].conj().T)
        return R, Hs

    @classmethod
    def from_bonds(cls, cell, atoms, onsite, bonds, **kwargs):
        """A model from its on-site matrix and one matrix per bond family (the Hermitian partner added).

        ``onsite`` is the Hermitian ``(n, n)`` ``H(0)`` without the bonds; ``bonds = {R: T}`` adds
        ``T`` to ``H(R)`` and ``T^dagger`` to ``H(-R)`` (for ``R = 0``: an intra-cell bond, ``T + T^dagger``
        to ``H(0)``).  Give each bond once (``R`` and ``-R`` both given add both).
        """
        H0 = np.array(onsite, dtype=complex)
        hop = {(0, 0, 0): H0.copy()}
        for R, T in bonds.items():
            if not (isinstance(R, (tuple, list)) and len(R) == 3):
                raise ValueError(f"a bond key must be a lattice vector R = (n_1, n_2, n_3), got {R!r}")
            R = tuple(int(v) for v in R)
            T = np.asarray(T, dtype=complex)
            if T.shape != H0.shape:
                raise ValueError(f"bond matrix for R = {R} has shape {T.shape}, the on-site matrix {H0.shape}")
            mR = tuple(-v for v in R)
            hop[R] = hop.get(R, 0) + T
            hop[mR] = hop.get(mR, 0) + T.conj().T
        return cls(cell, atoms, hop, **kwargs)

    @classmethod
    def from_kernels(cls, kernels, values, *, name=None):
        """orbsym's square-lattice model (a :class:`orbsym.kernels.KernelSet`) as a numeric model.

        One atom at the origin, cell the unit cube (2D models: ``periodic=2``), natural units
        (``a``, ``t``), orbital labels from the model's basis, no spin (a spin basis is an orbital
        index here), the model's generators as ``angular_momentum("model")``.  ``values`` must give every parameter of the model (a missing one is refused by
        the kernels, never read as zero).
        """
        dim = kernels.dim
        vals = dict(values)
        onsite = np.asarray(kernels.onsite_matrix(vals), dtype=complex)
        bonds = {}
        for d in kernels.bonds:
            d3 = tuple(int(v) for v in d) + (0,) * (3 - len(d))
            bonds[d3] = np.asarray(kernels.hopping_matrix(d, vals), dtype=complex)
        labels = tuple(getattr(kernels, "basis", None) or (f"o{i}" for i in range(dim)))
        atoms = [Atom("site", (0.0, 0.0, 0.0), labels)]
        ndim = getattr(kernels, "ndim", 2)
        return cls.from_bonds(
            np.eye(3), atoms, onsite, bonds, periodic=3 if ndim == 3 else 2, length_unit="a", energy_unit="t",
            name=name or getattr(kernels, "model", "model"), generators=np.asarray(kernels.generators, complex),
        )

    # ------------------------------------------------------------------ geometry
    @property
    def reciprocal(self):
        """Reciprocal vectors ``b_i`` as rows, ``a_i . b_j = 2 pi delta_ij`` (inverse length unit)."""
        return 2 * np.pi * np.linalg.inv(self.cell).T

    @property
    def volume(self):
        """Cell volume (``length_unit^3``), or the cell area for ``periodic=2``."""
        if self.periodic == 3:
            return float(abs(np.linalg.det(self.cell)))
        return float(np.linalg.norm(np.cross(self.cell[0], self.cell[1])))

    def k_cartesian(self, k_frac):
        """Cartesian k (inverse length) of fractional coordinates ``k = sum_i k_i b_i``."""
        return np.asarray(k_frac, dtype=float) @ self.reciprocal

    def bond_vectors(self):
        """Cartesian ``R`` of every stored lattice vector, shape (n_R, 3)."""
        return self.R @ self.cell

    # ------------------------------------------------------------------ Bloch Hamiltonian
    def _k(self, k):
        k = np.asarray(k, dtype=float)
        if k.shape[-1:] != (3,):
            raise ValueError(f"k must have shape (..., 3) (Cartesian, inverse {self.length_unit}), got {k.shape}")
        return k

    def hamiltonian(self, k, convention="II"):
        """``H(k)`` at Cartesian ``k`` (shape (..., 3)) -> (..., n, n); ``convention`` "II" or "I" (module docstring)."""
        check_name("convention", convention, ("I", "II"))
        k = self._k(k)
        flat = k.reshape(-1, 3)
        ph = np.exp(1j * flat @ self.bond_vectors().T)  # (nk, n_R)
        Hk = (ph @ self.H.reshape(len(self.R), -1)).reshape(-1, self.n, self.n)
        if convention == "I":
            u = np.exp(1j * flat @ self.positions.T)  # U = diag(e^{ik.tau})
            Hk = u.conj()[:, :, None] * Hk * u[:, None, :]
        return Hk.reshape(k.shape[:-1] + (self.n, self.n))

    def velocity(self, k, positions=True, convention="II"):
        """Velocity ``v_a(k)`` (``hbar = 1``; energy x length), shape (3, ..., n, n), in the gauge of :meth:`hamiltonian`.

        ``positions=True``: ``i[H, r]`` of point-like orbitals at their centres (module docstring);
        ``False``: ``dH/dk`` of the lattice-vector phases only.
        """
        check_name("convention", convention, ("I", "II"))
        k = self._k(k)
        flat = k.reshape(-1, 3)
        Rc = self.bond_vectors()
        ph = np.exp(1j * flat @ Rc.T)
        HR = self.H.reshape(len(self.R), -1)
        v = np.stack([((1j * Rc[:, a])[None, :] * ph) @ HR for a in range(3)]).reshape(3, -1, self.n, self.n)
        if positions:
            Hk = (ph @ HR).reshape(-1, self.n, self.n)
            tau = self.positions
            for a in range(3):  # + i [H, tau_a]: i (H_ij tau_j - tau_i H_ij)
                v[a] += 1j * Hk * (tau[None, None, :, a] - tau[None, :, None, a])
        if convention == "I":
            u = np.exp(1j * flat @ self.positions.T)
            v = u.conj()[None, :, :, None] * v * u[None, :, None, :]
        return v.reshape((3,) + k.shape[:-1] + (self.n, self.n))

    def bands(self, k):
        """Band energies at Cartesian ``k`` (..., 3) -> (..., n), ascending."""
        return np.linalg.eigvalsh(self.hamiltonian(k))

    def band_range(self, N_k=12):
        """(min, max) of the bands on an ``N_k^periodic`` Monkhorst-Pack grid (a quick estimate)."""
        N_k = integer_at_least("N_k", N_k, 1)
        axes = [np.arange(N_k) / N_k] * self.periodic + [np.zeros(1)] * (3 - self.periodic)
        frac = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        E = self.bands(self.k_cartesian(frac))
        return float(E.min()), float(E.max())

    def fermi_level(self, electrons, N_k=16, T=0.0, tol=1e-10):
        """Chemical potential holding ``electrons`` per cell on the Gamma-centred ``N_k^periodic`` grid (energy unit).

        ``N(mu) = N_k^-d sum_k sum_n f((E_nk - mu)/T)`` (a step at ``T = 0``, a level at ``mu`` counted
        half) solved by bisection to ``tol``; each spinless orbital holds one electron, so a spinless
        model of a spin-degenerate metal takes ``electrons / 2``.  Refused when ``electrons`` is not
        in ``(0, n)``.
        """
        from ..numeric.checks import real_number

        electrons = real_number("electrons per cell", electrons, minimum=0.0, strict=True)
        if electrons >= self.n:
            raise ValueError(f"electrons per cell must be below the {self.n} states of the basis, got {electrons}")
        T = real_number("temperature T", T, minimum=0.0)
        N_k = integer_at_least("N_k", N_k, 1)
        axes = [np.arange(N_k) / N_k] * self.periodic + [np.zeros(1)] * (3 - self.periodic)  # Gamma-centred: symmetric for every lattice
        frac = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        E = np.sort(self.bands(self.k_cartesian(frac)).ravel())

        def count(mu):
            if T == 0:
                return (np.sum(E < mu) + 0.5 * np.sum(E == mu)) / len(frac)
            x = np.clip((E - mu) / T, -700, 700)
            return float(np.sum(1.0 / (1.0 + np.exp(x)))) / len(frac)

        lo, hi = E[0] - 1.0 - 40 * T, E[-1] + 1.0 + 40 * T
        while hi - lo > tol:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if count(mid) < electrons else (lo, mid)
        return 0.5 * (lo + hi)

    # ------------------------------------------------------------------ derived models
    def _copy(self, H, **changes):
        kw = dict(spinful=self.spinful, spin_order=self.spin_order, periodic=self.periodic, length_unit=self.length_unit,
                  energy_unit=self.energy_unit, name=self.name, generators=None)
        kw.update(changes)
        return TightBinding(self.cell, self.atoms, {tuple(int(v) for v in R): M for R, M in zip(self.R, H)}, **kw)

    def with_spin(self, spin_order="interleaved"):
        """The spinless model with spin: ``H(R) (x) 1_spin`` in the given spinor order (no SOC yet)."""
        from .shells import spinful

        if self.spinful:
            raise ValueError(f"model {self.name!r} is already spinful")
        order = check_name("spin_order", spin_order, SPIN_ORDERS)
        return self._copy(spinful(self.H, order), spinful=True, spin_order=order, name=f"{self.name} (spinful)")

    def _atoms_of(self, spec, what):
        """``{atom index: value}`` from ``{name or index: value}`` (a name covers every atom of that name)."""
        names = [a.name for a in self.atoms]
        out = {}
        for key, val in spec.items():
            if isinstance(key, str):
                if key not in names:
                    raise ValueError(f"{what}: no atom named {key!r}; the atoms are {names}")
                out.update({i: val for i, n in enumerate(names) if n == key})
            elif isinstance(key, numbers.Integral) and not isinstance(key, bool) and 0 <= key < len(names):
                out[int(key)] = val
            else:
                raise ValueError(f"{what}: atom {key!r} is neither a name in {names} nor an index 0..{len(names) - 1}")
        return out

    def with_soc(self, lam):
        """The model plus on-site spin-orbit coupling ``lam L.S`` per atom (spinful models only).

        ``lam``: one number (every atom), or ``{atom name or index: lam}`` where ``lam`` is a number or
        a per-shell mapping ``{"p": lam_p, "d": lam_d}`` (energy unit of the model); the shell
        convention is that of :func:`orbsym.materials.shells.soc_matrix` (``j = l + 1/2`` at
        ``+lam l / 2``).  Orbitals without a real-harmonic label get none.
        """
        from .shells import soc_matrix

        if not self.spinful:
            raise ValueError(f"SOC needs a spinful model; {self.name!r} has no spin: use model.with_spin().with_soc(...)")
        per = self._atoms_of(lam, "with_soc") if isinstance(lam, dict) else {a: lam for a in range(len(self.atoms))}
        H = self.H.copy()
        z = int(np.flatnonzero(np.all(self.R == 0, axis=1))[0])
        for a, val in per.items():
            idx = self.atom_indices(a)
            labels = [self.basis[i].label for i in idx if self.basis[i].spin == 1]
            known = [lab for lab in labels if _is_harmonic(lab)]
            if len(known) != len(labels):
                raise ValueError(f"with_soc: atom {a} ({self.atoms[a].name!r}) has orbitals {labels} without a shell (L unknown); SOC needs real-harmonic labels")
            H[z][np.ix_(idx, idx)] += soc_matrix(labels, val, self.spin_order)
        return self._copy(H, name=f"{self.name} + SOC")

    def with_exchange(self, splitting, direction=(0.0, 0.0, 1.0), atoms=None):
        """The model plus a Stoner exchange field ``-splitting (m . S)`` on the chosen atoms (spinful models).

        ``splitting`` (energy unit) separates majority (spin along ``direction``) and minority states;
        ``atoms``: names or indices (default every atom).  The exchange torque ``i[eps, S]`` then
        appears in the on-site torques of the films (:mod:`orbsym.materials.films`).
        """
        from ..numeric.checks import real_number

        if not self.spinful:
            raise ValueError(f"an exchange field needs a spinful model; {self.name!r} has no spin: use model.with_spin()")
        delta = real_number("exchange splitting", splitting)
        m = np.asarray(direction, dtype=float)
        if m.shape != (3,) or not np.isfinite(m).all() or np.linalg.norm(m) == 0:
            raise ValueError(f"direction must be a nonzero 3-vector, got {direction!r}")
        m = m / np.linalg.norm(m)
        chosen = range(len(self.atoms)) if atoms is None else sorted(self._atoms_of({a: None for a in ((atoms,) if isinstance(atoms, (str, int)) else atoms)}, "with_exchange"))
        S = self.angular_momentum("S")
        P = np.array([o.atom in set(chosen) for o in self.basis], float)
        H = self.H.copy()
        z = int(np.flatnonzero(np.all(self.R == 0, axis=1))[0])
        H[z] += -delta * np.einsum("a,aij->ij", m, S) * P[:, None] * P[None, :]
        return self._copy(H, name=f"{self.name} + exchange {delta:g}")

    # ------------------------------------------------------------------ operators
    def _basis_summary(self):
        return ", ".join(f"{a.name}: {'/'.join(a.orbitals)}" for a in self.atoms) + (" with spin" if self.spinful else "")

    def atom_indices(self, atom):
        """Basis indices of atom ``atom`` (index), in basis order."""
        return np.array([i for i, o in enumerate(self.basis) if o.atom == atom], dtype=int)

    def angular_momentum(self, kind="L"):
        """Atom-centred angular momentum ``(J_x, J_y, J_z)`` on the basis, shape (3, n, n), ``hbar = 1``.

        ``kind``: ``"L"`` (orbital: the shell matrices of :func:`orbsym.materials.shells.orbital_L` of
        each atom's real harmonics, block diagonal per atom and spin; labels outside Wannier90's real
        harmonics carry ``L = 0``), ``"S"`` (spin ``sigma/2``; spinful models only), ``"J" = L + S``,
        or ``"model"``: the generators given to the constructor.
        """
        kind = check_name("angular momentum kind", kind, ("L", "S", "J", "model"))
        if kind == "model":
            if self.generators is None:
                raise ValueError(f"model {self.name!r} was built without generators: use kind 'L', 'S' or 'J'")
            return self.generators.copy()
        out = np.zeros((3, self.n, self.n), complex)
        if kind in ("L", "J"):
            from .shells import orbital_L

            for a, atom in enumerate(self.atoms):
                for s in ((None,) if not self.spinful else (1, -1)):
                    idx = [i for i, o in enumerate(self.basis) if o.atom == a and o.spin == s]
                    labels = [self.basis[i].label for i in idx]
                    known = [j for j, lab in enumerate(labels) if _is_harmonic(lab)]
                    if not known:
                        continue
                    L = orbital_L([labels[j] for j in known])
                    sub = np.array(idx)[known]
                    out[:, sub[:, None], sub[None, :]] += L
        if kind in ("S", "J"):
            if not self.spinful:
                raise ValueError(f"kind={kind!r} needs a spinful model; {self.name!r} has no spin (spinful=False)")
            half = 0.5 * np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
            pos = {(o.atom, o.label, o.spin): i for i, o in enumerate(self.basis)}
            for (a, lab, s), i in pos.items():
                if s != 1:
                    continue
                j = pos[(a, lab, -1)]
                out[:, [[i], [j]], [[i, j]]] += half
        return out

    def projected(self, operator, atoms=None):
        """``P O P`` with ``P`` the projector on the orbitals of the chosen atoms (indices or names).

        The polarization of a response, transport or real-time run restricted to some atoms (e.g. the
        L of the d orbitals of one species).  ``operator`` is a (3, n, n) or (n, n) array or a kind
        accepted by :meth:`angular_momentum`.
        """
        O = self.angular_momentum(operator) if isinstance(operator, str) else np.asarray(operator, complex)
        if O.shape[-2:] != (self.n, self.n):
            raise ValueError(f"operator must act on the n = {self.n} orbitals, got shape {O.shape}")
        if atoms is None:
            return O.copy()
        names = [a.name for a in self.atoms]
        chosen = set()
        for a in (atoms,) if isinstance(atoms, (str, numbers.Integral)) else atoms:
            if isinstance(a, str):
                if a not in names:
                    raise ValueError(f"no atom named {a!r}; the atoms are {names}")
                chosen |= {i for i, n in enumerate(names) if n == a}
            elif isinstance(a, numbers.Integral) and 0 <= a < len(names):
                chosen.add(int(a))
            else:
                raise ValueError(f"atom {a!r} is neither a name in {names} nor an index 0..{len(names) - 1}")
        P = np.array([o.atom in chosen for o in self.basis], float)
        return O * P[..., :, None] * P[..., None, :]

    # ------------------------------------------------------------------ description
    def neighbour_shells(self, tol=1e-6):
        """Distinct bond lengths with a nonzero hopping: list of (distance, number of bonds per cell).

        A bond is an orbital pair ``(i, j, R)`` with ``|H(R)_ij| > tol`` (energy unit) between different
        centres; its length is ``|R + tau_j - tau_i|``; the count is per cell, both directions.
        """
        shells = {}
        for r, M in zip(self.R, self.H):
            Rc = r @ self.cell
            for a, A in enumerate(self.atoms):
                ia = self.atom_indices(a)
                for b, B in enumerate(self.atoms):
                    ib = self.atom_indices(b)
                    if np.abs(M[np.ix_(ia, ib)]).max() <= tol:
                        continue
                    d = float(np.linalg.norm(Rc + np.array(B.position) - np.array(A.position)))
                    if d < 1e-9:
                        continue
                    key = round(d, 6)
                    shells[key] = shells.get(key, 0) + 1
        return sorted(shells.items())

    def info(self):
        """A dict describing the model: cell, atoms and orbitals, units, hopping range, band range."""
        lo, hi = self.band_range()
        return {
            "name": self.name,
            "cell": self.cell.tolist(),
            "periodic": self.periodic,
            "atoms": [{"name": a.name, "position": list(a.position), "orbitals": list(a.orbitals)} for a in self.atoms],
            "spinful": self.spinful,
            "spin_order": self.spin_order if self.spinful else None,
            "n_orbitals": self.n,
            "n_R": int(len(self.R)),
            "units": {"length": self.length_unit, "energy": self.energy_unit},
            "neighbour_shells": [{"distance": d, "bonds": c} for d, c in self.neighbour_shells()],
            "band_range": [lo, hi],
        }

    def __repr__(self):
        return f"TightBinding({self.name!r}: {self._basis_summary()}; {len(self.R)} lattice vectors, {self.length_unit}/{self.energy_unit})"


def _is_harmonic(label):
    from .shells import SHELL_LABELS

    return any(label in labs for labs in SHELL_LABELS.values())
