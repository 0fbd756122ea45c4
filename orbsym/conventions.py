"""The physics conventions of orbsym, stated once.

Every docstring that mentions a sign, a factor of two, a basis order or a unit refers here.
The paper is N. H. Aase, E. W. Hodt, J. Linder and A. Sudbø, "Orbital currents in lattice
multiorbital systems: continuity equation, torques, and RKKY interaction" (equation numbers
below are the paper's).

Units and lattice
-----------------
* Lattice constant ``a = 1``, ``hbar = 1``, ``k_B = 1``; energies (``t, gamma, w, mu, |m|, T``)
  are in units of the hopping ``t``.
* Square lattice, sites ``n = (x, y)``.  Columns ``x = 0 .. N_x - 1`` have open (hard-wall) ends,
  rows ``y = 0 .. N_y - 1`` are periodic.  A positive current along ``k = x`` flows toward larger x.

Films (3D, ``N_z``)
-------------------
* Cubic lattice, sites ``n = (x, y, z)``: columns ``x`` open (hard walls), ``y`` (``N_y`` cells) and
  ``z`` (``N_z`` cells) periodic; momenta ``(k_y, k_z) = 2 pi (j / N_y, l / N_z)``.  Bond offsets are
  triples ``(dx, dy, dz)``, each bond once (canonical: ``dx > 0``, or ``dx = 0 < dy``, or
  ``dx = dy = 0 < dz``), same ``h_{n, n+d} = t_d`` rule.
* Every density, current and torque is per site, i.e. **per transverse cell** ``a^2`` of one column
  (the same in every ``(y, z)``); F, N and ``J = F_AP - F_P`` are per transverse cell (``F / (N_y N_z)``)
  by default.  The x current is the slice-boundary total through the ``a^2`` cell of a boundary.
* Cubic t2g metal: ``t_x = diag(-gamma, -t, -t')``, ``t_y = diag(-t, -gamma, -t')``,
  ``t_z = diag(-t, -t, -gamma)`` (each orbital weak along the axis normal to its plane); FM and spin
  layers ``-t 1`` on every bond (``t_z = -t 1``; the altermagnet's splitting stays in the x-y plane).
* A 2D system (``N_z = None``) is unchanged: it is not the ``N_z = 1`` film (which adds ``t_z + t_z^dag``
  to the on-site matrix).

Bases and generators
--------------------
* Orbital basis (multiorbital metal, Eq. 3): three states per site in the order
  ``(d_yz, d_xz, d_xy)``; generators are the effective-L matrices of Eq. (2) exactly as printed.
* Spin basis (altermagnet, Eq. 4): ``(up, down)``; the paper's generators are the Pauli matrices
  ``sigma`` (normalization ``[sigma_a, sigma_b] = 2 i eps_abc sigma_c``, so Eq. (1) holds for
  ``S = sigma / 2``, not for ``sigma``).  ``S = sigma / 2`` is offered as ``spin_half()``.
* A generator set declares its normalization ``c`` in ``[J_a, J_b] = i c eps_abc J_c``; orbsym checks it.

Hamiltonian (Eqs. 3-6)
----------------------
Every nearest-neighbour bond is counted ONCE with amplitude ``t``::

    H = sum_n sum_k ( c_n^dag t_k c_{n+e_k} + h.c. ) + sum_n c_n^dag eps_n c_n,
    eps_n = -mu 1 - m_n . J       (the exchange term only on FM sites, Eq. 6)

so the one-body matrix has ``h_{n, n+e_k} = t_k`` and ``h_{n+e_k, n} = t_k^dag``.  This is the
reading "1/2 x sum over ordered pairs, + h.c." of the paper's Eq. (5).  The paper's Eqs. (7), (8),
(10), (11) carry a factor 1/2 that corresponds to the other reading (amplitude ``t/2`` per bond);
with our normalization every current and torque is twice the printed expression
(``derivations/`` shows this explicitly).

* Normal metal (NM): ``t_x = diag(-gamma, -t, -t')``, ``t_y = diag(-t, -gamma, -t')``, ``t' = t`` unless set.
* Altermagnet (AM): ``t_x = -t 1 + w sigma_z``, ``t_y = -t 1 - w sigma_z``.
* Ferromagnet (FM): ``t_x = t_y = -t 1``, on-site ``-m . J``; ``|m|`` is the exchange strength.
* The bond between an FM column and a neighbouring metal column uses the isotropic FM hopping by
  default (``interface="fm"``); ``interface="metal"`` uses the metal's own hopping on that bond.

Operators
---------
* Local angular momentum ``J_{alpha,n} = c_n^dag J_alpha c_n``; Heisenberg equation
  ``dO/dt = i [H, O]`` (Eq. 8).
* Expectation values use ``G_ij = <c_i^dag c_j>``, so ``<c^dag A c> = sum_ij A_ij G_ij = Tr(A G^T)``;
  the one-body density matrix is ``rho = G^T``.
* Bond current of bond ``(n, n + e_k)``: ``j = (i/2) c_n^dag {t_k, J} c_{n+e_k} + h.c.`` (derived,
  not assumed; see ``orbsym.symbolic.continuity``), positive when angular momentum flows from ``n`` to ``n+e_k``.
* Torques are the source terms ``tau`` in ``dJ_n/dt = -div j + tau``.

Thermal state and free energy (Eqs. 12-13)
------------------------------------------
* ``f(E) = 1 / (1 + exp(E / T))`` with ``mu`` inside ``h``; ``T = 0`` is the step function with a
  level exactly at zero counted half occupied ("exactly" = within 1e-13 of the spectrum's scale, so
  that rounding cannot flip a degenerate zero level).
* ``F = -T sum_n ln(1 + exp(-E_n / T))`` (grand potential); reported per row (``F / N_y``) by
  default.  The RKKY coupling ``J = F_AP - F_P`` is reported per row as well.

Linear response (orbsym.response)
---------------------------------
* Static field ``E_y`` (films: ``E_y`` or ``E_z``) via ``h(k) -> h(k - q A)``, ``E = -dA/dt``; the state
  relaxes with rate ``eta`` toward the instantaneous equilibrium.  Responses are per unit force ``q E_y`` (``q E_y = -e E_y`` for
  electrons), ``e = hbar = a = 1``: ``delta<O> = chi q E_y a / t`` (``orbsym.response.UNITS``).

Transport (leads, NEGF: ``orbsym.transport``, ``orbsym.numeric.negf``)
----------------------------------------------------------------------
* Leads continue the end column's model (or a given column) semi-infinitely in x, periodic in y.
* Energies on the axis of ``h`` (the model's ``mu`` inside ``h``); lead chemical potentials
  ``mu_L = mu + s V``, ``mu_R = mu - (1 - s) V``, bias ``V = mu_L - mu_R``, ``s = 1/2`` by default;
  flat bands (no potential drop).  A positive bias drives electrons toward +x.
* Currents are particle currents (``e = hbar = 1``), positive toward +x; electric current ``= -e x``.
  Conductance in ``e^2/h`` per row; the particle current per unit bias is ``G / 2 pi``.
* Linear response reports ``d<O>/dV`` per unit bias; finite bias the full steady state.
* Inter-column coupling per ``k = k_y``: ``h_{x,x+1}(k) = t_(1,0) + t_(1,1) e^{ik} + t_(1,-1) e^{-ik}``
  (the phases of ``h(k)``); bonds ``(2, dy)`` and leads of period two: pairs of columns.
* Current at 45 degrees (``orbsym.transport.rotated_model``): columns ``u = X + Y``, rows
  ``r = floor((X - Y)/2)``; ``L`` and all polarizations stay along the crystal axes ``X, Y, z``.

Materials (orbsym.materials: TightBinding, hall_conductivity, edelstein)
-----------------------------------------------------------------------
* Models of crystals carry lengths in Angstrom and energies in eV (physical units available) or
  orbsym's ``a`` and ``t`` (natural units only); ``k_B T`` and ``hbar eta`` in the energy unit.
* Bulk response (:mod:`orbsym.materials.hall`): the conventional current ``j^gamma_alpha =
  {v_alpha, O_gamma}/2`` (``v = i[H, r]``; ``O`` in units of hbar, ``S = sigma/2``; ``O = 1`` for
  the charge channel) responds to ``E_beta`` as ``sigma^gamma_{alpha beta} = 1/(N V) sum_k
  Tr(j^gamma_alpha delta_beta)`` (density-matrix Kubo of ``orbsym.numeric.kubo``, ``N`` k points,
  ``V`` the cell volume, the cell area in 2D).
* Natural units: ``e = hbar = 1``, per unit force ``q E`` (as the rest of orbsym); a 2D orbsym
  model (``a = 1``) gives exactly the numbers of ``orbsym.response.orbital_hall`` (per site = per cell).
* Physical units (:func:`physical_response`): ``sigma_phys = (e^2/hbar) sigma_nat`` in
  ``(hbar/e) (Ohm cm)^-1`` (3D) or ``(hbar/e) S`` per square (2D); ``J^O = sigma E`` with
  ``J^O = q x (current of O)`` for electrons ``q = -e`` (the electric current for the charge
  channel; the angular-momentum current density is ``-(hbar/e) sigma E``; the convention of the
  Wannier-function codes).  Chern insulator: ``sigma_xy = -C e^2/h`` with
  ``C = (1/2 pi) sum_occ int Omega_xy d^2k``, ``Omega = curl A``, ``A = i <u|grad_k u>``.
* Edelstein response: ``<O_gamma>`` per cell; natural per unit force ``q E``, physical in hbar per
  cell per ``V/cm`` for electrons (``q = -e``: the sign of the natural number flips).
* k grids of bulk sums and of ``TightBinding.fermi_level`` are Gamma-centred (``k = j/N_k`` in
  the reciprocal basis): invariant under every point-group operation of the lattice.

Atomic shells (orbsym.materials.shells)
---------------------------------------
* Real orbitals are Wannier90's angular functions (User Guide, "Angular functions"), unit-normalised
  on the sphere, each with the + sign of its monomial; order per shell = Wannier90's ``m_r`` order:
  ``s``; ``pz, px, py``; ``dz2, dxz, dyz, dx2-y2, dxy``; ``fz3, fxz2, fyz2, fz(x2-y2), fxyz,
  fx(x2-3y2), fy(3x2-y2)``.  ``t2g = (dxz, dyz, dxy)``, ``eg = (dz2, dx2-y2)``.
* Phases from Condon-Shortley ``Y_l^m``; for ``m > 0`` the cos type is ``(Y^{-m} + (-1)^m Y^m)/sqrt2``,
  the sin type ``i (Y^{-m} - (-1)^m Y^m)/sqrt2``.  ``(L_a)_ij = <i|L_a|j>`` (hbar = 1); an incomplete
  shell carries ``P L P``.
* Rotations: ``Theta_i(R^-1 r) = sum_j Theta_j(r) D_ji``; ``D L_a D^T = det(R) sum_b R_ba L_b``.
* Spin ``S = sigma/2`` on (up, down) along +z.  Spinful orders: ``"interleaved"`` (orb1 up, orb1
  down, ...; Wannier90 >= 2, QE, VASP >= 6) and ``"block"`` (all up, then all down; VASP 5).
* SOC ``H = lam L.S``: ``j = l + 1/2`` at ``+lam l/2``, ``j = l - 1/2`` at ``-lam (l + 1)/2``.
* t2g and Eq. 2: Wannier90's ``(dxz, dyz, dxy)`` -> orbsym's ``(d_yz, d_xz, d_xy)`` is a pure
  permutation.  The physical L projected on t2g, in that basis, is ``(+L~_x, +L~_y, -L~_z)`` of Eq. 2
  (``= -L~`` if the sign of ``d_xy`` is flipped): the t2g triplet obeys the reversed algebra.

Wannier90 files (orbsym.materials.wannier90)
--------------------------------------------
* ``_hr.dat`` and ``_tb.dat`` hold Wannier90's convention II, ``H(k) = sum_R e^{ik.R} H(R)``,
  ``H(R)_mn = <0m|H|Rn>`` (eV), ``R`` in cell coordinates.  Convention I, ``H^I_mn(k) =
  e^{-ik.tau_m} H_mn(k) e^{ik.tau_n}``, uses the position of each orbital's atom (or the Wannier
  centre for generic orbitals).  Both give the same bands.
* The files store ``ndegen(R) H(R)``: the readers divide, ``write_hr`` multiplies (weight 1 by default).
* ``_wsvec.dat`` (``use_ws_distance``): for each ``(R, m, n)`` with shifts ``T_1..T_N``,
  ``H(R + T_d)_mn += H(R)_mn / N`` (``H(k)`` unchanged on the Wannier90 k grid).
* Spinor order ``"interleaved"`` by default; ``"block"`` detected from ``(u)``/``(d)`` projection lines
  or forced with ``spin_order="block"``.  Bohr converted with 0.52917721092 Angstrom (Wannier90 3.x).

Slater-Koster (orbsym.materials.slater_koster)
----------------------------------------------
* Two-centre integrals of Slater & Koster (1954) Table I: ``E_ab(d) = <a,0|H|b,d>``; ``V_{l_a l_b mu}``
  (``l_a <= l_b``) with the lower-l orbital on the origin atom and the p, d lobes along ``+d``
  (``sp_sigma = <s|H|p_z at +d z>``); the reversed order obeys ``E_ba = (-1)^(l_a + l_b) E_ab``.
* Eq. 3's t2g metal is the nearest-neighbour simple-cubic case ``dd_pi = -t``, ``dd_delta = -gamma``.
* Stoner exchange ``H_ex = -(1/2) Delta.sigma = -Delta.S`` per orbital (majority along ``Delta``).
* Shipped sets are stored in Ry and bohr (converted with CODATA 2018: 1 Ry = 13.605693122994 eV,
  1 bohr = 0.529177210903 Angstrom); a strained lattice constant keeps the integrals.

Imported models (orbsym.materials.interop)
------------------------------------------
* sisl: convention II, ``R`` from the supercell offsets, Angstrom/eV.  sisl's (SIESTA's) real harmonics
  carry the sign ``(-1)^m`` relative to Wannier90's: the importer flips px, py, dxz, dyz and the odd-m f
  orbitals, so that an orbsym label always means Wannier90's function.
* PythTB, TBmodels, qsymm: convention I (``H^I_ij(k) = sum_R e^{ik.(R + tau_j - tau_i)} H(R)_ij``; qsymm's
  hopping vector is ``d = R + tau_j - tau_i``).  They have no units: natural units (``a``, ``t``) unless a
  cell in Angstrom is given, and then energies are read as eV.

Chebyshev engine (orbsym.numeric.chebyshev)
-------------------------------------------
* Basis ``(x, y, site, orbital)``, vacancy states dropped; ``H~ = (H - b)/a`` with ``[b - a, b + a]`` the
  Gershgorin bounds widened by 1 % (10 % for Kubo-Bastin).  ``rho = p_N(H) ~ f(H)`` at ``T > 0``
  (``<c_a^dag c_b> = rho_ba``).
* ``truncation_error`` bounds ``||f(H) - p_N(H)||_2`` (hence every entry of ``rho``) from the coefficient
  tail and the Bernstein ellipse of the Matsubara pole ``mu + i pi T``; ``region_error`` that of a
  truncated light cone; each reported ``*_error`` is ``(truncation + region) x sum |A_ab|``.
* Stochastic traces with the standard error over random-phase vectors; DOS per state per energy with the
  Jackson kernel (resolution ``pi a / N``); Kubo-Bastin (Garcia, Covaci, Rappoport, PRL 114, 116602
  (2015)) per unit area and per unit force ``q E``, in Crepieux and Bruno's operator order (below).
* Periodic (torus) samples (``SparseSample.from_tight_binding``, ``from_arrays(..., periodic=True)``): wrap
  bonds with the real bond vectors, so the velocity ``-dH/dA`` is that of the Bloch model.

Disorder-averaged Kubo (orbsym.materials.born)
----------------------------------------------
* Bastin formula in Crepieux and Bruno's order (PRB 64, 014416 (2001), Eq. 3), ``sigma_ab = (i/V) int dE
  f(E) Tr[j_a dG+/dE v_b delta(E - H) - j_a delta(E - H) v_b dG-/dE]``, per unit force ``q E`` with ``e =
  hbar = 1``: the sign of :mod:`orbsym.materials.hall` (a Chern insulator gives ``sigma_xy = -C/(2 pi)``);
  ``chebyshev.kubo_bastin`` uses the same order.  (Garcia et al.'s transposed order flips the Hall part.)
* Anderson disorder: uniform on ``[-W/2, W/2]`` (variance ``W^2/12``) or Gaussian of standard deviation
  ``W`` (variance ``W^2``); "orbital-independent": one random energy on every orbital (and spin) of an atom
  (the self-energy and the ladder vertex keep the atom block); "per-orbital": independent energies
  (diagonal).  SCBA self-energy, R-A ladder at the Fermi level and R-R ladder in the Fermi sea; crossed,
  X/Psi and skew-scattering diagrams are not included (``derivations/scba-ladder.md``).
* ``orbsym hall MODEL --disorder KIND:W``: ``W`` in the model's energy unit; ``anderson`` one energy per atom
  on all its orbitals and spins, ``anderson-orbital`` one per basis spin-orbital, ``anderson-gauss`` Gaussian;
  ``Gamma = -Im Sigma(E_F) = hbar / (2 tau)`` per orbital.  ``--method chebyshev``: realization ``r`` draws
  its disorder from ``default_rng([S + r, 21])`` and its random vectors from seed ``S + r``; the error bar is
  the standard error over realizations (``ddof = 1``).

Material films (orbsym.materials.films)
---------------------------------------
* A film stacks ``N_x`` cells along one lattice vector ``a_s`` (open), periodic along the two others.
  Film frame (default): ``x`` = the film normal (``a_y x a_z``, oriented along ``a_s``), ``y`` along
  the first transverse lattice vector, ``z = x cross y``; positions, cell vectors and the vector
  operators (``J'_a = sum_b R_ab J_b``) are rotated into it, so that ``E_y``, ``E_z`` lie in the film.
* A uniform field must be parallel to the open surfaces (``a_y x a_z`` has no component along it);
  an oblique stacking vector (fcc (111)) is allowed.
* Stacks share cell and atom positions (commensurate); bonds across an interface take the mean of
  the two materials' matrices (``interface="mean"``) or the lower / upper one's.

Disorder (orbsym.numeric.disorder, orbsym.workflows.ensembles)
--------------------------------------------------------------
* A configuration is reproducible from (kinds, strengths, seed): term ``i`` draws from stream ``i``
  of ``numpy.random.SeedSequence(seed).spawn(n_terms)``; explicit arrays (``Potential``,
  ``VacancyMask``, per-bond matrices) rebuild it exactly.
* Anderson ``W``: uniform in ``[-W/2, W/2]`` (full width ``W``) or Gaussian of standard deviation
  ``W``, times 1 on the site (``per_orbital``: independent diagonal entries); random hoppings: each
  bond instance scaled by ``1 + d``; vacancies: exact removal (bonds cut); magnetic texture:
  ``-m.J_s`` with ``|m|`` fixed, directions uniform on a spherical cap.
* Ensembles: realization ``r`` uses seed ``s_r`` (CLI: ``S, S+1, ...``); averages ``<X> = n^-1 sum_r X_r``
  with the standard error ``s/sqrt(n)``, ``s^2 = sum_r (X_r - <X>)^2/(n - 1)`` (NaN for ``n = 1``); every
  realization's per-site balance is checked.  Transport ensembles attach clean leads (the clean sample's
  first and last slices continued); the conductance is in ``e^2/h`` for the whole finite sample,
  densities and currents per unit bias in linear response.
* Periodic samples (``N_y``; films ``N_y x N_z``) are disordered through their Gamma-only supercell
  (:func:`orbsym.numeric.disorder.supercell`): one cell holds the ``R = N_y`` (``N_y N_z``) transverse
  copies of every site, named ``"s[y]"`` (``"s[y,z]"``), site index ``r n_sites + s`` with ``r = y``
  (films ``y N_z + z``), hopping index ``h R + r``; ``N_y = 1`` (``N_z = 1``), cell vectors ``a_x, N_y a_y,
  N_z a_z``, wrap bonds with the Bloch phase of ``k = 0`` (1).  Its Hamiltonian is that of the ``N_x x
  N_y (x N_z)`` torus, unitarily equivalent to ``(+)_k h(k)``: zero disorder reproduces the clean lattice
  to rounding.  Disorder arrays are ``(N_x, R, ...)``; results per site ``[x, r, site]``, per bond
  ``[hopping, x, r]``; F and boundary currents per transverse cell (supercell value / ``R``).
* Disordered open strips (:func:`orbsym.transport.transport` with ``disorder=``): the region's ``N_x`` columns
  x ``N_y`` open rows (one site ``"site"`` per cell) between one clean lead cell on each side; leads and
  contact bonds are never disordered.  ``boundary_current[b]`` is the current through the boundary of
  columns ``b, b + 1`` summed over the width (``b = -1``: left contact, ``N_x - 1``: right contact),
  ``layer_torque[x]`` the summed torque of column ``x``; ``j(x-1|x) - j(x|x+1) + tau(x) = 0`` is checked in
  every realization.

Output conventions
------------------
* Finite-size floor: a variable ``V`` may state the size below which ``|V|`` is finite-size noise, in
  ``V``'s units: attribute ``finite_size_floor`` (a number, or the name of a variable holding it), a
  variable ``V_finite_size_floor``, or a global attribute; ``orbsym plot`` shades ``|V|`` below it.
* ``orbsym transport`` records ``mu`` as the model's chemical potential; the API's
  ``transport(mu=...)`` is the Fermi level on the energy axis of ``h`` (0 = the model's mu);
  ``mu_L = mu + s V``, ``mu_R = mu - (1 - s) V`` on the model's scale.

Magnetization directions
------------------------
``m = |m| (sin theta cos phi, sin theta sin phi, cos theta)``.
"""

__all__ = [
    "ORBITAL_BASIS",
    "SPIN_BASIS",
    "P_BASIS",
    "POLARIZATIONS",
    "DIRECTIONS",
    "UNIT_VECTORS",
    "UNIT_VECTORS_3D",
    "PAPER",
    "PAPER_PARAMETERS",
    "direction_from_angles",
    "physical_response",
    "E2_OVER_HBAR",
]

import math

#: Basis order of the multiorbital metal (Eq. 2, 3).
ORBITAL_BASIS = ("d_yz", "d_xz", "d_xy")
#: Basis order of spin-1/2 models (Eq. 4).
SPIN_BASIS = ("up", "down")
#: Basis order of p orbitals.
P_BASIS = ("p_x", "p_y", "p_z")
#: Labels of the three generator components.
POLARIZATIONS = ("x", "y", "z")
#: Lattice directions of nearest-neighbour bonds.
DIRECTIONS = ("x", "y")
#: Unit lattice vectors e_x, e_y as integer offsets.
UNIT_VECTORS = {"x": (1, 0), "y": (0, 1)}
#: Unit lattice vectors of films (3D offsets).
UNIT_VECTORS_3D = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}

PAPER = (
    "N. H. Aase, E. W. Hodt, J. Linder and A. Sudbo, Orbital currents in lattice multiorbital "
    "systems: continuity equation, torques, and RKKY interaction"
)

#: Defaults of the reproduction of the paper's figures (shared/CONVENTIONS.md, bottom).
PAPER_PARAMETERS = {
    "N_x": 25,
    "N_y": 800,
    "N_FM": 1,
    "m": 1.0,
    "T": 0.01,
    "mu": -0.2,
    "t": 1.0,
    "tp": 1.0,
}


def direction_from_angles(theta, phi, magnitude=1.0):
    """Return ``m = |m| (sin th cos ph, sin th sin ph, cos th)`` as a tuple of floats."""
    st = math.sin(theta)
    return (magnitude * st * math.cos(phi), magnitude * st * math.sin(phi), magnitude * math.cos(theta))


#: ``e^2/hbar`` in siemens (CODATA 2018 exact ``e``, ``hbar``); ``e^2/h = E2_OVER_HBAR / (2 pi) = 3.874046e-5 S``.
E2_OVER_HBAR = 1.602176634e-19**2 / 1.054571817e-34


def physical_response(value, kind="hall", periodic=3):
    """Convert a natural-unit response of a model in Angstrom/eV to physical units.

    Derivation (``hbar`` restored).  The field enters as ``hbar dk/dt = q E``; the steady state is
    ``rho = f(h) + q E delta`` with ``-i[h, delta] - hbar eta delta = df/dk`` (``h`` in eV, ``k`` in
    1/Angstrom): ``df/dk`` is in Angstrom, so ``delta`` is in Angstrom/eV and the natural
    ``chi = sum_k Tr(j delta)/N`` with ``j = {dh/dk, O}/2`` (eV Angstrom) is in Angstrom^2
    (``O`` dimensionless, in units of hbar).  The physical velocity is ``(1/hbar) dh/dk``, so the O
    current density is ``q E chi / (hbar V)`` and ``J^O = q x`` that ``= (q^2/hbar) chi/V E``:

        sigma = (e^2/hbar) x sigma_nat,   sigma_nat = chi/V  [Angstrom^(2 - d)],

    the same positive factor for the charge and the angular-momentum channels (``q^2 = e^2``).
    3D: ``sigma_nat`` in 1/Angstrom = 1e8 /cm, ``e^2/hbar = 2.434135e-4 S``: one natural unit is
    ``24341.35 (hbar/e) (Ohm cm)^-1``.  2D: ``sigma_nat`` is dimensionless: one natural unit is
    ``2.434135e-4 (hbar/e) S`` (per square); a filled Chern band gives ``sigma_nat = -C/(2 pi)``,
    i.e. ``sigma = -C e^2/h``.  For ``O = S = sigma/2`` the spin unit hbar is already in ``O``.

    Edelstein (``kind="edelstein"``): ``delta<O>`` per cell ``= q E chi`` with ``chi`` in
    Angstrom/eV per cell; for electrons ``q E = -e E`` and ``E = 1 V/cm = 1e-8 V/Angstrom``:
    ``delta<O> = -1e-8 chi`` hbar per cell per V/cm.

    Parameters
    ----------
    value : float or ndarray
        Natural-unit response (``e = hbar = 1``, Angstrom, eV, per unit force ``q E``): Hall
        ``chi/V``, Edelstein ``chi`` per cell.
    kind : {"hall", "edelstein"}
    periodic : {3, 2}

    Returns
    -------
    (converted, unit) : (float or ndarray, str)
    """
    if kind not in ("hall", "edelstein"):
        raise ValueError(f"kind must be 'hall' or 'edelstein', got {kind!r}")
    if periodic not in (2, 3):
        raise ValueError(f"periodic must be 3 or 2, got {periodic!r}")
    if kind == "edelstein":
        return -1e-8 * value, "hbar per cell per (V/cm), electrons (q = -e)"
    if periodic == 3:
        return E2_OVER_HBAR * 1e8 * value, "(hbar/e) (Ohm cm)^-1"
    return E2_OVER_HBAR * value, "(hbar/e) S (per square)"
