"""Numeric engine (NumPy/SciPy only -- never imports SymPy).

Consumes the plain-data kernels of :mod:`orbsym.kernels`:

* :mod:`~orbsym.numeric.lattice` -- column-sequence geometry (:class:`Column`, :class:`Lattice`).
* :mod:`~orbsym.numeric.bloch` -- Bloch decomposition in y, batched diagonalization, G bands.
* :mod:`~orbsym.numeric.thermo` -- Fermi occupations and grand potential (Eqs. 12-13).
* :mod:`~orbsym.numeric.observables` -- kernel expectation values (densities, currents, torques).
* :mod:`~orbsym.numeric.realspace` -- independent dense real-space solver (slow path).
* :mod:`~orbsym.numeric.kubo` -- linear response to a static field E_y (density-matrix Kubo), bulk Hall conductivity.
* :mod:`~orbsym.numeric.poles` -- Fermi function / grand potential on the imaginary axis (Ozaki poles, T = 0 quadrature).
* :mod:`~orbsym.numeric.greens` -- linear-scaling recursive Green's-function engine (same bands, F, N as bloch).
* :mod:`~orbsym.numeric.lloyd` -- RKKY coupling by Lloyd's formula, all spacer lengths in one sweep.
* :mod:`~orbsym.numeric.engines` -- engine choice (dense / greens) by a measured cost model.
* :mod:`~orbsym.numeric.evolution` -- real-time propagation of per-k density matrices (drives, relaxation).
* :mod:`~orbsym.numeric.sites` -- site-resolved lattices (:class:`Site`, :class:`Hopping`, :class:`SiteLattice`: several sites per cell, bonds of any offset, finite samples with disorder and vacancies, films), per-site observables (:class:`SiteObservables`), linear response.
* :mod:`~orbsym.numeric.sites_evolution` -- real time on site lattices (:func:`evolve_sites`: quench, on-site drives, relaxation; the per-site balance at every recorded time).
* :mod:`~orbsym.numeric.sites_transport` -- site lattices between semi-infinite leads (:func:`site_transport`: NEGF per k, conductance, per-site steady-state balance).
* :mod:`~orbsym.numeric.checks` -- input validation with precise messages and close-match suggestions.

Conventions: :mod:`orbsym.conventions`.
"""

from .bloch import BlochSolution, bloch_hamiltonians, free_energy_bloch, k_points, real_gauge, shutdown_workers, solve_bloch
from .greens import GreensSolution, free_energy_greens, solve_greens
from .lattice import INTERFACES, Column, Lattice
from .observables import KERNEL_NAMES, POLARIZATIONS, Observables, polarization_label
from .realspace import RealSpaceObservables, RealSpaceSolution, angular_momentum_rate, dense_hamiltonian, solve_realspace
from .sites import Hopping, Site, SiteLattice, SiteObservables
from .sites_evolution import SiteContinuityError, evolve_sites
from .sites_transport import SiteLead, SiteTransportResult, site_transport
from .thermo import fermi, grand_potential_from_density_matrix, grand_potential_terms

__all__ = [
    "Column",
    "Lattice",
    "INTERFACES",
    "k_points",
    "real_gauge",
    "bloch_hamiltonians",
    "solve_bloch",
    "free_energy_bloch",
    "BlochSolution",
    "shutdown_workers",
    "solve_greens",
    "free_energy_greens",
    "GreensSolution",
    "Observables",
    "POLARIZATIONS",
    "KERNEL_NAMES",
    "polarization_label",
    "dense_hamiltonian",
    "solve_realspace",
    "RealSpaceSolution",
    "RealSpaceObservables",
    "angular_momentum_rate",
    "Site",
    "Hopping",
    "SiteLattice",
    "SiteObservables",
    "evolve_sites",
    "SiteContinuityError",
    "site_transport",
    "SiteLead",
    "SiteTransportResult",
    "fermi",
    "grand_potential_terms",
    "grand_potential_from_density_matrix",
]
