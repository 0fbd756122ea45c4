"""orbsym: orbital and spin angular-momentum currents, torques and RKKY couplings in lattice models.

The package tree is the architecture (docs/ARCHITECTURE.md)::

    orbsym/symbolic/   SymPy layer: generators, models, operators, continuity, symmetry, bases, render
    orbsym/kernels.py  hand-off: derived operators as plain data (offsets, matrices, NumPy source)
    orbsym/numeric/    NumPy/SciPy engines (never imports SymPy): lattice, Bloch, observables
    orbsym/systems.py  user-facing heterostructures and the solve/Result API
    orbsym/dynamics/   real-time drives (quench, precession, field, relaxation) and evolve()
    orbsym/response.py linear response (Kubo); orbsym/transport.py leads and NEGF; orbsym/rkky.py
    orbsym/execution.py  one way to run many solves: serial, process pool, any Executor (dask)
    orbsym/workflows/  many solves: parameter sweeps, the paper's figures
    orbsym/commands/   the command line (orbsym.cli)

Conventions are stated once in :mod:`orbsym.conventions`.

The public names below are imported lazily, so ``import orbsym.numeric`` (or ``orbsym.systems``)
does not import SymPy.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    # generators (Eqs. 1-2)
    "GeneratorSet": "symbolic.generators", "t2g_L": "symbolic.generators", "p_L": "symbolic.generators", "d_L": "symbolic.generators",
    "pauli": "symbolic.generators", "spin_half": "symbolic.generators", "spin_matrices": "symbolic.generators",
    # models (Eqs. 3-6)
    "Model": "symbolic.models", "multiorbital_metal": "symbolic.models", "altermagnet": "symbolic.models", "ferromagnet": "symbolic.models",
    "builtin_model": "symbolic.models",
    # derivation (Eqs. 7-11) and rendering
    "derive": "symbolic.continuity", "derive_generic": "symbolic.continuity", "kernels": "symbolic.continuity",
    "current_analysis": "symbolic.continuity", "render": "symbolic.render",
    # symmetry-derived hoppings and richer bases
    "symmetric_hoppings": "symbolic.symmetry", "point_group": "symbolic.symmetry", "check_invariance": "symbolic.symmetry",
    "match_parameters": "symbolic.symmetry", "get_basis": "symbolic.bases", "spinful_metal": "symbolic.spinful",
    "spin_orbit_coupling": "symbolic.spinful", "orbital_rashba": "symbolic.spinful",
    # hand-off
    "Kernel": "kernels", "KernelSet": "kernels", "Term": "kernels",
    # heterostructures and the numeric engine (Eqs. 12-13)
    "trilayer": "systems", "bilayer": "systems", "heterostructure": "systems", "layer": "systems",
    "solve": "systems", "rkky": "systems", "magnetization": "systems",
    # linear response to E_y (orbital Hall effect, orbital torque) and the proper current
    "response": "response", "orbital_hall": "response", "torque_dipole": "symbolic.proper",
    # parameter sweeps (labeled xarray results, executors, N_y = infinity)
    "sweep": "workflows.sweeps",
    # transport between semi-infinite leads (NEGF)
    "attach_leads": "transport",  # the function transport() lives in orbsym.transport (same name as the module)
    # real-time dynamics (drives, continuity balance in time)
    "evolve": "dynamics", "Quench": "dynamics", "Precession": "dynamics", "ElectricField": "dynamics", "Relaxation": "dynamics",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orbsym' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
