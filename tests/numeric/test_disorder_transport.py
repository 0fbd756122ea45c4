"""Physics of a disordered strip between clean leads (Landauer through orbsym.numeric.sites_transport):
ballistic channels at W = 0, Ohm's law 1/G = (1 + L/l)/N in the diffusive regime, and localization
(log-normal G with <ln G> falling linearly) at strong disorder."""

import numpy as np
import pytest

from orbsym.numeric.disorder import Anderson, realize
from orbsym.numeric.sites import Hopping, Site, SiteLattice
from orbsym.numeric.sites_transport import site_transport

WIDTH, E = 6, 0.3


def strip(N_x):
    return SiteLattice([Site("a", (0, 0, 0), [[0.0]])], [Hopping("a", "a", (1, 0), [[-1.0]]), Hopping("a", "a", (0, 1), [[-1.0]])], N_x=N_x, width=WIDTH)


def conductances(W, L, n):
    clean = strip(L)
    out = []
    for seed in range(n):
        lat = realize(clean, Anderson(W), seed=seed).lattice
        res = site_transport(lat, T=0.0, mu=E, left=(clean, 0), right=(clean, clean.n_slices - 1), equilibrium=False)
        out.append(res.conductance()["total"])
    return np.array(out)


def open_channels():
    """Transverse modes of the clean lead with |E - eps_n| < 2 t (eps_n = -2 t cos(pi n / (WIDTH + 1)))."""
    eps = -2 * np.cos(np.pi * np.arange(1, WIDTH + 1) / (WIDTH + 1))
    return int(np.sum(np.abs(E - eps) < 2))


def test_clean_strip_is_ballistic():
    for L in (3, 17):
        assert conductances(0.0, L, 1)[0] == pytest.approx(open_channels(), abs=1e-9)


def test_diffusive_regime_follows_ohms_law():
    inv = [np.mean(1 / conductances(1.5, L, 12)) for L in (8, 16, 32)]
    d1, d2 = inv[1] - inv[0], inv[2] - inv[1]
    assert d1 > 0 and d2 / d1 == pytest.approx(2.0, rel=0.3)  # 1/G linear in L
    slope = (inv[2] - inv[0]) / 24
    mfp = 1 / (open_channels() * slope)  # 1/G = (1 + L / l) / N
    assert 4 < mfp < 20


def test_strong_disorder_localizes():
    lnG = {L: np.log(conductances(3.0, L, 16)) for L in (24, 40, 56)}
    m = [lnG[L].mean() for L in (24, 40, 56)]
    assert m[0] > m[1] > m[2] and (m[1] - m[2]) == pytest.approx(m[0] - m[1], rel=0.4)  # <ln G> ~ -2 L / xi
    xi = 2 * 32 / (m[0] - m[2])
    assert 10 < xi < 40  # localization length (sites), shorter than the samples: localized
    assert lnG[56].std() > lnG[24].std()  # broad (log-normal) distribution
