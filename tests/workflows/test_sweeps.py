"""Tests of orbsym.workflows.sweeps (sweep API, executors, resumable storage, N_y = infinity) and the CLI.

Small sizes (N_x <= 6, N_y <= 60 unless converging) keep the module well under a minute; the
process pool and the dask LocalCluster each start once.
"""

import argparse
import copy
import functools
import math

import numpy as np
import pytest

from orbsym.commands import sweep as sweep_cmd
from orbsym.systems import bilayer, rkky, solve, trilayer
from orbsym.workflows.sweeps import SweepError, load, save, solve_infinite, sweep

SMALL = {"gamma": 0.3, "N_x": 5, "N_y": 40}
AXES = {"theta": [0.0, 0.7, 1.9], "phi": [0.0, 2.5]}
OBS = ["free_energy", "densities", "currents", "torques"]


def _direct(theta, phi, **kw):
    """Independent path: the solve API at one point, no sweep machinery."""
    p = dict(SMALL, **kw)
    return solve(bilayer(m_FM=(theta, phi), **p), 0.01)


def _assert_same(a, b, rtol=0.0):
    assert list(a.data_vars) == list(b.data_vars)
    for v in a.data_vars:
        assert a[v].dims == b[v].dims
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=rtol, atol=1e-14 if rtol else 0.0, equal_nan=True)
    for c in a.coords:
        np.testing.assert_array_equal(a[c].values, b[c].values)


@pytest.fixture(scope="module")
def serial_ds():
    return sweep("bilayer", AXES, OBS, params=SMALL, executor="serial")


# ------------------------------------------------------------------------ labels and order
def test_labeled_values_match_direct_solves(serial_ds):
    ds = serial_ds
    assert ds.free_energy.dims == ("theta", "phi")
    assert ds.density.dims == ("theta", "phi", "polarization", "x")
    assert ds.current_bond_x.dims == ("theta", "phi", "polarization", "x_bond")
    assert ds.torque_bond.dims == ("theta", "phi", "axis", "torque_term", "x")
    assert list(ds.polarization.values) == ["charge", "x", "y", "z"]
    for th in AXES["theta"]:
        for ph in AXES["phi"]:
            r = _direct(th, ph)
            pt = ds.sel(theta=th, phi=ph)
            assert pt.free_energy.item() == r.free_energy()
            np.testing.assert_array_equal(pt.density.sel(polarization="z").values, r.densities()["z"])
            np.testing.assert_array_equal(pt.current_bond_x.sel(polarization="y").values, r.currents()["y"])
            np.testing.assert_array_equal(pt.torque_bond.sel(axis="x", torque_term="total").values, r.torques()["x"]["total"])
    assert ds.attrs["geometry"] == "bilayer" and ds.attrs["orbsym_version"]
    assert '"gamma": 0.3' in ds.attrs["parameters"] and ds.attrs["interface"] == "fm"


def test_angle_defaults_come_from_base_magnetization():
    # only theta swept: phi is that of the base m_FM = +y (pi/2), so theta = pi/2 is m = +y
    ds = sweep("bilayer", {"theta": [math.pi / 2]}, params=dict(SMALL, m_FM="y"), executor="serial")
    ref = solve(bilayer(m_FM="y", **SMALL), 0.01).free_energy()
    assert abs(ds.free_energy.item() - ref) < 1e-13
    other = solve(bilayer(m_FM="x", **SMALL), 0.01).free_energy()
    assert abs(ref - other) > 1e-6  # the check above can tell y from x


def test_rkky_and_T_axes():
    ds = sweep("trilayer", {"N_x": [5, 6], "T": [0.01, 0.05]}, "rkky", params={"N_y": 30, "m_L": "y", "m_R": "y"}, executor="serial")
    assert ds.rkky_J.dims == ("N_x", "T") and ds.N_x.values.tolist() == [5, 6]
    ref = rkky(trilayer(N_x=6, N_y=30, m_L="y", m_R="y"), 0.05)
    assert ds.rkky_J.sel(N_x=6, T=0.05).item() == pytest.approx(ref["J"], abs=1e-14)
    assert ds.F_P.sel(N_x=6, T=0.05).item() == pytest.approx(ref["F_P"], abs=1e-14)


# ------------------------------------------------------------------------ executors
def test_process_pool_equals_serial(serial_ds):
    ds = sweep("bilayer", AXES, OBS, params=SMALL, executor="process", workers=2, chunk_size=1)
    _assert_same(serial_ds, ds, rtol=1e-14)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore:.*[Pp]ort.*:UserWarning")
def test_dask_executor_equals_serial(serial_ds):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            ds = sweep("bilayer", AXES, OBS, params=SMALL, executor=client.get_executor(), workers=2, chunk_size=2)
    _assert_same(serial_ds, ds, rtol=1e-14)


def test_chunking_does_not_change_results(serial_ds):
    ds = sweep("bilayer", AXES, OBS, params=SMALL, executor="serial", chunk_size=4)
    _assert_same(serial_ds, ds)


# ------------------------------------------------------------------------ storage, resume
class _Stop(Exception):
    pass


def _stop_after(k):
    calls = []

    def cb(info):
        calls.append(info)
        if len(calls) == k:
            raise _Stop

    return cb, calls


def test_save_load_roundtrip(tmp_path):
    ds = sweep("bilayer", {"N_x": [4, 6], "mu": [-0.2, 0.1]}, ["free_energy", "densities"], params={"N_y": 20}, executor="serial")
    assert np.isnan(ds.density.sel(N_x=4).values[..., 4:]).all()  # padded beyond N_x - 1
    assert np.isfinite(ds.density.sel(N_x=6).values).all()
    ds["complex_test"] = ds.free_energy * (1 + 2j)
    save(ds, tmp_path / "r.nc")
    back = load(tmp_path / "r.nc")
    assert set(back.data_vars) == set(ds.data_vars)
    for v in ds.data_vars:
        assert back[v].dims == ds[v].dims
        np.testing.assert_array_equal(back[v].values, ds[v].values)
    assert back.complex_test.dtype.kind == "c"
    assert back.attrs["fingerprint"] == ds.attrs["fingerprint"]
    assert back.free_energy.sel(N_x=6, mu=0.1).item() == ds.free_energy.sel(N_x=6, mu=0.1).item()
    assert list(back.polarization.values) == ["charge", "x", "y", "z"]


def test_interrupt_and_resume_give_identical_file(tmp_path):
    ref = tmp_path / "ref.nc"
    sweep("bilayer", AXES, ["free_energy", "densities"], params=SMALL, executor="serial", out=ref)
    out = tmp_path / "F.nc"
    cb, _ = _stop_after(2)
    with pytest.raises(_Stop):
        sweep("bilayer", AXES, ["free_energy", "densities"], params=SMALL, executor="serial", chunk_size=1, out=out, on_chunk=cb)
    assert not out.exists()
    assert len(list((tmp_path / "F.nc.parts").glob("points_*.npz"))) == 2
    seen = []
    ds = sweep("bilayer", AXES, ["free_energy", "densities"], params=SMALL, executor="serial", chunk_size=1, out=out, on_chunk=seen.append)
    assert sorted(i for s in seen for i in s["indices"]) == [2, 3, 4, 5]  # only the missing points
    assert out.read_bytes() == ref.read_bytes()
    assert not (tmp_path / "F.nc.parts").exists()
    np.testing.assert_array_equal(load(out).free_energy.values, ds.free_energy.values)
    # a complete file is not recomputed
    again = []
    sweep("bilayer", AXES, ["free_energy", "densities"], params=SMALL, executor="serial", out=out, on_chunk=again.append)
    assert again == []


def test_resume_with_other_executor_and_stale_parts(tmp_path):
    out = tmp_path / "F.nc"
    cb, _ = _stop_after(1)
    with pytest.raises(_Stop):
        sweep("bilayer", AXES, params=SMALL, executor="serial", chunk_size=2, out=out, on_chunk=cb)
    with pytest.raises(ValueError, match="different sweep"):
        sweep("bilayer", AXES, params=dict(SMALL, gamma=0.5), executor="serial", out=out)
    ds = sweep("bilayer", AXES, params=SMALL, executor="process", workers=2, out=out)
    ref = sweep("bilayer", AXES, params=SMALL, executor="serial")
    np.testing.assert_allclose(ds.free_energy.values, ref.free_energy.values, rtol=1e-14, atol=0)


# ------------------------------------------------------------------------ failures
def flaky_bilayer(gamma, **kw):
    """Module-level (picklable) factory failing at gamma == 0.5."""
    if gamma == 0.5:
        raise RuntimeError("boom at gamma 0.5")
    return bilayer(gamma=gamma, **kw)


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_worker_exception_reports_point_and_keeps_others(tmp_path, executor):
    out = tmp_path / "F.nc"
    axes = {"gamma": [0.3, 0.5, 0.8], "mu": [-0.2, 0.0]}
    factory = functools.partial(flaky_bilayer, N_x=4, N_y=20)
    with pytest.raises(SweepError) as info:
        sweep(factory, axes, executor=executor, workers=2, chunk_size=1, out=out)
    err = info.value
    assert sorted((f["point"]["gamma"], f["point"]["mu"]) for f in err.failures) == [(0.5, -0.2), (0.5, 0.0)]
    assert all("boom at gamma 0.5" in f["error"] for f in err.failures)
    assert "'gamma': 0.5" in str(err) or '"gamma": 0.5' in str(err)
    fe = err.dataset.free_energy
    assert np.isnan(fe.sel(gamma=0.5)).all() and np.isfinite(fe.sel(gamma=[0.3, 0.8])).all()
    assert fe.sel(gamma=0.8, mu=0.0).item() == solve(bilayer(gamma=0.8, mu=0.0, N_x=4, N_y=20), 0.01).free_energy()
    assert not out.exists()
    # the successful points are stored: a re-run only retries the failed ones
    seen = []
    with pytest.raises(SweepError):
        sweep(factory, axes, executor="serial", chunk_size=1, out=out, on_chunk=seen.append)
    assert sorted(i for s in seen for i in s["indices"]) == [2, 3]


def dying_bilayer(gamma, **kw):
    """Module-level factory whose worker process dies (no exception) at gamma == 0.5."""
    if gamma == 0.5:
        import os

        os._exit(3)
    return bilayer(gamma=gamma, **kw)


def test_killed_worker_reports_lost_points_and_keeps_others(tmp_path):
    out = tmp_path / "F.nc"
    axes = {"gamma": [0.3, 0.8, 0.5]}
    factory = functools.partial(dying_bilayer, N_x=4, N_y=20)
    with pytest.raises(SweepError) as info:
        sweep(factory, axes, executor="process", workers=1, chunk_size=1, out=out)
    assert [f["point"] for f in info.value.failures] == [{"gamma": 0.5}]
    assert "BrokenProcessPool" in info.value.failures[0]["error"]
    assert np.isfinite(info.value.dataset.free_energy.sel(gamma=[0.3, 0.8])).all()
    seen = []
    with pytest.raises(SweepError):
        sweep(factory, axes, executor="process", workers=1, chunk_size=1, out=out, on_chunk=seen.append)
    assert [s["indices"] for s in seen] == [[2]]


# ------------------------------------------------------------------------ N_y = infinity
def test_infinite_N_y_is_the_limit_of_large_N_y():
    s = bilayer(gamma=0.3, N_x=6, m_FM=(1.0, 0.4))
    from orbsym.numeric.observables import KERNEL_NAMES

    inf = solve_infinite(s.lattice, 0.01, pairs=s.lattice.offset_pairs(KERNEL_NAMES), tol=1e-11)
    assert inf.error < 1e-11
    errs = [abs(solve(s.rebuild(N_y=n), 0.01).free_energy() - inf.free_energy) for n in (100, 400, 1600)]
    assert errs[0] > errs[1] > 1e-12 > errs[2]  # trapezoid rule: exponential convergence once N_y >> 1/T
    from orbsym.numeric import Observables

    obs = Observables(s.lattice, inf.bands)
    big = solve(s.rebuild(N_y=1600), 0.01)
    np.testing.assert_allclose(obs.density("z"), big.densities()["z"], atol=1e-12)
    np.testing.assert_allclose(obs.bond_current("y"), big.currents()["y"], atol=1e-12)
    assert abs(inf.particle_number - big.particle_number()) < 1e-11
    # independent slow path: adaptive Gauss-Kronrod (quad_vec) on the same integrand
    ada = solve_infinite(s.lattice, 0.01, pairs=[(0, 0), (1, 0), (0, 1)], tol=1e-11, method="adaptive")
    assert abs(ada.free_energy - inf.free_energy) < 2e-11
    for p in ada.bands:
        np.testing.assert_allclose(ada.bands[p], inf.bands[p], atol=2e-11)
    # the general [-pi, pi] rule (used when h(-k) != h(k)) gives the same integral, both methods
    lat = copy.copy(s.lattice)
    lat.y_hermitian = False
    for method in ("trapezoid", "adaptive"):
        full = solve_infinite(lat, 0.01, pairs=[(0, 0), (1, 0), (0, 1)], tol=1e-11, method=method)
        assert abs(full.free_energy - inf.free_energy) < 2e-11
        np.testing.assert_allclose(full.bands[0, 1], inf.bands[0, 1], atol=2e-11)


def test_infinite_N_y_error_estimate_and_T0():
    s = bilayer(gamma=0.3, N_x=4, m_FM="x")
    loose = solve_infinite(s.lattice, 0.01, tol=1e-4)
    tight = solve_infinite(s.lattice, 0.01, tol=1e-12)
    assert loose.error <= 1e-4 and abs(loose.free_energy - tight.free_energy) <= 1e-4
    assert loose.evaluations < tight.evaluations
    # T = 0: kinked integrand, adaptive rule by default; the finite sums approach it
    z = solve_infinite(s.lattice, 0.0, tol=1e-9)
    diffs = [abs(solve(s.rebuild(N_y=n), 0.0).free_energy() - z.free_energy) for n in (200, 3200)]
    assert diffs[1] < diffs[0] / 10 and diffs[1] < 1e-5
    with pytest.raises(ValueError, match="unknown integration method 'simpson'"):
        solve_infinite(s.lattice, 0.01, method="simpson")
    with pytest.raises(ValueError, match="tol must be a positive"):
        solve_infinite(s.lattice, 0.01, tol=0.0)


def test_sweep_over_N_y_with_infinity():
    ds = sweep("bilayer", {"N_y": [200, 1600, math.inf]}, ["free_energy", "densities"], params={"metal": "am", "N_x": 5}, executor="serial", tol=1e-11)
    assert ds.attrs["k_integral_tol"] == 1e-11
    F = ds.free_energy.values
    assert abs(F[1] - F[2]) < 1e-11 < abs(F[0] - F[2])
    assert np.isnan(ds.free_energy_error.values[:2]).all() and ds.free_energy_error.values[2] < 1e-11
    np.testing.assert_allclose(ds.density.values[1], ds.density.values[2], atol=1e-11)


# ------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"axes": {"thta": [0.0]}}, "unknown sweep parameter 'thta'.*did you mean 'theta'"),
        ({"axes": {"theta": []}}, "axis 'theta' has no values"),
        ({"axes": {}}, "at least one axis"),
        ({"axes": {"theta": 0.3}}, "1-D sequence"),
        ({"axes": {"interface": ["fm", 1.0]}}, "mixes strings and numbers"),
        ({"axes": {"mu": [0.0, float("nan")]}}, "not finite"),
        ({"axes": {"gamma": [0.3]}, "params": {"gamma": 0.5}}, "both swept"),
        ({"axes": {"theta": [0.3]}, "params": {"gama": 0.5}}, "unknown fixed parameter 'gama'.*'gamma'"),
        ({"axes": {"theta": [0.3], "m_FM": ["x"]}}, "either the angle"),
        ({"observables": "free_enrgy"}, "unknown observable 'free_enrgy'.*'free_energy'"),
        ({"observables": "currents:eq8"}, "unknown current kind 'eq8'"),
        ({"observables": "rkky"}, "needs the trilayer"),
        ({"executor": "threads"}, "unknown executor 'threads'"),
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"tol": -1.0}, "tol must be a positive"),
        ({"axes": {"T": [0.01, -0.1]}}, "temperature T must be a finite number >= 0"),
        ({"axes": {"N_x": [4, 5.5]}}, "N_x must be an integer, got 5.5"),
        ({"axes": {"N_x": [4, float("inf")]}}, "not finite"),
        ({"system": "bilayr"}, "unknown geometry 'bilayr'.*'bilayer'"),
    ],
)
def test_bad_inputs(kwargs, match):
    call = {"system": "bilayer", "axes": {"theta": [0.0]}, "observables": "free_energy"}
    call.update(kwargs)
    system, axes, observables = call.pop("system"), call.pop("axes"), call.pop("observables")
    with pytest.raises(ValueError, match=match):
        sweep(system, axes, observables, **call)


# ------------------------------------------------------------------------ progress and CLI
def test_progress_bar_only_when_asked(capsys):
    sweep("bilayer", {"theta": [0.0, 1.0]}, params={"N_x": 3, "N_y": 10}, executor="serial")
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
    sweep("bilayer", {"theta": [0.0, 1.0]}, params={"N_x": 3, "N_y": 10}, executor="serial", progress=True)
    assert "2/2" in capsys.readouterr().err


def _cli(argv):
    parser = argparse.ArgumentParser()
    sweep_cmd.add_arguments(parser)
    return sweep_cmd.run(parser.parse_args(argv))


def test_cli_writes_labeled_file(tmp_path, capsys):
    out = tmp_path / "F.nc"
    rc = _cli(["bilayer", "--param", "theta=0:1.4:3", "--param", "N_x=4,5", "--set", "gamma=0.3", "--set", "N_y=20", "--observable", "free_energy,densities", "--out", str(out), "--quiet"])
    assert rc == 0 and "wrote" in capsys.readouterr().out
    ds = load(out)
    assert ds.free_energy.dims == ("theta", "N_x")
    np.testing.assert_allclose(ds.theta.values, [0.0, 0.7, 1.4])
    assert ds.N_x.values.tolist() == [4, 5]
    ref = solve(bilayer(gamma=0.3, N_x=5, N_y=20, m_FM=(0.7, 0.0)), 0.01).free_energy()
    assert ds.free_energy.sel(theta=0.7, N_x=5).item() == pytest.approx(ref, abs=1e-13)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["bilayer", "--param", "theta="], "no values given"),
        (["bilayer", "--param", "theta=0:1"], "START:STOP:NUM with three fields"),
        (["bilayer", "--param", "theta=0:1:0"], "NUM must be an integer >= 1"),
        (["bilayer", "--param", "theta=0:1:2.5"], "NUM must be an integer >= 1"),
        (["bilayer", "--param", "theta"], "expected NAME=VALUES"),
        (["bilayer", "--param", "phii=0,1"], "unknown sweep parameter 'phii'.*'phi'"),
        (["bilayer", "--param", "N_x=4,x"], "mixes numbers and words"),
        (["bilayer"], "no swept parameter"),
        (["bilayer", "--param", "theta=0,1", "--param", "theta=2"], "given twice"),
    ],
)
def test_cli_bad_axes(argv, match):
    with pytest.raises(ValueError, match=match):
        _cli(argv)


def test_cli_reports_failed_points(capsys):
    # a point that fails at run time (not detectable up front): the trapezoid rule forced at T = 1e-7
    rc = _cli(["bilayer", "--param", "T=0.01,1e-7", "--set", "N_y=inf", "--set", "N_x=4", "--ny-inf-method", "trapezoid", "--quiet"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "1 of 2 sweep points failed" in err and '"T": 1e-07' in err and "trapezoid nodes" in err


def test_process_workers_start_with_one_blas_thread(monkeypatch):
    from orbsym.workflows.sweeps import process_executor
    from orbsym.workflows.sweeps.points import startup_blas_env

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with process_executor(1) as ex:
        env = ex.submit(startup_blas_env).result()
    assert env["OMP_NUM_THREADS"] == "1" and env["OPENBLAS_NUM_THREADS"] == "1"
    import os

    assert os.environ["OMP_NUM_THREADS"] == "2"  # the parent's environment is restored


def test_progress_bar_stays_quiet_when_ipykernel_is_merely_imported(capsys, monkeypatch):
    """Importing ipykernel (as notebook tooling does) is not the same as running in a notebook."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    sweep("bilayer", {"theta": [0.0, 1.0]}, params={"N_x": 3, "N_y": 10}, executor="serial")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv, option", [
    (["--tol", "1e-10"], "--tol"),
    (["--ny-inf-method", "adaptive", "--set", "N_y=100"], "--ny-inf-method"),
    (["--tol", "1e-9", "--param", "N_y=50,100"], "--tol"),
])
def test_cli_infinite_rows_options_refused_without_an_infinite_N_y(argv, option, capsys, monkeypatch):
    """--tol / --ny-inf-method set the N_y = inf k_y integral: with only finite N_y they would be
    silently ignored, so they are refused by name before any point runs."""
    import orbsym.workflows.sweeps as sweeps_pkg
    from orbsym.cli import main

    monkeypatch.setattr(sweeps_pkg, "sweep", lambda *a, **k: pytest.fail("the sweep ran"))
    axes = [] if "--param" in argv else ["--param", "gamma=0.5,1"]
    assert main(["sweep", "trilayer", *axes, "--set", "N_x=5", *argv]) == 2
    err = capsys.readouterr().err
    assert f"option {option} applies only to points with N_y = inf" in err and err.count("\n") == 1
