"""A material heterostructure: a Slater-Koster heavy metal (Pt, with SOC) on a Stoner-split magnet,
cut into an fcc (111) film, driven by an in-plane E: OAM accumulation and torques per layer with the
driven per-site balance (checked by SiteLattice.respond)."""

import numpy as np
import pytest

from orbsym.materials.films import film_stack
from orbsym.materials.slater_koster import material


@pytest.fixture(scope="module")
def stack():
    pt = material("Pt", soc={"Pt": {"d": 0.6}})
    a = np.sqrt(2) * np.linalg.norm(pt.cell[0])  # Pt's cubic constant: the magnet is strained onto it (commensurate stack)
    mag = material("Pd", lattice_constant=a, spinful=True).with_exchange(1.0, direction=(1.0, 0.0, 0.0))
    mu = pt.fermi_level(10.0, N_k=8)  # 10 valence electrons (5d9 6s1) in the 18 spinful s, p, d states
    return pt, mag, mu


def test_strained_material_keeps_its_bands_in_units_of_the_strain():
    pt = material("Pt")
    a = np.sqrt(2) * np.linalg.norm(pt.cell[0])
    strained = material("Pt", lattice_constant=1.1 * a)
    frac = np.array([[0.1, 0.2, 0.3], [0.5, 0.0, 0.25]])
    np.testing.assert_allclose(pt.bands(pt.k_cartesian(frac)), strained.bands(strained.k_cartesian(frac)), atol=1e-12)
    assert strained.volume == pytest.approx(1.1**3 * pt.volume)


def test_pt_on_a_magnet_response_per_layer(stack):
    pt, mag, mu = stack
    lat = film_stack([(pt, 3), (mag, 1)], N_y=3, N_z=3, mu=mu, generators="L")
    resp = lat.respond(0.05, 0.05, field="y")
    assert resp.max_abs_residual < 1e-8 * max(1.0, float(np.abs(resp["total"].density("z")).max()))
    tot = resp["total"]
    Lz = tot.density("z")[:, 0, 0]
    assert np.abs(Lz).max() > 1e-6  # an orbital accumulation is driven across the layers
    # the magnet layer (x = 3) receives an orbital torque: -div j + tau balances there too
    assert np.abs(tot.torque("z")[3]).max() > 0
