"""The x current through a slice (column) boundary -- the default x current -- against single bonds.

Two x currents are named in orbsym:

* the **slice-boundary total** ``I(b)`` (``direction="x"``, the default): the current through the
  boundary between columns ``b`` and ``b + 1``, summed over every bond that crosses it;
* **bond (dx, dy)** (``direction=(dx, dy)``): the current of that one bond offset alone.

Checked here: ``I(b)`` is the sum of its crossing bonds (a (2, 0) bond crosses two boundaries); it
closes the exact per-column balance ``d<J_x>/dt = I(x - 1) - I(x) + tau(x)`` -- on a random
non-equilibrium state against ``i Tr(rho [h, J_x])`` from the matrices, in equilibrium, and in a Kubo
response of the README's next-nearest-neighbour model (``= eta <J> + D``) -- where the (1, 0) bond
alone does not; with nearest-neighbour bonds only it is the old (1, 0) bond current bit for bit.
"""

import functools
import json
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(pathlib.Path(__file__).parent / "numeric"))

from nnn_kernels import random_nnn_lattice  # noqa: E402
from realspace_helpers import random_correlation  # noqa: E402

from orbsym.numeric.observables import POLARIZATIONS, current_definition, polarization_label  # noqa: E402
from orbsym.numeric.realspace import RealSpaceObservables, angular_momentum_rate, dense_hamiltonian  # noqa: E402
from orbsym.response import response  # noqa: E402
from orbsym.systems import CURRENT_KINDS, heterostructure, layer, solve, trilayer  # noqa: E402

X_KERNEL = {"bond": "current", "forward": "current_forward", "backward": "current_backward"}
#: The README's next-nearest-neighbour t2g metal (Eq. 3 with gamma = 0.5, plus the (1, +-1) bonds).
P = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)


@functools.lru_cache(maxsize=None)
def readme_model():
    from orbsym.symbolic.symmetry import symmetric_hoppings

    return symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()


def crossing_sum(obs, name, p):
    """Reference: for each boundary b, the sum of kernel ``name`` over the bonds (x, x + d) with
    x <= b < x + dx, looked up bond by bond."""
    N = obs.lattice.N_x
    ref = np.zeros(N - 1)
    for b in range(N - 1):
        for d in obs.lattice.bonds:
            if d[0] == 0:
                continue
            j = obs.evaluate(name, p, d)
            ref[b] += sum(j[x] for x in range(max(0, b - d[0] + 1), b + 1) if x + d[0] < N)
    return ref


def random_state(seed):
    """A random NON-equilibrium state on a lattice with (1, 0), (0, 1), (1, +-1) and (2, 0) bonds."""
    rng = np.random.default_rng(seed)
    lat = random_nnn_lattice(rng, "user", int(rng.integers(4, 7)), 2, str(rng.choice(["fm", "metal"])))
    G = random_correlation(lat.N_x * lat.N_y * lat.dim, rng)
    return lat, G


@settings(max_examples=6)
@given(seed=st.integers(0, 2**31 - 1))
def test_boundary_total_is_the_sum_of_its_crossing_bonds(seed):
    lat, G = random_state(seed)
    assert (2, 0) in lat.bonds and (1, 1) in lat.bonds
    obs = RealSpaceObservables(lat, G)
    for p in POLARIZATIONS:
        for kind, name in X_KERNEL.items():
            total = obs.boundary_current(p, kind)
            np.testing.assert_allclose(total, crossing_sum(obs, name, p), rtol=0, atol=1e-13)
            assert total.shape == (lat.N_x - 1,)
        np.testing.assert_array_equal(obs.bond_current(p, "x"), obs.boundary_current(p, "bond"))
        np.testing.assert_array_equal(obs.forward_current(p, "x"), obs.boundary_current(p, "forward"))
        np.testing.assert_array_equal(obs.backward_current(p, "x"), obs.boundary_current(p, "backward"))
        # an explicit bond offset is that bond alone
        for d in lat.bonds:
            np.testing.assert_array_equal(obs.bond_current(p, d), obs.evaluate("current", p, d))
            assert obs.bond_current(p, d).shape == ((lat.N_x - d[0]) if d[0] else lat.N_x,)
    # the longer bonds carry current on this state: the total is not the (1, 0) bond
    assert np.abs(obs.bond_current("z", "x") - obs.bond_current("z", (1, 0))).max() > 1e-3


@settings(max_examples=4)
@given(seed=st.integers(0, 2**31 - 1))
def test_boundary_total_closes_the_exact_balance_on_a_random_state(seed):
    """d<J_x>/dt = I(x - 1) - I(x) + tau(x), with d<J_x>/dt = i Tr(rho [h, J_x]) from the matrices
    (no kernel), I the slice-boundary total and hard walls I(-1) = I(N_x - 1) = 0; the charge is
    conserved (tau = 0): I(b) = -d/dt of the particles in columns 0..b."""
    lat, G = random_state(seed)
    obs = RealSpaceObservables(lat, G)
    h = dense_hamiltonian(lat)
    pad = np.zeros(1)
    for p in POLARIZATIONS:
        rate = angular_momentum_rate(lat, h, G.T, p).mean(axis=1)  # per site (row average)
        assert np.abs(rate).max() > 1e-3
        kinds = ("bond",) if p is None else ("bond", "forward")
        for kind in kinds:
            I = np.concatenate([pad, obs.boundary_current(p, kind), pad])
            tau = np.zeros(lat.N_x) if p is None else obs.torques(p, kind)["total"]
            np.testing.assert_allclose(I[:-1] - I[1:] + tau, rate, rtol=0, atol=1e-12, err_msg=f"{polarization_label(p)} {kind}")
        if p is None:
            np.testing.assert_allclose(obs.bond_current(None, "x"), -np.cumsum(rate)[:-1], rtol=0, atol=1e-12)
        # the (1, 0) bond alone misses the longer bonds: it does not balance
        j10 = np.concatenate([pad, obs.bond_current(p, (1, 0)), pad])
        tau = np.zeros(lat.N_x) if p is None else obs.torques(p, "bond")["total"]
        assert np.abs(j10[:-1] - j10[1:] + tau - rate).max() > 1e-4


def nnn_trilayer():
    """FM(x) / README NNN metal / FM(y): a nonzero equilibrium L current with diagonal bonds."""
    return heterostructure([layer("fm", 1, m="x"), layer(readme_model(), 5, **P), layer("fm", 1, m="y")], N_y=16, mu=-0.2)


def nnn_bilayer():
    """README NNN metal / FM(x), as in the README's response example (smaller)."""
    return heterostructure([layer(readme_model(), 5, **P), layer("fm", 1, m="x")], N_y=16, mu=-0.2)


def _walls(I):
    return np.concatenate([[0.0], I, [0.0]])


def test_equilibrium_balance_with_the_result_api():
    """Result.currents() (slice-boundary total) + Result.torques(): I(x-1) - I(x) + tau = 0 in
    equilibrium, for the bond and the forward (Eq. 7) decompositions; the (1, 0) bond alone fails."""
    r = solve(nnn_trilayer(), 0.05)
    for kind in ("bond", "forward"):
        cur, tq = r.currents(kind), r.torques(kind)
        for a in "xyz":
            I = _walls(cur[a])
            np.testing.assert_allclose(I[:-1] - I[1:] + tq[a]["total"], 0, atol=1e-12)
    I, j10 = r.currents()["z"], r.currents("bond", (1, 0))["z"]  # the L_z current of Fig. 2 kind
    assert np.abs(I - j10).max() > 1e-4
    J = _walls(j10)
    assert np.abs(J[:-1] - J[1:] + r.torques()["z"]["total"]).max() > 1e-4


def test_kubo_balance_of_the_readme_nnn_model():
    """Driven (E_y) balance per column with the slice-boundary total: I(x-1) - I(x) + tau = eta <J> + D
    (densities of the total and drive parts; no current kernel on the right); the bond (1, 0) alone
    does not close it."""
    r = response(nnn_bilayer(), 0.05, 0.05)
    cur, tq, dens = r.currents(), r.torques(), r.densities()
    drive = r.select("drive").densities()
    for label in ("charge", "x", "y", "z"):
        I = _walls(cur[label])
        tau = tq[label]["total"] if label != "charge" else 0.0
        np.testing.assert_allclose(I[:-1] - I[1:] + tau, r.eta * dens[label] + drive[label], atol=1e-12, err_msg=label)
    J = _walls(r.currents("bond", (1, 0))["z"])
    assert np.abs(J[:-1] - J[1:] + tq["z"]["total"] - r.eta * dens["z"] - drive["z"]).max() > 1e-4
    # the Fermi-sea (OHE) L_z current: the diagonal bonds change it by a few percent in the interior
    sea = r.select("fermi_sea")
    assert abs(sea.currents()["z"][2] - sea.currents("bond", (1, 0))["z"][2]) > 1e-3


def test_result_sum_of_explicit_offsets_is_the_default():
    """Through the Result API: the default x current = sum over the bond offsets d (dx > 0) of
    currents(kind, d) placed on every boundary they cross; each offset has N_x - dx values."""
    r = solve(nnn_trilayer(), 0.05)
    N = r.lattice.N_x
    for kind in ("bond", "forward", "backward"):
        tot = r.currents(kind)
        for label, v in tot.items():
            ref = np.zeros(N - 1)
            for d in r.lattice.bonds:
                if d[0] > 0:
                    j = r.currents(kind, d)[label]
                    assert j.shape == (N - d[0],)
                    for s in range(d[0]):
                        ref[s : s + j.size] += j
            np.testing.assert_allclose(v, ref, rtol=0, atol=1e-15)
    # eq7 of an offset: (forward(n, d) + backward(n - dx, d)) / 2, NaN at the dx columns next to each wall
    f, b, e = r.currents("forward", (1, 1))["z"], r.currents("backward", (1, 1))["z"], r.currents("eq7", (1, 1))["z"]
    assert np.isnan(e[0]) and np.isnan(e[-1])
    np.testing.assert_allclose(e[1:-1], 0.5 * (f[1:] + b[:-1]), rtol=0, atol=0)
    # eq7 along x: forward total through the right boundary, backward total through the left one
    F, B, E = r.currents("forward")["z"], r.currents("backward")["z"], r.currents("eq7")["z"]
    np.testing.assert_allclose(E[1:-1], 0.5 * (F[1:] + B[:-1]), rtol=0, atol=0)
    assert np.abs(E[1:-1] - r.currents("eq7", (1, 0))["z"][1:-1]).max() > 1e-6


def nn_odd_bilayer():
    """Nearest-neighbour metal whose y hopping has a real antisymmetric d_yz-d_xz part (h(-k) != h(k):
    an x current responds to E_y) / FM(x)."""
    import sympy as sp

    from orbsym.symbolic.models import Model

    a = sp.Symbol("a", real=True)
    hops = {"x": sp.diag(-0.5, -1, -1), "y": sp.Matrix([[-1, a, 0], [-a, -0.5, 0], [0, 0, -1]])}
    model = Model("nn-odd", readme_model().generators, hops)
    return heterostructure([layer(model, 4, a=0.3), layer("fm", 1, m="x")], N_y=12, mu=-0.2)


def _old_currents(obs, kind, p):
    """The x currents as orbsym computed them before the slice-boundary total: the (1, 0) bond."""
    if kind == "eq7":
        f, b = obs.evaluate("current_forward", p, (1, 0)), obs.evaluate("current_backward", p, (1, 0))
        out = np.full(obs.lattice.N_x, np.nan)
        out[1:-1] = 0.5 * (f[1:] + b[:-1])
        return out
    return obs.evaluate(X_KERNEL[kind], p, (1, 0))


@pytest.mark.parametrize(
    "make",
    [
        lambda: solve(trilayer(N_x=7, N_y=12, gamma=0.5, m_L="x", m_R=(0.3, 0.5, np.sqrt(0.66)), mu=-0.3), 0.05),
        lambda: solve(trilayer(basis="spin", metal="am", N_x=6, N_y=10, w=0.4, m_L="z", m_R="x"), 0.02),
        lambda: response(nn_odd_bilayer(), 0.05, 0.05),
    ],
    ids=["orbital-trilayer", "altermagnet-spin", "kubo-bilayer"],
)
def test_nearest_neighbour_models_are_unchanged_bit_for_bit(make):
    r = make()
    assert not r.lattice.has_diagonal_bonds
    o = r.observables
    s = r._scale
    nonzero = False
    for kind in CURRENT_KINDS:
        new, explicit = r.currents(kind), r.currents(kind, (1, 0))
        for p in POLARIZATIONS:
            label = polarization_label(p)
            if label not in new:
                continue
            old = (1.0 if p is None else s) * _old_currents(o, kind, p)
            assert new[label].tobytes() == old.tobytes(), (kind, label)
            assert explicit[label].tobytes() == old.tobytes(), (kind, label)
            nonzero |= bool(np.nanmax(np.abs(old)) > 1e-8)
    assert nonzero


def test_refusals_name_the_bad_direction():
    r = solve(nnn_trilayer(), 0.05)
    with pytest.raises(ValueError, match=r"current direction \(2, 0\): not a bond offset of this lattice.*\(1, -1\)"):
        r.currents("bond", (2, 0))
    with pytest.raises(ValueError, match=r"use \(1, 1\) and change the sign"):
        r.currents("bond", (-1, -1))
    with pytest.raises(ValueError, match="current direction"):
        r.currents("bond", (1.0, 0.5))
    with pytest.raises(ValueError, match="current direction 'z'"):
        r.currents("bond", "z")
    with pytest.raises(ValueError, match="unknown current kind 'eq7'"):
        r.observables.boundary_current("z", "eq7")
    with pytest.raises(ValueError, match="current kind"):
        current_definition("central", "x")


def test_outputs_name_the_slice_boundary_total(tmp_path, capsys):
    from orbsym.cli import main

    assert "slice-boundary total" in current_definition("bond", "x")
    assert "bond (1, 1) alone" in current_definition("bond", (1, 1))
    assert "bond (0, 1) alone" in current_definition("bond", "y")
    argv = ["compute", "bilayer", "--N-x", "4", "--N-y", "6", "--quantities", "currents"]
    assert main(argv + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["current_definitions"]) == set(CURRENT_KINDS) | {"bond_y"}
    assert "slice-boundary total" in d["current_definitions"]["bond"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "x current: slice-boundary total" in text and "x current [z]:" in text
