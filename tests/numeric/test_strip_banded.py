"""Open strip on the correlation band by slice (issue 23, item 1): the band equals the dense correlation
matrix, the band rate equals the dense commutator, the transport result equals its dense slow path, and
the fast path never forms a dense ``(M D)^2`` matrix."""

import copy
import functools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orbsym.numeric.strip as strip_mod
import orbsym.transport as tr
from orbsym.numeric import POLARIZATIONS
from orbsym.numeric.strip import (
    OpenStripObservables, StripBand, SuperLattice, band_commutator_site_blocks, strip_band, strip_correlations, strip_hamiltonian,
    strip_hamiltonian_blocks,
)
from orbsym.systems import heterostructure, layer
from orbsym.transport import _commutator_site_blocks, attach_leads, rotated_layers, transport


def _random_blocks(rng, M, D, dxs):
    return {dx: rng.normal(size=(1, M, D, D)) + 1j * rng.normal(size=(1, M, D, D)) for dx in dxs}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), M=st.integers(1, 6), rows=st.integers(1, 3), d=st.integers(1, 3), reach=st.integers(0, 2))
def test_band_equals_dense_correlations(seed, M, rows, d, reach):
    """Every block G[x, x + dx] of the band (and the dense view of its indexing) equals strip_correlations."""
    rng = np.random.default_rng(seed)
    D = rows * d
    blocks = _random_blocks(rng, M, D, range(-reach, reach + 1))
    dense = strip_correlations(blocks, M, D)
    band = strip_band(blocks, M, rows, d)
    np.testing.assert_array_equal(band.dense(), dense)
    # indexing as RealSpaceObservables does: G[sl, :, sr, :] on the (S, d, S, d) view
    S = M * rows
    G4 = dense.reshape(S, d, S, d)
    xs = np.arange(M)
    for dx in range(-reach, reach + 1):
        ok = (xs + dx >= 0) & (xs + dx < M)
        for dy in (-1, 0, 1):
            sl = xs[ok, None] * rows + np.arange(rows)[None, :]
            sr = (xs[ok, None] + dx) * rows + np.mod(np.arange(rows)[None, :] + dy, rows)
            np.testing.assert_array_equal(band[sl, :, sr, :], G4[sl, :, sr, :])
    if M > reach + 1:
        with pytest.raises(ValueError, match="not in the correlation band"):
            band[np.array([0]), :, np.array([(reach + 1) * rows]), :]


def _random_superlattice(rng, P, rows, d, period):
    Dp = period * rows * d
    a = rng.normal(size=(P, Dp, Dp)) + 1j * rng.normal(size=(P, Dp, Dp))
    onsite = a + a.conj().transpose(0, 2, 1)
    hop = rng.normal(size=(P - 1, Dp, Dp)) + 1j * rng.normal(size=(P - 1, Dp, Dp))
    return SuperLattice(onsite, hop, np.zeros_like(onsite), P, Dp, rows)


def _pair_to_columns(h, P, rows, d):
    perm = np.arange(h.shape[0]).reshape(P, rows, 2, d).transpose(0, 2, 1, 3).reshape(-1)
    return h[np.ix_(perm, perm)]


class _SiteLattice:  # the parts of Lattice that _commutator_site_blocks reads
    def __init__(self, N_x, N_y, dim):
        self.N_x, self.N_y, self.dim = N_x, N_y, dim


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), P=st.integers(2, 5), rows=st.integers(1, 3), d=st.integers(1, 3), period=st.sampled_from([1, 2]))
def test_band_rate_equals_dense_commutator(seed, P, rows, d, period):
    """h's column blocks equal the dense h (pairs reordered to columns for period 2), and the site blocks
    of [rho h - h rho] from the band equal the dense commutator's, on random strips."""
    rng = np.random.default_rng(seed)
    sup = _random_superlattice(rng, P, rows, d, period)
    M, D = P * period, rows * d
    h = strip_hamiltonian(sup)
    if period == 2:
        h = _pair_to_columns(h, P, rows, d)
    hb = strip_hamiltonian_blocks(sup, period)
    assert max(abs(dx) for dx in hb) == (1 if period == 1 else 3)
    h4 = h.reshape(M, D, M, D)
    for dx, blk in hb.items():
        for x in range(M):
            ref = h4[x, :, x + dx, :] if 0 <= x + dx < M else 0
            np.testing.assert_array_equal(blk[x], ref)
    reach = max(hb)
    blocks = _random_blocks(rng, M, D, range(-reach, reach + 1))
    G = strip_correlations(blocks, M, D)
    C_band = band_commutator_site_blocks(strip_band(blocks, M, rows, d), hb)
    C_dense = _commutator_site_blocks(_SiteLattice(M, rows, d), h, G.T)
    np.testing.assert_allclose(C_band, C_dense, rtol=0, atol=1e-12 * max(1.0, np.abs(C_dense).max()))
    # a band that misses an offset of h is refused, not read as zero
    short = strip_band({dx: blocks[dx] for dx in range(-reach + 1, reach)}, M, rows, d)
    with pytest.raises(ValueError, match="not in the correlation band"):
        band_commutator_site_blocks(short, hb)


def _outputs(res):
    out = {"densities": res.densities(), "currents": res.currents(), "currents_y": res.currents(direction="y"),
           "currents_forward": res.currents("forward"), "torques": res.torques(), "torques_forward": res.torques("forward"),
           "divergence": res.divergence()}
    out["rate"] = {p: res.time_derivative(p) for p in POLARIZATIONS}
    out["continuity"] = res.continuity_residual()
    return out


def _dense_twin(res, blocks):
    """The same result with the dense correlation matrix (strip_correlations, the pre-issue-23 code) and the
    dense commutator rate."""
    lat = res.leaded.lattice
    twin = copy.copy(res)
    twin._obs = OpenStripObservables(lat, strip_correlations(blocks, lat.N_x, lat.N_y * lat.dim))
    twin._rate_blocks = None
    twin.G = res.G
    twin.time_derivative = twin._dense_time_derivative
    return twin


def _assert_same(a, b, where=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}/{k}")
    elif a is None:
        assert b is None, where
    else:
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=where)


@functools.lru_cache(maxsize=None)
def _models():
    import sympy as sp

    from orbsym.symbolic.models import Model, multiorbital_metal
    from orbsym.symbolic.spinful import orbital_rashba
    from orbsym.symbolic.symmetry import symmetric_hoppings

    m0 = multiorbital_metal()
    R = orbital_rashba("t2g")
    mr = Model("nm_rashba", m0.generators, {d: sp.ImmutableMatrix(m0.hoppings[d] + R[d]) for d in m0.hoppings}, m0.onsite, "Eq. 3 + orbital Rashba")
    nnn = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
    return mr, nnn


def _system(kind):
    if kind == "fm":
        s = heterostructure([layer("nm", 2, gamma=0.3), layer("fm", 1, m=(0.3, 0.5, 0.8)), layer("nm", 2, gamma=0.3)], N_y=4)
        return attach_leads(s, width="open"), dict(T=0.02, bias=0.1, n_energy=8)
    mr, nnn = _models()
    if kind == "rashba45":  # diagonal bonds
        s = heterostructure(rotated_layers(mr, 4, "45", gamma=0.3, alpha_R=0.4), N_y=4, mu=-0.2)
    else:  # "nnn45": diagonal bonds, period-2 leads
        s = heterostructure(rotated_layers(nnn, 4, "45", t_1=-0.3, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.3), N_y=4, mu=-0.2)
    return attach_leads(s, width="open"), dict(T=0.02)


@pytest.mark.parametrize("kind", ["fm", "rashba45", "nnn45"])
def test_strip_result_equals_dense_path(kind, monkeypatch):
    """Densities, currents, torques, divergence, d<J>/dt and the continuity residual of the banded result
    equal those on the dense correlation matrix with the dense commutator (1e-12)."""
    seen = {}
    orig = tr.strip_band

    def keep(blocks, *a):
        seen["blocks"] = blocks
        return orig(blocks, *a)

    monkeypatch.setattr(tr, "strip_band", keep)
    L, kw = _system(kind)
    res = transport(L, **kw)
    assert isinstance(res.G, StripBand)
    if kind == "nnn45":
        assert L.period == 2
    if kind != "fm":
        assert L.lattice.has_diagonal_bonds
    fast = _outputs(res)
    slow = _outputs(_dense_twin(res, seen["blocks"]))
    _assert_same(fast, slow, kind)
    # the site blocks of [rho h - h rho] on every solved site, lead cells included (the region's rates
    # vanish in the steady state; the blocks themselves do not)
    twin = _dense_twin(res, seen["blocks"])
    h = tr.strip_hamiltonian(res.open.lattice)
    if L.period == 2:
        h = _pair_to_columns(h, L.lattice.N_x // 2, L.lattice.N_y, L.lattice.dim)
    C_dense = _commutator_site_blocks(L.lattice, h, twin._obs.G.reshape(h.shape).T)
    assert np.abs(C_dense).max() > 1e-3
    np.testing.assert_allclose(res._rate_blocks, C_dense, rtol=0, atol=1e-12)
    c = fast["continuity"]
    assert c["max_abs_dJ_dt"] < 1e-10 and c["max_abs_balance"] < 1e-10


def _forbid(*a, **k):
    raise AssertionError("the fast path formed a dense (M D)^2 matrix")


def test_fast_path_never_builds_the_dense_matrix(monkeypatch):
    """Every dense builder raises, and the traced peak stays far below one dense (M D)^2 matrix."""
    for mod, name in ((strip_mod, "strip_correlations"), (tr, "strip_hamiltonian"), (tr, "_commutator_site_blocks"), (strip_mod, "strip_hamiltonian")):
        monkeypatch.setattr(mod, name, _forbid)
    monkeypatch.setattr(StripBand, "dense", _forbid)
    # long and narrow: one dense matrix (~95 MB) is ~7x the whole fast path's traced peak (~14 MB)
    s = heterostructure([layer("nm", 100, gamma=0.3), layer("fm", 1, m=(0.3, 0.5, 0.8)), layer("nm", 100, gamma=0.3)], N_y=4)
    L = attach_leads(s, width="open")
    n = (L.lattice.N_x) * L.lattice.N_y * L.lattice.dim
    dense_bytes = 16 * n * n
    tracemalloc.start()
    try:
        res = transport(L, T=0.02, n_energy=2, error_estimate=False)
        out = res.to_dict()
        _outputs(res)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "continuity" in out
    assert peak < dense_bytes / 4, (peak, dense_bytes)


@pytest.mark.parametrize("kind", ["fm", "rashba45"])
def test_strip_lattice_equals_kronecker_columns(kind):
    """The vectorized super-lattice equals the per-column Kronecker products (incl. diagonal bonds)."""
    L, _ = _system(kind)
    lat = L.lattice
    sup = strip_mod.strip_lattice(lat)
    rows, d = lat.N_y, lat.dim
    zero = np.zeros_like(lat.hop_x)
    up, down = lat.hoppings.get((1, 1), zero), lat.hoppings.get((1, -1), zero)
    if kind == "rashba45":
        assert np.abs(up).max() > 0 or np.abs(down).max() > 0
    on = np.array([strip_mod._column(e, t, rows) for e, t in zip(lat.onsite, lat.hop_y)])
    hx = np.array([strip_mod._inter(a, b, c, rows) for a, b, c in zip(lat.hop_x, up, down)]).reshape(lat.N_x - 1, rows * d, rows * d)
    np.testing.assert_array_equal(sup.onsite, on)
    np.testing.assert_array_equal(sup.hop_x, hx)
