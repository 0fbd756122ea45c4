"""Real time on site lattices (orbsym.numeric.sites_evolution).

Slow path written here, independently of the slice chain and the momentum blocks: the dense real-space
Hamiltonian of the whole sample (periodic y [and z] wrap around, open width, vacancies dropped), the
dense state ``rho(t) = e^{-iHt} rho0 e^{iHt}`` (``rho = G^T``, ``<c^dag A c> = Tr(A rho)``) and every
observable from ``<i [A, B]> = Tr(i [A, B] rho)`` of the dense one-body operators.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbsym.numeric.budget import ResourceError
from orbsym.numeric.sites import Hopping, Site, SiteLattice
from orbsym.numeric.sites_evolution import SiteContinuityError, evolve_sites

POLS = (None, "x", "y", "z")
SX = np.array([[0, 1], [1, 0]], complex)
SY = np.array([[0, -1j], [1j, 0]])
SZ = np.diag([1.0, -1.0]).astype(complex)
SPIN = np.array([SX, SY, SZ]) / 2


def herm(rng, n, scale=1.0):
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return scale * (a + a.conj().T) / 2


def cplx(rng, *shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


# ---------------------------------------------------------------- random lattices
ORBS = (2, 1)  # site A: 2 orbitals (a spin), site B: 1 orbital with random "generators"


def random_cells(rng, N_x, shift=0.0):
    """Per-x cells of two sites (A: 2 orbitals, B: 1), random Hermitian on-site matrices (``shift``: a
    different magnetization-like term on A, for the quench) and generators."""
    cells = []
    for x in range(N_x):
        epsA = herm(rng, 2, 0.5) + shift * (SX + 0.5 * SZ)
        cells.append((Site("A", (0.0, 0.0, 0.0), epsA, SPIN), Site("B", (0.5, 0.3, 0.0), herm(rng, 1, 0.5), np.array([herm(rng, 1) for _ in range(3)]))))
    return cells


def random_hops(rng, N_x, offsets):
    hops = []
    for i, j, off in offsets:
        hops.append(Hopping(i, j, off, 0.5 * cplx(rng, N_x, ORBS["AB".index(i)], ORBS["AB".index(j)])))
    return hops


CASES = {
    # name: (N_x, transverse kwargs, bond list)
    "periodic_y": (4, {"N_y": 4}, [("A", "B", (0, 0)), ("B", "A", (1, 0)), ("A", "A", (0, 1)), ("B", "A", (1, 1)), ("A", "B", (1, -1))]),
    "long_bonds": (4, {"N_y": 4}, [("A", "B", (0, 0)), ("A", "A", (1, 0)), ("B", "B", (2, 0)), ("A", "B", (0, 2)), ("B", "A", (1, 1))]),
    "film": (2, {"N_y": 3, "N_z": 3}, [("A", "B", (0, 0, 0)), ("B", "A", (1, 0, 0)), ("A", "A", (0, 1, 0)), ("B", "B", (0, 0, 1)), ("A", "B", (1, 0, 1))]),
}


def case_pair(name, seed=0):
    """(before, after) lattices of a case: the quench changes A's on-site matrices and every hopping."""
    N_x, kw, offs = CASES[name]
    rng = np.random.default_rng(seed)
    cells = random_cells(rng, N_x)
    hops = random_hops(rng, N_x, offs)
    before = SiteLattice(cells, hops, **kw)
    cells2 = [(Site("A", c[0].position, c[0].onsite + 0.7 * SX - 0.4 * SY, SPIN), c[1]) for c in cells]
    hops2 = [Hopping(h.start, h.end, h.offset, h.matrix * (1.0 + 0.3j)) for h in hops]
    return before, SiteLattice(cells2, hops2, **kw)


# ---------------------------------------------------------------- dense slow path
class Dense:
    """Dense real-space one-body matrices of a SiteLattice sample (built from its site description)."""

    def __init__(self, sl):
        self.sl = sl
        if sl.transverse_dimension == 0:
            self.Ny, self.Nz = sl.width, 1
        else:
            self.Ny, self.Nz = sl.N_y, (sl.N_z or 1)
        self.cells = [(x, y, z) for x in range(sl.N_x) for y in range(self.Ny) for z in range(self.Nz)]
        self.n = len(self.cells) * sl.cell_dim
        self.H, self.bonds = self._build()

    def index(self, x, y, z, s):
        return ((x * self.Ny + y) * self.Nz + z) * self.sl.cell_dim + int(self.sl.site_offsets[s])

    def vacant(self, x, y, s):
        return self.sl.transverse_dimension == 0 and bool(self.sl.vacant[x, y, s])

    def onsite(self, x, y, s):
        sl = self.sl
        return sl.site_onsite(s)[x, y] if sl.transverse_dimension == 0 else sl.cells[x][s].onsite

    def _build(self):
        sl = self.sl
        H = np.zeros((self.n, self.n), complex)
        bonds = []
        for x, y, z in self.cells:
            for s, n in enumerate(sl.orbitals):
                r = self.index(x, y, z, s)
                H[r : r + n, r : r + n] = np.eye(n) if self.vacant(x, y, s) else self.onsite(x, y, s)
        for h, (i, j, off, T) in enumerate(sl.hoppings):
            dx, dy, dz = tuple(off) + (0,) * (3 - len(off))
            for x, y, z in self.cells:
                x2, y2, z2 = x + dx, y + dy, (z + dz) % self.Nz
                if not 0 <= x2 < sl.N_x:
                    continue
                if sl.transverse_dimension >= 1:
                    y2 %= self.Ny
                elif not 0 <= y2 < self.Ny:
                    continue
                if self.vacant(x, y, i) or self.vacant(x2, y2, j):
                    continue
                r, c = self.index(x, y, z, i), self.index(x2, y2, z2, j)
                t = T[x] if T.ndim == 3 else T[x, y]  # per-bond-instance matrices of a finite sample
                H[r : r + sl.orbitals[i], c : c + sl.orbitals[j]] += t
                H[c : c + sl.orbitals[j], r : r + sl.orbitals[i]] += t.conj().T
                bonds.append((h, x, y, r, c, t))
        return H, bonds

    def J(self, x, s, pol):
        n = self.sl.orbitals[s]
        return np.eye(n) if pol is None else self.sl.cells[x][s].generators["xyz".index(pol)]

    def density(self, rho, pol):
        sl = self.sl
        out = np.zeros((sl.N_x, self.Ny, len(sl.sites)))
        for x, y, z in self.cells:
            for s, n in enumerate(sl.orbitals):
                if self.vacant(x, y, s):
                    continue
                r = self.index(x, y, z, s)
                out[x, y, s] += np.trace(self.J(x, s, pol) @ rho[r : r + n, r : r + n]).real / self.Nz
        return self.per_cell(out)

    def rate(self, rho, H, pol):
        """``Tr(i [H, O_i] rho)`` per site with the full dense matrices."""
        sl = self.sl
        out = np.zeros((sl.N_x, self.Ny, len(sl.sites)))
        for x, y, z in self.cells:
            for s, n in enumerate(sl.orbitals):
                if self.vacant(x, y, s):
                    continue
                r = self.index(x, y, z, s)
                O = np.zeros((self.n, self.n), complex)
                O[r : r + n, r : r + n] = self.J(x, s, pol)
                out[x, y, s] += np.trace(1j * (H @ O - O @ H) @ rho).real / self.Nz
        return self.per_cell(out)

    def current(self, rho, pol):
        """Bond currents ``(eom_end - eom_start) / 2`` with ``eom = Tr(i [H_b, O] rho)`` on the bond's states,
        ``(n_hoppings, N_x, rows)``."""
        sl = self.sl
        out = np.zeros((len(sl.hoppings), sl.N_x, self.Ny))
        for h, x, y, r, c, T in self.bonds:
            i, j, off, _ = sl.hoppings[h]
            ni, nj = sl.orbitals[i], sl.orbitals[j]
            idx = np.r_[r : r + ni, c : c + nj]
            Hb = np.zeros((ni + nj, ni + nj), complex)
            Hb[:ni, ni:], Hb[ni:, :ni] = T, T.conj().T
            Oi = np.zeros_like(Hb)
            Oj = np.zeros_like(Hb)
            Oi[:ni, :ni] = self.J(x, i, pol)
            Oj[ni:, ni:] = self.J(x + off[0], j, pol)
            loc = rho[np.ix_(idx, idx)]
            eom = [np.trace(1j * (Hb @ O - O @ Hb) @ loc).real for O in (Oi, Oj)]
            out[h, x, y] += 0.5 * (eom[1] - eom[0]) / self.Nz
        return self.per_cell(out, axis=2)

    def per_cell(self, arr, axis=1):
        if self.sl.transverse_dimension >= 1:
            return arr.mean(axis=axis, keepdims=True)
        return arr


def thermal(H, T):
    E, U = np.linalg.eigh(H)
    return (U * (0.5 * (1 - np.tanh(E / (2 * T))))) @ U.conj().T


def evolve_dense(H, rho, t):
    E, U = np.linalg.eigh(H)
    W = (U * np.exp(-1j * E * t)) @ U.conj().T
    return W @ rho @ W.conj().T


def midpoint_dense(H, Vfun, rho, t0, t1, steps):
    dt = (t1 - t0) / steps
    for m in range(steps):
        E, U = np.linalg.eigh(H + Vfun(t0 + (m + 0.5) * dt))
        W = (U * np.exp(-1j * E * dt)) @ U.conj().T
        rho = W @ rho @ W.conj().T
    return rho


# ---------------------------------------------------------------- (1) quench against dense real space
@pytest.mark.parametrize("name", sorted(CASES))
def test_quench_against_dense_real_space(name):
    before, after = case_pair(name, seed=3)
    T, times = 0.2, [0.0, 0.7, 2.3]
    ds = evolve_sites(before, T, times, quench=after)
    d0, d1 = Dense(before), Dense(after)
    rho0 = thermal(d0.H, T)
    assert ds.attrs["max_abs_residual"] < 1e-11
    for it, t in enumerate(times):
        rho = evolve_dense(d1.H, rho0, t)
        for ip, pol in enumerate(POLS):
            np.testing.assert_allclose(ds.density.values[it, ip], d1.density(rho, pol), rtol=0, atol=1e-10)
            np.testing.assert_allclose(ds.current.values[it, ip], d1.current(rho, pol), rtol=0, atol=1e-10)
            np.testing.assert_allclose(ds.rate.values[it, ip], d1.rate(rho, d1.H, pol), rtol=0, atol=1e-10)
    # the quench did something: the state moves
    assert np.abs(ds.density.values[2] - ds.density.values[0]).max() > 1e-2
    assert np.abs(ds.current.values[1]).max() > 1e-2


# ---------------------------------------------------------------- (2) two-site cell = one site per cell
def test_two_site_cell_equals_one_site_per_cell():
    rng = np.random.default_rng(7)
    N, Ny, T = 3, 4, 0.15
    t1, t2, ty, td = -1.0 * np.eye(2), -0.6 * np.eye(2) + 0.2j * SZ, herm(rng, 2, 0.4), 0.3 * cplx(rng, 2, 2)
    epsA, epsB = herm(rng, 2, 0.5), herm(rng, 2, 0.5)

    def two_site(m):
        cell = (Site("A", (0, 0), epsA + m * SZ, SPIN), Site("B", (0.5, 0), epsB, SPIN))
        hops = [Hopping("A", "B", (0, 0), t1), Hopping("B", "A", (1, 0), t2), Hopping("A", "A", (0, 1), ty),
                Hopping("B", "B", (0, 1), ty), Hopping("A", "B", (0, 1), td)]
        return SiteLattice(cell, hops, N_x=N, N_y=Ny)

    def one_site(m):
        cells = [(Site("S", (0, 0), (epsA + m * SZ) if x % 2 == 0 else epsB, SPIN),) for x in range(2 * N)]
        tx = np.array([t1 if x % 2 == 0 else t2 for x in range(2 * N)])
        tdx = np.array([td if x % 2 == 0 else np.zeros((2, 2)) for x in range(2 * N)])
        hops = [Hopping("S", "S", (1, 0), tx), Hopping("S", "S", (0, 1), ty), Hopping("S", "S", (1, 1), tdx)]
        return SiteLattice(cells, hops, N_y=Ny)

    times = [0.4, 1.9]
    a = evolve_sites(two_site(0.8), T, times, quench=two_site(-0.5))
    b = evolve_sites(one_site(0.8), T, times, quench=one_site(-0.5))
    da, db = a.density.values, b.density.values  # (time, pol, x, row, site)
    np.testing.assert_allclose(da[..., 0, 0], db[..., 0::2, 0, 0], rtol=0, atol=1e-11)  # A at x -> 2x
    np.testing.assert_allclose(da[..., 0, 1], db[..., 1::2, 0, 0], rtol=0, atol=1e-11)  # B at x -> 2x + 1
    ca, cb = a.current.values, b.current.values  # (time, pol, bond, x, row)
    np.testing.assert_allclose(ca[:, :, 0, :, 0], cb[:, :, 0, 0::2, 0], rtol=0, atol=1e-11)  # A->B (0,0) = S (1,0) at even x
    np.testing.assert_allclose(ca[:, :, 1, : N - 1, 0], cb[:, :, 0, 1:-1:2, 0], rtol=0, atol=1e-11)  # B->A (1,0) = odd x
    np.testing.assert_allclose(ca[:, :, 4, :, 0], cb[:, :, 2, 0::2, 0], rtol=0, atol=1e-11)  # A->B (0,1) = S (1,1) at even x
    np.testing.assert_allclose(a.boundary_current.values, b.boundary_current.values[..., 1::2], rtol=0, atol=1e-11)
    assert np.abs(a.current.values[:, 3]).max() > 1e-3  # a spin current flows after the quench


# ---------------------------------------------------------------- (3) midpoint drive
def drive_pair(name="periodic_y", seed=5):
    before, _ = case_pair(name, seed)
    N_x = before.N_x
    profile = np.linspace(0.5, 1.0, N_x)[:, None, None]

    def drive(t):  # a rotating field on A, a per-layer gate on B
        return {"A": 0.6 * (np.cos(1.7 * t) * SX + np.sin(1.7 * t) * SY), "B": profile * 0.8 * np.sin(2.3 * t)}

    return before, drive


def test_midpoint_drive_second_order_and_balance():
    lat, drive = drive_pair()
    T, times = 0.3, [0.6, 1.2]
    ref = evolve_sites(lat, T, times, onsite_drive=drive, steps_per_interval=256)
    errs = []
    for steps in (2, 4, 8):
        ds = evolve_sites(lat, T, times, onsite_drive=drive, steps_per_interval=steps)
        assert ds.attrs["max_abs_residual"] < 1e-10
        assert np.abs(ds.residual.values).max() < 1e-10  # every recorded time, site and polarization
        assert ds.attrs["propagator_order"] == 2
        errs.append(np.abs(ds.density.values - ref.density.values).max())
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 3.3) & (ratios < 4.8)), (errs, ratios)
    assert np.abs(ref.drive_torque.values).max() > 1e-2  # the drive torque is part of the balance


def test_midpoint_drive_against_dense_midpoint():
    """The same midpoint steps on the dense real-space H + V(t): equal to rounding (the drive sits on the
    right states of the slice chain)."""
    lat, drive = drive_pair("long_bonds", seed=2)
    dn = Dense(lat)

    def Vdense(t):
        V = np.zeros((dn.n, dn.n), complex)
        for key, M in drive(t).items():
            s = lat.names.index(key)
            n = lat.orbitals[s]
            M = np.broadcast_to(M, (lat.N_x, n, n))
            for x, y, z in dn.cells:
                r = dn.index(x, y, z, s)
                V[r : r + n, r : r + n] = M[x]
        return V

    T, steps = 0.3, 6
    ds = evolve_sites(lat, T, [0.5, 1.0], onsite_drive=drive, steps_per_interval=steps)
    rho = thermal(dn.H, T)
    for it, (t0, t1) in enumerate(((0.0, 0.5), (0.5, 1.0))):
        rho = midpoint_dense(dn.H, Vdense, rho, t0, t1, steps)
        for ip, pol in enumerate(POLS):
            np.testing.assert_allclose(ds.density.values[it, ip], dn.density(rho, pol), rtol=0, atol=1e-10)
            np.testing.assert_allclose(ds.current.values[it, ip], dn.current(rho, pol), rtol=0, atol=1e-10)
            np.testing.assert_allclose(ds.rate.values[it, ip], dn.rate(rho, dn.H + Vdense(t1), pol), rtol=0, atol=1e-10)


def test_balance_check_is_loud(monkeypatch):
    """Dropping the drive's torque from the bookkeeping breaks the balance: the run raises."""
    import orbsym.numeric.sites_evolution as se

    lat, drive = drive_pair()
    monkeypatch.setattr(se, "_drive_torque", lambda obs, cells, pol: np.zeros_like(obs.density(pol)))
    with pytest.raises(SiteContinuityError, match="balance"):
        evolve_sites(lat, 0.3, [0.5], onsite_drive=drive, steps_per_interval=2)
    ds = evolve_sites(lat, 0.3, [0.5], onsite_drive=drive, steps_per_interval=2, check=False)
    assert ds.attrs["max_abs_residual"] > 1e-3


# ---------------------------------------------------------------- (4) relaxation
def test_relaxation_drives_the_state_to_equilibrium():
    before, after = case_pair("periodic_y", seed=11)
    T, eta = 0.25, 0.8
    ds = evolve_sites(before, T, [0.5, 60.0], quench=after, relaxation=eta)
    eq = after.solve(T)
    for ip, pol in enumerate(POLS):
        np.testing.assert_allclose(ds.density.values[-1, ip], eq.density(pol), rtol=0, atol=1e-9)
        np.testing.assert_allclose(ds.current.values[-1, ip], eq.current(pol), rtol=0, atol=1e-9)
    assert np.abs(ds.relaxation.values[0]).max() > 1e-3
    assert np.abs(ds.relaxation.values[-1]).max() < 1e-9
    # the midpoint path with a static drive relaxes to f(h + V)
    M = 0.5 * SZ + 0.2 * SX
    ds2 = evolve_sites(before, T, [2.0, 40.0], onsite_drive=lambda t: {"A": M}, relaxation=1.0, steps_per_interval=3)
    driven = SiteLattice([(Site("A", c[0].position, c[0].onsite + M, SPIN), c[1]) for c in before.cells], [
        Hopping(before.names[i], before.names[j], off, T_) for i, j, off, T_ in before.hoppings], N_y=before.N_y)
    eq2 = driven.solve(T)
    for ip, pol in enumerate(POLS):
        np.testing.assert_allclose(ds2.density.values[-1, ip], eq2.density(pol), rtol=0, atol=1e-9)
    assert np.abs(ds2.density.values[0] - ds2.density.values[-1]).max() > 1e-3


# ---------------------------------------------------------------- (5) particle number
def test_particle_number_conserved_without_relaxation():
    lat, drive = drive_pair("film", seed=4)
    ds = evolve_sites(lat, 0.2, np.linspace(0.5, 3.0, 4), onsite_drive=drive, steps_per_interval=4)
    N = ds.particle_number.values
    Nx = Dense(lat)
    N0 = Nx.density(thermal(Nx.H, 0.2), None).sum()
    np.testing.assert_allclose(N, N0, rtol=0, atol=1e-10)
    assert np.abs(ds.density.values[-1, 0] - ds.density.values[0, 0]).max() > 1e-4  # charge moves, the total does not
    # with relaxation and a quench of the chemical potential the bath changes the number
    before, after = case_pair("periodic_y", seed=1)
    shifted = SiteLattice([(Site("A", c[0].position, c[0].onsite - 0.5 * np.eye(2), SPIN), Site("B", c[1].position, c[1].onsite - 0.5, c[1].generators))
                           for c in before.cells], [Hopping(before.names[i], before.names[j], off, T_) for i, j, off, T_ in before.hoppings], N_y=before.N_y)
    r = evolve_sites(before, 0.2, [0.0, 5.0], quench=shifted, relaxation=0.5)
    assert r.particle_number.values[1] - r.particle_number.values[0] > 1e-2


# ---------------------------------------------------------------- (6) finite sample with a vacancy
def finite_pair(seed=9):
    rng = np.random.default_rng(seed)
    N_x, W = 3, 3
    cells = random_cells(rng, N_x)
    offs = [("A", "B", (0, 0)), ("B", "A", (1, 0)), ("A", "A", (0, 1)), ("B", "B", (1, 1)), ("A", "B", (1, -1))]
    hops = random_hops(rng, N_x, offs)
    vac = [(1, 1, "B"), (2, 0, "A")]
    before = SiteLattice(cells, hops, width=W, vacancies=vac, onsite={(0, 2, "A"): herm(rng, 2)})
    after = SiteLattice(cells, hops, width=W, vacancies=vac, onsite={(0, 2, "A"): herm(rng, 2), (2, 1, "B"): herm(rng, 1)})
    return before, after


def test_finite_sample_with_vacancy():
    before, after = finite_pair()
    T, times = 0.2, [0.3, 1.5]
    drive = lambda t: {(1, 2, "A"): 0.5 * np.sin(3 * t) * SX, "B": np.array([[0.3 * t]])}  # noqa: E731
    ds = evolve_sites(before, T, times, quench=after, onsite_drive=drive, steps_per_interval=5)
    dn0, dn = Dense(before), Dense(after)

    def Vdense(t):
        V = np.zeros((dn.n, dn.n), complex)
        r = dn.index(1, 2, 0, 0)
        V[r : r + 2, r : r + 2] = 0.5 * np.sin(3 * t) * SX
        for x, y, z in dn.cells:
            if not after.vacant[x, y, 1]:
                r = dn.index(x, y, z, 1)
                V[r, r] += 0.3 * t
        return V

    rho = thermal(dn0.H, T)
    for it, (t0, t1) in enumerate(((0.0, 0.3), (0.3, 1.5))):
        rho = midpoint_dense(dn.H, Vdense, rho, t0, t1, 5)
        for ip, pol in enumerate(POLS):
            np.testing.assert_allclose(ds.density.values[it, ip], dn.density(rho, pol), rtol=0, atol=1e-10)
            np.testing.assert_allclose(ds.current.values[it, ip], dn.current(rho, pol), rtol=0, atol=1e-10)
    assert ds.density.sizes["row"] == 3
    assert np.all(ds.density.values[:, :, 1, 1, 1] == 0) and np.all(ds.density.values[:, :, 2, 0, 0] == 0)  # vacancies
    pres = ds.present.values
    assert not pres[0, 1, 1] and not pres[1, 1, 1] and pres[1, 0, 1]  # A->B (0,0) at (1,1) and B->A (1,0) from (1,1) touch the vacancy
    assert np.all(ds.current.values[:, :, ~pres] == 0)
    assert ds.attrs["max_abs_residual"] < 1e-10
    np.testing.assert_allclose(ds.particle_number.values, dn0.density(thermal(dn0.H, T), None).sum(), rtol=0, atol=1e-10)


# ---------------------------------------------------------------- (7) refusals
def test_refusals(monkeypatch):
    before, after = case_pair("periodic_y")
    with pytest.raises(ValueError, match="strictly increasing"):
        evolve_sites(before, 0.1, [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        evolve_sites(before, 0.1, [1.0, 0.5])
    with pytest.raises(ValueError, match=">= 0"):
        evolve_sites(before, 0.1, [-1.0, 1.0])
    with pytest.raises(ValueError, match="non-empty"):
        evolve_sites(before, 0.1, [])
    with pytest.raises(ValueError, match="temperature"):
        evolve_sites(before, -0.1, [1.0])
    other, _ = case_pair("long_bonds")
    with pytest.raises(ValueError, match="same geometry"):
        evolve_sites(before, 0.1, [1.0], quench=other)
    wider = SiteLattice(before.cells, [Hopping(before.names[i], before.names[j], off, T) for i, j, off, T in before.hoppings], N_y=6)
    with pytest.raises(ValueError, match="N_y"):
        evolve_sites(before, 0.1, [1.0], quench=wider)
    with pytest.raises(TypeError, match="SiteLattice"):
        evolve_sites(before, 0.1, [1.0], quench="after")
    with pytest.raises(ValueError, match="relaxation"):
        evolve_sites(before, 0.1, [1.0], relaxation=0.0)
    with pytest.raises(ValueError, match="steps_per_interval"):
        evolve_sites(before, 0.1, [1.0], onsite_drive=lambda t: {}, steps_per_interval=0)
    with pytest.raises(ValueError, match="finite samples"):
        evolve_sites(before, 0.1, [1.0], onsite_drive=lambda t: {(0, 0, "A"): SX})
    with pytest.raises(ValueError, match="Hermitian"):
        evolve_sites(before, 0.1, [1.0], onsite_drive=lambda t: {"A": SX + 1j * SZ})
    with pytest.raises(ValueError, match="shape"):
        evolve_sites(before, 0.1, [1.0], onsite_drive=lambda t: {"B": SX})
    with pytest.raises(ValueError, match="unknown site"):
        evolve_sites(before, 0.1, [1.0], onsite_drive=lambda t: {"C": SX})
    fin, _ = finite_pair()
    with pytest.raises(ValueError, match="vacancy"):
        evolve_sites(fin, 0.1, [1.0], onsite_drive=lambda t: {(1, 1, "B"): np.eye(1)})
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "64K")
    with pytest.raises(ResourceError, match="real-time"):
        evolve_sites(before, 0.1, np.arange(1, 200.0), onsite_drive=lambda t: {}, steps_per_interval=100)


# ---------------------------------------------------------------- the two propagators agree
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), name=st.sampled_from(["periodic_y", "long_bonds"]), t=st.floats(0.1, 5.0), T=st.floats(0.0, 0.5))
def test_exact_path_equals_midpoint_path_for_a_constant_h(seed, name, t, T):
    """A zero drive sends the run down the midpoint path; for a constant h one midpoint step is exact, so
    both propagators give the same records (and the balance holds on both)."""
    before, after = case_pair(name, seed)
    a = evolve_sites(before, T, [t / 3, t], quench=after)
    b = evolve_sites(before, T, [t / 3, t], quench=after, onsite_drive=lambda s: {}, steps_per_interval=1)
    assert a.attrs["propagator"] != b.attrs["propagator"]
    for v in ("density", "current", "source", "boundary_current", "rate"):
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=0, atol=1e-10)
