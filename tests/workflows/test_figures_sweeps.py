"""Figures as sweeps: the same numbers as the direct solves, labeled NetCDF beside the CSV,
resuming after an interruption, local workers; Fig. 4's exact switch points; Fig. 3's rings."""

import math
import os

import numpy as np
import pytest

from orbsym import cli
from orbsym.systems import bilayer, rkky, solve, trilayer
from orbsym.workflows.figures import fig2, fig3, fig4, fig5
from orbsym.workflows.figures.common import Runner, free_energy_vs_mu, read_csv
from orbsym.workflows.sweeps import load

T = 0.01


def test_fig5_sweep_equals_direct_rkky():
    d = fig5.compute(N_y=16, N_x_min=3, N_x_max=5, gammas=(1.0, 0.3))
    p = d["params"]
    for g in (1.0, 0.3):
        ref = [rkky(trilayer(N_x=int(n), N_y=16, mu=p["mu"], tp=p["tp"], m_L="y", m_R="y", gamma=g), T) for n in d["N_x"]]
        np.testing.assert_array_equal(d["J"][g], [r["J"] for r in ref])
        np.testing.assert_array_equal(d["F_AP"][g], [r["F_AP"] for r in ref])


@pytest.mark.parametrize("kind", ["bond", "eq7"])
def test_fig2_sweep_equals_direct_currents(kind):
    d = fig2.compute(N_y=16, N_x=6, gammas=(1.0, 0.5), current=kind, configs=(("x", "y"), ("y", "z")))
    for ic, (a, b) in enumerate(d["configs"]):
        for g in d["gammas"]:
            ref = solve(trilayer(N_x=6, N_y=16, mu=d["params"]["mu"], gamma=g, m_L=a, m_R=b), T).currents(kind, "x")
            for q in "xyz":
                np.testing.assert_array_equal(d["currents"][(ic, g)][q], np.asarray(ref[q], float))


def test_fig3_sweep_equals_direct_solves_at_every_grid_point():
    d = fig3.compute(N_y=16, N_x=4, n_theta=4, n_phi=5, gamma=0.4, w=0.3)
    p = d["params"]
    for panel in ("nm", "am"):
        base = fig3._base(p, panel)
        for i, th in enumerate(d["theta"]):
            for j, ph in enumerate(d["phi"]):
                v = (math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th))
                ref = solve(bilayer(**{**base, "m_FM": v}), T).free_energy()
                assert abs(d["F"][panel][i, j] - ref) < 1e-11  # exact symmetry: rounding only


def test_fig4_curves_equal_one_diagonalization_per_axis():
    d = fig4.compute(N_y=20, N_x=5, n_mu=31)
    for a in "xyz":
        ref = free_energy_vs_mu(bilayer(N_x=5, N_y=20, gamma=0.3, m_FM=a, mu=0.0), T, d["mu"])
        np.testing.assert_array_equal(d["F"][a], ref)


def test_fig4_switch_points_exact_and_independent_of_the_grid():
    """Brent roots on the closed-form F(mu): refining the plotting grid moves them by < 1e-10; at
    each root a direct solve at that mu gives F_a = F_b; the grid interpolation is off by ~step^2."""
    kw = dict(N_y=30, N_x=5, mu_min=-3.0, mu_max=3.0)
    coarse = fig4.compute(n_mu=41, **kw)
    fine = fig4.compute(n_mu=801, **kw)
    a, b = coarse["switch_points"], fine["switch_points"]
    assert len(a) >= 2 and [(x[1], x[2]) for x in a] == [(x[1], x[2]) for x in b]
    assert max(abs(x[0] - y[0]) for x, y in zip(a, b)) < 1e-10
    grid = fig4.grid_switch_points(coarse)
    assert max(abs(x[0] - y[0]) for x, y in zip(a, grid)) > 1e-6  # the old reading was grid-limited
    mu, lo, hi = a[0]
    F = {ax: solve(bilayer(N_x=5, N_y=30, gamma=0.3, m_FM=ax, mu=mu), T).free_energy() for ax in (lo, hi)}
    slope = abs(solve(bilayer(N_x=5, N_y=30, gamma=0.3, m_FM=lo, mu=mu), T).particle_number() - solve(bilayer(N_x=5, N_y=30, gamma=0.3, m_FM=hi, mu=mu), T).particle_number())
    assert abs(F[lo] - F[hi]) < 1e-11
    assert abs(F[lo] - F[hi]) / max(slope, 1e-3) < 1e-8  # the root in mu to ~1e-9
    meta, _, _ = read_csv_of(fine)
    assert meta["switch_points"][0][0] == pytest.approx(b[0][0], abs=1e-12)


def read_csv_of(data, tmp=None):
    import tempfile

    d = tempfile.mkdtemp()
    paths = fig4.save(data, d)
    return read_csv(paths[2])


def test_fig3_ring_and_pole_reported_as_such():
    """AM/FM: F depends on theta only (exact spin rotation about z), so a minimum away from the poles
    is a ring -- reported once, not once per phi grid point; a pole is one direction."""
    ring = fig3.compute(N_y=16, N_x=4, n_theta=7, n_phi=13, panels=("am",), w=0.4)  # minimum at theta = 30 deg here
    F = ring["F"]["am"]
    i = int(np.argmin(F.min(axis=1)))
    assert 0 < i < 6 and np.ptp(F[i]) < 1e-12  # phi-independent, away from the poles
    assert fig3.minimum_sets(ring["theta"], ring["phi"], F) == [{"kind": "ring", "theta": ring["theta"][i], "phi": None, "vector": None}]
    assert fig3.summary(ring)["am"]["minima"] == ["ring theta=30 deg (all phi)"]
    pole = fig3.compute(N_y=16, N_x=4, n_theta=7, n_phi=13, panels=("am",), w=0.6)  # minimum at +z here
    assert fig3.summary(pole)["am"]["minima"] == ["+z"]
    south = fig3.minimum_sets(ring["theta"], ring["phi"], np.where(np.arange(7)[:, None] == 6, -1.0, 0.0) * np.ones((7, 13)))
    assert south == [{"kind": "pole", "theta": math.pi, "phi": None, "vector": (0.0, 0.0, -1.0)}]
    point = np.zeros((7, 13))
    point[3, [3, 9]] = -1.0  # two isolated directions: +y and -y
    assert [m["vector"] for m in fig3.minimum_sets(ring["theta"], ring["phi"], point)] == [(0.0, 1.0, 0.0), (0.0, -1.0, 0.0)]


def test_netcdf_beside_csv_holds_the_same_labeled_numbers(tmp_path):
    d = fig5.compute(N_y=16, N_x_min=3, N_x_max=5, gammas=(1.0, 0.5))
    paths = fig5.save(d, tmp_path)
    assert [os.path.basename(p) for p in paths] == ["fig5.png", "fig5.pdf", "fig5.csv", "fig5.nc"]
    ds = load(tmp_path / "fig5.nc")
    _, cols, rows = read_csv(tmp_path / "fig5.csv")
    for r in rows:
        g, n, J = float(r[0]), int(r[1]), float(r[2])
        assert ds.J.sel(gamma=g, N_x=n).item() == J
    assert ds.J.attrs["units"] == "t per row" and "interface" in ds.attrs


class _Interrupt(BaseException):
    pass


def test_interrupted_figure_resumes_and_gives_the_same_numbers(tmp_path, monkeypatch):
    from orbsym.workflows.sweeps import points

    kw = dict(N_y=16, N_x_min=3, N_x_max=8, gammas=(1.0, 0.5))
    ref = fig5.compute(**kw)
    real = points.compute_point
    calls = []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 7:
            raise _Interrupt()
        return real(*a, **k)

    monkeypatch.setattr(points, "compute_point", flaky)
    resume = tmp_path / ".orbsym-resume"
    with pytest.raises(_Interrupt):
        fig5.compute(run=Runner(resume=resume, progress=False), **kw)
    assert any(resume.iterdir())  # partial chunks kept
    calls.clear()
    run = Runner(resume=resume, progress=False)
    d = fig5.compute(run=run, **kw)
    assert 0 < len(calls) < 12  # only the missing points were computed
    for g in (1.0, 0.5):
        np.testing.assert_array_equal(d["J"][g], ref["J"][g])
    run.cleanup()
    assert not resume.exists()


def test_figure_cli_unreachable_scheduler_fails_fast_with_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("dask.distributed")
    from orbsym import execution

    monkeypatch.setattr(execution, "SCHEDULER_TIMEOUT", 1.0)
    argv = ["figure", "4", "--N-x", "4", "--N-y", "16", "--mu-range=-1:1:11", "--no-progress"]
    assert cli.main(argv + ["--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the dask scheduler 'tcp://127.0.0.1:9' within 1 s" in err[0]
    assert not any(n.endswith(".png") for n in os.listdir(tmp_path))
