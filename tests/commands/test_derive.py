"""``orbsym derive`` through the CLI (in-process main() and a real subprocess)."""

import subprocess
import sys

from orbsym.cli import main

USER_MODEL = '''
import sympy as sp
from orbsym import Model, pauli
lam = sp.Symbol("lam", real=True)
# spin-1/2 chain with a Rashba-like complex hopping along x
model = Model("rashba-chain", pauli(), {"x": -sp.eye(2) + sp.I * lam * sp.Matrix([[0, -sp.I], [sp.I, 0]])}, sp.zeros(2))
'''


def test_derive_builtin_text(capsys):
    assert main(["derive", "altermagnet"]) == 0
    out = capsys.readouterr().out
    assert "τ_z,n = 0" in out


def test_derive_user_model_file(tmp_path, capsys):
    f = tmp_path / "mymodel.py"
    f.write_text(USER_MODEL)
    assert main(["derive", str(f), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "rashba-chain" in out
    # [t_x, sigma_y] = 0 but [t_x, sigma_x], [t_x, sigma_z] != 0: only tau_y of the bond current vanishes
    assert "\\tau^{\\rm bond}_{y,n} = 0" in out
    assert "\\tau^{\\rm bond}_{x,n} = 0" not in out and "\\tau^{\\rm bond}_{z,n} = 0" not in out
    # complex (non-Hermitian) hopping: the Eq. (7)-form torque of sigma_y does not vanish, and the document says so
    assert "\\tau_{y,n} = 0" not in out and "not Hermitian" in out


def test_derive_out_file_and_write_all(tmp_path):
    out = tmp_path / "sub" / "fm.md"
    assert main(["derive", "ferromagnet", "--format", "markdown", "--out", str(out)]) == 0
    assert out.read_text().startswith("# Continuity equation: ferromagnet")
    assert main(["derive", "--write-all", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "multiorbital.md").exists()


def test_derive_errors_are_one_line_exit_2(capsys):
    """The first case through a real process (exit status, stderr); the others through main()
    in-process (the same code path without ~1.5 CPU s of interpreter start and SymPy import each)."""
    for i, (args, key) in enumerate((
        (["derive", "multiorbitl"], "did you mean 'multiorbital'"),
        (["derive", "multiorbital", "--format", "pdf"], "unknown format 'pdf'"),
        (["derive", "nofile.py"], "does not exist"),
        (["derive"], "give a MODEL"),
    )):
        if i == 0:
            proc = subprocess.run([sys.executable, "-m", "orbsym.cli", *args], capture_output=True, text=True)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        else:
            capsys.readouterr()
            rc = main(args)
            out, err = capsys.readouterr()
        assert rc == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and key in lines[0], err
        assert "Traceback" not in err and out == ""
