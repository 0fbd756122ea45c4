"""``orbsym hall MODEL --disorder KIND:W``: SCBA + ladder and Chebyshev disorder averages from the CLI (model files in tmp_path)."""

import json

import numpy as np
import pytest

from orbsym.cli import main

SP = """
import numpy as np
from orbsym.materials.model import Atom, TightBinding
on = np.diag([1.0, -1.0, -1.0]).astype(complex)
Tx = np.array([[-0.5, 0.6, 0], [-0.6, 0.8, 0], [0, 0, -0.2]], complex)
Ty = np.array([[-0.5, 0, 0.6], [0, -0.2, 0], [-0.6, 0, 0.8]], complex)
model = TightBinding.from_bonds(np.eye(3), [Atom("A", (0, 0, 0), ("s", "px", "py"))], on, {(1, 0, 0): Tx, (0, 1, 0): Ty},
                                periodic=2, length_unit="a", energy_unit="t", name="sp square")
"""


@pytest.fixture
def sp(tmp_path):
    f = tmp_path / "sp.py"
    f.write_text(SP)
    return f


def _model(path):
    from orbsym.materials.load import load_model

    return load_model(str(path))


def _run_nc(capsys, argv, path):
    import xarray as xr

    assert main(argv + ["--out", str(path)]) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load(), text


def test_scba_cli_equals_disordered_conductivity(sp, tmp_path, capsys):
    from orbsym.materials.born import disordered_conductivity

    m = _model(sp)
    ds, text = _run_nc(capsys, ["hall", str(sp), "--units", "natural", "--disorder", "anderson:2.5", "--N-k", "12", "--sea-points", "6",
                                "--mu=-0.4,0.3"], tmp_path / "scba.nc")
    for i, mu in enumerate((-0.4, 0.3)):
        r = disordered_conductivity(m, mu, 2.5, operator="L", components=["zxy"], N_k=12, n_sea=6, units="natural")
        rc = disordered_conductivity(m, mu, 2.5, operator="L", components=["zxy"], N_k=6, n_sea=6, units="natural")
        at = dict(mu=i, gamma=2, alpha=0, beta=1)
        assert float(ds.sigma[at]) == pytest.approx(r.total["zxy"], rel=1e-12)
        assert float(ds.sigma_ladder[at]) == pytest.approx(r.total["zxy"], rel=1e-12)
        assert float(ds.sigma_bubble[at]) == pytest.approx(r.total_bare["zxy"], rel=1e-12)
        assert float(ds.fermi_surface[at]) == pytest.approx(r.fermi_surface["zxy"], rel=1e-12)
        assert float(ds.fermi_sea_ladder[at]) == pytest.approx(r.fermi_sea_ladder["zxy"], rel=1e-12)
        assert float(ds.fermi_sea[at]) == pytest.approx(r.fermi_sea["zxy"], rel=1e-12)
        assert float(ds.error_estimate[at]) == pytest.approx(abs(r.total["zxy"] - rc.total["zxy"]), rel=1e-9)
        np.testing.assert_allclose(ds.Gamma.values[i], r.gamma, rtol=1e-12)
        assert float(ds.vertex_share[at]) == pytest.approx((r.total["zxy"] - r.total_bare["zxy"]) / r.total["zxy"], rel=1e-12)
        assert f"sigma^z_xy = {r.total['zxy']:.6g}" in text
        assert abs(r.total["zxy"] - r.total_bare["zxy"]) > 0.1 * abs(r.total["zxy"])  # the ladder matters in this model
    assert np.isnan(ds.sigma.values[:, 0]).all()  # only the requested (default) component
    # every variable carries units and a description; the attributes record method, disorder and grid
    for name in list(ds.data_vars) + ["mu"]:
        assert ds[name].attrs["units"] and ds[name].attrs["description"], name
    assert ds.sigma.attrs["units"] == "dimensionless (e^2/hbar = 1) per unit force qE"
    assert ds.Gamma.attrs["units"] == "t"
    a = ds.attrs
    assert (a["method"], a["disorder"], a["distribution"], a["correlation"], int(a["N_k"]), int(a["N_k_coarse"]), int(a["n_sea"])) == \
        ("scba", "anderson:2.5", "uniform", "orbital-independent", 12, 6, 6)
    assert "crossed" in a["neglected"] and "skew" in a["neglected"] and "born" in a["engine"]
    assert "vertex-correction share" in text and "Gamma = -Im Sigma" in text and "neglects the crossed" in text
    assert "above every Gamma: NOT resolved" in text  # N_k = 12 against Gamma ~ 0.2 t
    assert (ds.grid_spacing.values > ds.Gamma.values.min(axis=1)).all()


def test_scba_no_ladder_gauss_per_orbital(sp, tmp_path, capsys):
    """--no-ladder: the headline is the bubble; anderson-gauss / anderson-orbital reach born's distribution / correlation."""
    from orbsym.materials.born import disordered_conductivity

    m = _model(sp)
    for kind, dist, corr in (("anderson-gauss", "gaussian", "orbital-independent"), ("anderson-orbital", "uniform", "per-orbital")):
        ds, text = _run_nc(capsys, ["hall", str(sp), "--units", "natural", "--disorder", f"{kind}:0.8", "--N-k", "10", "--sea-points", "4",
                                    "--operator", "charge", "--components", "xx,xy", "--no-ladder", "--no-convergence"], tmp_path / f"{kind}.nc")
        r = disordered_conductivity(m, 0.0, 0.8, operator="charge", components=["xx", "xy"], distribution=dist, correlation=corr, N_k=10, n_sea=4)
        for c, (a, b) in (("xx", (0, 0)), ("xy", (0, 1))):
            at = dict(mu=0, gamma=0, alpha=a, beta=b)
            assert float(ds.sigma[at]) == pytest.approx(r.total_bare[c], rel=1e-12, abs=1e-14)
            assert float(ds.sigma_ladder[at]) == pytest.approx(r.total[c], rel=1e-12, abs=1e-14)
        assert "error_estimate" not in ds and "[SCBA bubble]" in text and ds.attrs["correlation"] == corr


def test_chebyshev_cli_equals_a_direct_average_of_kubo_bastin(sp, tmp_path, capsys):
    from orbsym.numeric.chebyshev import SparseSample, kubo_bastin

    m = _model(sp)
    L, W, S, R = 5, 1.5, 7, 3
    ds, text = _run_nc(capsys, ["hall", str(sp), "--units", "natural", "--disorder", f"anderson:{W}", "--method", "chebyshev", "--size", str(L),
                                "--realizations", str(R), "--seed", str(S), "--moments", "12", "--vectors", "2", "--T", "0.1", "--mu=-0.5,0.5"],
                       tmp_path / "cheb.nc")
    per = []
    for r in range(R):
        eps = np.random.default_rng([S + r, 21]).uniform(-W / 2, W / 2, (L, L, 1))  # one energy per atom, all its orbitals
        sample = SparseSample.from_tight_binding(m, (L, L), onsite_disorder=eps, generators=m.angular_momentum("L"))
        per.append(kubo_bastin(sample, "x", "y", "z", T=0.1, mu=[-0.5, 0.5], n_moments=12, n_vectors=2, seed=S + r).sigma)
    per = np.array(per)
    np.testing.assert_allclose(ds.sigma.values[:, 2, 0, 1], per.mean(0), rtol=1e-12)
    np.testing.assert_allclose(ds.standard_error.values[:, 2, 0, 1], per.std(0, ddof=1) / np.sqrt(R), rtol=1e-10)
    np.testing.assert_allclose(ds.sigma_realizations.values[:, :, 2, 0, 1], per, rtol=1e-12)
    assert ds.attrs["seeds"] == str([S, S + 1, S + 2]) and int(ds.attrs["size"]) == L and int(ds.attrs["moments"]) == 12
    assert ds.attrs["method"] == "chebyshev" and "kubo_bastin" in ds.attrs["engine"]
    for name in ds.data_vars:
        assert ds[name].attrs["units"] and ds[name].attrs["description"], name
    assert "standard error over 3 realizations" in text


def test_chebyshev_per_orbital_draws_per_basis_orbital(sp, tmp_path, capsys):
    from orbsym.numeric.chebyshev import SparseSample, kubo_bastin

    m = _model(sp)
    ds, _ = _run_nc(capsys, ["hall", str(sp), "--units", "natural", "--disorder", "anderson-orbital:1", "--method", "chebyshev", "--size", "4",
                             "--realizations", "1", "--moments", "8", "--vectors", "2", "--T", "0.2", "--operator", "charge", "--components", "xy"],
                    tmp_path / "po.nc")
    eps = np.random.default_rng([0, 21]).uniform(-0.5, 0.5, (4, 4, 3))
    kb = kubo_bastin(SparseSample.from_tight_binding(m, (4, 4), onsite_disorder=eps), "x", "y", None, T=0.2, mu=0.0, n_moments=8, n_vectors=2, seed=0)
    assert float(ds.sigma[0, 0, 0, 1]) == pytest.approx(kb.sigma[0], rel=1e-12)
    assert np.isnan(ds.standard_error.values).all() and float(ds.vector_standard_error[0, 0, 0, 1]) == pytest.approx(kb.sigma_se[0], rel=1e-12)


def one_line_error(capsys, argv, code, *words):
    assert main(argv) == code
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("orbsym: error:"), err
    for w in words:
        assert w in err, err
    return err


def test_refusals(sp, tmp_path, capsys):
    base = ["hall", str(sp), "--units", "natural"]
    one_line_error(capsys, base + ["--disorder", "anderson:0"], 2, "W = 0 is the clean crystal")
    one_line_error(capsys, base + ["--disorder", "vacancies:0.1"], 2, "allowed: anderson:W, anderson-gauss:W, anderson-orbital:W")
    one_line_error(capsys, base + ["--disorder", "anderson:1,anderson-gauss:1"], 2, "one disorder kind")
    one_line_error(capsys, base + ["--disorder", "anderson:-1"], 2, "finite number > 0")
    one_line_error(capsys, base + ["--disorder", "anderson"], 2, "needs its strength W")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--eta", "0.1"], 2, "--eta does not apply")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--edelstein"], 2, "--edelstein does not apply")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--workers", "2"], 2, "--workers does not apply")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--realizations", "3"], 2, "--realizations does not apply", "--method scba")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--T", "0.1"], 2, "--T does not apply", "T = 0")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--method", "chebyshev"], 2, "--T > 0")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--method", "chebyshev", "--T", "0.1", "--N-k", "8"], 2, "--N-k does not apply", "--size")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--method", "chebyshev", "--T", "0.1", "--no-ladder"], 2, "--no-ladder does not apply")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--method", "chebyshev", "--T", "0.1", "--realizations", "0"], 2, "--realizations must be")
    one_line_error(capsys, base + ["--method", "scba"], 2, "--method applies only with --disorder")
    one_line_error(capsys, base + ["--seed", "3"], 2, "--seed applies only with --disorder")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--out", str(tmp_path / "x.csv")], 2, "NetCDF")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--N-k", "4000"], 2, "SCBA + ladder", "of memory", "reduce --N-k")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--method", "chebyshev", "--T", "0.1", "--size", "3000", "--moments", "4000"], 2,
                   "Chebyshev Kubo-Bastin", "reduce --size")
    one_line_error(capsys, base + ["--disorder", "anderson:1", "--method", "chebyshev", "--T", "0.1", "--components", "zxz"], 2, "unknown component")
    # a 3D crystal (shipped Cu): the real-space engine builds 2D tori only
    one_line_error(capsys, ["hall", "Cu", "--disorder", "anderson:1", "--method", "chebyshev", "--T", "0.1"], 2, "3D crystal", "--method scba")
    assert not list(tmp_path.glob("*.nc"))


def test_collapsed_scba_on_a_coarse_grid_fails_but_a_gap_is_reported(sp, tmp_path, capsys):
    """Weak disorder on a grid far too coarse: the SCBA collapses to Gamma = 0 although bands cross mu -> exit 1 naming --N-k.
    In a gap (below the bands) Gamma = 0 is the answer and is printed as such."""
    base = ["hall", str(sp), "--units", "natural", "--disorder", "anderson:0.05", "--N-k", "4", "--sea-points", "3", "--no-convergence"]
    one_line_error(capsys, base + ["--mu", "0.1"], 1, "collapsed to Gamma = 0", "raise --N-k")
    assert main(base + ["--mu=-5"]) == 0
    assert "mu in a gap of the clean bands" in capsys.readouterr().out


@pytest.mark.parametrize("route", ["full", "gather"])
def test_chunked_ladder_map_equals_the_unchunked_reference(route, monkeypatch):
    """born._linear_map (chunks of k, BLAS route when the mask is dense, gather route otherwise) against the one-shot gather."""
    import orbsym.materials.born as born

    rng = np.random.default_rng(4)
    n, nk = 5, 37
    L = rng.normal(size=(nk, n, n)) + 1j * rng.normal(size=(nk, n, n))
    R = rng.normal(size=(nk, n, n)) + 1j * rng.normal(size=(nk, n, n))
    atom = np.array([0, 0, 0, 0, 1]) if route == "full" else np.array([0, 1, 1, 2, 2])  # d = 17 (4 d^2 >= n^4) or d = 9
    mask = atom[:, None] == atom[None, :]
    monkeypatch.setattr(born, "LINEAR_MAP_CHUNK_BYTES", 3000)  # several chunks
    ref = born._linear_map_reference(L, R, mask, 0.3)
    np.testing.assert_allclose(born._linear_map(L, R, mask, 0.3), ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    r, c = np.nonzero(mask)  # independent: the definition M[(r,s),(p,q)] = gamma2 <L_rp R_qs>, entry by entry
    o, i = 3, 5
    assert ref[o, i] == pytest.approx(0.3 * np.mean(L[:, r[o], r[i]] * R[:, c[i], c[o]]), rel=1e-12)


def test_physical_units_of_both_methods(tmp_path, capsys):
    """A model in Angstrom/eV: physical = natural x e^2/hbar (2D: (hbar/e) S; charge: S), for SCBA and Chebyshev alike."""
    from orbsym.conventions import physical_response

    f = tmp_path / "sp_ev.py"
    f.write_text(SP.replace('length_unit="a", energy_unit="t"', 'length_unit="Angstrom", energy_unit="eV"'))
    factor, unit = physical_response(1.0, "hall", 2)
    for method in (["--N-k", "8", "--sea-points", "4", "--no-convergence"], ["--method", "chebyshev", "--size", "4", "--moments", "8", "--vectors", "2", "--T", "0.2"]):
        for op, comp, u in (("L", "zxy", unit), ("charge", "xy", unit.replace("(hbar/e) ", ""))):
            got = {}
            for units in ("natural", "physical"):
                ds, _ = _run_nc(capsys, ["hall", str(f), "--units", units, "--disorder", "anderson:2", "--operator", op, "--components", comp] + method,
                                tmp_path / f"{units}.nc")
                got[units] = (ds.sigma.values[0, -1, 0, 1], ds.sigma.attrs["units"])
            assert got["physical"][0] == pytest.approx(factor * got["natural"][0], rel=1e-12)
            assert got["physical"][1] == u and got["natural"][1] == "dimensionless (e^2/hbar = 1) per unit force qE"
    assert "S" in unit and "(hbar/e)" in unit
