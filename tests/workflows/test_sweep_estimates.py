"""The whole sweep's memory and time, estimated with the engine that runs each point, before any runs.

* refusals (table): memory of the largest point, the sum of the points' time, each engine (dense,
  Green's-function, the dense N_y = inf integral, the always-dense ``levels``), temperature axes, user
  factories -- from the API and the command line, with the point loop replaced by a tripwire;
* structure: a Green's-function sweep at N_x = 2000 is accepted and estimated in seconds (the old
  dense per-point check refused it); the ``auto`` choice equals :func:`choose_engine` on the real
  lattices; the time is additive over points; resumed (stored) points are not counted;
* figures: sized by the grids their ``compute`` would run, nothing runs; Fig. 5 over N_x = 3..3000
  is accepted (hours, not days), a truly large figure is refused naming the option to change.
"""

import math

import numpy as np
import pytest

from orbsym import cli
from orbsym.numeric.budget import ResourceError
from orbsym.workflows.sweeps import core, estimate_sweep, sweep
from orbsym.workflows.sweeps.estimate import PointPlan, auto_engine, sweep_estimate
from orbsym.workflows.sweeps.inputs import system_spec
from orbsym.workflows.sweeps.points import parse_observable


@pytest.fixture
def tripwire(monkeypatch):
    """No point may run: the chunk runner and the point loop fail the test."""

    def trip(*a, **k):
        raise AssertionError("a sweep point ran before the sweep was refused")

    monkeypatch.setattr(core, "run_chunk", trip)
    monkeypatch.setattr(core, "_compute", trip)


def _factory(**kw):  # a user factory: never called in the parent
    raise AssertionError("the user factory was called to size the sweep")


FIG2 = {"N_x": 25, "N_y": 800}
GRID = list(np.linspace(0.0, 1.0, 1000))

# (id, sweep arguments, words in the message)
REFUSED = [
    ("10^6 points at the Fig. 2 size", dict(system="trilayer", axes={"theta_L": GRID, "theta_R": GRID}, observables="currents", params=FIG2),
     ["the sweep of 1000000 points (theta_L=1000 x theta_R=1000)", "1000000 points to compute", "days of CPU time", "coarsen or split the --param grids"]),
    ("dense points beyond memory", dict(system="bilayer", axes={"N_x": [4, 100000]}, observables="free_energy", params={"N_y": 8}, engine="dense"),
     ["the sweep of 2 points (N_x=2)", "TiB of memory", "dense Bloch engine", "reduce N_x"]),
    ("one greens point of weeks", dict(system="trilayer", axes={"mu": [0.0]}, observables="currents", params={"N_x": 10**7, "N_y": 800}, engine="greens"),
     ["the sweep of 1 points (mu=1)", "days of CPU time", "Green's-function engine"]),
    ("low temperatures on the greens engine", dict(system="trilayer", axes={"T": [1e-4, 1e-3]}, observables="free_energy", params={"N_x": 100000, "N_y": 800}, engine="greens"),
     ["(T=2)", "Green's-function engine", "ORBSYM_MAX_SECONDS"], 3600.0),
    ("dense N_y = inf integral", dict(system="trilayer", axes={"mu": [0.0, 0.1]}, observables="free_energy", params={"N_x": 20000, "N_y": math.inf}),
     ["(mu=2)", "dense k-integral engine", "of memory"]),
    ("levels are always dense", dict(system="bilayer", axes={"mu": [0.0]}, observables="levels", params={"N_x": 3000, "N_y": 800}, engine="greens"),
     ["dense Bloch engine", "GiB of memory"], None, "4G"),
    ("rkky counts its two solves", dict(system="trilayer", axes={"N_x": [5000]}, observables="rkky", params={"N_y": 800}),
     ["Green's-function engine", "the largest ~2"], 15.0),
    ("user factory sized from N_x", dict(system=_factory, axes={"x": [0, 1, 2]}, observables="densities", params={"N_x": 10**7, "N_y": 800}),
     ["the sweep of 3 points (x=3)", "Green's-function engine", "days of CPU time"]),
]


def _row(row):
    name, call, words, *limits = row
    seconds = limits[0] if limits else None
    memory = limits[1] if len(limits) > 1 else None
    return pytest.param(call, words, seconds, memory, id=name)


@pytest.mark.parametrize("call, words, seconds, memory", [_row(r) for r in REFUSED])
def test_sweep_refused_before_any_point(call, words, seconds, memory, tripwire, monkeypatch):
    monkeypatch.delenv("ORBSYM_MAX_SECONDS", raising=False)
    monkeypatch.delenv("ORBSYM_MAX_MEMORY", raising=False)
    if seconds is not None:
        monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(seconds))
    if memory is not None:
        monkeypatch.setenv("ORBSYM_MAX_MEMORY", memory)
    call = dict(call)
    with pytest.raises(ResourceError) as info:
        sweep(call.pop("system"), call.pop("axes"), call.pop("observables"), executor="serial", workers=1, **call)
    msg = str(info.value)
    for w in words:
        assert w in msg, (w, msg)


CLI = [
    ("10^6 grid", ["sweep", "trilayer", "--param", "theta_L=0:1:1000", "--param", "theta_R=0:1:1000", "--observable", "currents", "--set", "N_x=25", "--set", "N_y=800", "--workers", "1"],
     ["the sweep of 1000000 points (theta_L=1000 x theta_R=1000)", "days of CPU time", "--param", "--set"]),
    ("dense engine memory", ["sweep", "bilayer", "--param", "N_x=4,100000", "--set", "N_y=8", "--engine", "dense"], ["sweep of 2 points", "TiB of memory", "--engine"]),
    ("greens engine time", ["sweep", "trilayer", "--param", "mu=0,0.1", "--set", "N_x=10000000", "--set", "N_y=800", "--engine", "greens", "--observable", "densities"],
     ["sweep of 2 points (mu=2)", "Green's-function engine", "days", "of CPU time"]),
]


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in CLI])
def test_sweep_command_refused_in_one_line(argv, words, tripwire, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ORBSYM_MAX_SECONDS", raising=False)
    monkeypatch.delenv("ORBSYM_MAX_MEMORY", raising=False)
    out = tmp_path / "F.nc"
    assert cli.main([*argv, "--out", str(out), "--quiet"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("orbsym: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the parts directory


def test_greens_sweep_at_large_N_x_is_accepted_and_estimated_in_seconds(monkeypatch):
    """N_x = 2000: the dense blocks (6000 x 6000) would need ~4.6 GiB; the engine that runs it needs MiB."""
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "1G")
    reached = []
    monkeypatch.setattr(core, "_compute", lambda run, results, store, **kw: reached.append(run[-1]))
    for engine in ("greens", "auto"):
        sweep("trilayer", {"mu": [-0.2, 0.1]}, "free_energy", params={"N_x": 2000, "N_y": 10}, engine=engine, executor="serial")
        est = estimate_sweep("trilayer", {"mu": [-0.2, 0.1]}, "free_energy", params={"N_x": 2000, "N_y": 10}, engine=engine)
        assert est.engine == "Green's-function"
        assert 0.5 < est.seconds < 10 and est.bytes < 64 * 2**20, est.describe()  # measured: 1.9-2.0 s CPU
    assert reached == [2, 2]
    with pytest.raises(ResourceError, match="GiB of memory.*dense Bloch engine"):
        sweep("trilayer", {"mu": [-0.2, 0.1]}, "free_energy", params={"N_x": 2000, "N_y": 10}, engine="dense", executor="serial")


@pytest.mark.parametrize("geometry, N_xs, N_y, T, vectors", [
    ("trilayer", (5, 25, 60, 200, 2000), 800, 0.01, False),
    ("trilayer", (5, 25, 60, 200), 800, 0.01, True),
    ("trilayer", (5, 40, 300), 10, 0.0, False),
    ("bilayer", (4, 25, 100, 1000), 200, 0.05, False),
    ("bilayer", (4, 25, 100), 200, 0.05, True),
])
def test_auto_engine_is_the_engine_choice_at_each_size(geometry, N_xs, N_y, T, vectors):
    """The short-copy model picks what choose_engine picks on the real (long) lattice."""
    from orbsym import systems
    from orbsym.numeric.engines import choose_engine

    make = getattr(systems, geometry)
    plan = PointPlan.from_system(make(N_x=5, N_y=N_y, gamma=0.5))
    picks = []
    for N_x in N_xs:
        lat = make(N_x=N_x, N_y=N_y, gamma=0.5).lattice
        assert auto_engine(plan, N_x, N_y, T, vectors) == choose_engine("auto", lat, T, vectors), N_x
        picks.append(auto_engine(plan, N_x, N_y, T, vectors))
    assert picks[-1] == "greens"  # the long ones run on the linear-scaling engine


def test_time_is_additive_and_resumed_points_are_not_counted():
    spec = system_spec("trilayer", {"N_y": 200, "T": 0.01})
    obs = [parse_observable("rkky")]
    axes = {"gamma": [1.0, 0.5], "N_x": list(range(3, 13))}
    full = sweep_estimate(spec, axes, obs)
    one = sweep_estimate(spec, {"gamma": [1.0], "N_x": [12]}, obs)
    assert full.seconds > 10 * one.seconds / 2  # 20 points, the largest one 1/20 of the time at most
    # gamma = 1.0 at every N_x stored: indices 0..9 of the (gamma, N_x) grid
    half = sweep_estimate(spec, axes, obs, skip=range(10))
    assert "10 points to compute (10 already stored)" in half.detail
    assert half.seconds == pytest.approx(full.seconds / 2, rel=0.2)  # gamma only moves the spectral bound
    none = sweep_estimate(spec, axes, obs, skip=range(20))
    assert none.seconds == 0 and "0 points to compute (20 already stored)" in none.detail
    # the largest N_x stored: the rest is cheaper than a fair share
    big = sweep_estimate(spec, axes, obs, skip=[9, 19])
    assert big.seconds < full.seconds * 18 / 20


def test_resumed_sweep_counts_only_the_missing_points(tmp_path, monkeypatch):
    """A stored half is not counted: refused as a fresh sweep, accepted when resumed."""
    from orbsym.workflows.sweeps.store import Store

    axes, params = {"mu": [-0.2, -0.1, 0.0, 0.1]}, {"N_x": 1000, "N_y": 10}
    full = estimate_sweep("trilayer", axes, "free_energy", params=params, engine="greens")
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(0.75 * full.seconds))
    reached = []
    monkeypatch.setattr(core, "_compute", lambda run, results, store, **kw: reached.append(sorted(results)))
    with pytest.raises(ResourceError, match=r"4 points to compute, .*more than the limit"):
        sweep("trilayer", axes, "free_energy", params=params, engine="greens", executor="serial", workers=1, out=tmp_path / "F.nc")
    assert reached == [] and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(Store, "load", lambda self, n: {0: {}, 1: {}})  # two points already stored
    with pytest.raises(AttributeError):  # accepted: _compute is reached (the stub returns no Dataset to save)
        sweep("trilayer", axes, "free_energy", params=params, engine="greens", executor="serial", workers=1, out=tmp_path / "F.nc")
    assert reached == [[0, 1]]


def test_workers_share_the_time_and_multiply_the_memory():
    spec = system_spec("trilayer", {"N_x": 200, "N_y": 100})
    obs = [parse_observable("densities")]
    one = sweep_estimate(spec, {"mu": [0.0, 0.1, 0.2, 0.3]}, obs, workers=1)
    two = sweep_estimate(spec, {"mu": [0.0, 0.1, 0.2, 0.3]}, obs, workers=2)
    assert two.seconds == one.seconds  # CPU time; check_resources divides it among the workers
    assert two.bytes == pytest.approx(2 * one.bytes, rel=0.01)
    assert "wall" in two.describe(2)


# ------------------------------------------------------------------------------ figures
@pytest.fixture
def no_solve(monkeypatch):
    """The figures' grids may be planned, never run."""
    from orbsym.workflows.figures import common

    def trip(*a, **k):
        raise AssertionError("a figure grid ran before the figure was sized")

    monkeypatch.setattr(common.Runner, "sweep", trip)
    monkeypatch.setattr(core, "_compute", trip)


def test_figure5_long_range_is_sized_by_its_engines_and_accepted(no_solve, monkeypatch):
    """N_x = 3..3000 runs mostly on the Green's-function engine: ~hours, not the days of the dense estimate."""
    from orbsym.commands.figure import check_figure_size, estimate_figure
    from orbsym.workflows import figures

    monkeypatch.delenv("ORBSYM_MAX_SECONDS", raising=False)
    mod = figures.module(5)
    params = {"N_x_min": 3, "N_x_max": 3000}
    est = check_figure_size(mod, 5, params, False)
    assert "Green's-function" in est.engine and "11992 points" in est.detail  # 4 gammas x 2998 lengths
    assert 3600 < est.seconds < 86400, est.describe()  # measured: one N_x = 3000 point 10.1 s CPU (estimate 11.9 s)
    assert est.seconds < estimate_figure(mod, 5, {"N_x_min": 3, "N_x_max": 6000}, False).seconds / 3


@pytest.mark.parametrize("argv, words", [
    (["figure", "5", "--N-x-range", "3:30000"], ["figure 5 needs", "days of CPU time", "--N-x-range"]),
    (["figure", "2", "--N-x", "10000000"], ["figure 2 needs", "at least 12 solves at N_x = 10000000", "--N-x"]),
    (["figure", "3", "--grid", "2000x2000", "--N-x", "2000"], ["figure 3 needs", "at least", "--grid"]),  # lower bound: nothing built
    (["figure", "3", "--grid", "300x300", "--N-x", "3000", "--panels", "nm"], ["figure 3 needs", "points to compute", "--grid"]),
    (["figure", "4", "--N-x", "5000"], ["figure 4 needs", "dense Bloch engine", "--N-x"]),
    (["reproduce", "--N-y", "100000000"], ["figure 4 needs", "dense Bloch engine", "--N-y"]),  # Figs. 2, 3 pass: greens k sub-grids
])
def test_figure_refused_before_any_solve(argv, words, no_solve, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ORBSYM_MAX_SECONDS", raising=False)
    monkeypatch.delenv("ORBSYM_MAX_MEMORY", raising=False)
    assert cli.main([*argv, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("orbsym: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)


def test_reproduce_bounds_the_sum_of_its_figures(no_solve, tmp_path, capsys, monkeypatch):
    """Each of Figs. 4 and 5 fits the limit on its own; together they do not: refused, each named."""
    from orbsym.commands.figure import estimate_figure
    from orbsym.workflows import figures

    t4 = estimate_figure(figures.module(4), 4, {}, True).seconds
    t5 = estimate_figure(figures.module(5), 5, {}, True).seconds
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", str(1.05 * max(t4, t5)))
    assert max(t4, t5) * 1.05 < t4 + t5
    assert cli.main(["reproduce", "--quick", "--figures", "4,5", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1, err
    for w in ("reproduce (figures 4,5) needs", "figure 4 ~", "figure 5 ~", "--figures"):
        assert w in err, (w, err)


def test_many_combinations_are_estimated_without_building_each():
    """30 N_FM x 30 T x 2 mu (> MAX_COMBINATIONS): every point counted, in well under a second per 100 builds."""
    import time

    from orbsym.workflows.sweeps import estimate as est_mod

    axes = {"N_FM": list(range(1, 31)), "T": list(np.linspace(0.01, 0.5, 30)), "mu": [0.0, 0.2]}
    t0 = time.process_time()
    est = estimate_sweep("trilayer", axes, "free_energy", params={"N_x": 80, "N_y": 100})
    assert time.process_time() - t0 < 10
    assert "1800 points to compute" in est.detail and 30 * 30 * 2 > est_mod.MAX_COMBINATIONS
    one = estimate_sweep("trilayer", {"T": [0.01]}, "free_energy", params={"N_x": 80, "N_y": 100, "N_FM": 1, "mu": 0.0})
    assert est.seconds == pytest.approx(1800 * one.seconds, rel=1.0)


def test_figure4_mu_grid_refused_from_its_count(no_solve, tmp_path, capsys, monkeypatch):
    """A 10^8-point --mu-range is refused by the cheap lower bound, before compute() would build the grid
    (plan_grids is never called: it runs the figure's own code, np.linspace of every mu)."""
    from orbsym.workflows.figures import common

    def trip(*a, **k):
        raise AssertionError("the figure's grids were planned before the mu count was sized")

    monkeypatch.setattr(common, "plan_grids", trip)
    monkeypatch.delenv("ORBSYM_MAX_MEMORY", raising=False)
    assert cli.main(["figure", "4", "--mu-range=-3:3:100000000", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("orbsym: error: figure 4 needs") and "at least 3 solves" in err and "--mu-range" in err, err
