"""The paper's Eq. (7) site current (Observables.eq7_current) against an independent reference.

The reference (tests/realspace_helpers.eq7_operator) builds the Eq. (7) operator of one site as a
dense one-body matrix, directly from the blocks of the real-space Hamiltonian
(orbsym.numeric.realspace.dense_hamiltonian, which carries the interface rule of
orbsym.numeric.lattice), with no kernel of the symbolic layer, and takes ``<c^dag O c> = Tr(rho O)``.
The reading of Eq. (7) is the documented one (README, orbsym.symbolic.continuity.paper_current):
the site-centred average of the forward and backward one-sided forms, each with the hopping of its
own bond, twice the printed value (each bond counted once)::

    j(n) = [ i c_n^dag J h_{n,n+e} (c_{n+e} - c_n) + i c_n^dag J h_{n,n-e} (c_n - c_{n-e}) ] / 2 + h.c.

Where both bonds of the site carry the same Hermitian hopping ``t`` this is the printed central
difference ``(i/2) c_n^dag J t (c_{n+e} - c_{n-e}) + h.c.`` (checked too).  Compared on random
density matrices (any state) and on the thermal state of the dense real-space solve vs the Bloch
engine, for trilayers with non-parallel magnets and both interface rules.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from realspace_helpers import eq7_operator, random_correlation

from orbsym.numeric import KERNEL_NAMES, POLARIZATIONS, Observables, solve_bloch
from orbsym.numeric.realspace import RealSpaceObservables, dense_hamiltonian, solve_realspace
from orbsym.systems import trilayer

_SYSTEMS = {}
#: (metal, interface) -> trilayer with non-parallel magnets (x and a tilted direction)
CASES = [("nm", "fm"), ("nm", "metal"), ("am", "fm"), ("am", "metal")]


def system(metal, interface, N_y=4):
    key = (metal, interface, N_y)
    if key not in _SYSTEMS:
        mR = (0.2, 0.7, np.sqrt(1 - 0.53))
        kw = dict(gamma=0.5) if metal == "nm" else dict(w=0.4)
        _SYSTEMS[key] = trilayer(metal=metal, N_x=6, N_y=N_y, N_FM=1, m_L="x", m_R=mR, mu=-0.3, interface=interface, **kw).lattice
    return _SYSTEMS[key]


def reference(lat, h, G, polarization, direction):
    """Row-averaged Tr(rho O) of the Eq. (7) operator per column (x: NaN at the end columns)."""
    N, Ny = lat.N_x, lat.N_y
    out = np.full(N, np.nan)
    for x in range(1, N - 1) if direction == "x" else range(N):
        vals = [np.sum(eq7_operator(lat, h, x, y, polarization, direction) * G) for y in range(Ny)]
        assert max(abs(v.imag) for v in vals) < 1e-12  # a Hermitian operator
        out[x] = np.mean(vals).real
    return out


@settings(max_examples=8)
@given(seed=st.integers(0, 2**31), case=st.sampled_from(CASES))
def test_eq7_current_on_random_states(seed, case):
    """Any state (random Hermitian G with occupations in [0, 1]): eq7_current == Tr(rho O_Eq7), both
    directions, every polarization, to 1e-12."""
    lat = system(*case)
    h = dense_hamiltonian(lat)
    G = random_correlation(h.shape[0], np.random.default_rng(seed))
    obs = RealSpaceObservables(lat, G)
    for p in POLARIZATIONS:
        for direction in ("x", "y"):
            ref = reference(lat, h, G, p, direction)
            np.testing.assert_allclose(obs.eq7_current(p, direction), ref, rtol=0, atol=1e-12, err_msg=f"{case} {p} {direction}")


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_eq7_current_of_the_bloch_engine_on_the_thermal_state(case):
    """Thermal state: the Bloch engine's eq7_current == Tr(rho O_Eq7) on the dense real-space G."""
    lat = system(*case, N_y=5)
    rs = solve_realspace(lat, 0.1)
    obs = Observables(lat, solve_bloch(lat, 0.1, lat.offset_pairs(KERNEL_NAMES)).bands)
    size = 0.0
    for p in POLARIZATIONS:
        for direction in ("x", "y"):
            ref = reference(lat, rs.h, rs.G, p, direction)
            np.testing.assert_allclose(obs.eq7_current(p, direction), ref, rtol=0, atol=1e-12, err_msg=f"{case} {p} {direction}")
            size = max(size, np.nanmax(np.abs(ref)))
    assert size > 1e-3  # non-parallel magnets: a finite equilibrium current was compared


def test_reference_is_the_printed_central_difference_where_the_hopping_is_uniform():
    """At columns whose two x-bonds carry the same Hermitian hopping t (metal interior; every interior
    column for interface 'metal'), O_Eq7 is the printed (i/2) c_n^dag J t (c_{n+e} - c_{n-e}) + h.c."""
    for metal, interface in CASES:
        lat = system(metal, interface)
        h = dense_hamiltonian(lat)
        S, d = lat.N_x * lat.N_y, lat.dim
        hb = h.reshape(S, d, S, d)
        checked = 0
        for x in range(1, lat.N_x - 1):
            t_right, t_left = lat.hop_x[x], lat.hop_x[x - 1]
            if not (np.allclose(t_right, t_left) and np.allclose(t_right, t_right.conj().T)):
                continue
            for p in POLARIZATIONS:
                J = np.eye(d) if p is None else lat.generators["xyz".index(p)]
                y = 1
                n, right, left = x * lat.N_y + y, (x + 1) * lat.N_y + y, (x - 1) * lat.N_y + y
                A = np.zeros((S, d, S, d), complex)
                A[n, :, right, :] += 0.5j * J @ t_right
                A[n, :, left, :] -= 0.5j * J @ t_right
                A = A.reshape(S * d, S * d)
                np.testing.assert_allclose(hb[n, :, right, :], t_right)
                np.testing.assert_allclose(eq7_operator(lat, h, x, y, p, "x"), A + A.conj().T, rtol=0, atol=1e-14)
                checked += 1
        assert checked >= (4 if interface == "metal" else 2) * len(POLARIZATIONS), (metal, interface, checked)
