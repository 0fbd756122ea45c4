"""orbsym: orbital and spin angular-momentum currents, torques and RKKY couplings in lattice models.

Symbolic layer (SymPy): :mod:`orbsym.generators`, :mod:`orbsym.models`, :mod:`orbsym.operators`,
:mod:`orbsym.continuity`.  Numeric layer (NumPy/SciPy only): :mod:`orbsym.numeric`.  Hand-off:
:mod:`orbsym.kernels`.  Conventions: :mod:`orbsym.conventions`.
"""

__version__ = "0.1.0"

from .generators import GeneratorSet, d_L, p_L, pauli, spin_half, spin_matrices, t2g_L  # noqa: E402
from .kernels import Kernel, KernelSet, Term  # noqa: E402
from .models import Model, altermagnet, builtin_model, ferromagnet, multiorbital_metal  # noqa: E402

__all__ = [
    "__version__",
    "GeneratorSet",
    "t2g_L",
    "p_L",
    "d_L",
    "pauli",
    "spin_half",
    "spin_matrices",
    "Model",
    "multiorbital_metal",
    "altermagnet",
    "ferromagnet",
    "builtin_model",
    "Kernel",
    "KernelSet",
    "Term",
]
