"""Materials cut into films: supercell band folding, film and stack spectra against direct slab Hamiltonians."""

import numpy as np
import pytest

from orbsym.materials.films import film, film_stack, supercell
from orbsym.materials.model import Atom, TightBinding
from orbsym.numeric.thermo import grand_potential_terms


def random_crystal(seed, periodic=3, orbitals=(("s",), ("px", "py"))):
    rng = np.random.default_rng(seed)
    cell = np.diag([2.0, 2.2, 2.5]) + 0.2 * rng.standard_normal((3, 3))
    if periodic == 2:
        cell[2] = [0, 0, 10.0]
        cell[:2, 2] = 0
    atoms = [Atom(f"A{a}", rng.uniform(0, 1, 3) @ cell * (1 if periodic == 3 else np.array([1, 1, 0])), orb) for a, orb in enumerate(orbitals)]
    n = sum(len(o) for o in orbitals)
    onsite = rng.standard_normal((n, n))
    onsite = onsite + onsite.T
    bonds = {}
    Rs = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, -1, 0), (0, 1, 1), (2, 0, 0), (0, 0, 0)]
    for R in Rs:
        if periodic == 2 and R[2]:
            continue
        T = 0.5 * (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
        if R == (0, 0, 0):
            T = np.triu(T, 1)
        bonds[R] = T
    return TightBinding.from_bonds(cell, atoms, onsite, bonds, periodic=periodic)


def slab_free_energy(models_per_cell, stacking, grids, T, mu, interface="mean"):
    """Grand potential per transverse cell from slab Hamiltonians built directly from H(R) (slow path)."""
    N_x = len(models_per_cell)
    ref = models_per_cell[0]
    others = [i for i in range(ref.periodic) if i != stacking]
    n = ref.n
    F = 0.0
    kgrid = np.stack(np.meshgrid(*[np.arange(g) / g for g in grids], indexing="ij"), -1).reshape(-1, len(grids))
    for kf in kgrid:
        H = np.zeros((N_x * n, N_x * n), complex)
        for x in range(N_x):
            for xp in range(N_x):
                lo, hi = sorted((x, xp))
                m_lo, m_hi = models_per_cell[lo], models_per_cell[hi]
                for r in range(len(ref.R)):
                    R = ref.R[r]
                    if R[stacking] != xp - x:
                        continue
                    ph = np.exp(2j * np.pi * sum(R[o] * kf[i] for i, o in enumerate(others)))
                    A, B = m_lo.H[r], m_hi.H[r]
                    if m_lo is m_hi or (x == xp):
                        M = models_per_cell[x].H[r] if x == xp else A
                    else:
                        M = 0.5 * (A + B) if interface == "mean" else None
                    H[x * n:(x + 1) * n, xp * n:(xp + 1) * n] += ph * M
        E = np.linalg.eigvalsh(H) - mu
        F += float(np.sum(grand_potential_terms(E, T)))
    return F / len(kgrid)


def test_supercell_bands_fold():
    m = random_crystal(1)
    M = np.array([[1, 1, 0], [0, 2, 0], [0, 0, 1]])
    big = supercell(m, M)
    assert big.n == 2 * m.n and len(big.atoms) == 2 * len(m.atoms)
    K = big.k_cartesian([0.13, 0.31, -0.22])
    G = [big.reciprocal.T @ np.zeros(3)]
    # the |det M| = 2 vectors G' of the new reciprocal lattice inside the old zone: 0 and one more
    folded = [np.zeros(3)]
    for c in np.stack(np.meshgrid(*[np.arange(-2, 3)] * 3, indexing="ij"), -1).reshape(-1, 3):
        g = c @ big.reciprocal
        frac = g @ m.cell.T / (2 * np.pi)
        if np.allclose(frac, np.round(frac)):
            continue
        if not any(np.allclose(((g - f) @ m.cell.T / (2 * np.pi)), np.round((g - f) @ m.cell.T / (2 * np.pi))) for f in folded):
            folded.append(g)
    assert len(folded) == 2
    ref = np.sort(np.concatenate([m.bands(K + g) for g in folded]))
    assert np.allclose(big.bands(K), ref, atol=1e-10)
    del G


def test_supercell_refuses_singular_and_non_integer():
    m = random_crystal(2)
    with pytest.raises(ValueError, match="singular"):
        supercell(m, np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match="integer"):
        supercell(m, np.eye(3) * 1.5)


@pytest.mark.parametrize("stacking", [0, 2])
def test_film_free_energy_equals_direct_slab(stacking):
    m = random_crystal(3)
    T, mu, N_x, N_y, N_z = 0.3, 0.2, 4, 4, 2
    lat = film(m, N_x, stacking=stacking, N_y=N_y, N_z=N_z, mu=mu, generators=np.zeros((3, m.n, m.n)))
    obs = lat.solve(T, engine="dense")
    ref = slab_free_energy([m] * N_x, stacking, (N_y, N_z), T, mu)
    assert obs.free_energy() == pytest.approx(ref, abs=1e-10)


def test_film_of_a_2d_crystal_and_its_balance():
    m = random_crystal(4, periodic=2, orbitals=(("px", "py", "pz"),))
    rng = np.random.default_rng(0)
    J = rng.standard_normal((3, m.n, m.n)) + 1j * rng.standard_normal((3, m.n, m.n))
    J = J + J.conj().transpose(0, 2, 1)  # any Hermitian J: the per-site balance is an identity
    lat = film(m, 4, stacking=1, N_y=4, mu=0.1, generators=J)
    obs = lat.solve(0.2, engine="dense")
    ref = slab_free_energy([m] * 4, 1, (4,), 0.2, 0.1)
    assert obs.free_energy() == pytest.approx(ref, abs=1e-10)
    for pol in "xyz":
        assert np.abs(obs.torque(pol)).max() > 1e-3  # non-trivial torques enter the balance
        assert np.max(np.abs(obs.continuity_residual(pol))) < 1e-10


def test_stack_with_mean_interface_equals_direct_slab():
    a = random_crystal(5)
    b_src = random_crystal(6)
    b = TightBinding(a.cell, a.atoms, {tuple(R): H for R, H in zip(b_src.R, b_src.H)}, name="B")
    lat = film_stack([(a, 2), (b, 2)], stacking=0, N_y=2, N_z=2, mu=0.0, generators=np.zeros((3, a.n, a.n)))
    obs = lat.solve(0.25, engine="dense")
    ref = slab_free_energy([a, a, b, b], 0, (2, 2), 0.25, 0.0)
    assert obs.free_energy() == pytest.approx(ref, abs=1e-10)


def test_film_refusals():
    m = random_crystal(7)
    with pytest.raises(ValueError, match="N_y and N_z"):
        film(m, 3, N_y=4)
    with pytest.raises(ValueError, match="stacking"):
        film(m, 3, stacking=3, N_y=2, N_z=2)
    other = random_crystal(8, orbitals=(("s",), ("px",)))
    with pytest.raises(ValueError, match="commensurate"):
        film_stack([(m, 2), (other, 2)], N_y=2, N_z=2)
    with pytest.raises(ValueError, match="interface"):
        film_stack([(m, 2)], N_y=2, N_z=2, interface="average")


def test_film_response_with_atom_centred_L_is_balanced():
    """A p-shell crystal with SOC cut into a film: the Kubo response to E_y carries L accumulations and
    torques, and the driven per-site balance holds (SiteLattice.respond checks it and raises otherwise)."""
    m = random_crystal(9, orbitals=(("px", "py", "pz"), ("s",))).with_spin().with_soc({"A0": 0.4})
    lat = film(m, 4, N_y=2, N_z=2, mu=0.1)
    from orbsym.materials.films import film_frame

    R = film_frame(m, [0, 1, 2])
    assert np.allclose(R @ R.T, np.eye(3)) and np.allclose(lat.vectors[1:, 0], 0, atol=1e-12)  # x = film normal
    assert np.allclose(lat.vectors[1, [0, 2]], 0, atol=1e-12) and lat.vectors[0, 0] > 0  # y along a_y
    L = np.einsum("ab,bij->aij", R, m.angular_momentum("L"))  # atom-centred L of the p shell, in the film frame
    assert np.allclose(lat.sites[0].generators, L[:, :6, :6])
    with pytest.raises(ValueError, match="crosses the open surfaces"):
        film(m, 4, N_y=2, N_z=2, frame="crystal").respond(0.3, 0.2, field="y")
    resp = lat.respond(0.3, 0.2, field="y")
    assert resp.max_abs_residual < 1e-9
    tot = resp["total"]
    assert max(np.abs(tot.density(p)).max() for p in "xyz") > 1e-4  # an L accumulation is driven


def test_solve_and_response_take_a_material_film():
    """orbsym.solve / orbsym.response dispatch a SiteLattice to its engines (same numbers as its methods)."""
    from orbsym.response import response
    from orbsym.systems import solve

    m = random_crystal(10, orbitals=(("px", "py", "pz"),))
    lat = film(m, 4, N_y=2, N_z=2, mu=0.1)
    obs = solve(lat, T=0.2)
    assert obs.engine == "dense"  # the stacking bond (2, 0, 0) merges slices with diagonal couplings: dense
    np.testing.assert_allclose(obs.density("z"), lat.solve(0.2).density("z"), atol=1e-13)
    r = response(lat, T=0.2, eta=0.1)
    np.testing.assert_allclose(r["total"].current("z"), lat.respond(0.2, 0.1)["total"].current("z"), atol=1e-13)
    with pytest.raises(ValueError, match="workers"):
        solve(lat, T=0.2, workers=2)
    with pytest.raises(ValueError, match="every part"):
        response(lat, T=0.2, eta=0.1, part="fermi_sea")


@pytest.mark.parametrize("ndim", [2, 3])
def test_numeric_model_film_equals_the_symbolic_kernel_path(ndim):
    """A model taken out of the symbolic layer (TightBinding.from_kernels) and cut into a film gives the
    same per-site densities, bond currents and torques as the column lattice of the same kernels
    (from_column_lattice, itself tied to the symbolic kernels in tests/numeric/test_sites.py)."""
    from orbsym.numeric import Column, Lattice
    from orbsym.numeric.sites import from_column_lattice
    from orbsym.symbolic.continuity import kernels
    from orbsym.symbolic.models import ferromagnet, multiorbital_metal

    kw = dict(dimension=3) if ndim == 3 else {}
    ks, kf = kernels(multiorbital_metal(**kw)), kernels(ferromagnet(**kw))
    vals = dict(t=1.0, gamma=0.35, tp=0.8, mu=-0.2)
    fvals = {p: v for p, v in dict(t=1.0, m_x=0.9, m_y=0.2, m_z=-0.3, mu=-0.2).items() if p in kf.parameters}
    N_x, N_y, N_z = 4, 4, (3 if ndim == 3 else None)
    # FM / metal x 3 with the FM's hopping on the interface bond (column rule "fm" = the lower material here)
    ref = from_column_lattice(Lattice([Column(kf, fvals)] + [Column(ks, vals)] * (N_x - 1), N_y, "fm", N_z=N_z))
    tb, tf = TightBinding.from_kernels(ks, vals), TightBinding.from_kernels(kf, fvals)
    lat = film_stack([(tf, 1), (tb, N_x - 1)], N_y=N_y, N_z=N_z, generators="model", frame="crystal", interface="lower")
    a, b = lat.solve(0.1), ref.solve(0.1)
    assert max(np.abs(b.current(p)).max() for p in "xyz") > 1e-4 and np.abs(b.onsite_torque("y")).max() > 1e-4  # non-trivial
    assert a.free_energy() == pytest.approx(b.free_energy(), abs=1e-12)
    key = lambda lt: {(lt.names[i] and "s", tuple(off)): h for h, (i, j, off, _) in enumerate(lt.hoppings)}  # noqa: E731
    ka, kb = key(lat), key(ref)
    assert set(ka) == set(kb)
    for pol in (None, "x", "y", "z"):
        np.testing.assert_allclose(a.density(pol), b.density(pol), atol=1e-12)
        if pol is None:
            continue
        np.testing.assert_allclose(a.onsite_torque(pol), b.onsite_torque(pol), atol=1e-12)
        np.testing.assert_allclose(a.torque(pol), b.torque(pol), atol=1e-12)
        ca, cb = a.current(pol), b.current(pol)
        for k in ka:
            np.testing.assert_allclose(ca[ka[k]], cb[kb[k]], atol=1e-12, err_msg=f"bond {k} {pol}")


def test_material_film_between_leads_and_in_real_time():
    """The same material film runs through the NEGF driver (clean leads continuing its end slices) and
    the real-time driver (a quench of the exchange field), each checking its per-site balance."""
    from orbsym.numeric.sites_evolution import evolve_sites
    from orbsym.numeric.sites_transport import site_transport

    m = random_crystal(11, orbitals=(("px", "py", "pz"),)).with_spin().with_soc(0.4)  # SOC: the spin quench reaches L
    before = film(m.with_exchange(0.8, (1, 0, 0)), 4, N_y=2, N_z=2, mu=0.1)
    after = film(m.with_exchange(0.8, (0, 0, 1)), 4, N_y=2, N_z=2, mu=0.1)
    res = site_transport(before, T=0.0, mu=0.0)
    assert res.max_balance_residual < 1e-9 and res.max_boundary_mismatch < 1e-9
    assert res.conductance()["total"] > 0
    ds = evolve_sites(before, 0.2, [0.0, 0.5, 1.0], quench=after)
    rates = np.abs(ds["rate"].values).max()
    assert rates > 1e-4  # the quench drives L
    assert np.abs(ds["residual"].values).max() < 1e-9 * max(1.0, rates)
