"""orbsym: orbital and spin angular-momentum currents, torques and RKKY couplings in lattice models.

Symbolic layer (SymPy): :mod:`orbsym.generators`, :mod:`orbsym.models`, :mod:`orbsym.operators`,
:mod:`orbsym.continuity`, :mod:`orbsym.symmetry`, :mod:`orbsym.bases`, :mod:`orbsym.render`.
Numeric layer (NumPy/SciPy only): :mod:`orbsym.numeric`, with the user-facing heterostructures
in :mod:`orbsym.systems`.  Hand-off: :mod:`orbsym.kernels`.  Conventions: :mod:`orbsym.conventions`.

The public names below are imported lazily, so ``import orbsym.numeric`` (or ``orbsym.systems``)
does not import SymPy.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    # generators (Eqs. 1-2)
    "GeneratorSet": "generators", "t2g_L": "generators", "p_L": "generators", "d_L": "generators",
    "pauli": "generators", "spin_half": "generators", "spin_matrices": "generators",
    # models (Eqs. 3-6)
    "Model": "models", "multiorbital_metal": "models", "altermagnet": "models", "ferromagnet": "models",
    "builtin_model": "models",
    # derivation (Eqs. 7-11) and rendering
    "derive": "continuity", "derive_generic": "continuity", "kernels": "continuity",
    "current_analysis": "continuity", "render": "render",
    # symmetry-derived hoppings and richer bases
    "symmetric_hoppings": "symmetry", "point_group": "symmetry", "check_invariance": "symmetry",
    "match_parameters": "symmetry", "get_basis": "bases", "spinful_metal": "bases",
    "spin_orbit_coupling": "bases", "orbital_rashba": "bases",
    # hand-off
    "Kernel": "kernels", "KernelSet": "kernels", "Term": "kernels",
    # heterostructures and the numeric engine (Eqs. 12-13)
    "trilayer": "systems", "bilayer": "systems", "heterostructure": "systems", "layer": "systems",
    "solve": "systems", "rkky": "systems", "magnetization": "systems",
    # parameter sweeps (labeled xarray results, executors, N_y = infinity)
    "sweep": "sweeps",
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
