"""``orbsym response --scan ... --workers N``: the scan points on the one execution layer, same numbers.

The points go through :func:`orbsym.execution.map_tasks`, in this process by default and on a
forked :func:`orbsym.execution.process_pool` with ``--workers 2``; every point is the same
computation either way, so the outputs agree to rounding (here: exactly).
"""

import numpy as np
import pytest
import xarray as xr

from orbsym import execution
from orbsym.cli import main

HETERO = ["response", "bilayer", "--N-x", "4", "--N-y", "12", "--T", "0.05", "--eta", "0.1", "--scan", "mu=-0.4,0.1,0.3", "--progress", "off"]
# a metal with a nonzero orbital Hall response (next-nearest neighbours; the nn t2g metal has none along these axes)
MODEL = '''
from orbsym.symbolic.symmetry import symmetric_hoppings
model = symmetric_hoppings("t2g", "D4h", neighbours="nn+nnn", time_reversal=True).to_model()
params = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)
'''


@pytest.fixture
def cases(tmp_path):
    model = tmp_path / "nnn.py"
    model.write_text(MODEL)
    user = ["--metal-model", str(model), "--progress", "off"]
    return {
        "bilayer": (["response", "bilayer", *user, "--N-x", "4", "--N-y", "12", "--m-FM", "x", "--T", "0.05", "--scan", "eta=0.05,0.1,0.2"], 3, "density"),
        "bulk": (["response", "bulk", *user, "--N-k", "12", "--mu-range=-1:1:3", "--scan", "eta=0.05,0.2"], 2, "sigma"),
    }


@pytest.fixture
def spy(monkeypatch):
    """Record the executors of every map_tasks call and the pools started; pass them on."""
    calls = {"map_tasks": [], "pools": []}
    real_map, real_pool = execution.map_tasks, execution.process_pool

    def recording_map(fn, tasks, executor=None, workers=1, **kw):
        tasks = list(tasks)
        calls["map_tasks"].append({"executor": executor, "workers": workers, "n_tasks": len(tasks)})
        return real_map(fn, tasks, executor=executor, workers=workers, **kw)

    def recording_pool(workers, context="spawn", *a, **kw):
        pool = real_pool(workers, context, *a, **kw)
        calls["pools"].append((workers, context, pool))
        return pool

    monkeypatch.setattr(execution, "map_tasks", recording_map)
    monkeypatch.setattr(execution, "process_pool", recording_pool)
    return calls


@pytest.mark.parametrize("case", ["bilayer", "bulk"])
def test_parallel_scan_equals_serial(case, cases, tmp_path, spy):
    argv, n_points, varied = cases[case]
    serial, parallel = tmp_path / "serial.nc", tmp_path / "parallel.nc"
    assert main([*argv, "--out", str(serial)]) == 0
    assert [c["executor"] for c in spy["map_tasks"]] == ["serial"] and spy["pools"] == []
    assert main([*argv, "--workers", "2", "--out", str(parallel)]) == 0
    assert len(spy["map_tasks"]) == 2 and len(spy["pools"]) == 1
    workers, context, pool = spy["pools"][0]
    assert (workers, context) == (2, "fork") and spy["map_tasks"][1]["executor"] is pool and spy["map_tasks"][1]["n_tasks"] == n_points
    assert pool.processes() == [], "the pool of the run is shut down after it"
    a, b = xr.load_dataset(serial), xr.load_dataset(parallel)
    assert set(a.data_vars) == set(b.data_vars) and a.attrs == b.attrs
    for name in a.data_vars:
        np.testing.assert_allclose(b[name].values, a[name].values, rtol=0, atol=1e-12, equal_nan=True, err_msg=name)
    # the scan really varied something (the comparison is not of constant arrays)
    v = a[varied].values
    assert np.nanmax(np.abs(v[0] - v[-1])) > 1e-6 * np.nanmax(np.abs(v)) > 0


@pytest.mark.parametrize("value", ["0", "-2"])
def test_workers_below_one_refused_in_one_line(value, capsys):
    assert main([*HETERO, "--workers", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers must be an integer >= 1" in err and value in err


def test_parallel_memory_is_counted_per_process(monkeypatch, capsys):
    """With --workers the points run at once: the peak memory is w times one point's."""
    from orbsym.numeric import budget

    one = budget.kubo_estimate(4, 12, 3).bytes
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", str(int(2.5 * one)))
    monkeypatch.setattr(execution, "map_tasks", lambda *a, **k: pytest.fail("work ran although the run must be refused"))
    assert main([*HETERO, "--workers", "3"]) == 2
    err = capsys.readouterr().err
    assert "3 points at once" in err and "--workers" in err
