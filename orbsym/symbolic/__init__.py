"""Symbolic layer (SymPy): the exact lattice continuity equation derived by machine.

* :mod:`~orbsym.symbolic.generators` -- angular-momentum generator sets (Eqs. 1-2).
* :mod:`~orbsym.symbolic.models` -- lattice models: multiorbital metal, altermagnet, ferromagnet (Eqs. 3-6).
* :mod:`~orbsym.symbolic.operators` -- one-body lattice operators and their commutators.
* :mod:`~orbsym.symbolic.continuity` -- the continuity equation, currents and torques (Eqs. 5-11);
  exports the plain-data kernels of :mod:`orbsym.kernels` (the only way out of this layer).
* :mod:`~orbsym.symbolic.bases` -- d, p and orbital x spin bases.
* :mod:`~orbsym.symbolic.symmetry` -- point-group representations and symmetry-allowed hoppings.
* :mod:`~orbsym.symbolic.spinful` -- spin-orbit coupling, Rashba terms, spinful models.
* :mod:`~orbsym.symbolic.render` and :mod:`~orbsym.symbolic.paper` -- text/Markdown/LaTeX output and
  the paper's printed expressions it is compared with.

Import direction: generators <- models <- operators <- continuity <- render; bases <- symmetry <-
spinful.  Nothing here is imported by :mod:`orbsym.numeric`.
"""
