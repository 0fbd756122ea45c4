"""``orbsym.transport.transport(..., disorder=...)``: disordered open strips between clean leads.

* W = 0 is the clean open strip (:class:`StripTransportResult`, the fast strip engine) to 1e-10, through the
  ensemble (conductance, Landauer current, per-site densities, boundary currents, layer torques) and site by
  site through the slow path (:func:`strip_site_sample` + :func:`site_transport`: bond currents along x and y,
  per-site torques and their on-site part), in linear response and at a finite bias.
* A seeded ensemble: each realization equals its direct solve (realize the sample, place it between the clean
  lead cells), the lead cells stay clean, and the layer balance j(x-1|x) - j(x|x+1) + tau(x) = 0 holds in
  every realization; an orbital-independent potential adds no on-site torque, a random crystal field does.
* The mean does not depend on the number of worker processes.
* Bad input is refused with the reason before anything runs.
"""

import numpy as np
import pytest

from orbsym.numeric.disorder import Anderson, Potential, RandomHopping, Vacancies, realize
from orbsym.numeric.sites import SiteObservables
from orbsym.numeric.sites_transport import site_transport
from orbsym.systems import heterostructure, layer
from orbsym.transport import DisorderedTransportResult, attach_leads, strip_site_sample, transport
from orbsym.workflows.ensembles import _embed

POLS = ("charge", "x", "y", "z")


def strip(N_y=3, width="open"):
    """NM(2) | FM(x) | FM(z) | NM(1): driven OAM along every axis (the FM columns inject x and z, precession y)."""
    s = heterostructure([layer("nm", 2, gamma=0.3), layer("fm", 1, m="x"), layer("fm", 1, m="z"), layer("nm", 1, gamma=0.3)], N_y=N_y, mu=-0.2)
    return attach_leads(s, width=width)


@pytest.fixture(scope="module")
def leaded():
    return strip()


def _close(a, b, what, tol=1e-10):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    scale = max(1.0, float(np.abs(b).max(initial=0.0)))
    assert np.abs(a - b).max(initial=0.0) <= tol * scale, (what, np.abs(a - b).max())


def other_leads():
    """Leads of other models than the end columns (an FM lead on the left), interface rule "metal": the contact
    bonds follow the rule, not the leads' own coupling."""
    s = heterostructure([layer("nm", 2, gamma=0.3), layer("fm", 1, m="x"), layer("nm", 2, gamma=0.3)], N_y=3, mu=-0.2, interface="metal")
    return attach_leads(s, width="open", left=layer("fm", 1, m="z"), right=layer("nm", 1, gamma=0.6))


@pytest.mark.parametrize("kw, which", [(dict(T=0.05, n_energy=4), "own"), (dict(T=0.05, bias=0.1, n_energy=10), "own"), (dict(T=0.05, n_energy=4), "other")],
                         ids=["linear", "bias", "other-leads"])
def test_zero_disorder_is_the_clean_open_strip(leaded, kw, which):
    if which == "other":
        leaded = other_leads()
    ref = transport(leaded, **kw)
    res = transport(leaded, disorder=Anderson(0.0), **kw)
    assert isinstance(res, DisorderedTransportResult) and res.engine.startswith("NEGF (orbsym.numeric.sites_transport")
    N, Ny = leaded.N_x, leaded.lattice.N_y
    if "bias" not in kw:
        _close(res.conductance()["mean"], ref.conductance(per_row=False)["total"], "conductance")
        _close(res.conductance()["per_row_mean"], ref.conductance()["total"], "conductance per row")
    _close(res.mean("landauer_current"), ref.landauer_current(per_row=False), "Landauer current")
    dens, cur, tq = ref.densities(), ref.currents("bond"), ref.torques()
    for i, p in enumerate(POLS):
        _close(res.mean("density")[i][:, :, 0], dens[p], f"density {p}")
        _close(res.mean("boundary_current")[i], np.asarray(cur[p]).sum(axis=1), f"boundary current {p}")  # N_x + 1, contacts included
        if p != "charge":
            _close(res.mean("layer_torque")[i], tq[p]["total"].sum(axis=1), f"layer torque {p}")
            _close(res.mean("layer_torque_onsite")[i], tq[p]["exchange"].sum(axis=1), f"on-site layer torque {p}")
            assert np.abs(tq[p]["total"]).max() > 1e-4, p  # every polarization is driven: the comparison means something
    assert np.abs(res.mean("layer_torque_disorder")).max() < 1e-12  # W = 0: no disorder term
    assert res.mean("boundary_current").shape == (4, N + 1) and res.mean("density").shape == (4, N, Ny, 1)

    # slow path, site by site: the same strip as a SiteLattice between its clean lead cells
    sample, contacts, left, right = strip_site_sample(leaded)
    assert (sample.N_x, sample.width, contacts.N_x) == (N, Ny, N + 2)
    obs = site_transport(contacts, left=left, right=right, solver="dense", equilibrium=False, **kw).driven
    offs = [tuple(h[2]) for h in contacts.hoppings]
    hx, hy = offs.index((1, 0)), offs.index((0, 1))
    cy = ref.currents("bond", "y")
    for i, p in enumerate(POLS):
        pol = None if p == "charge" else p
        _close(obs.current(pol)[hx][: N + 1], cur[p], f"x bond current per row {p}")
        _close(obs.current(pol)[hy][1 : N + 1, : Ny - 1], cy[p], f"y bond current {p}")
        if pol is not None:
            _close(obs.torque(pol)[1 : N + 1, :, 0], tq[p]["total"], f"site torque {p}")
            _close(obs.onsite_torque(pol)[1 : N + 1, :, 0], tq[p]["exchange"], f"site exchange torque {p}")


DIS = (Anderson(0.8, per_orbital=True), RandomHopping(0.3), Vacancies(0.1))


def test_seeded_ensemble_per_realization_balance_and_clean_leads(leaded):
    res = transport(leaded, T=0.05, n_energy=4, disorder=DIS, realizations=3, seed=4)
    ds = res.dataset
    assert list(ds.realization.values) == [4, 5, 6] and res.seeds == [4, 5, 6]
    bal = res.layer_balance()  # [realization, polarization, x]: current lost in a layer = its torque
    assert bal.shape == (3, 4, leaded.N_x) and np.abs(bal).max() < 1e-10
    assert (ds["balance_residual"].values < 1e-10).all() and res.max_balance_residual < 1e-10
    assert np.abs(ds["layer_torque"].values[:, 1:]).max() > 1e-3  # the balance is not trivially zero
    # the random crystal field (per-orbital potential) exerts a torque of its own
    assert np.abs(ds["layer_torque_disorder"].values[:, 1:]).max() > 1e-4
    sample, contacts, left, right = strip_site_sample(leaded)
    for r, seed in enumerate(res.seeds):  # each realization is its direct solve, with clean lead cells
        emb = _embed(contacts, realize(sample, DIS, seed=seed).lattice)
        for x in (0, -1):
            assert np.array_equal(emb.site_onsite(0)[x], contacts.site_onsite(0)[x]) and not emb.vacant[x].any()
        direct = site_transport(emb, T=0.05, n_energy=4, left=left, right=right, equilibrium=False)
        assert abs(direct.conductance()["total"] - ds["conductance"].values[r]) < 1e-10
        o = direct.driven
        tau = np.stack([o.torque(p).sum(axis=(1, 2)) for p in (None, "x", "y", "z")])[:, 1:-1]
        _close(ds["layer_torque"].values[r], tau, "layer torque of a realization")
        clean_onsite = SiteObservables(contacts, o.bands).onsite_torque("x")
        clean_onsite[emb.vacant] = 0
        _close(ds["layer_torque_disorder"].values[r, 1], (o.onsite_torque("x") - clean_onsite).sum(axis=(1, 2))[1:-1], "disorder torque")
    # an orbital-independent potential commutes with L: no on-site torque of its own
    plain = transport(leaded, T=0.05, n_energy=4, disorder=Anderson(1.0), realizations=2)
    assert np.abs(plain.dataset["layer_torque_disorder"].values).max() < 1e-12
    assert np.abs(plain.layer_balance()).max() < 1e-10


def test_explicit_potential_matches_anderson_draw(leaded):
    """An explicit Potential of the region's shape (N_x, N_y) on site "site" is the configuration given."""
    rng = np.random.default_rng(1)
    V = rng.uniform(-0.5, 0.5, (leaded.N_x, leaded.lattice.N_y))
    res = transport(leaded, T=0.05, n_energy=4, disorder=Potential("site", V))
    sample, contacts, left, right = strip_site_sample(leaded)
    direct = site_transport(_embed(contacts, realize(sample, Potential("site", V)).lattice), T=0.05, n_energy=4, left=left, right=right, equilibrium=False)
    assert abs(res.conductance()["mean"] - direct.conductance()["total"]) < 1e-10
    assert np.isnan(res.stderr("conductance"))  # one realization: no standard error


def test_mean_independent_of_workers():
    small = strip(N_y=2)
    one = transport(small, T=0.05, n_energy=2, disorder=Anderson(1.0), realizations=2, workers=1)
    two = transport(small, T=0.05, n_energy=2, disorder=Anderson(1.0), realizations=2, workers=2)
    for var in ("conductance", "density", "boundary_current", "layer_torque"):
        assert np.allclose(one.mean(var), two.mean(var), rtol=0, atol=1e-13), var


def test_refusals(leaded):
    with pytest.raises(ValueError, match=r"width='open'.*supercell.*use width='open'"):
        transport(strip(width="periodic"), T=0.05, disorder=Anderson(1.0))
    with pytest.raises(ValueError, match="realizations applies only to a disorder ensemble"):
        transport(leaded, T=0.05, realizations=3)
    with pytest.raises(ValueError, match="seed applies only to a disorder ensemble"):
        transport(leaded, T=0.05, seed=3)
    with pytest.raises(ValueError, match="realizations must be an integer >= 1, got 0"):
        transport(leaded, T=0.05, disorder=Anderson(1.0), realizations=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        transport(leaded, T=0.05, disorder=Anderson(1.0), seed=-1)
    with pytest.raises(ValueError, match="split = 0.3 does not apply with disorder"):
        transport(leaded, T=0.05, bias=0.1, split=0.3, disorder=Anderson(1.0))
    with pytest.raises(ValueError, match="energy_tol does not apply with disorder"):
        transport(leaded, T=0.05, energy_tol=1e-3, disorder=Anderson(1.0))
    with pytest.raises(ValueError, match="eta = 0.01 does not apply with disorder"):
        transport(leaded, T=0.05, eta=0.01, disorder=Anderson(1.0))
    with pytest.raises(TypeError, match="disorder must be one or more of"):
        transport(leaded, T=0.05, disorder="anderson:1")
    with pytest.raises(ValueError, match=r"Anderson strength W must be >= 0"):
        transport(leaded, T=0.05, disorder=Anderson(-1.0))
    with pytest.raises(ValueError, match=r"Potential values for site 'site' must have shape \(N_x, width\) = \(5, 3\)"):
        transport(leaded, T=0.05, disorder=Potential("site", np.zeros((7, 3))))
    with pytest.raises(ValueError, match="explicit arrays alone .* are one configuration"):
        transport(leaded, T=0.05, disorder=Potential("site", np.zeros((5, 3))), realizations=2)
    with pytest.raises(ValueError, match="disconnects the leads"):
        transport(leaded, T=0.05, disorder=Vacancies(1.0))
    s = heterostructure([layer("nm", 2, gamma=0.3)], N_y=2)
    with pytest.raises(ValueError, match="period=2.*not supported"):
        transport(attach_leads(s, width="open", period=2), T=0.05, disorder=Anderson(1.0))


def test_store_fingerprint_names_the_contacts():
    """A resumed store must not be reused when only the clean contact cells changed (the interface rule of the
    lead-sample bonds): the fingerprint digests the contacts lattice."""
    from orbsym.workflows.ensembles import _fingerprint

    def contacts(interface):
        s = heterostructure([layer("nm", 2, gamma=0.3)], N_y=2, mu=-0.2, interface=interface)
        return strip_site_sample(attach_leads(s, width="open", left=layer("fm", 1, m="z")))

    (sample_fm, contacts_fm, *_), (sample_metal, contacts_metal, *_) = contacts("fm"), contacts("metal")
    base = dict(T=0.05, observables=("conductance",), response=None, eta=None, part="total", engine=None)
    tr = dict(solver="auto", mu=0.0, bias=None, n_energy=4, left=None, right=None)
    prints = [_fingerprint(sample, [Anderson(1.0)], [0, 1], dict(base, transport=dict(tr, contacts=c)))
              for sample, c in ((sample_fm, contacts_fm), (sample_metal, contacts_metal), (sample_fm, contacts_fm))]
    assert prints[0] == prints[2]  # deterministic
    assert prints[0] != prints[1]  # same sample, other contact bonds
