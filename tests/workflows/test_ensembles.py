"""Disorder ensembles (orbsym.workflows.ensembles): per-realization values against direct solves, the
statistics, the balance check and the clean limit."""

import functools

import numpy as np
import pytest

from orbsym.numeric.disorder import Anderson, RandomHopping, Vacancies, realize
from orbsym.numeric.sites import BalanceError, Hopping, Site, SiteLattice
from orbsym.workflows.ensembles import ensemble

L = np.array([[[0, 0, 0], [0, 0, 1j], [0, -1j, 0]], [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]]])


def clean(N_x=4, width=2):
    cell = (Site("m", (0, 0, 0), np.diag([0.1, -0.2, 0.3]), L),)
    hops = [Hopping("m", "m", (1, 0), -np.diag([0.4, 1.0, 1.0])), Hopping("m", "m", (0, 1), -np.diag([1.0, 0.4, 1.0])),
            Hopping("m", "m", (1, 1), 0.2 * np.ones((3, 3)))]
    return SiteLattice(cell, hops, N_x=N_x, width=width)


DIS = (Anderson(1.0), RandomHopping(0.3), Vacancies(0.1))


def test_realizations_equal_direct_solves_and_statistics():
    ds = ensemble(clean, DIS, [3, 8, 21], T=0.1)
    assert list(ds.realization.values) == [3, 8, 21]
    for r, seed in enumerate([3, 8, 21]):
        obs = realize(clean(), DIS, seed=seed).lattice.solve(0.1)
        assert ds.free_energy.values[r] == pytest.approx(obs.free_energy(), abs=1e-12)
        np.testing.assert_allclose(ds.density.values[r, 3], obs.density("z"), atol=1e-12)
    d = ds.density.values
    np.testing.assert_allclose(ds.density_mean.values, d.mean(0), atol=1e-14)
    np.testing.assert_allclose(ds.density_stderr.values, d.std(0, ddof=1) / np.sqrt(3), atol=1e-14)
    assert ds.free_energy_stderr.item() > 0
    assert ds.density_mean.attrs["units"] == ds.density.attrs["units"] and "3 realizations" in ds.density_mean.attrs["description"]
    assert "Anderson" in ds.attrs["disorder"] and ds.attrs["realizations"] == 3


def test_clean_limit_has_no_spread():
    ds = ensemble(functools.partial(clean, 3, 2), Anderson(0.0), 3, T=0.1, observables=("free_energy",))
    ref = clean(3, 2).solve(0.1).free_energy()
    np.testing.assert_allclose(ds.free_energy.values, ref, atol=1e-13)
    assert ds.free_energy_stderr.item() == pytest.approx(0.0, abs=1e-13)


def test_balance_is_checked_in_every_realization():
    with pytest.raises(BalanceError, match="seed=0"):
        ensemble(clean, DIS, 2, T=0.1, observables=("free_energy",), tol=0.0)


def test_refusals():
    with pytest.raises(ValueError, match="distinct integers"):
        ensemble(clean, DIS, [1, 1], T=0.1)
    with pytest.raises(ValueError, match=">= 1"):
        ensemble(clean, DIS, 0, T=0.1)
    with pytest.raises(TypeError, match="disorder must be"):
        ensemble(clean, "anderson", 2, T=0.1)


def test_average_independent_of_the_worker_count():
    serial = ensemble(clean, DIS, 4, T=0.1, observables=("free_energy", "boundary_current"))
    pooled = ensemble(clean, DIS, 4, T=0.1, observables=("free_energy", "boundary_current"), workers=2)
    for var in ("free_energy", "boundary_current_mean", "boundary_current_stderr"):
        np.testing.assert_array_equal(pooled[var].values, serial[var].values)
