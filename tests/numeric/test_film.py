"""Films (transverse dimension 2): k_z sectors of the 2D engines, recombined bands, refusals."""

import math

import numpy as np
import pytest
import sympy as sp

from orbsym.numeric import Column, Lattice, Observables, solve_bloch
from orbsym.numeric.film import sector_pairs, solve_film
from orbsym.numeric.observables import KERNEL_NAMES
from orbsym.symbolic.continuity import kernels
from orbsym.symbolic.generators import pauli, t2g_L
from orbsym.symbolic.models import SYMBOLS, Model, altermagnet, ferromagnet, multiorbital_metal

t, mu = SYMBOLS["t"], SYMBOLS["mu"]


def diagonal_model():
    """A 3D t2g model with complex diagonal bonds (xz, yz, xy planes and a second z neighbour)."""
    a, b, c = sp.symbols("a b c", real=True)
    L = t2g_L()
    return Model(
        "diag3d",
        L,
        {
            "x": -t * sp.eye(3) + sp.I * a * L.matrices[2],
            "y": -t * sp.eye(3) + b * sp.ones(3, 3) / 3,
            "z": sp.diag(-t, -t, -a) + sp.I * c * L.matrices[0],
            (1, 0, 1): a * sp.eye(3) + sp.I * b * L.matrices[1],
            (1, 0, -1): c * sp.eye(3),
            (0, 1, 1): b * L.matrices[2],
            (1, 1, 0): -c * sp.eye(3) + sp.I * a * L.matrices[0],
            (0, 0, 2): b * sp.eye(3) + c * L.matrices[1],
        },
        -mu * sp.eye(3),
    )


def film_columns(basis, rng):
    """Random FM / metal film columns of a basis ('orbital', 'spin', 'user')."""
    if basis == "orbital":
        metal, fm = kernels(multiorbital_metal(dimension=3)), kernels(ferromagnet(dimension=3))
        mp = dict(t=1.0, gamma=0.4, tp=0.8, mu=-0.3)
    elif basis == "spin":
        metal, fm = kernels(altermagnet(dimension=3)), kernels(ferromagnet(pauli(), dimension=3))
        mp = dict(t=1.0, w=0.3, mu=-0.3)
    else:
        metal, fm = kernels(diagonal_model()), kernels(ferromagnet(dimension=3))
        mp = dict(t=1.0, a=0.3, b=-0.2, c=0.25, mu=-0.3)
    m1, m2 = rng.normal(size=3), rng.normal(size=3)
    fmp = lambda m: dict(t=1.0, mu=-0.3, m_x=m[0], m_y=m[1], m_z=m[2])  # noqa: E731
    return [Column(fm, fmp(m1), True, "FM"), Column(metal, mp, False, "M"), Column(metal, mp, False, "M"), Column(fm, fmp(m2), True, "FM")]


@pytest.mark.parametrize("basis", ["orbital", "spin", "user"])
@pytest.mark.parametrize("interface", ["fm", "metal"])
def test_film_dense_equals_greens_and_balances(basis, interface):
    """Dense and Green's-function sectors give the same film bands, F and N; the exact balance holds."""
    rng = np.random.default_rng(3)
    lat = Lattice(film_columns(basis, rng), 4, interface, N_z=3)
    pairs = lat.offset_pairs(KERNEL_NAMES)
    T = 0.2
    if basis == "user":  # diagonal bonds: the Green's-function engine takes NN sectors only -> dense vs full-grid dense
        a = solve_film(lat, T, pairs, engine="dense")
        b = solve_film(lat, T, pairs, engine="dense", use_symmetry=False)
    else:
        a = solve_film(lat, T, pairs, engine="dense")
        b = solve_film(lat, T, pairs, engine="greens")
    assert set(a.bands) == set(pairs)
    for p in pairs:
        np.testing.assert_allclose(a.bands[p], b.bands[p], rtol=0, atol=1e-10)
    assert a.free_energy() == pytest.approx(b.free_energy(), abs=1e-10)
    assert a.particle_number() == pytest.approx(b.particle_number(), abs=1e-10)
    o = Observables(lat, a.bands)
    for p in "xyz":
        for kind in ("bond", "forward"):
            assert np.abs(o.continuity_residual(p, kind)).max() < 1e-12
        assert np.abs(o.time_derivative(p)).max() < 1e-12  # equilibrium
    assert o.particle_number() == pytest.approx(a.particle_number(), abs=1e-12)


def test_symmetric_kz_half_grid_equals_full_grid():
    """Sectors at -k_z equal those at k_z for the cubic film: the half grid is exact."""
    rng = np.random.default_rng(1)
    lat = Lattice(film_columns("orbital", rng), 5, "fm", N_z=6)
    assert lat.z_symmetric
    pairs = lat.offset_pairs(KERNEL_NAMES)
    a = solve_film(lat, 0.1, pairs)
    b = solve_film(lat, 0.1, pairs, use_symmetry=False)
    assert a.k_z.size == 4 and b.k_z.size == 6
    for p in pairs:
        np.testing.assert_allclose(a.bands[p], b.bands[p], rtol=0, atol=1e-13)
    assert a.free_energy() == pytest.approx(b.free_energy(), abs=1e-12)
    user = Lattice(film_columns("user", rng), 3, "fm", N_z=4)
    assert not user.z_symmetric  # complex (1, 0, 1) != (1, 0, -1): both halves are solved


def test_film_with_one_z_cell_is_the_2d_system_with_folded_onsite():
    """N_z = 1: the z-bond closes on the site, t_z + t_z^dag joins the on-site matrix of the 2D system."""
    g = SYMBOLS["gamma"]
    film = kernels(multiorbital_metal(tp=t, dimension=3))
    tz = sp.diag(-t, -t, -g)
    flat = kernels(Model("folded", t2g_L(), {"x": sp.diag(-g, -t, -t), "y": sp.diag(-t, -g, -t)}, -mu * sp.eye(3) + 2 * tz))
    P = dict(t=1.0, gamma=0.3, mu=-0.1)
    lat3 = Lattice([Column(film, P, False)] * 4, 7, N_z=1)
    lat2 = Lattice([Column(flat, P, False)] * 4, 7)
    s3 = solve_film(lat3, 0.05, lat3.offset_pairs(KERNEL_NAMES))
    s2 = solve_bloch(lat2, 0.05, lat2.offset_pairs(KERNEL_NAMES))
    assert s3.free_energy() == pytest.approx(s2.free_energy(), abs=1e-12)
    o3, o2 = Observables(lat3, s3.bands), Observables(lat2, s2.bands)
    for p in (None, "x", "y", "z"):
        np.testing.assert_allclose(o3.density(p), o2.density(p), rtol=0, atol=1e-13)
        np.testing.assert_allclose(o3.bond_current(p, "y"), o2.bond_current(p, "y"), rtol=0, atol=1e-13)


def test_sector_pairs_split():
    assert sector_pairs([(0, 0, 0), (1, 0, -1), (1, 0, 1), (0, 1, 0)]) == {(0, 0): [0], (0, 1): [0], (1, 0): [-1, 1]}


def test_film_refusals():
    fm3 = kernels(ferromagnet(dimension=3))
    fm2 = kernels(ferromagnet())
    P = dict(t=1.0, mu=0.0, m_x=0.0, m_y=0.0, m_z=1.0)
    with pytest.raises(ValueError, match="give N_z"):
        Lattice([Column(fm3, P)], 4)
    with pytest.raises(ValueError, match="2D bond offsets"):
        Lattice([Column(fm2, P)], 4, N_z=4)
    flat3 = kernels(Model("flat3", t2g_L(), {(1, 0, 0): -t * sp.eye(3), (0, 1, 0): -t * sp.eye(3)}))
    with pytest.raises(ValueError, match="no z hopping"):
        Lattice([Column(flat3, dict(t=1.0, mu=0.0))], 4, N_z=4)
    far = kernels(Model("far", t2g_L(), {"x": -t * sp.eye(3), "y": -t * sp.eye(3), "z": -t * sp.eye(3), (1, 2, 0): -t * sp.eye(3)}))
    with pytest.raises(ValueError, match=r"\|dy\| <= 1"):
        Lattice([Column(far, dict(t=1.0, mu=0.0))], 4, N_z=4)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="N_z"):
            Lattice([Column(fm3, P)], 4, N_z=bad)
    with pytest.raises(ValueError, match="mix 2D pairs"):
        Model("mixed", t2g_L(), {(1, 0): -t * sp.eye(3), (0, 0, 1): -t * sp.eye(3)})
    with pytest.raises(ValueError, match="film"):
        solve_film(Lattice([Column(fm2, P)], 4), 0.1)


def test_systems_film_refusals_and_description():
    from orbsym.response import response
    from orbsym.systems import heterostructure, layer, solve, trilayer
    from orbsym.transport import attach_leads

    s = trilayer(N_x=5, N_y=4, N_z=3)
    assert s.is_film and s.describe()["N_z"] == 3
    assert solve(s, 0.1).to_dict(("currents",))["currents"]["bond_z"]["z"] is not None
    with pytest.raises(ValueError, match="not defined for films"):
        attach_leads(s, width="open")
    with pytest.raises(ValueError, match="needs a finite N_z"):
        attach_leads(trilayer(N_x=5, N_y=4, N_z=math.inf))
    with pytest.raises(ValueError, match="needs a film"):
        response(trilayer(N_x=5, N_y=4), T=0.1, eta=0.1, field="z")
    with pytest.raises(ValueError, match="field direction"):
        response(s, T=0.1, eta=0.1, field="x")
    with pytest.raises(ValueError, match="needs a finite N_z"):
        response(trilayer(N_x=5, N_y=4, N_z=math.inf), T=0.1, eta=0.1)
    for bad in (0, -2, 1.5, "many"):
        with pytest.raises(ValueError, match="N_z"):
            trilayer(N_x=5, N_y=4, N_z=bad)
    with pytest.raises(ValueError, match="2D model with no z hopping"):
        heterostructure([layer(multiorbital_metal(), 3, gamma=1.0)], N_y=4, N_z=3)


def test_infinite_kz_and_ky_integrals_of_a_film():
    """N_z = inf (k_z trapezoid on doubling grids) and N_y = inf (each sector's k_y integral) against
    a fine finite grid, both sector engines; totals refused; the T = 0 trapezoid refuses to pretend."""
    from orbsym.systems import solve, trilayer

    fine = solve(trilayer(N_x=4, N_y=96, N_z=96, gamma=0.5), 0.25, engine="dense")
    for eng in ("dense", "greens"):
        r = solve(trilayer(N_x=4, N_y=math.inf, N_z=math.inf, gamma=0.5), 0.25, engine=eng)
        assert r.free_energy() == pytest.approx(fine.free_energy(), abs=1e-9)
        for p in ("charge", "z"):
            np.testing.assert_allclose(r.densities()[p], fine.densities()[p], rtol=0, atol=1e-9)
            np.testing.assert_allclose(r.currents()[p], fine.currents()[p], rtol=0, atol=1e-9)
        k = r.k_integral()
        assert k["N_y"] == k["N_z"] == "inf" and k["k_z_error_estimate"] < 1e-10 and k["k_z_points"] >= 9
        with pytest.raises(ValueError, match="infinite; use per_row=True"):
            r.free_energy(per_row=False)
    lat = trilayer(N_x=4, N_y=8, N_z=8).lattice
    with pytest.raises(ValueError, match="did not reach tol"):
        solve_film(lat, 0.0, (), vectors=False, N_z=None, max_kz=32)


def test_film_too_large_is_refused_with_the_estimate():
    """A film beyond the time or memory limit is refused before any solve, naming the k_z sectors."""
    from orbsym.numeric.budget import ResourceError
    from orbsym.systems import solve, trilayer

    with pytest.raises(ResourceError, match="k_z sectors"):
        solve(trilayer(N_x=400, N_y=8000, N_z=8000), 0.01, engine="dense")  # refused when the Result is made
    with pytest.raises(ResourceError, match="k_z sectors"):
        solve(trilayer(N_x=200, N_y=4000, N_z=4000), 0.01, engine="dense").densities()  # the band solve: refused before it starts
    small = solve(trilayer(N_x=5, N_y=8, N_z=8), 0.1, engine="dense")
    assert "5 k_z sectors" in small.estimate().detail  # 8 // 2 + 1 sectors (cubic: k_z -> -k_z symmetric)


def test_film_rkky_by_lloyd_per_sector_equals_the_free_energy_difference():
    """J(N_x) of a film by Lloyd's formula per k_z sector == F_AP - F_P of dense film solves."""
    from orbsym.rkky import rkky_vs_length
    from orbsym.systems import solve, trilayer

    s = trilayer(N_x=6, N_y=6, N_z=4, gamma=0.5, m_L="x", m_R="x")
    res = rkky_vs_length(s, 0.1, lengths=[4, 6])
    for L, J in zip(res["N_x"], res["J"]):
        P = solve(s.rebuild(N_x=int(L), m_R=(1.0, 0.0, 0.0)), 0.1, engine="dense").free_energy()
        AP = solve(s.rebuild(N_x=int(L), m_R=(-1.0, 0.0, 0.0)), 0.1, engine="dense").free_energy()
        assert J == pytest.approx(AP - P, abs=1e-11)
    assert abs(res["J"][0]) > 1e-4


def test_auto_engine_of_a_film_follows_the_sector_cost_model():
    """A long nearest-neighbour film runs on the Green's-function engine under "auto" (its sectors are
    2D NN lattices), a film with in-plane diagonal bonds on the dense engine."""
    from orbsym.systems import solve, trilayer

    assert solve(trilayer(N_x=150, N_y=64, N_z=4), 0.01).engine == "greens"
    rng = np.random.default_rng(0)
    assert solve_film(Lattice(film_columns("user", rng), 3, N_z=3), 0.1, engine="dense").engine == "dense"
    from orbsym.numeric.engines import choose_engine

    assert choose_engine("auto", Lattice(film_columns("user", rng), 64, N_z=3).sector(0.3), 0.01) == "dense"
