"""Linear response of films (E_y and E_z) against a dense real-space Sylvester solve, and by symmetry."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "numeric"))
from film_realspace import film_hamiltonian, film_kernel  # noqa: E402
from kubo_helpers import eigen_parts, sylvester_response  # noqa: E402
from test_film import film_columns  # noqa: E402

from orbsym.numeric import Lattice, fermi  # noqa: E402
from orbsym.numeric.film import solve_film_kubo  # noqa: E402
from orbsym.numeric.observables import KERNEL_NAMES  # noqa: E402

N_Y = 3


def _displacement(N_x, N_y, N_z, dim, axis):
    """Minimum-image displacement along y or z between the states of the film (the bond's own
    displacement when every |dy|, |dz| <= N // 2)."""
    idx = np.arange(N_x * N_y * N_z)
    coord = {"y": (idx // N_z) % N_y, "z": idx % N_z}[axis]
    n = {"y": N_y, "z": N_z}[axis]
    d = (coord[None, :] - coord[:, None] + n // 2) % n - n // 2
    return np.repeat(np.repeat(d, dim, axis=0), dim, axis=1)


@pytest.mark.parametrize("field", ["y", "z"])
@pytest.mark.parametrize("basis, interface", [("user", "fm"), ("spin", "metal"), ("orbital", "fm")])
def test_film_kubo_equals_real_space_sylvester(field, basis, interface):
    """Every kernel's response to E_y or E_z (total, Fermi surface, Fermi sea) == one dense real-space
    film with a Peierls vector potential along the field, delta from -i[H, delta] - eta delta = df/dk."""
    T, eta = 0.3, 0.1
    N_Z = 5 if basis == "user" else 3  # the user model's (0, 0, 2) bond needs N_z >= 5 for a unique displacement
    cols = film_columns(basis, np.random.default_rng(5))
    lat = Lattice(cols, N_Y, interface, N_z=N_Z)
    sol = solve_film_kubo(lat, T, eta, lat.offset_pairs(KERNEL_NAMES), field)
    spec = [(c.kernels, c.params, c.magnetic) for c in cols]
    H = film_hamiltonian(spec, N_Y, N_Z, interface)
    V = H * (-1j * _displacement(lat.N_x, N_Y, N_Z, lat.dim, field))  # dH/dA with t -> t e^{-i A d}; v = dh/dk = -dH/dA
    E, U = np.linalg.eigh(H)
    f = fermi(E, T)
    D = E[:, None] - E[None, :]
    deg = np.abs(D) <= 1e-9
    Fd = np.where(deg, -f * (1 - f) / T, (f[:, None] - f[None, :]) / np.where(deg, 1.0, D))
    dF = U @ (Fd * (U.conj().T @ V @ U)) @ U.conj().T  # d f(H(A))/dA
    parts = {"total": sylvester_response(H, -dF, eta)}
    parts["fermi_surface"], parts["fermi_sea"] = eigen_parts(H, -V, T, eta)
    from orbsym.numeric import Observables

    biggest = 0.0
    for part, delta in parts.items():
        obs = Observables(lat, sol.bands[part])
        for ks in {id(c.kernels): c.kernels for c in cols}.values():
            for name, pol, bond in ks.operators:
                if name not in KERNEL_NAMES or not lat.has_kernel(name, pol, bond):
                    continue
                ref = film_kernel(spec, delta.T, N_Y, N_Z, name, pol, bond, interface)
                got = obs.evaluate(name, pol, bond)
                np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10, err_msg=f"{part} {name} {pol} {bond}")
                biggest = max(biggest, float(np.abs(ref).max(initial=0.0)))
    assert biggest > 1e-3  # a nonzero response was compared


def test_ez_on_a_cubic_film_is_ey_with_y_and_z_exchanged():
    """Cubic NN metal + FM along x: swapping y <-> z maps the film onto itself with d_xz <-> d_xy,
    so the E_z response along z equals the E_y response along y (charge), and the spin film likewise
    for every polarization."""
    from orbsym.response import response
    from orbsym.systems import bilayer

    s = bilayer(N_x=4, N_y=5, N_z=5, gamma=0.4, m_FM="x")
    ry, rz = response(s, T=0.2, eta=0.1, field="y"), response(s, T=0.2, eta=0.1, field="z")
    np.testing.assert_allclose(rz.currents("bond", "z")["charge"], ry.currents("bond", "y")["charge"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(rz.currents("bond", "y")["charge"], ry.currents("bond", "z")["charge"], rtol=0, atol=1e-12)
    assert np.abs(ry.currents("bond", "y")["charge"]).max() > 1e-2
    sp = bilayer(N_x=4, N_y=5, N_z=5, basis="spin", m_FM="x")
    ry, rz = response(sp, T=0.2, eta=0.1, field="y"), response(sp, T=0.2, eta=0.1, field="z")
    for p in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(rz.densities()[p], ry.densities()[p], rtol=0, atol=1e-12)
        np.testing.assert_allclose(rz.currents("bond", "z")[p], ry.currents("bond", "y")[p], rtol=0, atol=1e-12)
