"""The numeric layer never imports SymPy: import every numeric module and run it with SymPy blocked."""

import pathlib
import subprocess
import sys
import textwrap

import orbsym

HERE = pathlib.Path(__file__).parent


def test_numeric_layer_runs_without_sympy():
    code = textwrap.dedent(
        f"""
        import sys, types
        sys.modules["sympy"] = None            # any "import sympy" now raises ImportError
        pkg = types.ModuleType("orbsym")       # skip orbsym/__init__ (it re-exports the symbolic layer)
        pkg.__path__ = [{str(pathlib.Path(orbsym.__file__).parent)!r}]
        sys.modules["orbsym"] = pkg
        sys.path.insert(0, {str(HERE)!r})
        import orbsym.kernels
        import orbsym.execution                 # the execution layer below numeric/ (k-point splitting)
        import orbsym.numeric
        import importlib, pkgutil
        names = [m.name for m in pkgutil.iter_modules(orbsym.numeric.__path__)]
        assert {{"bloch", "lattice", "observables", "realspace", "thermo", "infinite", "kubo", "leads", "negf", "rgf", "poles", "greens", "lloyd", "engines", "evolution", "local_update", "sites", "sites_evolution", "sites_transport", "film", "disorder"}} <= set(names), names
        for name in names:                      # every module of the numeric layer, present and future
            importlib.import_module("orbsym.numeric." + name)
        import orbsym.materials                 # the numeric models of materials: no SymPy either
        for m in pkgutil.iter_modules(orbsym.materials.__path__):
            importlib.import_module("orbsym.materials." + m.name)
        from lattices import trilayer
        from orbsym.numeric import KERNEL_NAMES, Observables, solve_bloch
        lat = trilayer("orbital", 4, 6, 0.5, (1.0, 0, 0), (0, 1.0, 0))
        obs = Observables(lat, solve_bloch(lat, 0.01, lat.offset_pairs(KERNEL_NAMES)).bands)
        obs.torques("z"); obs.bond_current("z")
        from orbsym.numeric.kubo import solve_kubo
        Observables(lat, solve_kubo(lat, 0.1, 0.1, lat.offset_pairs(KERNEL_NAMES)).bands["total"]).torques("z")
        from orbsym.numeric import greens
        greens.solve_greens(lat, 0.01, lat.offset_pairs(KERNEL_NAMES)).free_energy()
        assert not any(m == "sympy" or m.startswith("sympy.") for m, v in sys.modules.items() if v is not None)
        print("ok")
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
