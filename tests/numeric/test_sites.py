"""Site-resolved lattices (orbsym.numeric.sites): multi-site cells, long bonds, finite samples.

Slow paths written here, independently of the slice chain: a dense real-space Hamiltonian built from
the site description (:func:`dense_h`), dense bond operators ``h_b`` and ``o_i`` and the expectation
``<i [A, B]> = i Tr(rho [A, B])`` with ``rho = G^T``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbsym.numeric import Column, Lattice, Observables, solve_bloch
from orbsym.numeric.observables import KERNEL_NAMES
from orbsym.numeric.sites import MAX_SLICE_STATES, Hopping, Site, SiteLattice, SiteObservables, from_column_lattice

POLS = (None, "x", "y", "z")
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- random inputs
def herm(rng, n, scale=1.0):
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return scale * (a + a.conj().T) / 2


def cplx(rng, *shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def random_sites(rng, n_sites, max_orb=3, per_x=None):
    """Sites at distinct positions with random orbitals, on-site matrices and generators."""
    orbs = rng.integers(1, max_orb + 1, size=n_sites)
    pos = [(0.1 + 0.8 * s / n_sites, 0.3 * s / n_sites, 0.0) for s in range(n_sites)]

    def cell():  # generators differ from cell to cell too (a d shell next to a spin, per layer)
        return tuple(Site(f"s{s}", pos[s], herm(rng, orbs[s]), np.array([herm(rng, orbs[s]) for _ in range(3)])) for s in range(n_sites))

    return orbs, (cell() if per_x is None else [cell() for _ in range(per_x)])


def random_hoppings(rng, orbs, N_x, offsets, p=0.7, keep_last=False):
    """Random complex hoppings (per x-cell matrices) between random site pairs at the given offsets
    (``keep_last``: always the bond s0 -> s1 at the last offset)."""
    n_sites = len(orbs)
    hops, seen = [], set()
    for off in offsets:
        for i in range(n_sites):
            for j in range(n_sites):
                forced = keep_last and off == offsets[-1] and (i, j) == (0, 1)
                if (not any(off) and i >= j) or (rng.random() > p and not forced):
                    continue
                if (j, i, (-off[0], -off[1])) in seen:
                    continue
                seen.add((i, j, off))
                hops.append(Hopping(f"s{i}", f"s{j}", off, 0.5 * cplx(rng, N_x, orbs[i], orbs[j])))
    return hops


# ---------------------------------------------------------------- dense slow path
def transverse(sl):
    """Cells along y and z of the dense sample (open width, or periodic N_y [x N_z])."""
    if sl.transverse_dimension == 0:
        return sl.width, 1
    return sl.N_y, (sl.N_z or 1)


def dense_index(sl):
    """Natural order (x, y, z, site, orbital) of the dense matrix: ``index(x, y, z, s) -> first orbital``."""
    nc, (Ny, Nz) = sl.cell_dim, transverse(sl)
    return lambda x, y, z, s: ((x * Ny + y) * Nz + z) * nc + int(sl.site_offsets[s])


def dense_h(sl):
    """Dense real-space ``H`` of the sample from the site description (periodic y, z wrap around)."""
    Ny, Nz = transverse(sl)
    idx = dense_index(sl)
    n = sl.N_x * Ny * Nz * sl.cell_dim
    H = np.zeros((n, n), complex)
    bonds = []  # (hopping, start cell, end cell, start index, end index)
    cells = [(x, y, z) for x in range(sl.N_x) for y in range(Ny) for z in range(Nz)]
    for x, y, z in cells:
        for s, site in enumerate(sl.cells[x]):
            r = idx(x, y, z, s)
            H[r : r + site.orbitals, r : r + site.orbitals] += site.onsite
    for h, (i, j, off, T) in enumerate(sl.hoppings):
        dx, dy, dz = tuple(off) + (0,) * (3 - len(off))
        ni, nj = sl.orbitals[i], sl.orbitals[j]
        for x, y, z in cells:
            x2, y2, z2 = x + dx, y + dy, (z + dz) % Nz
            if not 0 <= x2 < sl.N_x:
                continue
            if sl.transverse_dimension >= 1:
                y2 %= Ny
            elif not 0 <= y2 < Ny:
                continue
            r, c = idx(x, y, z, i), idx(x2, y2, z2, j)
            t = T[x] if T.ndim == 3 else T[x, y]  # per-bond-instance matrices of a finite sample
            H[r : r + ni, c : c + nj] += t
            H[c : c + nj, r : r + ni] += t.conj().T
            bonds.append((h, (x, y, z), (x2, y2, z2), r, c))
    return H, bonds


def thermal_rho(H, T):
    E, U = np.linalg.eigh(H)
    f = 0.5 * (1 - np.tanh(E / (2 * T)))
    F = float(np.sum(-T * np.logaddexp(0, -E / T)))
    return (U * f) @ U.conj().T, F


def dense_reference(sl, H, bonds, rho, pol):
    """Per-bond ``(eom_start, eom_end)`` keyed ``(hopping, x, y, z)``, per-site ``d<O>/dt`` and densities
    ``(N_x, N_y, N_z, n_sites)``, from ``<i [A, B]> = i Tr(rho [A, B])`` and ``Tr(rho A)``.

    ``A`` and ``B`` are the dense one-body matrices of ``H_b`` (or ``H``) and ``O``, restricted exactly to
    the states they act on (every other row and column of ``[A, B]`` is zero)."""
    Ny, Nz = transverse(sl)
    idx = dense_index(sl)

    def op(cell, s):  # (states, matrix) of O at site s of cell
        r, k = idx(*cell, s), sl.orbitals[s]
        J = np.eye(k) if pol is None else sl.cells[cell[0]][s].generators["xyz".index(pol)]
        return np.arange(r, r + k), J

    def ev(A, B, S):  # i Tr(rho [A, B]) for A, B (S x S) on the states S
        return float(np.real(1j * np.sum(rho[np.ix_(S, S)].T * (A @ B - B @ A))))

    out = {}
    for h, start, end, r, c in bonds:
        i, j, _, T = sl.hoppings[h]
        S = np.unique(np.r_[np.arange(r, r + sl.orbitals[i]), np.arange(c, c + sl.orbitals[j])])
        pos = {v: k for k, v in enumerate(S)}
        hb = np.zeros((S.size, S.size), complex)
        ri, cj = [pos[v] for v in range(r, r + sl.orbitals[i])], [pos[v] for v in range(c, c + sl.orbitals[j])]
        t = T[start[0]] if T.ndim == 3 else T[start[0], start[1]]
        hb[np.ix_(ri, cj)] += t
        hb[np.ix_(cj, ri)] += t.conj().T
        vals = []
        for cell, s in ((start, i), (end, j)):
            states, J = op(cell, s)
            o = np.zeros_like(hb)
            k = [pos[v] for v in states]
            o[np.ix_(k, k)] = J
            vals.append(ev(hb, o, S))
        out[(h,) + start] = tuple(vals)
    rate = np.zeros((sl.N_x, Ny, Nz, len(sl.sites)))
    dens = np.zeros_like(rate)
    rH, Hr = rho @ H, H @ rho  # i Tr(rho [H, O]) = i Tr(O (rho H - H rho))
    for x in range(sl.N_x):
        for y in range(Ny):
            for z in range(Nz):
                for s in range(len(sl.sites)):
                    R, J = op((x, y, z), s)
                    RR = np.ix_(R, R)
                    rate[x, y, z, s] = np.real(1j * np.sum(J.T * (rH[RR] - Hr[RR])))
                    dens[x, y, z, s] = np.real(np.sum(J.T * rho[RR]))
    return out, rate, dens


def per_cell(sl, arr):
    """``(N_x, N_y, N_z, ...)`` of the dense path -> the ``(N_x, rows, ...)`` layout of SiteObservables."""
    if sl.transverse_dimension == 0:
        return arr[:, :, 0]
    return arr.mean(axis=(1, 2))[:, None]


# ---------------------------------------------------------------- regrouping (slow path of multi-site cells)
def one_site(rng, N_x, N_y, offsets, n=3, width=None):
    """A random lattice of one site (``n`` orbitals) per cell with per-x matrices."""
    gens = np.array([herm(rng, n) for _ in range(3)])
    cells = [(Site("s", (0, 0, 0), herm(rng, n), gens),) for _ in range(N_x)]
    hops = [Hopping("s", "s", off, 0.6 * cplx(rng, N_x, n, n)) for off in offsets]
    return SiteLattice(cells, hops, N_y=N_y, width=width)


def regroup_x(sl, k):
    """The same lattice with ``k`` consecutive columns as the ``k`` sites of one cell (cell vector ``a_x = k``)."""
    cells = [tuple(Site(f"c{a}", (a, 0, 0), sl.cells[k * X + a][0].onsite, sl.cells[k * X + a][0].generators) for a in range(k)) for X in range(sl.N_x // k)]
    hops, where = [], []
    for h, (_, _, (dx, dy), T) in enumerate(sl.hoppings):
        for a in range(k):
            dX, a2 = divmod(a + dx, k)
            M = np.zeros((sl.N_x // k,) + T.shape[1:], complex)
            M[:] = T[a::k]
            hops.append(Hopping(f"c{a}", f"c{a2}", (dX, dy), M))
            where.append((h, a))
    vec = np.diag([k, 1.0, 1.0])
    kw = dict(N_y=sl.N_y) if sl.transverse_dimension == 1 else dict(width=sl.width)
    return SiteLattice(cells, hops, vectors=vec, **kw), where


def regroup_y(sl, k):
    """The same periodic lattice with ``k`` consecutive rows as the ``k`` sites of one cell (``a_y = k``)."""
    cells = [tuple(Site(f"r{b}", (0, b, 0), c[0].onsite, c[0].generators) for b in range(k)) for c in sl.cells]
    hops, where = [], []
    for h, (_, _, (dx, dy), T) in enumerate(sl.hoppings):
        for b in range(k):
            dY, b2 = divmod(b + dy, k)
            hops.append(Hopping(f"r{b}", f"r{b2}", (dx, dY), T))
            where.append((h, b))
    return SiteLattice(cells, hops, N_y=sl.N_y // k, vectors=np.diag([1.0, k, 1.0])), where


# ---------------------------------------------------------------- (1) multi-site cells = one site per cell
@FAST
@given(seed=st.integers(0, 2**31), k=st.sampled_from([2, 3]), far=st.booleans())
def test_cell_of_sites_along_x_equals_columns(seed, k, far):
    rng = np.random.default_rng(seed)
    offsets = [(1, 0), (0, 1), (1, 1), (1, -1)] + ([(2, 0), (3, -1)] if far else [])
    N_x = 12
    one = one_site(rng, N_x, 4, offsets)
    many, where = regroup_x(one, k)
    # real bond vectors survive the regrouping (cell vector a_x = k, sites at x = a)
    np.testing.assert_allclose(many.bond_vectors, [one.bond_vectors[h] for h, _ in where], atol=1e-14)
    assert many.merge_x == (1 if not far else (2 if k == 2 else 1))  # dx = 3 over cells of 3 columns is one cell
    T = 0.3
    o1, o2 = one.solve(T), many.solve(T)
    assert o2.free_energy() == pytest.approx(o1.free_energy(), abs=1e-11)
    for pol in POLS:
        d1, d2 = o1.density(pol)[:, 0, 0], o2.density(pol)[:, 0, :]
        np.testing.assert_allclose(d2.reshape(-1), d1, atol=1e-11)  # cell X site a = column k X + a
        c1, c2 = o1.current(pol)[:, :, 0], o2.current(pol)[:, :, 0]
        s1, s2 = o1.source(pol)[:, :, 0], o2.source(pol)[:, :, 0]
        for hh, (h, a) in enumerate(where):
            np.testing.assert_allclose(c2[hh], c1[h, a::k], atol=1e-11)
            np.testing.assert_allclose(s2[hh], s1[h, a::k], atol=1e-11)
        np.testing.assert_allclose(o2.boundary_current(pol), o1.boundary_current(pol)[k - 1 :: k], atol=1e-11)


@FAST
@given(seed=st.integers(0, 2**31))
def test_cell_of_sites_along_y_equals_rows(seed):
    rng = np.random.default_rng(seed)
    one = one_site(rng, 3, 6, [(1, 0), (0, 1), (1, 1), (0, 2)])
    many, where = regroup_y(one, 2)
    o1, o2 = one.solve(0.2), many.solve(0.2)
    # F per transverse cell of two rows = twice F per row
    assert o2.free_energy() == pytest.approx(2 * o1.free_energy(), abs=1e-11)
    for pol in POLS:
        for b in range(2):
            np.testing.assert_allclose(o2.density(pol)[:, 0, b], o1.density(pol)[:, 0, 0], atol=1e-11)
        c1, c2 = o1.current(pol)[:, :, 0], o2.current(pol)[:, :, 0]
        for hh, (h, b) in enumerate(where):
            np.testing.assert_allclose(c2[hh], c1[h], atol=1e-11)
        np.testing.assert_allclose(o2.boundary_current(pol), 2 * o1.boundary_current(pol), atol=1e-11)


def test_two_site_cell_equals_column_lattice_of_the_paper():
    """A, B, A, B columns (FM, metal) of the paper's models = one cell of an A and a B site."""
    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.models import ferromagnet, multiorbital_metal

    metal, fm = kernels(multiorbital_metal()), kernels(ferromagnet())
    A = Column(fm, dict(t=1.0, mu=-0.3, m_x=0.4, m_y=0.2, m_z=0.5), label="FM")
    B = Column(metal, dict(t=1.0, gamma=0.4, tp=0.8, mu=-0.3), label="NM")
    lat = Lattice([A, B] * 3, 8, "fm")
    one = from_column_lattice(lat)
    sol = solve_bloch(lat, 0.1, lat.offset_pairs(KERNEL_NAMES))
    obs = Observables(lat, sol.bands)
    many, where = regroup_x(one, 2)
    o2 = many.solve(0.1)
    assert o2.free_energy() == pytest.approx(sol.free_energy(), abs=1e-11)
    for pol in POLS:
        np.testing.assert_allclose(o2.density(pol)[:, 0, :].reshape(-1), obs.density(pol), atol=1e-11)
        for hh, (h, a) in enumerate(where):
            bond = one.hoppings[h][2]
            ref = obs.evaluate("current", pol, bond)[a::2]
            np.testing.assert_allclose(o2.current(pol)[hh, : ref.size, 0], ref, atol=1e-11)
    # rows y, y + 1 as the two sites of one cell: N_y / 2 cells against the column lattice of N_y rows
    tall, where = regroup_y(one, 2)
    o3 = tall.solve(0.1)
    assert o3.free_energy() == pytest.approx(2 * sol.free_energy(), abs=1e-11)  # per cell of two rows
    for pol in POLS:
        for b in range(2):
            np.testing.assert_allclose(o3.density(pol)[:, 0, b], obs.density(pol), atol=1e-11)
        for hh, (h, b) in enumerate(where):
            bond = one.hoppings[h][2]
            ref = obs.evaluate("current", pol, bond)
            np.testing.assert_allclose(o3.current(pol)[hh, : ref.size, 0], ref, atol=1e-11)


# ---------------------------------------------------------------- (2) numeric bonds = symbolic kernels
def _paper_lattices():
    import sympy as sp

    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.generators import pauli, t2g_L
    from orbsym.symbolic.models import SYMBOLS, Model, altermagnet, ferromagnet, multiorbital_metal

    t, mu = SYMBOLS["t"], SYMBOLS["mu"]
    a = sp.Symbol("a", real=True)
    L = t2g_L()
    far = Model(
        "far",
        L,
        {"x": -t * sp.eye(3) + sp.I * a * L.matrices[2], "y": -t * sp.eye(3), (1, 1): a * sp.eye(3) + sp.I * a * L.matrices[0],
         (2, 0): -a * sp.eye(3) + a * L.matrices[1]},
        -mu * sp.eye(3),
    )
    fm3, fm2 = kernels(ferromagnet()), kernels(ferromagnet(pauli()))
    fm_par = dict(t=1.0, mu=-0.2, m_x=0.6, m_y=-0.3, m_z=0.4)
    out = {}
    metal = Column(kernels(multiorbital_metal()), dict(t=1.0, gamma=0.3, tp=0.9, mu=-0.2))
    out["orbital"] = Lattice([Column(fm3, fm_par)] + [metal] * 3 + [Column(fm3, dict(fm_par, m_x=-0.2, m_z=0.9))], 6, "fm")
    am = Column(kernels(altermagnet()), dict(t=1.0, w=0.4, mu=-0.2))
    out["spin"] = Lattice([Column(fm2, fm_par)] + [am] * 3, 5, "metal")
    out["far"] = Lattice([Column(kernels(far), dict(t=1.0, a=0.35, mu=0.3))] * 6, 4, "fm")
    fm_z, metal_z = kernels(ferromagnet(dimension=3)), kernels(multiorbital_metal(dimension=3))
    metal = Column(metal_z, dict(t=1.0, gamma=0.3, tp=0.9, mu=-0.2))
    out["film"] = Lattice([Column(fm_z, fm_par), metal, metal, Column(fm_z, dict(fm_par, m_y=0.8))], 3, "metal", N_z=4)
    return out


@pytest.mark.parametrize("case", ["orbital", "spin", "far", "film"])
def test_numeric_bonds_equal_symbolic_kernels(case):
    lat = _paper_lattices()[case]
    if case == "film":
        from orbsym.numeric.film import solve_film

        sol = solve_film(lat, 0.05, lat.offset_pairs(KERNEL_NAMES))
    else:
        sol = solve_bloch(lat, 0.05, lat.offset_pairs(KERNEL_NAMES))
    obs = Observables(lat, sol.bands)
    sl = from_column_lattice(lat)
    so = sl.solve(0.05) if case == "far" else SiteObservables(sl, dict(sol.bands))
    if case == "far":
        assert sl.merge_x == 2
    for pol in POLS:
        np.testing.assert_allclose(so.density(pol)[:, 0, 0], obs.evaluate("density", pol), atol=1e-12)
        if pol is not None:
            np.testing.assert_allclose(so.onsite_torque(pol)[:, 0, 0], obs.evaluate("torque_onsite", pol), atol=1e-12)
        for h, (_, _, bond, _) in enumerate(sl.hoppings):
            for name, mine in (("current", so.current(pol)), ("source", so.source(pol)), ("eom_start", so.eom_start(pol)), ("eom_end", so.eom_end(pol))):
                if pol is None and name == "source":
                    assert np.abs(mine).max() < 1e-12  # the particle number has no hopping torque
                    continue
                ref = obs.evaluate(name, pol, bond)
                np.testing.assert_allclose(mine[h, : ref.size, 0], ref, atol=1e-12, err_msg=f"{name} {pol} {bond}")
                assert np.all(mine[h, ref.size :, 0] == 0)  # bonds leaving the sample are absent
        if case != "far":  # the slice-boundary total of a nearest-neighbour model is its x-bond current
            np.testing.assert_allclose(so.boundary_current(pol), obs.evaluate("current", pol, lat.x_bond), atol=1e-12)


# ---------------------------------------------------------------- (3) the exact balance on random states
@FAST
@given(seed=st.integers(0, 2**31), n_sites=st.integers(1, 3), width=st.integers(1, 3))
def test_per_site_balance_on_random_states(seed, n_sites, width):
    rng = np.random.default_rng(seed)
    N_x = 4
    orbs, cells = random_sites(rng, n_sites, max_orb=2, per_x=N_x)
    hops = random_hoppings(rng, orbs, N_x, [(0, 0), (1, 0), (0, 1), (1, -1), (2, 1)], p=0.5)
    sl = SiteLattice(cells, hops, width=width)
    H, bonds = dense_h(sl)
    n = H.shape[0]
    rho = herm(rng, n)  # any Hermitian one-body density matrix (not stationary)
    so = SiteObservables(sl, sl.correlation_bands(rho.T))
    idx = dense_index(sl)  # the documented state order of a finite sample is the natural one
    for x, y, s in [(0, 0, 0), (N_x - 1, width - 1, n_sites - 1), (1, width // 2, n_sites // 2)]:
        X, local = sl.state(x, y, f"s{s}")
        assert X * sl.slice_states + local == idx(x, y, 0, s)
    for pol in POLS:
        ref, rate, dens = dense_reference(sl, H, bonds, rho, pol)
        rate = rate[:, :, 0]
        s, e = so.eom_start(pol), so.eom_end(pol)
        for (h, x, y, _), (rs, re) in ref.items():
            assert s[h, x, y] == pytest.approx(rs, abs=1e-11)
            assert e[h, x, y] == pytest.approx(re, abs=1e-11)
        assert so.present().sum() == len(ref)
        np.testing.assert_allclose(so.density(pol), dens[:, :, 0], atol=1e-11)
        np.testing.assert_allclose(so.time_derivative(pol), rate, atol=1e-11)
        # -div j + tau is the same balance
        np.testing.assert_allclose(so.torque(pol) - so.divergence(pol), rate, atol=1e-11)
        # the slice-boundary current closes the balance of the cells left of each boundary
        left = np.cumsum((rate - so.torque(pol)).sum(axis=(1, 2)))[:-1]
        np.testing.assert_allclose(-so.boundary_current(pol), left, atol=1e-11)


# ---------------------------------------------------------------- (4) long bonds against the dense thermal solve
LONG = [(0, 0), (1, 0), (0, 1), (2, 0), (3, 1), (2, -2), (-3, 1)]
FILM = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (2, 1, -1), (0, 0, 2), (1, -2, 1), (-2, 0, 1)]


@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("seed", [1, 2])
def test_long_bonds_against_dense_solve(dim, seed):
    rng = np.random.default_rng(seed)
    T = 0.25
    N_x = 4 if dim == 2 else 6
    orbs, cells = random_sites(rng, 2, max_orb=2, per_x=N_x)
    offsets = FILM if dim == 2 else LONG
    hops = random_hoppings(rng, orbs, N_x, offsets, p=0.8, keep_last=True)  # the longest bond is there
    kw = {0: dict(width=2), 1: dict(N_y=4), 2: dict(N_y=2, N_z=3)}[dim]
    sl = SiteLattice(cells, hops, **kw)
    assert sl.merge_x == (2 if dim == 2 else 3) and sl.n_slices == 2
    assert sl.merge_y == (1 if dim == 0 else 2)
    info = sl.describe()
    assert info["transverse_dimension"] == dim and info["slice_states"] == sl.merge_x * sl.rows * sl.cell_dim
    h = next(k for k, (i, j, off, _) in enumerate(sl.hoppings) if (i, j, off) == (0, 1, offsets[-1]))
    dR = np.array(offsets[-1] + (0,) * (3 - len(offsets[-1])), float)  # unit cube cell vectors
    np.testing.assert_allclose(sl.bond_vectors[h], dR + cells[0][1].position - np.array(cells[0][0].position), atol=1e-14)
    H, bonds = dense_h(sl)
    rho, F = thermal_rho(H, T)
    so = sl.solve(T)
    assert so.free_energy() == pytest.approx(F / sl.n_transverse, abs=1e-10)
    for pol in POLS:
        ref, rate, dens = dense_reference(sl, H, bonds, rho, pol)
        np.testing.assert_allclose(rate, 0, atol=1e-10)  # stationary
        np.testing.assert_allclose(so.density(pol), per_cell(sl, dens), atol=1e-11)
        cur, src = so.current(pol), so.source(pol)
        for (h, x, y, _), (rs, re) in ref.items():
            row = y if dim == 0 else 0  # translation invariance: every (y, z) the same
            assert cur[h, x, row] == pytest.approx(0.5 * (re - rs), abs=1e-11)
            assert src[h, x, row] == pytest.approx(0.5 * (re + rs), abs=1e-11)
        np.testing.assert_allclose(so.time_derivative(pol), 0, atol=1e-10)
    # the other half of the bands follows from G(X, X+dX; dY, dz) = G(X+dX, X; -dY, -dz)^dag
    both = sorted(set(sl.pairs) | {tuple(-v for v in p) for p in sl.pairs})
    if dim == 2:
        from orbsym.numeric.film import solve_film

        full = solve_film(sl.slices, T, both).bands
    else:
        full = solve_bloch(sl.slices, T, both).bands
    half = SiteObservables(sl, {k: v for k, v in full.items() if k >= (0,) * len(k)})
    assert not set(sl.pairs) <= set(half.bands)
    for pol in POLS:
        np.testing.assert_allclose(half.current(pol), so.current(pol), atol=1e-13)
        np.testing.assert_allclose(half.source(pol), so.source(pol), atol=1e-13)


@pytest.mark.parametrize("film", [False, True])
def test_greens_engine_on_slices(film):
    rng = np.random.default_rng(5)
    orbs, cells = random_sites(rng, 2, max_orb=2, per_x=4)
    offsets = [(0, 0, 0), (1, 0, 0), (0, 1, 0)] + ([(0, 0, 1), (0, 1, -2)] if film else [])
    hops = random_hoppings(rng, orbs, 4, offsets, p=1.0)
    sl = SiteLattice(cells, hops, N_y=4, N_z=3 if film else None)
    assert not (sl.slices.sector(0.0) if film else sl.slices).has_diagonal_bonds  # (0, 1, -2) folds into (0, 1)
    a, b = sl.solve(0.2), sl.solve(0.2, engine="greens")
    assert b.free_energy() == pytest.approx(a.free_energy(), abs=1e-8)
    for pol in POLS:
        np.testing.assert_allclose(b.current(pol), a.current(pol), atol=1e-8)
        np.testing.assert_allclose(b.density(pol), a.density(pol), atol=1e-8)


# ---------------------------------------------------------------- (5) bad input
def _site(name="A", pos=(0, 0, 0), n=1):
    return Site(name, pos, np.zeros((n, n)))


def test_refuses_bad_input():
    A, B = _site("A"), _site("B", (0.5, 0, 0))
    one = np.eye(1)
    with pytest.raises(ValueError, match="same position"):
        SiteLattice([A, _site("B", (0, 0, 0))], [], N_x=2)
    with pytest.raises(ValueError, match="same position"):  # one cell vector away: the same site
        SiteLattice([A, _site("B", (1.0, 0, 0))], [], N_x=2)
    with pytest.raises(ValueError, match="unique"):
        SiteLattice([A, _site("A", (0.5, 0, 0))], [], N_x=2)
    with pytest.raises(ValueError, match="zero length"):
        SiteLattice([A], [Hopping("A", "A", (0, 0), one)], N_x=2)
    with pytest.raises(ValueError, match="listed twice"):
        SiteLattice([A, B], [Hopping("A", "B", (1, 0), one), Hopping("B", "A", (-1, 0), one)], N_x=2)
    with pytest.raises(ValueError, match="N_x = 2"):  # a bond longer than the sample
        SiteLattice([A], [Hopping("A", "A", (2, 0), one)], N_x=2)
    with pytest.raises(ValueError, match="multiple of 3"):  # the merge needs whole slices
        SiteLattice([A], [Hopping("A", "A", (3, 0), one)], N_x=4)
    with pytest.raises(ValueError, match="MAX_SLICE_STATES"):
        SiteLattice([Site("A", (0, 0, 0), np.zeros((64, 64)))], [Hopping("A", "A", (70, 0), np.eye(64))], N_x=140)
    assert MAX_SLICE_STATES < 70 * 64
    with pytest.raises(ValueError, match="multiple of 2"):
        SiteLattice([A], [Hopping("A", "A", (0, 2), one)], N_x=2, N_y=3)
    for bad in (0, -2):
        with pytest.raises(ValueError, match="N_y"):
            SiteLattice([A], [], N_x=2, N_y=bad)
        with pytest.raises(ValueError, match="width"):
            SiteLattice([A], [], N_x=2, width=bad)
        with pytest.raises(ValueError, match="N_x"):
            SiteLattice([A], [], N_x=bad)
    with pytest.raises(ValueError, match="no hopping has dz"):  # a film needs a z hopping
        SiteLattice([A], [Hopping("A", "A", (1, 0), one)], N_x=2, N_y=2, N_z=2)
    with pytest.raises(ValueError, match="without N_y"):
        SiteLattice([A], [Hopping("A", "A", (0, 0, 1), one)], N_x=2, N_z=2)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="N_z"):
            SiteLattice([A], [Hopping("A", "A", (0, 0, 1), one)], N_x=2, N_y=2, N_z=bad)
    with pytest.raises(ValueError, match="dz = 1"):  # a z bond outside a film
        SiteLattice([A], [Hopping("A", "A", (0, 0, 1), one)], N_x=2, N_y=2)
    with pytest.raises(ValueError, match="shape"):
        SiteLattice([A], [Hopping("A", "A", (1, 0), np.eye(2))], N_x=2)
    with pytest.raises(ValueError, match="Hermitian"):
        Site("A", (0, 0, 0), [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="same site names"):
        SiteLattice([(A, B), (A, _site("B", (0.25, 0, 0)))], [])
    with pytest.raises(ValueError, match="unknown site"):
        SiteLattice([A], [Hopping("A", "C", (1, 0), one)], N_x=2)
    with pytest.raises(ValueError, match="pairs"):
        SiteObservables(SiteLattice([A], [Hopping("A", "A", (1, 0), one)], N_x=2, width=1), {}).density()


def test_refuses_too_large_with_estimate(monkeypatch):
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "1MB")
    A = Site("A", (0, 0, 0), np.zeros((4, 4)))
    # the description is cheap (the sparse Chebyshev engine takes it as is); the dense slice chain is
    # refused, with the estimate, when first needed
    big = SiteLattice([A], [Hopping("A", "A", (1, 0), np.eye(4)), Hopping("A", "A", (0, 1), np.eye(4))], N_x=40, width=40)
    with pytest.raises(ValueError, match=r"needs .*(MiB|GiB|KiB|MB|GB)"):
        big.slices
    with pytest.raises(ValueError, match=r"needs .*(MiB|GiB|KiB|MB|GB)"):
        big.solve(0.1)


# ---------------------------------------------------------------- (6) finite samples: per-cell on-site matrices and vacancies
def _disordered(rng, width=3, N_x=4):
    """A finite two-site sample with long bonds, per-cell on-site overrides (one site kind as an array, a few
    cells of the other one by key) and the dense on-site blocks they mean (``{(x, y, site): eps}``)."""
    orbs, cells = random_sites(rng, 2, max_orb=2, per_x=N_x)
    hops = random_hoppings(rng, orbs, N_x, [(0, 0), (1, 0), (0, 1), (1, -1), (2, 1)], p=0.8)
    arr = np.array([[herm(rng, orbs[0]) for _ in range(width)] for _ in range(N_x)])
    some = {(x, y, "s1"): herm(rng, orbs[1]) for x, y in [(0, 0), (N_x - 1, width - 1), (1, 1)]}
    blocks = {(x, y, 0): arr[x, y] for x in range(N_x) for y in range(width)}
    blocks.update({(x, y, 1): m for (x, y, _), m in some.items()})
    return cells, hops, dict(some, s0=arr), blocks, width


def dense_with(sl, blocks, vacancies=()):
    """Dense H of ``sl`` (its cells' on-site matrices) with the on-site ``blocks`` replaced and the bonds
    of the ``vacancies`` cut (their off-diagonal rows and columns zeroed)."""
    H, bonds = dense_h(sl)
    idx = dense_index(sl)
    for (x, y, s), m in blocks.items():
        r = idx(x, y, 0, s)
        H[r : r + m.shape[0], r : r + m.shape[0]] = m
    cut = [np.arange(idx(x, y, 0, s), idx(x, y, 0, s) + sl.orbitals[s]) for x, y, s in vacancies]
    for states in cut:
        keep = H[np.ix_(states, states)].copy()
        H[states, :] = 0
        H[:, states] = 0
        H[np.ix_(states, states)] = keep
    bonds = [b for b in bonds if not any(b[3] in st_ or b[4] in st_ for st_ in cut)]
    return H, bonds, (np.concatenate(cut) if cut else np.zeros(0, int))


def test_onsite_override_against_dense_solve():
    rng = np.random.default_rng(8)
    cells, hops, onsite, blocks, width = _disordered(rng)
    plain = SiteLattice(cells, hops, width=width)
    sl = SiteLattice(cells, hops, width=width, onsite=onsite)
    assert sl.describe()["onsite_overrides"] == 4 * width + 3
    H, bonds = dense_with(plain, blocks)[:2]
    rho, F = thermal_rho(H, 0.2)
    so = sl.solve(0.2)
    assert so.free_energy() == pytest.approx(F, abs=1e-10)
    assert abs(so.free_energy() - plain.solve(0.2).free_energy()) > 1e-3  # the override is felt
    for pol in POLS:
        ref, rate, dens = dense_reference(plain, H, bonds, rho, pol)
        np.testing.assert_allclose(so.density(pol), dens[:, :, 0], atol=1e-11)
        np.testing.assert_allclose(so.time_derivative(pol), 0, atol=1e-10)  # stationary with the per-cell eps
        cur = so.current(pol)
        for (h, x, y, _), (rs, re) in ref.items():
            assert cur[h, x, y] == pytest.approx(0.5 * (re - rs), abs=1e-11)


@FAST
@given(seed=st.integers(0, 2**31), n_vac=st.integers(0, 4))
def test_per_site_balance_with_disorder_and_vacancies(seed, n_vac):
    rng = np.random.default_rng(seed)
    cells, hops, onsite, blocks, width = _disordered(rng)
    N_x = len(cells)
    vac = sorted({(int(rng.integers(N_x)), int(rng.integers(width)), int(rng.integers(2))) for _ in range(n_vac)})
    sl = SiteLattice(cells, hops, width=width, onsite=onsite, vacancies=vac)
    H, bonds, cut = dense_with(SiteLattice(cells, hops, width=width), blocks, vac)
    rho = herm(rng, H.shape[0])  # any state, not stationary
    so = SiteObservables(sl, sl.correlation_bands(rho.T))
    where = np.zeros(sl.vacant.shape, bool)
    for x, y, s in vac:
        where[x, y, s] = True
    np.testing.assert_array_equal(sl.vacant, where)
    for pol in POLS:
        ref, rate, dens = dense_reference(sl, H, bonds, rho, pol)
        rate, dens = (np.where(where, 0.0, a[:, :, 0]) for a in (rate, dens))  # a vacancy is not observed
        np.testing.assert_allclose(so.density(pol), dens, atol=1e-11)
        np.testing.assert_allclose(so.time_derivative(pol), rate, atol=1e-11)
        np.testing.assert_allclose(so.torque(pol) - so.divergence(pol), rate, atol=1e-11)
        s, e = so.eom_start(pol), so.eom_end(pol)
        for (h, x, y, _), (rs, re) in ref.items():
            assert s[h, x, y] == pytest.approx(rs, abs=1e-11) and e[h, x, y] == pytest.approx(re, abs=1e-11)
        assert so.present().sum() == len(ref)  # the bonds of a vacancy are absent
        left = np.cumsum((rate - so.torque(pol)).sum(axis=(1, 2)))[:-1]
        np.testing.assert_allclose(-so.boundary_current(pol), left, atol=1e-11)


def test_vacancies_equal_the_sample_without_the_sites():
    rng = np.random.default_rng(12)
    cells, hops, onsite, blocks, width = _disordered(rng)
    vac = [(0, 1, "s0"), (2, 0, "s1"), (3, 2, "s1")]
    sl = SiteLattice(cells, hops, width=width, onsite=onsite, vacancies=vac)
    assert sl.describe()["vacancies"] == 3
    plain = SiteLattice(cells, hops, width=width)
    vac_i = [(x, y, int(s[1])) for x, y, s in vac]
    H, bonds, cut = dense_with(plain, blocks, vac_i)
    keep = np.setdiff1d(np.arange(H.shape[0]), cut)
    T = 0.15
    sub, F = thermal_rho(H[np.ix_(keep, keep)], T)  # the sample without the sites: their states removed
    rho = np.zeros_like(H)
    rho[np.ix_(keep, keep)] = sub
    for engine in ("dense", "greens"):
        so = sl.solve(T, engine=engine)
        tol = 1e-10 if engine == "dense" else 1e-7
        assert so.free_energy() == pytest.approx(F, abs=tol)
        for pol in POLS:
            ref, _, dens = dense_reference(sl, H, bonds, rho, pol)
            np.testing.assert_allclose(so.density(pol), dens[:, :, 0], atol=tol)
            cur = so.current(pol)
            for (h, x, y, _), (rs, re) in ref.items():
                assert cur[h, x, y] == pytest.approx(0.5 * (re - rs), abs=tol)
            np.testing.assert_allclose(so.time_derivative(pol), 0, atol=tol)
    # a whole site kind vacant = the lattice built without that site
    only_a = SiteLattice([(c[0],) for c in cells], [h for h in hops if h.start == h.end == "s0"], width=width)
    all_b = np.zeros((len(cells), width, 2), bool)
    all_b[:, :, 1] = True
    both = SiteLattice(cells, hops, width=width, vacancies=all_b)
    a, b = only_a.solve(T), both.solve(T)
    assert b.free_energy() == pytest.approx(a.free_energy(), abs=1e-10)
    ia = [h for h, (i, j, _, _) in enumerate(both.hoppings) if i == j == 0]
    for pol in POLS:
        np.testing.assert_allclose(b.density(pol)[:, :, 0], a.density(pol)[:, :, 0], atol=1e-11)
        np.testing.assert_allclose(b.density(pol)[:, :, 1], 0)
        np.testing.assert_allclose(b.current(pol)[ia], a.current(pol), atol=1e-11)
        np.testing.assert_allclose(b.boundary_current(pol), a.boundary_current(pol), atol=1e-11)


def test_refuses_bad_disorder_input():
    A, B = _site("A"), _site("B", (0.5, 0, 0), n=2)
    hops = [Hopping("A", "B", (1, 0), np.ones((1, 2)))]
    with pytest.raises(ValueError, match="finite samples"):
        SiteLattice([A, B], hops, N_x=2, N_y=2, onsite={(0, 0, "A"): [[1.0]]})
    with pytest.raises(ValueError, match="finite samples"):
        SiteLattice([A, B], hops, N_x=2, N_y=2, vacancies=[(0, 0, "A")])
    with pytest.raises(ValueError, match="y must be an integer in 0 .. 1"):
        SiteLattice([A, B], hops, N_x=2, width=2, onsite={(0, 2, "A"): [[1.0]]})
    with pytest.raises(ValueError, match="unknown site"):
        SiteLattice([A, B], hops, N_x=2, width=2, vacancies=[(0, 0, "C")])
    with pytest.raises(ValueError, match="shape"):
        SiteLattice([A, B], hops, N_x=2, width=2, onsite={(0, 0, "B"): [[1.0]]})
    with pytest.raises(ValueError, match="shape"):
        SiteLattice([A, B], hops, N_x=2, width=2, onsite={"B": np.zeros((2, 3, 2, 2))})
    with pytest.raises(ValueError, match="Hermitian"):
        SiteLattice([A, B], hops, N_x=2, width=2, onsite={(0, 0, "B"): [[0, 1], [0, 0]]})
    with pytest.raises(ValueError, match="twice"):
        SiteLattice([A, B], hops, N_x=2, width=2, onsite={(0, 0, "B"): np.eye(2), "B": np.zeros((2, 2, 2, 2))})
    with pytest.raises(ValueError, match="mask must have shape"):
        SiteLattice([A, B], hops, N_x=2, width=2, vacancies=np.zeros((2, 2, 3), bool))
    with pytest.raises(ValueError, match=r"\(x, y, site\)"):
        SiteLattice([A, B], hops, N_x=2, width=2, vacancies=[(0, 0)])


@FAST
@given(seed=st.integers(0, 2**31))
def test_random_hoppings_per_bond_against_dense_solve(seed):
    """Per-bond-instance hopping matrices (N_x, width, n_i, n_j) of a finite sample: the thermal state,
    every bond's eom and the per-site balance against the dense real-space path."""
    rng = np.random.default_rng(seed)
    width, N_x = 3, 4
    orbs, cells = random_sites(rng, 2, max_orb=2, per_x=N_x)
    hops = [Hopping(h.start, h.end, h.offset[:2], 0.5 * cplx(rng, N_x, width, *h.matrix.shape[1:]))
            for h in random_hoppings(rng, orbs, N_x, [(0, 0), (1, 0), (0, 1), (1, -1)], p=0.8, keep_last=True)]
    sl = SiteLattice(cells, hops, width=width)
    H, bonds = dense_h(sl)
    rho, F = thermal_rho(H, 0.3)
    so = sl.solve(0.3)
    assert so.free_energy() == pytest.approx(F, abs=1e-10)
    for pol in POLS:
        ref, rate, dens = dense_reference(sl, H, bonds, rho, pol)
        np.testing.assert_allclose(so.density(pol), dens[:, :, 0], atol=1e-11)
        s_, e_ = so.eom_start(pol), so.eom_end(pol)
        for (h, x, y, _), (rs, re) in ref.items():
            assert s_[h, x, y] == pytest.approx(rs, abs=1e-11) and e_[h, x, y] == pytest.approx(re, abs=1e-11)
        np.testing.assert_allclose(so.continuity_residual(pol), 0, atol=1e-10)


def test_per_bond_matrices_refused_in_periodic_directions():
    rng = np.random.default_rng(3)
    cells = [(Site("s", (0, 0, 0), herm(rng, 2)),)] * 3
    with pytest.raises(ValueError, match="finite samples"):
        SiteLattice(cells, [Hopping("s", "s", (1, 0), cplx(rng, 3, 4, 2, 2))], N_y=4)
    with pytest.raises(ValueError, match=r"\(N_x, width, 2, 2\) = \(3, 4, 2, 2\)"):
        SiteLattice(cells, [Hopping("s", "s", (1, 0), cplx(rng, 3, 5, 2, 2))], width=4)
