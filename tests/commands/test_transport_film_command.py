"""``orbsym transport --N-z``: film transport from the CLI equals the API; film-only refusals exit 2."""

import json

import numpy as np

from orbsym.cli import main
from orbsym.systems import heterostructure, layer
from orbsym.transport import attach_leads, transport


def test_transport_command_film_equals_api(capsys):
    """A film (NM | FM | NM, N_z = 3) from the CLI: the API's conductance per transverse cell and densities."""
    assert main(["transport", "--N-z", "3", "--N-y", "3", "--n-metal", "1", "--fm", "y", "--T", "0", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["system"]["N_z"] == 3 and d["k_z_sectors"] == 2 and "transverse cell" in d["units"]
    s = heterostructure([layer("nm", 1, gamma=0.3), layer("fm", 1, m="y"), layer("nm", 1, gamma=0.3)], N_y=3, mu=-0.2, N_z=3)
    r = transport(attach_leads(s), T=0.0)
    assert abs(d["conductance"]["total"] - r.conductance()["total"]) < 1e-12 and d["conductance"]["units"] == "e^2/h per transverse cell" and r.conductance()["total"] > 0.5
    for name in ("charge", "x", "y", "z"):
        np.testing.assert_allclose(d["densities"][name], r.densities()[name], rtol=0, atol=1e-12)
    assert d["continuity"]["max_abs_balance"] < 1e-10
    assert len(d["currents"]["bond_z"]["z"]) == 3


def test_transport_command_film_bias(tmp_path):
    out = tmp_path / "film.json"
    assert main(["transport", "--N-z", "2", "--N-y", "3", "--n-metal", "1", "--bias", "0.05", "--n-energy", "10", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["regime"] == "finite bias" and d["continuity"]["max_abs_balance"] < 1e-10
    np.testing.assert_allclose(d["currents"]["bond"]["charge"], d["landauer_current"]["value"], rtol=0, atol=1e-10)


def test_transport_command_film_refusals(capsys):
    for argv, word in (
        (["--N-z", "0"], "--N-z"),
        (["--N-z", "2", "--width", "open"], "not defined for films"),
        (["--N-z", "2", "--angle", "45"], "2D systems only"),
        (["--N-z", "100000", "--N-y", "100000"], "k_z sectors"),
    ):
        assert main(["transport"] + argv) == 2, argv
        assert word in capsys.readouterr().err, argv
