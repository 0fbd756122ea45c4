"""Transport API (orbsym.transport): Landauer conductance, the driven steady state, the balance."""

import numpy as np
import pytest

from orbsym.numeric.leads import open_channels
from orbsym.systems import heterostructure, layer, solve
from orbsym.numeric.rgf import choose_region_solver, rgf_region_solver
from orbsym.transport import attach_leads, transport


def _fm_sandwich(N_y=6, n=3, m=(0.6, 0.0, 0.8), gamma=0.3):
    return heterostructure([layer("nm", n, gamma=gamma), layer("fm", 1, m=m), layer("nm", n, gamma=gamma)], N_y=N_y)


def test_clean_lead_conductance_is_number_of_open_channels():
    s = heterostructure([layer("nm", 4, gamma=0.3)], N_y=10)
    L = attach_leads(s)
    res = transport(L, T=0.0)
    c = res.conductance()
    n = open_channels(L.left, res.k, 0.0)
    np.testing.assert_allclose(c["per_k"], n, atol=1e-8)
    np.testing.assert_allclose(c["total"], res.open.weights @ n / 10, atol=1e-8)
    # particle current per unit bias = G / 2 pi on every bond, contacts included (N_x + 1 bonds)
    j = res.currents()["charge"]
    assert j.shape == (5,)
    np.testing.assert_allclose(j, c["total"] / (2 * np.pi), atol=1e-10)


@pytest.mark.parametrize("bias", [None, 0.05])
def test_balance_and_charge_conservation_under_bias(bias):
    res = transport(attach_leads(_fm_sandwich()), T=0.02, bias=bias, n_energy=30)
    r = res.continuity_residual()
    assert r["max_abs_dJ_dt"] < 1e-10
    assert r["max_abs_balance"] < 1e-10
    assert r["max_abs_continuity_residual"] < 1e-10
    assert r["max_abs_charge_current_minus_landauer"] < 1e-10
    assert res.landauer_current() > 0  # positive bias drives electrons toward +x
    tq = res.torques()
    div = res.divergence()
    for p in "xyz":
        np.testing.assert_allclose(div[p], tq[p]["total"], atol=1e-10)
    # the FM's exchange torque is driven: nonzero somewhere, and only on the FM column
    ex = np.array([tq[p]["exchange"] for p in "xyz"])
    assert np.abs(ex[:, 3]).max() > 1e-4 or bias is None
    np.testing.assert_allclose(np.delete(ex, 3, axis=1), 0, atol=1e-14)


def test_linear_response_is_derivative_of_finite_bias():
    L = attach_leads(_fm_sandwich(N_y=4, n=2, m=(1.0, 0.0, 0.0)))
    lin = transport(L, T=0.0, split=0.3)
    V = 1e-4
    up = transport(L, T=0.0, bias=V, split=0.3, n_energy=10)
    dn = transport(L, T=0.0, bias=-V, split=0.3, n_energy=10)
    for p in ("charge", "x", "y", "z"):
        fd = (up.densities()[p] - dn.densities()[p]) / (2 * V)
        np.testing.assert_allclose(fd, lin.densities()[p], atol=1e-6)
        fd = (up.currents()[p] - dn.currents()[p]) / (2 * V)
        np.testing.assert_allclose(fd, lin.currents()[p], atol=1e-6)
    assert abs((up.landauer_current() - dn.landauer_current()) / (2 * V) - lin.conductance()["total"] / (2 * np.pi)) < 1e-8


def test_zero_bias_reproduces_closed_strip_far_from_its_walls():
    """At zero bias the open system is in equilibrium: an FM column in the middle of a long NM strip
    has the same density, exchange torque and equilibrium currents as in the closed strip (hard
    walls far away; at T = 0.4 their influence decays exponentially)."""
    n = 14
    s = _fm_sandwich(N_y=6, n=n, m=(0.0, 0.6, 0.8))
    res = transport(attach_leads(s), T=0.4, bias=0.0)
    closed = solve(s, T=0.4)
    mid = slice(n - 2, n + 3)
    for p in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(res.densities()[p][mid], closed.densities()[p][mid], atol=1e-7)
    for p in "xyz":
        np.testing.assert_allclose(res.torques()[p]["exchange"][mid], closed.torques()[p]["exchange"][mid], atol=1e-7)
        # bond x of region column c is res bond c; closed bond c-1 -> c is index c - 1
        np.testing.assert_allclose(res.currents()[p][n - 1 : n + 3], closed.currents()[p][n - 2 : n + 2], atol=1e-7)
    assert abs(res.landauer_current()) < 1e-15


def test_user_lead_and_bad_input():
    s = heterostructure([layer("nm", 3, gamma=0.5)], N_y=4)
    L = attach_leads(s, left=layer("fm", m="z"), right=layer("nm", gamma=1.0))
    assert L.lattice.N_x == 5 and L.describe()["leads"]["left"]["model"] != L.describe()["leads"]["right"]["model"]
    res = transport(L, T=0.05, bias=0.1, n_energy=20)
    assert res.continuity_residual()["max_abs_balance"] < 1e-10
    with pytest.raises(TypeError, match="attach_leads"):
        transport(s)
    with pytest.raises(TypeError, match="lead"):
        attach_leads(s, left="nm")
    with pytest.raises(ValueError, match="split"):
        transport(L, split=1.5)
    with pytest.raises(ValueError, match="temperature"):
        transport(L, T=-1)
    with pytest.raises(ValueError, match="finite bias"):
        res.conductance()
    with pytest.raises(ValueError, match="quantity"):
        res.to_dict(quantities=("free_energy",))
    d = res.to_dict()
    assert d["regime"] == "finite bias" and "continuity" in d and len(d["currents"]["bond"]["charge"]) == 4


def test_kwant_transmission():
    """Optional cross-check with Kwant (skipped when absent).

    Kwant 1.5 no longer installs with pip on Python 3.11 + NumPy 2; it builds from its sdist after
    regenerating the C files with current Cython: ``pip install cython``, unpack ``kwant-1.5.0.tar.gz``,
    ``python setup.py build_ext --cython``, ``pip install --no-build-isolation .``.  The open strip's
    densities and bond currents against Kwant: tests/test_transport_kwant.py.
    """
    kwant = pytest.importorskip("kwant")
    s = _fm_sandwich(N_y=1, n=2)
    L = attach_leads(s)
    res = transport(L, T=0.0)
    lat = L.lattice
    k = res.k[0]
    diag = res.open.diag_blocks([k])[0]
    sym = kwant.TranslationalSymmetry((-1,))
    chain = kwant.lattice.chain(norbs=3)
    syst = kwant.Builder()
    for x in range(1, lat.N_x - 1):
        syst[chain(x)] = diag[x]
    for x in range(1, lat.N_x - 2):
        syst[chain(x + 1), chain(x)] = lat.hop_x[x].conj().T  # kwant: H[to, from]
    lead = kwant.Builder(sym)
    lead[chain(0)] = diag[0]
    lead[chain(1), chain(0)] = lat.hop_x[0].conj().T
    syst.attach_lead(lead)
    syst.attach_lead(lead.reversed())
    # the contact bonds: the solved lattice's extra cells are lead cells, so kwant's leads attach directly
    smat = kwant.smatrix(syst.finalized(), energy=0.0)
    assert abs(smat.transmission(1, 0) - res.conductance()["per_k"][0]) < 1e-8


@pytest.mark.parametrize("bias", [None, 0.1])
def test_open_strip_balance_per_site(bias):
    s = _fm_sandwich(N_y=5, n=2, m=(0.3, 0.5, 0.8))
    res = transport(attach_leads(s, width="open"), T=0.02, bias=bias, n_energy=20)
    r = res.continuity_residual()
    assert r["max_abs_dJ_dt"] < 1e-10 and r["max_abs_balance"] < 1e-10 and r["max_abs_charge_current_minus_landauer"] < 1e-10
    d, j, jy, tq, div = res.densities(), res.currents(), res.currents(direction="y"), res.torques(), res.divergence()
    assert d["z"].shape == (5, 5) and j["z"].shape == (6, 5) and jy["z"].shape == (5, 4)
    for p in "xyz":
        np.testing.assert_allclose(div[p], tq[p]["total"], atol=1e-10)
    # mirror y -> N_y - 1 - y of the strip: the driven densities are symmetric about the middle row
    np.testing.assert_allclose(d["charge"], d["charge"][:, ::-1], atol=1e-10)
    assert res.describe()["system"]["width"] == "open"
    with pytest.raises(ValueError, match="width"):
        attach_leads(s, width="closed")


def test_orbital_rashba_strip_orbital_hall_and_edelstein_accumulation():
    """Driven OAM in a finite-width strip of the Eq. (3) metal plus orbital Rashba hopping (C4v),
    between plain-metal leads: L_z accumulates with opposite signs at the two edges (orbital Hall),
    L_y with the same sign across the width (orbital Edelstein); the balance holds per site, with
    -div j matched by the hopping torques (the lattice as source and sink of OAM)."""
    import sympy as sp

    from orbsym.symbolic.models import Model, multiorbital_metal
    from orbsym.symbolic.spinful import orbital_rashba

    m0 = multiorbital_metal()
    R = orbital_rashba("t2g")
    m = Model("nm_rashba", m0.generators, {d: sp.ImmutableMatrix(m0.hoppings[d] + R[d]) for d in m0.hoppings}, m0.onsite, "Eq. 3 + orbital Rashba", m0.magnetization)
    s = heterostructure([layer(m, 4, gamma=0.3, alpha_R=0.4)], N_y=5)
    res = transport(attach_leads(s, left=layer("nm", gamma=0.3), right=layer("nm", gamma=0.3), width="open"), T=0.02)
    assert res.continuity_residual()["max_abs_balance"] < 1e-10
    d = res.densities()
    # mirror y -> -y keeps the current and maps (L_x, L_y, L_z) -> (-L_x, L_y, -L_z)
    np.testing.assert_allclose(d["z"], -d["z"][:, ::-1], atol=1e-12)
    np.testing.assert_allclose(d["x"], -d["x"][:, ::-1], atol=1e-12)
    np.testing.assert_allclose(d["y"], d["y"][:, ::-1], atol=1e-12)
    assert np.abs(d["z"][:, 0]).max() > 1e-4 and (d["y"] < 0).all()
    tq, div = res.torques(), res.divergence()
    np.testing.assert_allclose(div["z"], tq["z"]["bond_x"] + tq["z"]["bond_y"], atol=1e-10)
    assert np.abs(tq["z"]["bond_y"]).max() > 1e-4 and np.abs(tq["z"]["exchange"]).max() == 0


def test_linear_response_split_dependence_is_the_equilibrium_mu_derivative():
    """Moving the bias between the leads (split s) changes the linear response by the equilibrium
    response to mu: d/dV|_{s=1} - d/dV|_{s=0} = d<O>_eq/d mu, for densities, OAM currents (the
    equilibrium OAM currents of an FM-metal structure depend on mu) and torques.  The charge current
    does not change."""
    L = attach_leads(_fm_sandwich(N_y=6, n=2, m=(0.0, 0.6, 0.8)))
    a, b = transport(L, T=0.05, split=0.0, n_energy=256), transport(L, T=0.05, split=1.0, n_energy=256)  # slow (van Hove) convergence
    dmu = 1e-4
    up, dn = transport(L, T=0.05, bias=0.0, mu=dmu), transport(L, T=0.05, bias=0.0, mu=-dmu)
    np.testing.assert_allclose(a.currents()["charge"], b.currents()["charge"], atol=1e-12)
    for p in ("charge", "x", "y", "z"):
        fd = (up.densities()[p] - dn.densities()[p]) / (2 * dmu)
        np.testing.assert_allclose(b.densities()[p] - a.densities()[p], fd, atol=5e-5)
        if p != "charge":
            fd = (up.currents()[p] - dn.currents()[p]) / (2 * dmu)
            np.testing.assert_allclose(b.currents()[p] - a.currents()[p], fd, atol=5e-5)
            fd = (up.torques()[p]["exchange"] - dn.torques()[p]["exchange"]) / (2 * dmu)
            np.testing.assert_allclose(b.torques()[p]["exchange"] - a.torques()[p]["exchange"], fd, atol=5e-5)
    assert max(np.abs(b.currents()[p] - a.currents()[p]).max() for p in "xyz") > 1e-3


def test_transport_with_diagonal_bonds_periodic_and_strip():
    """A D4h t2g metal with nn + nnn bonds (s_3 mixes d_yz/d_xz on the diagonals) around an FM:
    balance at every column / site with the diagonal hopping torque, charge current = Landauer."""
    from orbsym.symbolic.symmetry import symmetric_hoppings

    m = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
    p = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)
    s = heterostructure([layer(m, 2, **p), layer("fm", 1, m=(0.6, 0.0, 0.8)), layer(m, 2, **p)], N_y=4, mu=-0.2)
    for width in ("periodic", "open"):
        res = transport(attach_leads(s, width=width), T=0.02, bias=0.05, n_energy=20)
        r = res.continuity_residual()
        assert r["max_abs_dJ_dt"] < 1e-10 and r["max_abs_balance"] < 1e-10
        assert r["max_abs_charge_current_minus_landauer"] < 1e-10 and res.landauer_current() > 1e-4
        tq, div = res.torques(), res.divergence()
        for q in "xyz":
            parts = tq[q]["exchange"] + tq[q]["bond_x"] + tq[q]["bond_y"] + tq[q]["bond_diagonal"]
            np.testing.assert_allclose(parts, tq[q]["total"], atol=1e-14)
            np.testing.assert_allclose(div[q], tq[q]["total"], atol=1e-10)
        assert max(np.abs(tq[q]["bond_diagonal"]).max() for q in "xyz") > 1e-5


def _random_nnn_system(seed, extra):
    import sys
    import pathlib

    sys.path.insert(0, str(pathlib.Path(__file__).parent / "numeric"))
    from nnn_kernels import random_nnn_model

    from orbsym.numeric import Column, Lattice
    from orbsym.systems import System

    ks = random_nnn_model(seed, extra=extra)
    rng = np.random.default_rng(seed)
    cols = [Column(ks, dict(t=0.6, gamma=rng.uniform(0, 1), mu=0.2)) for _ in range(4)]
    return System(Lattice(cols, 3), {}), cols


@pytest.mark.parametrize("width", ["periodic", "open"])
def test_pairs_of_columns_reproduce_single_column_leads(width):
    """period=2 (leads and region solved in pairs of columns, orbsym.numeric.supercell) == period=1 on
    the same system and leads: an independent assembly of every block, to rounding."""
    s, cols = _random_nnn_system(3, ())
    a = transport(attach_leads(s, width=width), T=0.05, bias=0.1, n_energy=10)
    b = transport(attach_leads(s, left=cols[0], right=cols[-1], width=width, period=2), T=0.05, bias=0.1, n_energy=10)
    assert b.leaded.period == 2 and b.leaded.lattice.N_x == 8
    for q in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(b.densities()[q], a.densities()[q], atol=1e-11)
        np.testing.assert_allclose(b.currents()[q], a.currents()[q], atol=1e-11)
        if q != "charge":
            np.testing.assert_allclose(b.torques()[q]["total"], a.torques()[q]["total"], atol=1e-11)
    assert abs(b.landauer_current() - a.landauer_current()) < 1e-12


@pytest.mark.parametrize("width", ["periodic", "open"])
def test_bonds_skipping_a_column_by_pairs(width):
    """(2, 0) bonds (block-pentadiagonal h): solved in pairs (chosen automatically); balance at every
    region column / site, boundary current (all crossing bonds) = Landauer; odd N_x refused."""
    s, _ = _random_nnn_system(4, ((2, 0),))
    L = attach_leads(s, width=width)
    assert L.period == 2
    r = transport(L, T=0.05, bias=0.1, n_energy=10)
    c = r.continuity_residual()
    assert c["max_abs_dJ_dt"] < 1e-10 and c["max_abs_balance"] < 1e-10 and c["max_abs_charge_current_minus_landauer"] < 1e-10
    assert abs(r.landauer_current()) > 1e-4
    assert max(np.abs(r.torques()[q]["bond_diagonal"]).max() for q in "xyz") > 1e-4
    odd = heterostructure([layer("nm", 3)], N_y=2)
    with pytest.raises(ValueError, match="even number"):
        attach_leads(odd, period=2)
    with pytest.raises(ValueError, match="period"):
        attach_leads(odd, period=3)


def test_energy_error_estimates_linear_and_bias():
    """T > 0: the reported error of the energy integral (half rule from the transmission alone) is
    of the size of the true error (vs a 1024-node rule) or above it; energy_tol doubles the nodes
    until the estimate meets it; the window's per-panel estimate bounds the current's error."""
    from orbsym.numeric.negf import fermi_derivative_rule, window_rule
    from orbsym.transport import _landauer_integral

    L = attach_leads(_fm_sandwich(N_y=20, n=2))
    r = transport(L, T=0.05, mu=1.9, energy_tol=1e-4)
    e = r.info["energy_error_estimate"]
    ref = _landauer_integral(r.open, *fermi_derivative_rule(1.9, 0.05, 1024))
    assert e["converged"] and e["rel"] <= 1e-4 and r.energies.size > 16
    assert e["value"] == pytest.approx(r.conductance()["total"], abs=1e-14)
    assert abs(e["value"] - ref) <= 2 * e["abs"]
    plain = transport(L, T=0.05, mu=1.9)
    assert plain.energies.size == 16 and plain.info["energy_error_estimate"]["abs"] > e["abs"]
    b = transport(L, T=0.02, bias=0.3, n_energy=40)
    eb = b.info["energy_error_estimate"]
    ref = _landauer_integral(b.open, *window_rule(0.15, -0.15, 0.02, 1000)) / (2 * np.pi)
    assert eb["value"] == pytest.approx(b.landauer_current(), abs=1e-14)
    assert abs(eb["value"] - ref) <= eb["abs"] and eb["rel"] < 5e-2
    assert "energy_error_estimate" not in transport(L, T=0.05, error_estimate=False).info
    with pytest.raises(ValueError, match="energy_tol"):
        transport(L, energy_tol=0)


@pytest.mark.parametrize("case", ["linear", "bias", "pairs_open"])
def test_rgf_region_solver_equals_dense(case):
    """transport(..., solver="rgf") == the dense reference: densities, every current kind, torques,
    conductance / Landauer current (linear response, finite bias with the pole sum, and a strip open in
    y solved in pairs of columns with (2, 0) bonds: per-point blocks of size 2 N_y d); ``auto`` records its choice."""
    if case == "pairs_open":
        s, _ = _random_nnn_system(4, ((2, 0),))
        L, kw = attach_leads(s, width="open"), dict(T=0.05, bias=0.1, n_energy=10)
    else:
        L = attach_leads(_fm_sandwich(N_y=6, n=3))
        kw = dict(T=0.02, n_energy=12) if case == "linear" else dict(T=0.02, bias=0.05, n_energy=20)
    a = transport(L, solver="dense", **kw)
    fast = rgf_region_solver if case == "bias" else "rgf"  # a callable (user solver) or the name
    b = transport(L, solver=fast, **kw)
    assert a.to_dict(())["region_solver"] == "dense" and b.to_dict(())["region_solver"] == ("rgf_region_solver" if case == "bias" else "rgf")
    for q in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(b.densities()[q], a.densities()[q], atol=1e-10)
        for kind in b.CURRENT_KINDS:
            if q == "charge" and kind != "bond":
                continue
            np.testing.assert_allclose(b.currents(kind)[q], a.currents(kind)[q], atol=1e-10)
        if q != "charge":
            for kind in ("bond", "forward"):
                for term, v in a.torques(kind)[q].items():
                    np.testing.assert_allclose(b.torques(kind)[q][term], v, atol=1e-10)
    assert abs(b.landauer_current() - a.landauer_current()) < 1e-10
    if case == "linear":
        np.testing.assert_allclose(b.conductance()["per_k"], a.conductance()["per_k"], atol=1e-10)
    assert b.continuity_residual()["max_abs_balance"] < 1e-10
    lat = L.solve_parts()[0]
    assert transport(L, **kw).info["region_solver"] == choose_region_solver("auto", lat.N_x, lat.dim)[1]


# ------------------------------------------------------------------ refusals before any work (issue 24)
import orbsym.numeric.negf as _negf  # noqa: E402
from orbsym.numeric.budget import ResourceError, transport_estimate  # noqa: E402
from orbsym.transport import TransportResult, _site_rate  # noqa: E402


@pytest.fixture
def no_solve(monkeypatch):
    """Tripwire: the NEGF solver must not start; limits pinned (machine-independent refusals)."""
    def boom(*a, **k):
        raise AssertionError("the NEGF solve started before the refusal")

    monkeypatch.setattr(_negf.OpenSystem, "__init__", boom)
    monkeypatch.setattr(TransportResult, "__init__", boom)
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "8G")
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "3600")


@pytest.fixture(scope="module")
def small():
    return attach_leads(heterostructure([layer("nm", 2, gamma=0.3)], N_y=4))


_TRANSPORT_BAD = [
    # (id, kwargs, exception, words)
    ("huge n_energy", dict(n_energy=10**9), ResourceError, ["n_energy", "of memory", "1000000000 nodes"]),
    ("huge n_energy at bias", dict(n_energy=10**8, bias=0.1), ResourceError, ["n_energy", "bias window"]),
    ("float n_energy", dict(n_energy=1e9), ValueError, ["n_energy", "integer"]),
    ("zero n_energy", dict(n_energy=0), ValueError, ["n_energy", ">= 1"]),
    ("bool n_energy", dict(n_energy=True), ValueError, ["n_energy"]),
    ("bias beyond limit", dict(bias=1e200), ValueError, ["bias", "[-1e+100, 1e+100]"]),
    ("negative bias beyond limit", dict(bias=-1e101), ValueError, ["bias", "outside the allowed range"]),
    ("nan bias", dict(bias=float("nan")), ValueError, ["bias", "finite"]),
    ("inf bias", dict(bias=float("inf")), ValueError, ["bias", "finite"]),
    ("complex bias", dict(bias=0.1 + 0.2j), ValueError, ["bias", "complex"]),
    ("string bias", dict(bias="0.1"), ValueError, ["bias", "real number"]),
    ("mu beyond limit", dict(mu=1e300), ValueError, ["mu", "outside the allowed range"]),
    ("nan mu", dict(mu=float("nan")), ValueError, ["mu", "finite"]),
    ("complex mu", dict(mu=1j), ValueError, ["mu", "complex"]),
    ("T beyond limit", dict(T=1e200), ValueError, ["T", "outside the allowed range"]),
    ("negative T", dict(T=-0.01), ValueError, ["temperature"]),
    ("nan T", dict(T=float("nan")), ValueError, ["temperature"]),
    ("complex T", dict(T=0.01 + 0j), ValueError, ["temperature"]),
    ("zero eta", dict(eta=0.0), ValueError, ["eta", "> 0"]),
    ("eta beyond limit", dict(eta=1e200), ValueError, ["eta", "outside the allowed range"]),
    ("nan eta", dict(eta=float("nan")), ValueError, ["eta", "finite"]),
    ("split above 1", dict(split=1.5), ValueError, ["split", "[0, 1]"]),
    ("nan split", dict(split=float("nan")), ValueError, ["split", "finite"]),
    ("split at zero bias", dict(bias=0.0, split=0.3), ValueError, ["split", "does not apply at bias = 0"]),
    ("n_energy at T = 0 linear", dict(T=0.0, n_energy=8), ValueError, ["n_energy", "does not apply", "T = 0"]),
    ("n_energy at zero bias", dict(bias=0.0, n_energy=8), ValueError, ["n_energy", "does not apply at bias = 0"]),
    ("energy_tol at bias", dict(bias=0.05, energy_tol=1e-3), ValueError, ["energy_tol", "applies only to the linear response"]),
    ("energy_tol at T = 0", dict(T=0.0, energy_tol=1e-3), ValueError, ["energy_tol", "T > 0"]),
    ("zero energy_tol", dict(energy_tol=0.0), ValueError, ["energy_tol", "> 0"]),
    ("too many poles (small T)", dict(bias=0.1, T=1e-9), ValueError, ["Fermi poles", "raise T"]),
    ("too many poles (large bias)", dict(bias=1e60), ValueError, ["Fermi poles"]),
    ("misspelled solver", dict(solver="rfg"), ValueError, ["region solver", "did you mean 'rgf'"]),
    ("empty solver", dict(solver=""), ValueError, ["region solver", "allowed: auto, rgf, dense"]),
    ("solver not callable", dict(solver=3), TypeError, ["solver", "int"]),
    ("error_estimate not bool", dict(error_estimate="yes"), TypeError, ["error_estimate", "True or False"]),
    ("misspelled argument", dict(bais=0.1), TypeError, ["bais", "did you mean 'bias'"]),
]


@pytest.mark.parametrize("kwargs,exc,words", [c[1:] for c in _TRANSPORT_BAD], ids=[c[0] for c in _TRANSPORT_BAD])
def test_transport_refuses_before_any_work(small, no_solve, kwargs, exc, words):
    with pytest.raises(exc) as err:
        transport(small, **kwargs)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_transport_refuses_big_systems_with_the_estimate(no_solve):
    """Periodic: many columns x k-points; open strip: the dense ((N_x + 2) N_y d)^2 correlation matrix."""
    wide = attach_leads(heterostructure([layer("nm", 3, gamma=0.3)], N_y=3000), width="open")
    with pytest.raises(ResourceError, match=r"GiB of memory.*open strip.*more than the 8 GiB") as err:
        transport(wide)
    assert "N_y" in str(err.value) and "n_energy" in str(err.value)
    long = attach_leads(heterostructure([layer("nm", 50, gamma=0.3)], N_y=10**6))
    with pytest.raises(ResourceError, match="of memory"):
        transport(long)
    with pytest.raises(TypeError, match="attach_leads"):
        transport(heterostructure([layer("nm", 2)], N_y=4))


def test_transport_estimate_counts_the_strip_band_and_the_points():
    e = transport_estimate(21, 200, 3, open_width=True, points=256, transmission_points=100)
    W = 200 * 3
    assert e.bytes >= 2 * 3 * 23 * W * W * 16 and "23 columns of 600 states" in e.detail
    n = 23 * W
    assert e.bytes < 3 * n * n * 16  # no dense (N_x + 2) W d square matrix any more
    p = transport_estimate(21, 200, 3, points=16, transmission_points=8)
    assert "2,424 (k, E) points" in p.detail and p.bytes < 2**30
    # time linear in the energies and (rgf) in the columns
    t1, t2 = (transport_estimate(200, 200, 3, points=n).seconds for n in (100, 200))
    assert 1.8 < t2 / t1 < 2.1
    c1, c2 = (transport_estimate(n, 200, 3, points=100).seconds for n in (1000, 2000))
    assert 1.8 < c2 / c1 < 2.1


_LEAD_BAD = [
    ("two-column lead layer", dict(left=layer("nm", 2, gamma=0.3)), ValueError, ["left lead", "width 2", "ONE column"]),
    ("three-column right lead", dict(right=layer("fm", 3)), ValueError, ["right lead", "width 3"]),
    ("pair of one", dict(left=(layer("nm", 1, gamma=0.3),)), ValueError, ["sequence of 1", "pair"]),
    ("pair of three", dict(right=[layer("nm", 1, gamma=0.3)] * 3), ValueError, ["sequence of 3", "pair"]),
    ("pair with None", dict(left=(layer("nm", 1, gamma=0.3), None)), TypeError, ["pair items"]),
    ("pair with 2-col layer", dict(left=(layer("nm", 2, gamma=0.3), layer("nm", 1, gamma=0.3))), ValueError, ["width 2"]),
    ("string lead", dict(left="nm"), TypeError, ["left lead", "str"]),
    ("number lead", dict(right=3), TypeError, ["right lead", "int"]),
    ("lead in another basis", dict(left=layer("am", 1, w=0.4)), ValueError, ["spin"]),
    ("lead param nan", dict(left=layer("nm", 1, gamma=float("nan"))), ValueError, ["gamma", "finite"]),
    ("lead param unknown", dict(left=layer("nm", 1, gama=0.3)), ValueError, ["gama", "did you mean 'gamma'"]),
    ("misspelled width", dict(width="opne"), ValueError, ["width", "did you mean 'open'"]),
    ("period 3", dict(period=3), ValueError, ["period", "None, 1 or 2"]),
    ("period True", dict(period=True), ValueError, ["period"]),
    ("misspelled argument", dict(lefft=None), TypeError, ["lefft", "did you mean 'left'"]),
]


@pytest.mark.parametrize("kwargs,exc,words", [c[1:] for c in _LEAD_BAD], ids=[c[0] for c in _LEAD_BAD])
def test_attach_leads_refuses_bad_leads(kwargs, exc, words):
    s = heterostructure([layer("nm", 2, gamma=0.3)], N_y=4)
    with pytest.raises(exc) as err:
        attach_leads(s, **kwargs)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_attach_leads_refuses_a_lead_with_bonds_that_skip_a_column():
    """A lead model with a (2, 0) bond cannot be a one-column lead: refused, pointing to period=2 (which works)."""
    from orbsym.symbolic.models import Model
    from orbsym.systems import _builtin_model

    nm = _builtin_model("nm", "orbital")
    far = Model("nm_far", nm.generators, {**nm.hoppings, (2, 0): nm.hoppings[(1, 0)] / 5}, nm.onsite)
    s = heterostructure([layer("nm", 2, gamma=0.3)], N_y=4)
    with pytest.raises(ValueError, match=r"right lead: .*\(2, 0\).*skip a cell.*period=2"):
        attach_leads(s, right=layer(far, 1, gamma=0.3))
    assert attach_leads(s, right=layer(far, 1, gamma=0.3), period=2).period == 2


def test_attach_leads_refuses_lead_columns_of_another_dim():
    s = heterostructure([layer("nm", 2, gamma=0.3)], N_y=4)
    spin = heterostructure([layer("am", 1, w=0.4)], N_y=4, basis="spin").lattice.columns[0]
    with pytest.raises(ValueError, match="2 states per site.*has 3"):
        attach_leads(s, left=spin)
    with pytest.raises(ValueError, match="2 states per site"):
        attach_leads(s, right=(spin, spin), period=2)
    with pytest.raises(TypeError, match="needs an orbsym.systems.System"):
        attach_leads(s.lattice)


def test_strip_rate_and_transmission_fast_forms_match_the_dense_ones():
    """The O(S^2 d^3) d<J>/dt of the strip and the two-product transmission trace agree with the direct forms."""
    from types import SimpleNamespace

    from orbsym.numeric.negf import _dag, _transmission
    from orbsym.numeric.realspace import angular_momentum_rate

    rng = np.random.default_rng(3)
    d, N_x, N_y = 3, 3, 4
    n = N_x * N_y * d

    def herm(m):
        a = rng.normal(size=(m, m)) + 1j * rng.normal(size=(m, m))
        return a + a.conj().T

    lat = SimpleNamespace(dim=d, N_x=N_x, N_y=N_y, generators=[herm(d) for _ in range(3)])
    h, rho = herm(n), herm(n)
    for p in (None, "x", "y", "z"):
        np.testing.assert_allclose(_site_rate(lat, h, rho, p), angular_momentum_rate(lat, h, rho, p), atol=1e-10)
    GL, G, GR = (rng.normal(size=(5, 4, 4)) + 1j * rng.normal(size=(5, 4, 4)) for _ in range(3))
    np.testing.assert_allclose(_transmission(GL, G, GR), np.einsum("bij,bjk,bkl,bli->b", GL, G, GR, _dag(G)).real, rtol=1e-12)


def test_bias_beyond_the_bandwidth_saturates_instead_of_a_silent_zero():
    """Every window node used to fall outside the band at |V| >> bandwidth (current exactly 0); the window
    is now clipped to the spectrum: the current saturates, and small windows keep their nodes exactly."""
    from orbsym.numeric.negf import window_rule

    L = attach_leads(heterostructure([layer("nm", 1, gamma=0.3)], N_y=2))
    ref = transport(L, T=0.0, bias=20.0, n_energy=200).landauer_current()
    huge = transport(L, T=0.0, bias=1e100, n_energy=200)
    assert ref > 1.0 and abs(huge.landauer_current() - ref) < 1e-9 * ref
    assert huge.info["energy_error_estimate"]["rel"] < 1e-4
    for args in ((0.05, -0.05, 0.01, 200), (0.1, 0.0, 0.0, 30)):
        a, b = window_rule(*args), window_rule(*args, bounds=(-10.0, 10.0))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert window_rule(50.0, 40.0, 0.01, 20, bounds=(-5.0, 5.0))[0].size == 0


def test_a_lead_given_as_a_layer_takes_the_systems_parameter_defaults():
    """heterostructure(..., mu=0.1, t=1.2): a lead layer("nm", gamma=0.3) is the same column as the
    region's own continuation (it used to get the package defaults mu = -0.2, t = 1 silently)."""
    s = heterostructure([layer("nm", 3, gamma=0.3)], N_y=6, mu=0.1, t=1.2)
    own = attach_leads(s)
    given = attach_leads(s, left=layer("nm", gamma=0.3), right=layer("nm", gamma=0.3))
    for col in (given.lattice.columns[0], given.lattice.columns[-1]):
        assert col.params["mu"] == 0.1 and col.params["t"] == 1.2
    a, b = transport(own, T=0.05), transport(given, T=0.05)
    np.testing.assert_allclose(b.conductance()["total"], a.conductance()["total"], rtol=1e-12)
    np.testing.assert_allclose(b.densities()["charge"], a.densities()["charge"], atol=1e-13)
