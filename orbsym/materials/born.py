"""Disorder-averaged Green's functions (self-consistent Born) and ladder vertex corrections of a crystal.

One concept: the impurity average of a :class:`~orbsym.materials.TightBinding` crystal with on-site
(Anderson) disorder, in the self-consistent Born approximation (SCBA) for the single-particle Green's
function and the ladder (Bethe-Salpeter) sum for the two-particle vertex of the Kubo-Bastin conductivity.
No SymPy.  Derivation and the diagrams kept and dropped: ``derivations/scba-ladder.md``.

Disorder
--------
``V = sum_{cell R} sum_{atom a} eps_{R a} P_{R a}`` (``correlation="orbital-independent"``: one random
energy per atom, the same on all its orbitals and spins, ``P_{R a}`` the projector on them), or
``V = sum_{R i} eps_{R i} |R i><R i|`` (``"per-orbital"``: independent on every orbital).  The
``eps`` are independent, of zero mean and variance ``gamma2``:

    uniform on [-W/2, W/2]:  gamma2 = W^2 / 12,        gaussian (standard deviation W):  gamma2 = W^2.

Only the second cumulant enters (Gaussian/Born level; the third cumulant of skew scattering is dropped).

Self-consistent Born approximation
----------------------------------
With ``<.>_k = N^-1 sum_k`` over the Gamma-centred ``N_k^d`` grid (:func:`orbsym.materials.hall.monkhorst_pack`)::

    G(k, z) = (z - H(k) - Sigma(z))^-1,      Sigma(z) = gamma2 P[ <G(k, z)>_k ],

``P`` keeping the atom blocks (orbital-independent) or the diagonal (per-orbital) of the local Green's
function.  ``Sigma`` is k-independent and analytic in the upper half plane (retarded branch,
``Im z > 0``; at real ``z`` the limit ``z + i0``).  Solved by damped fixed-point iteration (linear mixing)
to a residual ``1e-3 x tol_scale``, then Newton's method on ``F(Sigma) = Sigma - gamma2 P<G>`` with the
exact Jacobian ``1 - M``, ``M[X] = gamma2 P<G X G>`` (the same linear map as the ladder) to
``max |F| <= tol`` (energy unit).  Not converged within ``max_iter``: :class:`SCBAConvergenceError`.

Conductivity (Kubo-Bastin, T = 0)
---------------------------------
The Bastin formula (Bastin et al., J. Phys. Chem. Solids 32, 1811 (1971)) in the operator order of
Crepieux and Bruno, PRB 64, 014416 (2001), Eq. 3,
``sigma_ab = (i/V) int dE f Tr[ j_a dG^+/dE v_b delta(E - H) - j_a delta(E - H) v_b dG^-/dE ]``,
``hbar = e = 1``, per unit force ``q E_b`` and volume ``V`` of the cell (the sign of
:mod:`orbsym.materials.hall`: a Chern insulator gives ``sigma_xy = -C/(2 pi)``), split into a
Fermi-surface and a Fermi-sea part (integration by parts of the mixed ``G^R ... G^A`` terms)::

    sigma_ab = (1/(2 pi V)) <Tr[ j_a G^R(E_F) v~_b G^A(E_F) ]>_k
               - (1/(pi V)) Re int_{-inf}^{E_F} dE <Tr[ j_a dG^R(E)/dE v_b G^R(E) ]>_k ,

``j_a = {v_a, O_gamma}/2`` (``v_a`` for the charge current) and ``v = i[H, r]`` as in
:mod:`orbsym.materials.hall`.  ``v~_b = v_b + X_b`` is the ladder-dressed vertex (local disorder: the
correction ``X_b`` is k-independent, block diagonal like ``Sigma``)::

    X_b = gamma2 P[ <G^R (v_b + X_b) G^A>_k ]       (Bethe-Salpeter, ladder in the R-A channel),

a linear system of the size of the allowed entries (``sum_a n_a^2`` or ``n``), solved directly (its
diffuson mode, eigenvalue 1 by the Ward identity, projected out: :func:`ladder_vertex`); ``ladder=False``
drops ``X_b`` (SCBA bubble only).  The Fermi-sea part uses the SCBA ``G^R``, with
``dG^R/dz = -G^R (1 - dSigma/dz) G^R``, ``(1 - M) dSigma/dz = -gamma2 P<G^R G^R>`` (exact derivative of
the SCBA); it is reported bare (``fermi_sea``) and with the R-R ladder (``fermi_sea_ladder``): the average
``<Tr[j G(z1) v G(z2)]> = Tr<j G1 (v + X12) G2>``, ``X12 = gamma2 P<G1 (v + X12) G2>``, differentiated in ``z1``
at ``z1 = z2 = z``: ``Tr<j G' v~ G> + Tr<j G X' G>``, ``(1 - M) X' = gamma2 P<G' v~ G>`` (the conserving
partner of the SCBA; the R-R ladder is usually O(Gamma/E_F), but not in multiorbital bands where the
R-A ladder itself is large).  The energy integral is taken on the contour ``z = E_F + i y``, ``y = c s / (1 - s)``,
``s`` Gauss-Legendre on (0, 1) (``n_sea`` points; the integrand decays as ``y^-3``)::

    int_{-inf}^{E_F} F(E + i0) dE = -i int_0^inf F(E_F + i y) dy.

The crossed (maximally crossed, weak localization) diagrams and the third-order (skew) terms are dropped;
they are O(1/(k_F l)) and O(gamma3) respectively (Rammer, Quantum Transport Theory, ch. 8;
Bruus & Flensberg, ch. 15).

``broadening`` adds a constant ``-i Gamma0`` to ``Sigma`` (with ``W = 0``: the constant-broadening Kubo-Bastin
formula, checked in the tests against an independent eigenbasis evaluation).

Units
-----
As :func:`orbsym.materials.hall.hall_conductivity`: ``units="natural"`` (``e = hbar = 1``, the model's
lengths and energies, per unit force ``q E``; dimensionless for 2D crystals) or ``"physical"``
(models in Angstrom/eV; :func:`orbsym.conventions.physical_response`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..numeric.checks import ENERGY_LIMIT, check_name, integer_at_least, real_number

__all__ = [
    "DISTRIBUTIONS", "CORRELATIONS", "SCBAConvergenceError", "disorder_variance", "scba_self_energy", "SCBA",
    "disordered_conductivity", "DisorderedConductivity", "ladder_vertex", "ladder_series",
]

#: Distributions of the on-site energies and their variance ``gamma2(W)``.
DISTRIBUTIONS = ("uniform", "gaussian")
#: Correlation of the random energy between the orbitals of one atom.
CORRELATIONS = ("orbital-independent", "per-orbital")
#: Singular-value cutoff (absolute, 1 - M is dimensionless) of the ladder solve (drops the diffuson mode, eigenvalue 1 of the R-A ladder kernel).
LADDER_RCOND = 1e-7
#: Default SCBA tolerance on ``max |Sigma - gamma2 P<G>|`` (energy unit).
SCBA_TOL = 1e-11


class SCBAConvergenceError(RuntimeError):
    """The SCBA fixed point was not reached within ``max_iter`` iterations."""


def disorder_variance(W, distribution="uniform"):
    """Variance ``gamma2`` of the on-site energies: ``W^2/12`` (uniform on [-W/2, W/2]) or ``W^2`` (gaussian, std W)."""
    W = real_number("disorder strength W", W, minimum=0.0, bound=ENERGY_LIMIT)
    dist = check_name("distribution", distribution, DISTRIBUTIONS)
    return W * W / 12.0 if dist == "uniform" else W * W


def _mask(model, correlation):
    """Boolean (n, n) mask of the entries kept by ``P`` (atom blocks, or the diagonal)."""
    corr = check_name("correlation", correlation, CORRELATIONS)
    n = model.n
    if corr == "per-orbital":
        return np.eye(n, dtype=bool)
    atom = np.array([o.atom for o in model.basis])
    return atom[:, None] == atom[None, :]


class _Grid:
    """H(k), velocities and currents of the model on the Gamma-centred grid (computed once)."""

    def __init__(self, model, N_k, positions=True):
        from .hall import monkhorst_pack

        self.N_k = N_k
        frac = monkhorst_pack(N_k, model.periodic)
        k = model.k_cartesian(frac)
        self.H = model.hamiltonian(k)
        self.v = model.velocity(k, positions=positions)
        self.nk = len(frac)
        self.n = model.n
        self.eye = np.eye(model.n)

    def green(self, z, sigma):
        return np.linalg.inv((z * self.eye - sigma)[None] - self.H)


def _local(G, mask):
    """``P<G>_k`` as a dense (n, n) matrix (zeros outside the mask)."""
    return np.where(mask, G.mean(axis=0), 0.0)


#: Bytes of the k-point chunks of :func:`_linear_map` (its memory no longer grows with the grid).
LINEAR_MAP_CHUNK_BYTES = 64 * 2**20


def _linear_map(L, R, mask, gamma2):
    """Matrix of ``X -> gamma2 P<L X R>_k`` on the masked entries (row-major order of ``np.nonzero(mask)``).

    ``M[(r, s), (p, q)] = gamma2 <L_rp R_qs>_k``, summed over chunks of k points.  When the mask holds a
    large share of the ``n^2`` entries (``4 d^2 >= n^4``, e.g. one atom with orbital-independent disorder) the
    full tensor ``<L_rp R_qs>`` is one matrix product ``L^T R`` per chunk (BLAS); else the ``d^2`` entries
    are gathered and multiplied elementwise (:func:`_linear_map_reference` is the unchunked slow path)."""
    r, c = np.nonzero(mask)
    nk, n = L.shape[0], L.shape[1]
    d = r.size
    full = 4 * d * d >= n**4
    per_k = 16.0 * (2 * n * n if full else 2 * d * d + 2 * d * n)
    step = max(1, int(LINEAR_MAP_CHUNK_BYTES // per_k))
    M = np.zeros((d, d), complex)
    if full:
        T = np.zeros((n * n, n * n), complex)  # T[(r, p), (q, s)] = sum_k L_rp R_qs
        for k0 in range(0, nk, step):
            Lc = L[k0 : k0 + step].reshape(-1, n * n)
            Rc = R[k0 : k0 + step].reshape(-1, n * n)
            T += Lc.T @ Rc
        T = T.reshape(n, n, n, n)
        M = T[r[:, None], r[None, :], c[None, :], c[:, None]]  # M[o, i] = T[r_o, p_i = r_i, q_i = c_i, s_o = c_o]
    else:
        for k0 in range(0, nk, step):
            Lp = L[k0 : k0 + step][:, r[:, None], r[None, :]]  # L[k, r_out, p_in]
            Rq = R[k0 : k0 + step][:, c[None, :], c[:, None]]  # R[k, q_in, s_out] as (k, out, in)
            M += np.einsum("koi,koi->oi", Lp, Rq)
    return gamma2 * M / nk


def _linear_map_reference(L, R, mask, gamma2):
    """Unchunked slow path of :func:`_linear_map`: gather all ``(k, out, in)`` entries at once."""
    r, c = np.nonzero(mask)
    nk = L.shape[0]
    Lp = L[:, r, :][:, :, r]
    Rq = R[:, :, c][:, c, :]
    return gamma2 * np.einsum("kop,kpo->op", Lp, Rq) / nk


@dataclass
class SCBA:
    """Self-consistent Born self-energy at one complex energy.

    Attributes
    ----------
    z : complex
        Energy (``Im z >= 0``; real: the retarded limit), energy unit.
    sigma : ndarray (n, n)
        ``Sigma(z)`` (energy unit); ``-Im`` of its diagonal is the broadening ``Gamma = hbar / (2 tau)``.
    iterations : int
    residual : float
        ``max |Sigma - gamma2 P<G> - (-i Gamma0)|`` at the end (energy unit).
    gamma2 : float
    method : str
    """

    z: complex
    sigma: np.ndarray
    iterations: int
    residual: float
    gamma2: float
    method: str


def _solve_scba(grid, z, gamma2, mask, broadening, tol, max_iter, mixing, sigma0, newton):
    n = grid.n
    const = -1j * broadening * np.eye(n)
    if gamma2 == 0:
        return const.copy(), 0, 0.0
    if sigma0 is None:
        sig = const - 1j * math.sqrt(gamma2) * np.where(mask, np.eye(n), 0)
    else:
        sig = np.array(sigma0, dtype=complex)
    switch = 1e-3 if newton else 0.0
    for it in range(1, max_iter + 1):
        G = grid.green(z, sig)
        F = sig - const - gamma2 * _local(G, mask)
        res = float(np.abs(F).max())
        if res <= tol:
            return sig, it, res
        if newton and res < switch:
            M = _linear_map(G, G, mask, gamma2)
            r, c = np.nonzero(mask)
            step = np.linalg.solve(np.eye(M.shape[0]) - M, F[r, c])
            sig = sig.copy()
            sig[r, c] -= step
        else:
            sig = sig - mixing * F
    raise SCBAConvergenceError(
        f"SCBA did not converge at z = {z:.6g}: residual {res:.3g} > tol {tol:.3g} after {max_iter} iterations "
        f"(mixing {mixing}); raise max_iter, lower mixing, or use a finer N_k"
    )


def _check_model(model):
    from .model import TightBinding

    if not isinstance(model, TightBinding):
        raise TypeError(f"model must be an orbsym.materials.TightBinding, got {type(model).__name__}")


def _check_disorder(W, distribution, correlation, broadening, tol, max_iter, mixing):
    gamma2 = disorder_variance(W, distribution)
    check_name("correlation", correlation, CORRELATIONS)
    broadening = real_number("broadening Gamma0", broadening, minimum=0.0, bound=ENERGY_LIMIT)
    if gamma2 == 0 and broadening == 0:
        raise ValueError("W = 0 with broadening = 0: the Green's functions at the Fermi level are singular; give W > 0 or broadening > 0")
    tol = real_number("tol", tol, minimum=0.0, strict=True)
    max_iter = integer_at_least("max_iter", max_iter, 1)
    mixing = real_number("mixing", mixing, minimum=0.0, strict=True)
    if mixing > 1:
        raise ValueError(f"mixing must be in (0, 1], got {mixing}")
    return gamma2, broadening, tol, max_iter, mixing


def scba_self_energy(model, z, W, *, distribution="uniform", correlation="orbital-independent", N_k=64, broadening=0.0,
                     tol=SCBA_TOL, max_iter=500, mixing=0.5, sigma0=None, newton=True):
    """SCBA self-energy ``Sigma(z) = gamma2 P<(z - H(k) - Sigma(z))^-1>_k`` (module docstring).

    Parameters
    ----------
    model : TightBinding
    z : complex
        Energy (energy unit), ``Im z >= 0``; a real ``z`` is the retarded limit ``z + i0``.
    W : float
        Disorder strength ``>= 0`` (energy unit): the width (uniform) or standard deviation (gaussian).
    distribution : {"uniform", "gaussian"}
    correlation : {"orbital-independent", "per-orbital"}
    N_k : int
        k points per periodic direction of the Gamma-centred grid.
    broadening : float
        Constant extra ``Gamma0 >= 0``: ``Sigma -> Sigma - i Gamma0``.
    tol, max_iter, mixing :
        Convergence: ``max |F| <= tol`` (energy unit), at most ``max_iter`` iterations, linear mixing.
    sigma0 : ndarray, optional
        Starting guess.
    newton : bool
        Newton steps once the residual is below 1e-3 (False: plain mixing only, the slow path).

    Returns
    -------
    SCBA
    """
    _check_model(model)
    gamma2, broadening, tol, max_iter, mixing = _check_disorder(W, distribution, correlation, broadening, tol, max_iter, mixing)
    z = complex(z)
    if z.imag < 0:
        raise ValueError(f"z must lie in the upper half plane (retarded), got Im z = {z.imag}")
    N_k = integer_at_least("N_k", N_k, 2)
    grid = _Grid(model, N_k)
    mask = _mask(model, correlation)
    sig, it, res = _solve_scba(grid, z, gamma2, mask, broadening, tol, max_iter, mixing, sigma0, newton)
    return SCBA(z, sig, it, res, gamma2, "mixing + Newton" if newton else "mixing")


def ladder_vertex(GL, GR, V, mask, gamma2):
    """Ladder correction ``X = gamma2 P<G_L (V + X) G_R>_k`` by one linear solve (``G_L = G^R``, ``G_R = G^A``: the R-A ladder).

    ``GL, GR, V`` of shape (nk, n, n); returns the (n, n) correction ``X`` (zero outside ``mask``).
    """
    r, c = np.nonzero(mask)
    M = _linear_map(GL, GR, mask, gamma2)
    X0 = gamma2 * (GL @ V @ GR).mean(axis=0)[r, c]
    # The R-A ladder at equal energies has the diffuson: by the Ward identity G^R - G^A = G^R (Sigma^R - Sigma^A) G^A,
    # X = Sigma^R - Sigma^A is an eigenvector of M with eigenvalue exactly 1 (1 - M singular).  A uniform current
    # vertex has no component along it (sum_k Tr[(G^R - G^A) v] = sum_k d_k Tr ln(...) = 0); the pseudo-inverse drops it.
    U, sv, Vh = np.linalg.svd(np.eye(M.shape[0]) - M)
    keep = sv > LADDER_RCOND * max(1.0, sv[0])  # 1 - M is dimensionless, O(1): an absolute cutoff
    x = Vh[keep].conj().T @ ((U[:, keep].conj().T @ X0) / sv[keep])
    X = np.zeros(GL.shape[1:], complex)
    X[r, c] = x
    return X


def ladder_series(GL, GR, V, mask, gamma2, tol=1e-13, max_terms=10000, project=None):
    """Slow path of :func:`ladder_vertex`: the ladder summed rung by rung, ``X_{m+1} = gamma2 P<G_L (V + X_m) G_R>``.

    ``project``: the diffuson mode ``Sigma^R - Sigma^A`` (n, n), removed from every partial sum (the rung map
    has eigenvalue 1 along it, so the bare series would drift along it at the rate of the source's tiny
    component there).

    Dense matrix products only (no linear map); refused when it does not converge within ``max_terms``.
    """
    X = np.zeros(GL.shape[1:], complex)
    if project is not None:  # remove the diffuson component of the source (the mode the solve drops)
        u = project[mask] / np.linalg.norm(project[mask])
    for _ in range(max_terms):
        Xn = gamma2 * np.where(mask, (GL @ (V + X[None]) @ GR).mean(axis=0), 0.0)
        if project is not None:
            Xn[mask] -= u * (u.conj() @ Xn[mask])
        if np.abs(Xn - X).max() <= tol * max(1.0, np.abs(Xn).max()):
            return Xn
        X = Xn
    raise SCBAConvergenceError(f"the ladder series did not converge in {max_terms} terms")


@dataclass
class DisorderedConductivity:
    """Result of :func:`disordered_conductivity` (one Fermi energy, several components).

    Attributes
    ----------
    components : list of str
        ``"gab"`` (``O_g`` current along ``a``, field along ``b``) or ``"ab"`` for the charge current.
    fermi_surface, fermi_surface_bare : dict
        Per component: the R-A term with the ladder-dressed vertex, and without it.
    fermi_sea, fermi_sea_ladder : dict
        The Fermi-sea (R-R) term without vertex, and with the R-R ladder (``ladder=True``; else equal).
    total, total_bare : dict
        ``fermi_surface + fermi_sea_ladder`` (SCBA + ladder in both channels) and ``fermi_surface_bare + fermi_sea``
        (SCBA bubble only).
    sigma : ndarray (n, n)
        SCBA self-energy at ``E_F``; ``gamma = -Im diag(sigma)`` the broadenings (energy unit).
    vertex : dict
        Per field direction ``b``: the ladder correction ``X_b`` (n, n).
    units : str
    """

    mu: float
    W: float
    gamma2: float
    components: list
    fermi_surface: dict
    fermi_surface_bare: dict
    fermi_sea: dict
    fermi_sea_ladder: dict
    total: dict
    total_bare: dict
    sigma: np.ndarray
    vertex: dict
    units: str
    N_k: int
    n_sea: int
    seconds: float
    info: dict = field(default_factory=dict)

    @property
    def gamma(self):
        """Broadening ``-Im Sigma`` on the diagonal (energy unit)."""
        return -np.diag(self.sigma).imag


def _parse_components(components, charge):
    comps = [components] if isinstance(components, str) else list(components)
    out = []
    for c in comps:
        c = str(c).strip().lower()
        if charge and (len(c) != 2 or any(ch not in "xyz" for ch in c)):
            raise ValueError(f"charge components are 'ab' (current a, field b, letters in 'xyz'), got {c!r}")
        if not charge and (len(c) != 3 or any(ch not in "xyz" for ch in c)):
            raise ValueError(f"components are 'gab' (polarization g, current a, field b, letters in 'xyz'), got {c!r}")
        out.append(c)
    if not out:
        raise ValueError("components is empty")
    return out


def disordered_conductivity(model, mu, W, *, operator="L", components=("zxy",), distribution="uniform", correlation="orbital-independent",
                            N_k=128, broadening=0.0, ladder=True, n_sea=40, sea_scale=None, units="natural", positions=True,
                            tol=SCBA_TOL, max_iter=500, mixing=0.5):
    """Kubo-Bastin conductivity of the disorder-averaged crystal: SCBA Green's functions, ladder vertex (module docstring).

    Parameters
    ----------
    model : TightBinding
    mu : float
        Fermi energy (energy unit), ``T = 0``.
    W : float
        Disorder strength (:func:`disorder_variance`).
    operator : {"L", "S", "J", "model", "charge"} or ndarray (3, n, n)
        ``O_gamma`` of the current ``{v_a, O_gamma}/2`` (as :func:`orbsym.materials.hall.hall_conductivity`).
    components : str or sequence of str
        ``"gab"`` (e.g. ``"zxy"``: L_z current along x, field along y), or ``"ab"`` for ``operator="charge"``.
    distribution, correlation : see :func:`scba_self_energy`.
    N_k : int
        k points per direction; must resolve the broadening (``2 pi |v| / N_k << Gamma``).
    broadening : float
        Constant extra ``Gamma0`` (energy unit).
    ladder : bool
        Dress the R-A Fermi-surface term and the R-R sea integrand with the ladder (``fermi_surface``,
        ``fermi_sea_ladder``, ``total``); the bubble (``fermi_surface_bare``, ``fermi_sea``, ``total_bare``) is
        always returned.  ``False``: the dressed entries equal the bare ones.
    n_sea : int
        Gauss-Legendre points on the imaginary-axis contour of the Fermi-sea term.
    sea_scale : float, optional
        ``c`` of ``y = c s / (1 - s)`` (default: a quarter of the band width).
    units : {"natural", "physical"}

    Returns
    -------
    DisorderedConductivity

    Cost: per contour node an SCBA solve (a few batched ``n x n`` inversions on the ``N_k^d`` points) and the
    ladder map (:func:`_linear_map`: chunks of k points, one BLAS product ``n^2 x n^2`` per chunk for dense
    masks): memory ``~16 x 24 N_k^d n^2`` bytes plus 64 MiB chunks.  Measured (one core, load ~2 on the shared
    2-core machine, one component): s-p model (``n = 3``), ``N_k = 128``, 11 nodes: 1.5 s; Cu (``n = 9``, 3D),
    ``N_k = 32``, 41 nodes and the ``N_k = 16`` grid: 60 s, 0.64 GB.  One Fermi energy per call: loop over
    ``mu`` (``orbsym hall MODEL --disorder anderson:W --mu A,B,...`` does).
    """
    from .hall import _operator

    t0 = time.perf_counter()
    _check_model(model)
    gamma2, broadening, tol, max_iter, mixing = _check_disorder(W, distribution, correlation, broadening, tol, max_iter, mixing)
    mu = real_number("mu", mu, bound=ENERGY_LIMIT)
    N_k = integer_at_least("N_k", N_k, 2)
    n_sea = integer_at_least("n_sea", n_sea, 2)
    units = check_name("units", units, ("natural", "physical"))
    if units == "physical" and model.length_unit != "Angstrom":
        raise ValueError(f"units='physical' needs a model in Angstrom and eV; {model.name!r} is in natural units: use units='natural'")
    O, _, _ = _operator(model, operator)
    comps = _parse_components(components, O is None)
    grid = _Grid(model, N_k, positions)
    mask = _mask(model, correlation)
    ax = "xyz"
    v = grid.v
    currents = {}
    for c in comps:
        if O is None:
            currents[c] = v[ax.index(c[0])]
        else:
            g, a = ax.index(c[0]), ax.index(c[1])
            Og = O[g] if O.shape[0] == 3 else O[0]
            currents[c] = 0.5 * (v[a] @ Og + Og @ v[a])
    field_of = {c: ax.index(c[-1]) for c in comps}
    vol = model.volume
    # ---------------- Fermi surface, z = mu + i0
    scba = _solve_scba(grid, complex(mu), gamma2, mask, broadening, tol, max_iter, mixing, None, True)
    sig_F, iters = scba[0], scba[1]
    GR = grid.green(complex(mu), sig_F)
    GA = GR.conj().transpose(0, 2, 1)
    vertex, surf, surf0 = {}, {}, {}
    for b in sorted(set(field_of.values())):
        vertex[b] = ladder_vertex(GR, GA, v[b], mask, gamma2) if (ladder and gamma2 > 0) else np.zeros((model.n, model.n), complex)
    for c in comps:
        b = field_of[c]
        J = currents[c]
        bare = np.einsum("kij,kji->", J, GR @ v[b] @ GA).real / grid.nk
        dressed = bare + np.einsum("kij,kji->", J, GR @ vertex[b][None] @ GA).real / grid.nk
        surf0[c] = bare / (2 * np.pi * vol)
        surf[c] = dressed / (2 * np.pi * vol)
    # ---------------- Fermi sea, contour z = mu + i y
    if sea_scale is None:
        lo, hi = float(np.linalg.eigvalsh(grid.H).min()), float(np.linalg.eigvalsh(grid.H).max())
        sea_scale = max(0.25 * (hi - lo), 1e-3)
    s, w = np.polynomial.legendre.leggauss(n_sea)
    s, w = 0.5 * (s + 1), 0.5 * w
    ys = sea_scale * s / (1 - s)
    dys = sea_scale / (1 - s) ** 2 * w
    integ = {c: 0j for c in comps}
    integ_l = {c: 0j for c in comps}
    sig = sig_F
    r, cidx = np.nonzero(mask)
    for y, dy in zip(ys, dys):
        z = complex(mu, y)
        sig, _, _ = _solve_scba(grid, z, gamma2, mask, broadening, tol, max_iter, mixing, sig, True)
        G = grid.green(z, sig)
        if gamma2 > 0:
            M = _linear_map(G, G, mask, gamma2)
            rhs = -gamma2 * (G @ G).mean(axis=0)[r, cidx]
            dsig = np.zeros((model.n, model.n), complex)
            dsig[r, cidx] = np.linalg.solve(np.eye(M.shape[0]) - M, rhs)
            dG = -G @ (np.eye(model.n) - dsig)[None] @ G
        else:
            dG = -G @ G
        dressed = {}
        if ladder and gamma2 > 0:  # R-R ladder: X(z1, z2) = gamma2 P<G1 (v + X) G2>, d/dz1 at z1 = z2 = z
            for b in sorted(set(field_of.values())):
                Xb = ladder_vertex(G, G, v[b], mask, gamma2)
                vt = v[b] + Xb[None]
                rhs = gamma2 * (dG @ vt @ G).mean(axis=0)[r, cidx]
                dX = np.zeros((model.n, model.n), complex)
                dX[r, cidx] = np.linalg.solve(np.eye(M.shape[0]) - M, rhs)
                dressed[b] = (vt, dX)
        for c in comps:
            b = field_of[c]
            F = np.einsum("kij,kji->", currents[c], dG @ v[b] @ G) / grid.nk
            integ[c] += -1j * F * dy
            if dressed:
                vt, dX = dressed[b]
                Fl = np.einsum("kij,kji->", currents[c], dG @ vt @ G + G @ dX[None] @ G) / grid.nk
                integ_l[c] += -1j * Fl * dy
            else:
                integ_l[c] += -1j * F * dy
    sea = {c: -(integ[c].real) / (np.pi * vol) for c in comps}
    sea_l = {c: -(integ_l[c].real) / (np.pi * vol) for c in comps}
    factor, unit = 1.0, (f"{model.length_unit}^{2 - model.periodic} per unit force qE (e = hbar = 1)" if model.periodic == 3
                         else "dimensionless (e^2/hbar = 1) per unit force qE")
    if units == "physical":
        from ..conventions import physical_response

        factor, unit = physical_response(1.0, "hall", model.periodic)
        if O is None:  # the charge channel: an electric conductivity (as orbsym.materials.hall)
            unit = unit.replace("(hbar/e) ", "")
    scale = lambda d: {k: float(val * factor) for k, val in d.items()}  # noqa: E731
    surf, surf0, sea, sea_l = scale(surf), scale(surf0), scale(sea), scale(sea_l)
    total = {c: surf[c] + sea_l[c] for c in comps}
    total0 = {c: surf0[c] + sea[c] for c in comps}
    return DisorderedConductivity(
        mu, float(W), gamma2, comps, surf, surf0, sea, sea_l, total, total0, sig_F, vertex, unit, N_k, n_sea, time.perf_counter() - t0,
        info={"engine": "k-space Kubo-Bastin, SCBA Green's functions" + (", ladder vertex (R-A at E_F, R-R in the sea)" if ladder else ""),
              "distribution": distribution, "correlation": correlation, "broadening": broadening, "scba_iterations": iters,
              "sea_scale": sea_scale},
    )
