"""orbsym: orbital and spin angular-momentum currents, torques and RKKY couplings in lattice models.

orbsym derives, by commutator algebra, the exact lattice continuity equation of a local angular
momentum J (orbital L or spin S) in a tight-binding model, and evaluates the currents and torques it
defines in heterostructures: in equilibrium, in real time, in linear response and between leads.

Main entry points (``from orbsym import ...``; energies in units of the hopping t)::

    derive(model)                    exact continuity equation of a Model: bond currents, torques
    render(model, fmt)               the same as a Markdown, LaTeX or plain-text document
    builtin_model(name)              the paper's models: "multiorbital", "altermagnet", ...
    trilayer(), bilayer()            the paper's FM/NM/FM and NM/FM systems
    heterostructure(layers, N_y)     any column sequence of layer(model, width, ...) blocks
    solve(system, T)                 equilibrium: .currents(), .densities(), .torques(), ...
    rkky(system, T)                  RKKY coupling J = F_AP - F_P of a trilayer
    response(system, T, eta)         linear response to a static electric field
    orbital_hall(model, mu)          bulk orbital (or spin) Hall conductivity
    evolve(system, drives, times)    real time under Quench, Precession or ElectricField drives
    attach_leads(system)             semi-infinite leads, then orbsym.transport.transport(leaded, T)
    sweep(system, axes)              parameter grids as labeled xarray Datasets, in parallel

Every function documents its equation, units and options, e.g. ``help(orbsym.solve)``; the command
line does the same from a shell (``orbsym --help``, ``orbsym derive --help``).  Conventions (units,
signs, orbital orders, the bond current) are stated once in :mod:`orbsym.conventions`.  The project
README is shipped as the package description
(``importlib.metadata.metadata("orbsym")["Description"]``): the quick start, links to the
documentation, and how to cite orbsym and the paper whose results it reproduces (Aase, Hodt,
Linder and Sudbø, arXiv:2406.18668).

The public names are imported lazily, so ``import orbsym.numeric`` (or ``orbsym.systems``) does not
import SymPy.
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
