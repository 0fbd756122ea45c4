"""Cross-code check of the open-strip transport against Kwant (skipped when Kwant is absent).

Kwant 1.5 does not pip-install on Python 3.11 + NumPy 2; it builds from the sdist after regenerating
its C files with current Cython (``setup.py build_ext --cython``, then ``pip install --no-build-isolation``).

The Kwant system is built here site by site from orbsym's :class:`~orbsym.numeric.Lattice` (per-column
onsite and bond blocks, and the leads' blocks) -- not from the strip super-lattice
(:func:`orbsym.numeric.strip.strip_lattice`) that orbsym solves, so the strip mapping is checked too.
Kwant's scattering states carry unit current: the left-injected density matrix at energy ``E`` is
``rho_L = sum_n psi_n psi_n^dag / 2 pi`` over the modes of lead 0, and orbsym's linear response
``d<O>/dV = s <O>_{rho_L} - (1 - s) <O>_{rho_R}`` (``s = split``, T = 0, one energy).
"""

import numpy as np
import pytest

from orbsym.numeric import POLARIZATIONS
from orbsym.systems import heterostructure, layer
from orbsym.transport import attach_leads, transport

kwant = pytest.importorskip("kwant")
from kwant.solvers import sparse as kwant_sparse  # noqa: E402


def _rashba_strip(N_y=4, n=2):
    """Orbital-Rashba metal | tilted FM | orbital-Rashba metal, N_y rows, plain-metal leads: x-bond, y-bond,
    exchange and Rashba terms all carry current, and the y-bond OAM currents do not vanish."""
    import sympy as sp

    from orbsym.symbolic.models import Model, multiorbital_metal
    from orbsym.symbolic.spinful import orbital_rashba

    m0 = multiorbital_metal()
    R = orbital_rashba("t2g")
    m = Model("nm_rashba", m0.generators, {d: sp.ImmutableMatrix(m0.hoppings[d] + R[d]) for d in m0.hoppings}, m0.onsite, "Eq. 3 + orbital Rashba", m0.magnetization)
    rashba = layer(m, n, gamma=0.3, alpha_R=0.4)
    s = heterostructure([rashba, layer("fm", 1, m=(0.3, 0.5, 0.8)), rashba], N_y=N_y)
    return attach_leads(s, left=layer("nm", gamma=0.3), right=layer("nm", gamma=0.3), width="open")


def _kwant_system(leaded):
    """The solved lattice of ``leaded`` (region + one lead cell each side) as a finalized Kwant system with
    hard walls in y; ``syst[a, b] = H_ab`` with orbsym's ``h_{n, n+e} = t_e`` (conventions)."""
    lat = leaded.lattice
    assert leaded.period == 1
    rows, d = lat.N_y, lat.dim
    sq = kwant.lattice.square(norbs=d)
    syst = kwant.Builder()
    for x in range(lat.N_x):
        for y in range(rows):
            syst[sq(x, y)] = lat.onsite[x]
    for (bx, by), t in lat.hoppings.items():
        for x in range(lat.N_x - bx):
            for y in range(rows):
                if 0 <= y + by < rows and np.any(t[x] != 0):  # open in y: no bond across the walls
                    syst[sq(x, y), sq(x + bx, y + by)] = t[x]
    for lead, direction in ((leaded.left, -1), (leaded.right, 1)):
        lb = kwant.Builder(kwant.TranslationalSymmetry((direction, 0)))
        for y in range(rows):
            lb[sq(0, y)] = lead.onsite
        for (bx, by), t in (((1, 0), lead.hop_x), ((0, 1), lead.hop_y), ((1, 1), lead.hop_up), ((1, -1), lead.hop_down)):
            for y in range(rows):
                if 0 <= y + by < rows and np.any(t != 0):
                    lb[sq(0, y), sq(bx, y + by)] = t
        syst.attach_lead(lb)
    return syst.finalized()


def _kwant_observables(fsyst, lat, psi):
    """Densities ``(N_x, N_y)``, x-bond ``(N_x - 1, N_y)`` and y-bond ``(N_x, N_y - 1)`` currents of
    ``sum_n psi_n psi_n^dag / 2 pi`` for the polarizations (charge, x, y, z), on the solved lattice.

    orbsym's bond current ``(i/2) c_n^dag {t, J} c_m + h.c.`` (``m = n + e``) is ``(K(m, n) - K(n, m)) / 2``
    with Kwant's ``K(a, b) = i psi_b^dag H_ab^dag J psi_a - i psi_a^dag J H_ab psi_b`` (flow b -> a, J at a)."""
    pos = np.array([s.tag for s in fsyst.sites])
    idx = {tuple(p): i for i, p in enumerate(pos)}
    out = {}
    for p, J in zip(POLARIZATIONS, [np.eye(lat.dim)] + list(lat.generators)):
        dens_op = kwant.operator.Density(fsyst, J)
        dens = sum(dens_op(v) for v in psi) / (2 * np.pi)
        d_ = np.zeros((lat.N_x, lat.N_y))
        d_[pos[:, 0], pos[:, 1]] = dens
        cur = {}
        for name, e, shape in (("x", (1, 0), (lat.N_x - 1, lat.N_y)), ("y", (0, 1), (lat.N_x, lat.N_y - 1))):
            starts = [(x, y) for x in range(shape[0]) for y in range(shape[1])]
            where = [(idx[(x + e[0], y + e[1])], idx[(x, y)]) for x, y in starts] + [(idx[(x, y)], idx[(x + e[0], y + e[1])]) for x, y in starts]
            op = kwant.operator.Current(fsyst, J, where=where)
            k = sum(op(v) for v in psi) / (2 * np.pi)
            n = len(starts)
            cur[name] = (0.5 * (k[:n] - k[n:])).reshape(shape)
        out["charge" if p is None else p] = (d_, cur["x"], cur["y"])
    return out


@pytest.fixture(scope="module")
def strip_and_kwant():
    L = _rashba_strip()
    fsyst = _kwant_system(L)
    return L, fsyst


@pytest.mark.parametrize("split", [1.0, 0.5])
def test_open_strip_scattering_states_equal_kwant(strip_and_kwant, split):
    """Conductance, densities and x-/y-bond currents (charge and L_x, L_y, L_z) of the open strip at one
    energy equal Kwant's scattering states: split = 1 is the left-injected ``rho_L`` alone, split = 1/2
    the antisymmetric combination ``(rho_L - rho_R) / 2``."""
    L, fsyst = strip_and_kwant
    lat = L.lattice
    res = transport(L, T=0.0, split=split)
    smat = kwant_sparse.smatrix(fsyst, 0.0)
    assert abs(smat.transmission(1, 0) - res.conductance(per_row=False)["total"]) < 1e-8
    wf = kwant_sparse.wave_function(fsyst, 0.0)
    left = _kwant_observables(fsyst, lat, wf(0))
    right = _kwant_observables(fsyst, lat, wf(1)) if split != 1.0 else None
    d, jx, jy = res.densities(), res.currents(), res.currents(direction="y")
    for key in ("charge", "x", "y", "z"):
        kd, kx, ky = left[key]
        if right is not None:
            kd, kx, ky = (split * a - (1 - split) * b for a, b in zip(left[key], right[key]))
        np.testing.assert_allclose(d[key], kd[1:-1], rtol=0, atol=1e-9, err_msg=f"density {key}")
        np.testing.assert_allclose(jx[key], kx, rtol=0, atol=1e-9, err_msg=f"x-bond current {key}")  # contact bonds included
        np.testing.assert_allclose(jy[key], ky[1:-1], rtol=0, atol=1e-9, err_msg=f"y-bond current {key}")
    # the comparison is not between zeros: the Rashba strip carries y-bond OAM currents and OAM densities
    assert np.abs(jy["z"]).max() > 1e-3 and np.abs(d["z"]).max() > 1e-3 and np.abs(jx["y"]).max() > 1e-3
