"""Films against the independent dense real-space slow path (tests/film_realspace.py).

Every kernel, F, N and the per-column balance of the k_z-sector engines (dense and Green's
function) against one dense diagonalization of the whole small film, periodic in y and z, for the
orbital, spin and a user basis (complex diagonal bonds), both interface rules.
"""

import numpy as np
import pytest
from film_realspace import film_correlations, film_hamiltonian, film_kernel, film_rate
from test_film import film_columns

from orbsym.numeric import Lattice, Observables
from orbsym.numeric.film import solve_film
from orbsym.numeric.observables import KERNEL_NAMES

N_Y, N_Z, T = 3, 3, 0.15


def _kernel_keys(lattice):
    keys = set()
    for c in lattice.columns:
        for name, pol, bond in c.kernels.operators:
            if name in KERNEL_NAMES and lattice.has_kernel(name, pol, bond):
                keys.add((name, pol, bond))
    return sorted(keys, key=str)


@pytest.mark.parametrize("basis", ["orbital", "spin", "user"])
@pytest.mark.parametrize("interface", ["fm", "metal"])
def test_film_equals_dense_realspace(basis, interface):
    rng = np.random.default_rng(11)
    cols = film_columns(basis, rng)
    lat = Lattice(cols, N_Y, interface, N_z=N_Z)
    engine = "dense" if basis == "user" else "greens"  # diagonal bonds: the sectors' greens engine takes NN only
    sol = solve_film(lat, T, lat.offset_pairs(KERNEL_NAMES), engine=engine)
    obs = Observables(lat, sol.bands)
    spec = [(c.kernels, c.params, c.magnetic) for c in cols]
    H = film_hamiltonian(spec, N_Y, N_Z, interface)
    rho, F, N = film_correlations(H, T, N_y=N_Y, N_z=N_Z)
    assert sol.free_energy() == pytest.approx(F, abs=1e-10)
    assert sol.particle_number() == pytest.approx(N, abs=1e-10)
    keys = _kernel_keys(lat)
    assert len(keys) > 40 and any(k[2] is not None and k[2][2] != 0 for k in keys)  # z and diagonal bonds covered
    for name, pol, bond in keys:
        ref = film_kernel(spec, rho, N_Y, N_Z, name, pol, bond, interface)
        np.testing.assert_allclose(obs.evaluate(name, pol, bond), ref, rtol=0, atol=1e-10, err_msg=f"{name} {pol} {bond}")
    for p in "xyz":
        rate = film_rate(spec, rho, H, N_Y, N_Z, p)
        np.testing.assert_allclose(obs.time_derivative(p), rate, rtol=0, atol=1e-10)
        for kind in ("bond", "forward"):
            assert np.abs(obs.continuity_residual(p, kind)).max() < 1e-12
