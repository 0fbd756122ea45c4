"""Parameter sweeps at scale: labeled xarray results, any executor, resumable, N_y = infinity.

* :func:`sweep` -- Cartesian product of named parameter axes, observables per point, returned as an
  :class:`xarray.Dataset` (:mod:`orbsym.workflows.sweeps.core`).
* :func:`save` / :func:`load` -- NetCDF3 files (xarray scipy backend), written atomically.
* resumable state in ``<out>.parts/``: fingerprinted chunks, one owning run at a time
  (:mod:`orbsym.workflows.sweeps.store`, :class:`SweepStateError`); inputs checked before any
  point runs (:mod:`orbsym.workflows.sweeps.inputs`).
* :func:`solve_infinite` -- the k_y integral for ``N_y = infinity`` (:mod:`orbsym.numeric.infinite`).

* :func:`sweep_sites` -- the same over site lattices (``factory(**point) -> SiteLattice``): free
  energies, per-site densities, boundary currents, thermal or linear response
  (:mod:`orbsym.workflows.sweeps.sites`).

* films: ``N_z`` as a fixed value or a swept axis of the trilayer/bilayer (per transverse cell).

Conventions (units of t, free energies per row; films per transverse cell): :mod:`orbsym.conventions`.
"""

from .core import BLAS_ENV, GEOMETRIES, SerialExecutor, SweepError, estimate_sweep, load, process_executor, save, sweep
from .store import SweepStateError
from ...numeric.infinite import DEFAULT_TOL, InfiniteSolution, solve_infinite
from .sites import sweep_sites
from .points import ANGLE_PARAMETERS, OBSERVABLES, SystemSpec, parse_observable

__all__ = [
    "sweep",
    "sweep_sites",
    "estimate_sweep",
    "save",
    "load",
    "SweepError",
    "SweepStateError",
    "SerialExecutor",
    "process_executor",
    "GEOMETRIES",
    "BLAS_ENV",
    "OBSERVABLES",
    "ANGLE_PARAMETERS",
    "SystemSpec",
    "parse_observable",
    "solve_infinite",
    "InfiniteSolution",
    "DEFAULT_TOL",
]
