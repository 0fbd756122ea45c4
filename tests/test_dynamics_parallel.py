"""evolve(workers > 1) runs on the one execution layer (orbsym.execution) and equals the serial run.

The momenta are shared among the workers of :func:`orbsym.execution.shared_pool` through
:func:`orbsym.execution.map_tasks`; every record is a k-sum, so the shares add up to the serial
numbers (to rounding).  Sizes are tiny (N_x <= 5, N_y <= 16).
"""

import numpy as np
import pytest

from orbsym import execution
from orbsym.dynamics import ElectricField, Precession, Quench, Relaxation, evolve
from orbsym.systems import bilayer, trilayer

NAMES = ("density", "current_x", "current_y", "torque_total", "rate_exact", "energy", "particle_number", "rate_kink", "defect_estimate")


@pytest.fixture
def spy(monkeypatch):
    """Record every map_tasks call (its executor and number of tasks) and pass it on."""
    calls = []
    real = execution.map_tasks

    def recording(fn, tasks, executor=None, workers=1, **kw):
        tasks = list(tasks)
        calls.append({"fn": fn, "executor": executor, "workers": workers, "n_tasks": len(tasks)})
        return real(fn, tasks, executor=executor, workers=workers, **kw)

    monkeypatch.setattr(execution, "map_tasks", recording)
    return calls


CASES = {
    # the eigen-decomposition path: field (full k grid), relaxation, a precession
    "generic": (lambda: bilayer(basis="spin", N_x=4, N_y=8, N_FM=2, m_FM="z"), lambda: [Precession(0.3, 0.4), ElectricField(0.02, pulse=(0.5, 0.3)), Relaxation(2.0)]),
    # the local-update fast path (orbitals per k), with a quench
    "local": (lambda: trilayer(N_x=5, N_y=16, N_FM=1, gamma=0.4, m_L="x", m_R="y"), lambda: [Precession(0.3, 0.4, columns="FM_L"), Quench(gamma=0.6, time=0.6)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_parallel_equals_serial_through_the_execution_layer(case, spy):
    make_system, make_drives = CASES[case]
    system, times = make_system(), np.linspace(0, 1, 6)
    a = evolve(system, make_drives(), times, T=0.05)
    assert spy == [], "the serial run must not go through a pool"
    b = evolve(system, make_drives(), times, T=0.05, workers=2)
    assert ("fast path" in b.attrs["engine"]) == (case == "local")
    assert len(spy) == 1, spy
    call = spy[0]
    assert call["executor"] is execution.shared_pool(2) and call["n_tasks"] == 2 and call["workers"] == 2
    assert b.attrs["workers"] == 2 and a.attrs["workers"] == 1
    for name in NAMES:
        np.testing.assert_allclose(b[name].values, a[name].values, rtol=0, atol=1e-12, err_msg=name)
    assert b.attrs["substeps_per_interval"] == a.attrs["substeps_per_interval"]


def test_the_pool_persists_across_runs(spy):
    """Two parallel runs use the same worker processes (started once, not per run)."""
    system = bilayer(basis="spin", N_x=3, N_y=8, N_FM=1, m_FM="z")
    times = np.linspace(0, 0.5, 3)
    evolve(system, [Precession(0.3, 0.4)], times, T=0.05, workers=2)
    pool = execution.shared_pool(2)
    pids = sorted(p.pid for p in pool.processes())
    evolve(system, [Precession(0.3, 0.4)], times, T=0.05, workers=2)
    assert len(pids) == 2 and sorted(p.pid for p in pool.processes()) == pids
    assert [c["executor"] for c in spy] == [pool, pool]


def test_switches_travel_with_the_job(spy, monkeypatch):
    """LOCAL_UPDATE read by evolve() reaches workers forked before it was changed."""
    from orbsym import dynamics as dyn

    system = trilayer(N_x=4, N_y=8, N_FM=1, gamma=0.4, m_L="x", m_R="y")
    times = np.linspace(0, 0.5, 3)
    evolve(system, [Precession(0.3, 0.4)], times, T=0.05, workers=2)  # the pool exists now
    monkeypatch.setattr(dyn, "LOCAL_UPDATE", False)
    a = evolve(system, [Precession(0.3, 0.4)], times, T=0.05)
    b = evolve(system, [Precession(0.3, 0.4)], times, T=0.05, workers=2)
    assert "fast path" not in b.attrs["engine"]
    for name in NAMES:
        np.testing.assert_allclose(b[name].values, a[name].values, rtol=0, atol=1e-12, err_msg=name)
