"""Heterostructures of the paper and user column sequences, and the solve API.

This is the glue between the symbolic layer (kernels from :func:`orbsym.symbolic.continuity.kernels`, derived
once per model and cached) and the numeric engine (:mod:`orbsym.numeric`, NumPy only).

Geometries (conventions: :mod:`orbsym.conventions`)
---------------------------------------------------
* :func:`trilayer` -- FM/NM/FM: the first ``N_FM`` columns are FM with ``m_L``, the last ``N_FM``
  FM with ``m_R``, the metal in between (orbital NM of Eq. 3, or spin NM/AM of Eq. 4).
* :func:`bilayer` -- NM/FM or AM/FM: the FM occupies the last ``N_FM`` columns.
* :func:`heterostructure` -- any sequence of :func:`layer` blocks (FM/NM/AM/user models, each
  with its own parameters and magnetization).

Every system carries the FM-metal ``interface`` rule (``"fm"``: isotropic FM hopping on the
interface bond, the default; ``"metal"``: the metal's own hopping), and every output reports it.

Magnetizations are given as a vector ``(m_x, m_y, m_z)``, as angles ``(theta, phi)`` (with the
magnitude ``m``, ``m = |m| (sin th cos ph, sin th sin ph, cos th)``) or as an axis name
``"x"``, ``"-y"``, ...  A zero vector is allowed (an FM column without exchange); only
:func:`rkky`, which needs the direction of ``m_L``, rejects it.

Input checks (:mod:`orbsym.numeric.checks`)
-------------------------------------------
Every public function validates its arguments and raises ValueError naming the bad value and the
allowed ones: ``t, mu, gamma, tp, w`` finite reals, ``m = |m| >= 0``, ``T >= 0`` finite, integer
sizes (``N_y >= 1``, ``N_FM >= 1``, ``N_x >= 2 N_FM + 1`` for a trilayer, ``N_x >= N_FM + 1`` for
a bilayer), unknown names (basis, metal, kind, interface, quantity, current kind...) with the
close matches suggested.

Small N_y
---------
``y`` is a ring of ``N_y`` rows with ``N_y`` y-bonds per column (bond ``(y, y+1 mod N_y)``),
which is exactly the Brillouin-zone sampling ``k = 2 pi j / N_y``.  For ``N_y = 2`` the two bonds
join the same pair of rows (the hopping between them is doubled, ``k = 0, pi``); for ``N_y = 1``
the bond closes on the site itself (``t_y + t_y^dag`` adds to the on-site matrix, ``k = 0`` only).
Both are allowed and are what the real-space solver builds too; the thermodynamic limit needs
large ``N_y`` (the paper uses 800).

N_y = infinity
--------------
``N_y=math.inf`` (or ``"inf"``) in :func:`trilayer`, :func:`bilayer` or :func:`heterostructure`
is the thermodynamic limit in y: every per-row quantity (densities, currents, torques, F, N) is the
k integral ``(1 / 2 pi) int dk`` instead of the ``N_y``-point average.  ``N_y`` is a property of the
geometry, so it lives on the :class:`System` (``System.N_y``, ``System.infinite``, ``describe()``);
its :class:`~orbsym.numeric.Lattice` holds the matrices, which do not depend on ``N_y``, and a
placeholder ``N_y = 1`` (never used by :func:`solve`).  :func:`solve` integrates with the
Green's-function engine (k sub-grids per imaginary frequency, :mod:`orbsym.numeric.greens`) or the
dense engine (trapezoid / adaptive Gauss-Kronrod integral, :mod:`orbsym.numeric.infinite`, the slow
path); ``to_dict()["k_integral"]`` records the rule and its error estimate.  Totals
(``per_row=False``) are infinite and refused.

Example
-------
>>> from orbsym.systems import trilayer, solve
>>> res = solve(trilayer(gamma=0.5, m_L="x", m_R="y", N_y=200), T=0.01)
>>> j = res.currents()["z"]          # bond current of L_z on each x-bond
>>> F = res.free_energy()            # grand potential per row, Eq. (13)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from .conventions import PAPER_PARAMETERS, direction_from_angles
from .numeric import Column, Lattice, Observables, solve_bloch
from .numeric.checks import ENERGY_LIMIT, check_energy_scale, check_name, integer_at_least, real_number, unknown_name
from .numeric.engines import ENGINES, choose_engine
from .numeric.lattice import INTERFACES
from .numeric.observables import KERNEL_NAMES, POLARIZATIONS, polarization_label
from .numeric.thermo import check_temperature
from .rkky import rkky_directions, rkky_vs_length

__all__ = [
    "System",
    "Layer",
    "layer",
    "trilayer",
    "bilayer",
    "heterostructure",
    "magnetization",
    "solve",
    "Result",
    "rkky",
    "ENGINES",
    "BASES",
    "KINDS",
    "CURRENT_KINDS",
    "QUANTITIES",
]

#: On-site bases of the built-in models.
BASES = ("orbital", "spin")
#: Built-in layer kinds.
KINDS = ("fm", "nm", "am")
#: Current definitions reported by :meth:`Result.currents`.
CURRENT_KINDS = ("bond", "eq7", "forward", "backward")
#: Quantities of :meth:`Result.to_dict`.
QUANTITIES = ("densities", "currents", "torques", "free_energy", "particle_number", "continuity")
#: Units of the spin angular momentum in the spin basis: Pauli ``sigma`` (paper) or ``S = sigma/2``.
SPIN_UNITS = ("sigma", "S")

_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
_DEFAULTS = {"t": PAPER_PARAMETERS["t"], "mu": PAPER_PARAMETERS["mu"], "gamma": 1.0, "w": 0.0, "tp": None}
#: The implicit defaults a user Model layer receives: the system's energy unit ``t``, the chemical
#: potential ``mu`` and the paper's ``t' = t`` (``tp``, a relation, not a value).  The built-in kinds'
#: amplitudes ``gamma`` and ``w`` are never filled into a user model, whose symbols of the same names
#: may mean anything: they must be given, or the lattice names them as missing.
_SYSTEM_DEFAULTS = ("t", "mu", "tp")


def magnetization(value, magnitude=1.0):
    """Normalize a magnetization to a vector ``(m_x, m_y, m_z)``.

    Parameters
    ----------
    value : str, sequence of 3 numbers, or sequence of 2 numbers
        Axis name (``"x"``, ``"+y"``, ``"-z"``), a vector (used as given), or ``(theta, phi)`` in
        radians (combined with ``magnitude``).
    magnitude : float
        ``|m| >= 0`` for axis names and angles.
    """
    if isinstance(value, str):
        s = value.strip().lower()
        sign = -1.0 if s.startswith("-") else 1.0
        axis = s[1:] if s[:1] in "+-" and s else s
        if axis not in _AXES:
            raise ValueError(f"unknown magnetization direction {value!r}; allowed: x, y, z with optional sign (e.g. '-y'), a vector (mx, my, mz) or angles (theta, phi)")
        mag = real_number("magnetization magnitude m = |m|", magnitude, minimum=0.0)
        return tuple(sign * mag * c for c in _AXES[axis])
    if isinstance(value, (bytes, dict)) or not hasattr(value, "__iter__"):
        raise ValueError(f"magnetization must be an axis name, a vector (mx, my, mz) or angles (theta, phi); got {value!r}")
    try:
        if any(isinstance(v, (str, bytes, bool, np.bool_)) for v in value):
            raise TypeError("strings and bools are not components")
        vals = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"magnetization must be an axis name, a vector (mx, my, mz) or angles (theta, phi); got {value!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"magnetization must be finite, got {value!r}")
    if len(vals) == 3:
        return vals
    if len(vals) == 2:
        mag = real_number("magnetization magnitude m = |m|", magnitude, minimum=0.0)
        return tuple(float(c) for c in direction_from_angles(vals[0], vals[1], mag))
    raise ValueError(f"magnetization needs 3 components (vector) or 2 angles (theta, phi), got {len(vals)} values: {value!r}")


@functools.lru_cache(maxsize=None)
def _builtin_model(kind, basis, dimension=2):
    """Built-in symbolic model of a layer kind (cached: models are immutable); ``dimension=3``: the
    cubic models of films (:func:`orbsym.symbolic.models.multiorbital_metal` and friends)."""
    from .symbolic.generators import pauli, t2g_L
    from .symbolic.models import altermagnet, ferromagnet, multiorbital_metal

    check_name("basis", basis, BASES)
    if kind == "fm":
        return ferromagnet(t2g_L() if basis == "orbital" else pauli(), dimension=dimension)
    if kind == "nm":
        return multiorbital_metal(dimension=dimension) if basis == "orbital" else altermagnet(dimension=dimension)
    if kind == "am":
        if basis != "spin":
            raise ValueError("an altermagnet ('am') layer needs basis='spin' (Eq. 4 acts on spin up/down)")
        return altermagnet(dimension=dimension)
    raise unknown_name("layer kind", kind, KINDS)


@dataclass(frozen=True)
class Layer:
    """A block of identical columns: a model (kind name or orbsym Model), a width, parameters.

    See :func:`layer`.
    """

    model: object
    width: int = 1
    params: dict = field(default_factory=dict)
    m: object = None
    magnetic: bool = None
    label: str = ""


def layer(model, width=1, m=None, label="", magnetic=None, **params):
    """One block of a :func:`heterostructure`.

    Parameters
    ----------
    model : {"fm", "nm", "am"} or orbsym.symbolic.models.Model
        Built-in kind (in the heterostructure's basis) or any user Model.
    width : int
        Number of columns, ``>= 1``.
    m : magnetization, optional
        For FM layers (see :func:`magnetization`); default ``+z`` with ``|m| = 1`` unless
        ``m_x, m_y, m_z`` are given as parameters.
    label : str
        Name in output (default ``"FM"``, ``"NM"``, ``"AM"`` or the model name).
    magnetic : bool, optional
        Whether the layer is an FM for the interface rule (default: built-in kind, or whether the
        model has the exchange parameters ``m_x, m_y, m_z``).
    **params
        Parameter values (``t``, ``gamma``, ``tp``, ``w``, ``mu``, ``m``, or any user parameter).
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"layer width must be an integer >= 1, got {width!r}")
    return Layer(model, int(width), dict(params), m, magnetic, label)


@dataclass(frozen=True)
class System:
    """A solvable heterostructure: the numeric :class:`~orbsym.numeric.Lattice` plus metadata.

    Attributes
    ----------
    lattice : orbsym.numeric.Lattice
    info : dict
        Geometry, basis, ``interface``, ``N_FM``, magnetizations and parameters (reported in every output).
    rebuild : callable or None
        ``rebuild(**changes) -> System`` with some constructor arguments replaced (used by :func:`rkky`).
    defaults : dict
        The parameter defaults every layer received (``**defaults`` of :func:`heterostructure`, e.g.
        ``t`` and ``mu``); a lead given as a layer (:func:`orbsym.transport.attach_leads`) takes them too.
    """

    lattice: Lattice
    info: dict
    rebuild: object = field(default=None, compare=False, repr=False)
    spin_unit: str = "sigma"
    defaults: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def interface(self):
        return self.lattice.interface

    @property
    def N_y(self):
        """Rows: an int, or ``math.inf`` for the thermodynamic limit in y (see "N_y = infinity")."""
        return self.info.get("N_y", self.lattice.N_y)

    @property
    def infinite(self):
        """Whether ``N_y = infinity`` (the lattice then carries a placeholder ``N_y = 1``)."""
        return self.N_y == math.inf

    @property
    def N_z(self):
        """Films: cells along z (periodic), or ``math.inf`` for the k_z integral; None for the 2D system."""
        return self.info.get("N_z", self.lattice.N_z)

    @property
    def infinite_z(self):
        """Whether a film has ``N_z = infinity`` (its lattice then carries a placeholder ``N_z = 1``)."""
        return self.N_z == math.inf

    @property
    def is_film(self):
        """Whether this is a film (periodic in y and z, built with ``N_z``)."""
        return self.lattice.is_film

    def require_2d(self, what):
        """Raise ValueError for a film (drivers that run on the 2D column lattice only)."""
        if self.is_film:
            raise ValueError(
                f"{what} runs on 2D systems only so far; this is a film (N_z = {self.N_z}): solve() and rkky() take films, "
                "drop N_z for the 2D system"
            )

    def require_finite_rows(self, what):
        """Raise ValueError if ``N_y = infinity`` (for solvers that need the finite k grid) or if the
        system is a film (:meth:`require_2d`); drivers that take films call :meth:`require_finite_k`."""
        if self.infinite:
            raise ValueError(f"{what} needs a finite N_y (the N_y = infinity k integral is available in solve() and rkky() only); got N_y = inf")
        self.require_2d(what)

    def require_finite_k(self, what):
        """Raise ValueError if ``N_y`` or (films) ``N_z`` is infinity: for drivers that need the finite k grid."""
        for name, inf in (("N_y", self.infinite), ("N_z", self.infinite_z)):
            if inf:
                raise ValueError(f"{what} needs a finite {name} (the {name} = infinity k integral is available in solve() and rkky() only); got {name} = inf")

    def describe(self):
        """Plain-data description: constructor parameters plus the resolved column layout."""
        out = dict(self.info)
        out.update(self.lattice.describe())
        out["N_y"] = self.N_y
        if self.is_film:
            out["N_z"] = self.N_z
        if self.info.get("basis") == "spin":
            out["spin_unit"] = self.spin_unit
        return out


def _check_int(name, v, lo, hint=""):
    return integer_at_least(name, v, lo, hint)


def _rows(N_y):
    """``N_y``: an int ``>= 1`` or ``math.inf`` (also the strings ``"inf"``, ``"infinity"``)."""
    if isinstance(N_y, str) and N_y.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    if isinstance(N_y, (float, np.floating)) and math.isinf(N_y) and N_y > 0:
        return math.inf
    return _check_int("N_y", N_y, 1, " (rows, periodic in y), or math.inf for N_y = infinity")


def heterostructure(layers, N_y=PAPER_PARAMETERS["N_y"], basis="orbital", interface="fm", spin_unit="sigma", info=None, N_z=None, **defaults):
    """General column sequence.

    Parameters
    ----------
    layers : sequence of Layer
        Blocks from left (``x = 0``) to right (see :func:`layer`).
    N_y : int or math.inf
        Periodic rows, ``>= 1`` (``N_y = 1, 2``: see "Small N_y" in the module docstring), or
        ``math.inf`` (see "N_y = infinity" there).
    basis : {"orbital", "spin"}
        Basis of the built-in kinds (user Models bring their own; all columns must share one basis).
    interface : {"fm", "metal"}
        Owner of FM-metal bonds (:mod:`orbsym.conventions`).
    spin_unit : {"sigma", "S"}
        Spin basis only: report angular momentum in units of the Pauli matrices (paper) or of
        ``S = sigma/2`` (all polarized quantities halved; the Hamiltonian is unchanged).
    N_z : int, optional
        A film: ``N_z`` cells periodic along z (``>= 1``), with the cubic built-in models
        (``t_z = diag(-t, -t, -gamma)`` for the orbital NM, ``-t 1`` for FM and spin layers) and
        user Models with a ``"z"`` hopping.  None (default): the 2D system.  Every quantity is then
        per transverse cell (``a^2``) of a column (see "Films" in the module docstring).
    **defaults
        Parameter defaults for every layer (``t=1``, ``mu=-0.2``, ``gamma=1``, ``w=0``, ``tp=t``).
        Built-in kinds take all of them; a user Model takes the given ones and, implicitly, only
        ``t``, ``mu`` and ``tp = t``: any other symbol it has (``gamma``, ``w`` included) must be
        given, in the layer or here, else a ValueError names it -- a missing parameter never
        becomes 0 or 1.
    """
    from .symbolic.continuity import kernels

    check_name("interface rule", interface, INTERFACES)
    check_name("spin_unit", spin_unit, SPIN_UNITS)
    check_name("basis", basis, BASES)
    N_y = _rows(N_y)
    N_z = _cells_z(N_z)
    dimension = 2 if N_z is None else 3
    layers = list(layers)
    if not layers:
        raise ValueError("a heterostructure needs at least one layer")
    columns = []
    known_names = set(_DEFAULTS) | {"m"}
    for i, ly in enumerate(layers):
        if not isinstance(ly, Layer):
            raise TypeError(f"layers must be built with orbsym.systems.layer(...), item {i} is {type(ly).__name__}")
        builtin = isinstance(ly.model, str)
        params = dict(_DEFAULTS) if builtin else {k: _DEFAULTS[k] for k in _SYSTEM_DEFAULTS}
        params.update({k: v for k, v in defaults.items()})
        params.update(ly.params)
        if "tp" in params and params["tp"] is None:
            params["tp"] = params["t"]
        if builtin:
            kind = ly.model.lower()
            if kind not in KINDS:
                raise unknown_name("layer kind", ly.model, KINDS)
            model = _builtin_model(kind, basis, dimension)
            label = ly.label or kind.upper()
            magnetic = kind == "fm" if ly.magnetic is None else ly.magnetic
            if kind == "nm" and basis == "spin" and params.get("w", 0.0) != 0.0:
                raise ValueError(f"a spin NM layer is the altermagnet with w = 0; got w = {params['w']!r} (use kind 'am')")
            if kind == "nm" and basis == "spin":
                params["w"] = 0.0
        else:
            from .symbolic.models import Model

            if not isinstance(ly.model, Model):
                raise ValueError(f"layer model must be one of {', '.join(KINDS)} or an orbsym Model, got {ly.model!r}")
            model = ly.model
            label = ly.label or model.name
            magnetic = ly.magnetic
        ks = kernels(model)
        if i == 0:  # before building any column: refuse a lattice that cannot be held at all
            _check_lattice_size(sum(ly_.width for ly_ in layers if isinstance(ly_, Layer)), N_y, model.dim)
        if N_z is not None and model.ndim != 3:
            raise ValueError(
                f"N_z = {N_z} given, but layer {i} ({label}, model {model.name!r}) is a 2D model with no z hopping; a film "
                "needs 3D models: Model(..., {'x': tx, 'y': ty, 'z': tz})"
            )
        known_names.update(ks.parameters)
        needs_m = any(f"m_{a}" in ks.parameters for a in "xyz")
        allowed = set(ks.parameters) | ({"m"} if needs_m else set())
        for name in ly.params:
            if name not in allowed:
                err = unknown_name(f"parameter of layer {i} ({label}, model {ks.model!r})", name, sorted(allowed))
                raise ValueError(f"{err}; a parameter the model does not have would be silently ignored")
        if ly.m is not None and not needs_m:
            raise ValueError(f"layer {i} ({label}, model {ks.model!r}) has no exchange term -m.J; m = {ly.m!r} applies only to FM layers")
        if ly.m is not None or (needs_m and not any(f"m_{a}" in params for a in "xyz")):
            mvec = magnetization("z" if ly.m is None else ly.m, params.get("m", 1.0))
            params.update({"m_x": mvec[0], "m_y": mvec[1], "m_z": mvec[2]})
        columns.extend([Column(ks, params, magnetic, label)] * ly.width)  # one (immutable) column object per layer
    for name in defaults:
        if name not in known_names:
            raise unknown_name("heterostructure parameter", name, sorted(known_names))
    lattice = Lattice(columns, 1 if N_y == math.inf else N_y, interface, N_z=1 if N_z == math.inf else N_z)
    meta = {"geometry": "heterostructure", "basis": basis, "interface": interface, "N_y": N_y}
    if N_z is not None:
        meta["N_z"] = N_z
    if info:
        meta.update(info)
    meta["interface"] = interface

    def rebuild(**changes):
        kw = dict(N_y=N_y, basis=basis, interface=interface, spin_unit=spin_unit, info=info, N_z=N_z)
        kw.update(defaults)
        kw.update(changes)
        return heterostructure(layers, **kw)

    return System(lattice, meta, rebuild, spin_unit, dict(defaults))


def _cells_z(N_z):
    """``N_z``: None (2D), an int ``>= 1`` or ``math.inf`` (also ``"inf"``; the k_z integral) for a film."""
    if N_z is None:
        return None
    if isinstance(N_z, str) and N_z.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    if isinstance(N_z, (float, np.floating)) and math.isinf(N_z) and N_z > 0:
        return math.inf
    return _check_int("N_z", N_z, 1, " (cells of a film, periodic in z), math.inf for the k_z integral, or None for the 2D system")


def _check_lattice_size(N_x, N_y, dim):
    from .numeric.budget import check_resources, lattice_estimate

    check_resources(lattice_estimate(N_x, dim), what=f"a lattice of N_x = {N_x} columns")


def _solve_estimate(lattice, vectors, workers=1):
    """Resources of the dense Bloch solve of ``lattice`` (:mod:`orbsym.numeric.budget`)."""
    from .numeric.budget import dense_bloch_estimate

    return dense_bloch_estimate(lattice.N_x, lattice.N_y, lattice.dim, vectors=vectors, symmetric=lattice.y_hermitian, workers=workers)


def _metal_kind(metal, basis):
    if not isinstance(metal, str) or metal.lower() not in ("nm", "am"):
        err = unknown_name("metal", metal, ("nm", "am"))
        raise ValueError(f"{err} ('nm': multiorbital or spin normal metal, 'am': altermagnet)")
    metal = metal.lower()
    if basis is None:
        basis = "spin" if metal == "am" else "orbital"
    check_name("basis", basis, BASES)
    if metal == "am" and basis != "spin":
        raise ValueError("the altermagnet (metal='am') exists only in basis='spin'")
    return metal, basis


def _scalars(**values):
    """Validate the scalar parameters of trilayer()/bilayer() (finite reals, |m| >= 0)."""
    out = {}
    for name, v in values.items():
        out[name] = real_number(name, v, allow_none=name in ("tp", "w"), bound=ENERGY_LIMIT)
    if out["m"] < 0:
        raise ValueError(f"m is the magnitude |m| of the magnetization and must be >= 0, got {values['m']!r} (reverse a direction with a sign, e.g. '-x')")
    return out


def _metal_params(metal, basis, gamma, w, tp):
    p = {}
    if basis == "orbital":
        p["gamma"] = float(gamma)
        if tp is not None:
            p["tp"] = float(tp)
    elif metal == "am":
        p["w"] = 0.4 if w is None else float(w)
    elif w not in (None, 0, 0.0):
        raise ValueError(f"the spin NM is the altermagnet with w = 0; got w = {w!r} (use metal='am')")
    return p


def trilayer(
    basis=None,
    *,
    metal="nm",
    N_x=PAPER_PARAMETERS["N_x"],
    N_y=PAPER_PARAMETERS["N_y"],
    N_FM=PAPER_PARAMETERS["N_FM"],
    m_L="x",
    m_R="y",
    m=PAPER_PARAMETERS["m"],
    gamma=1.0,
    tp=None,
    w=None,
    t=PAPER_PARAMETERS["t"],
    mu=PAPER_PARAMETERS["mu"],
    interface="fm",
    spin_unit="sigma",
    N_z=None,
):
    """FM/NM/FM (or FM/AM/FM) trilayer of ``N_x`` columns (Figs. 2 and 5 of the paper).

    Parameters
    ----------
    basis : {"orbital", "spin"}, optional
        Orbital (default for ``metal="nm"``): multiorbital NM (Eq. 3) between orbital FMs (t2g L
        of Eq. 2).  Spin (default for ``metal="am"``): spin NM (``metal="nm"``, altermagnet with
        ``w = 0``) or altermagnet (``metal="am"``) between spin FMs (Pauli generators).
    N_x, N_y, N_FM : int
        Columns, periodic rows (or ``math.inf``: the k integral, see the module docstring), FM
        columns on each side (``N_x >= 2 N_FM + 1``).
    m_L, m_R : magnetization
        Vector, ``(theta, phi)`` with magnitude ``m``, or axis name (:func:`magnetization`).
    gamma, tp : float
        NM hopping anisotropy and t' (``tp = t`` unless set); orbital basis only.
    w : float
        Altermagnet spin anisotropy (default 0.4 for ``metal="am"``).
    t, mu : float
        Hopping and chemical potential (everywhere).
    interface : {"fm", "metal"}
        Owner of the FM-metal bonds.
    N_z : int, optional
        A film of ``N_z`` cells periodic along z, with the cubic models (:func:`heterostructure`).
    """
    metal, basis = _metal_kind(metal, basis)
    N_FM = _check_int("N_FM", N_FM, 1, " (FM columns on each side)")
    N_x = _check_int("N_x", N_x, 3, " (columns: FM, metal, FM)")
    if N_x < 2 * N_FM + 1:
        raise ValueError(
            f"N_x = {N_x} is too small for N_FM = {N_FM}: a trilayer needs N_x >= 2 N_FM + 1 = {2 * N_FM + 1} "
            "columns (two FMs and at least one metal column)"
        )
    _scalars(m=m, gamma=gamma, tp=tp, w=w, t=t, mu=mu)
    mL = magnetization(m_L, m)
    mR = magnetization(m_R, m)
    mp = _metal_params(metal, basis, gamma, w, tp)
    layers = [layer("fm", N_FM, m=mL, label="FM_L"), layer(metal, N_x - 2 * N_FM, **mp), layer("fm", N_FM, m=mR, label="FM_R")]
    info = {
        "geometry": "trilayer",
        "metal": metal,
        "N_x": N_x,
        "N_FM": N_FM,
        "m_L": list(mL),
        "m_R": list(mR),
        "t": float(t),
        "mu": float(mu),
        **{k: v for k, v in mp.items()},
    }
    if basis == "orbital":
        info.setdefault("tp", float(t if tp is None else tp))
    sys_ = heterostructure(layers, N_y=N_y, basis=basis, interface=interface, spin_unit=spin_unit, info=info, N_z=N_z, t=t, mu=mu)
    args = dict(basis=basis, metal=metal, N_x=N_x, N_y=N_y, N_FM=N_FM, m_L=mL, m_R=mR, m=m, gamma=gamma, tp=tp, w=w, t=t, mu=mu, interface=interface, spin_unit=spin_unit, N_z=N_z)

    def rebuild(**changes):
        kw = dict(args)
        kw.update(changes)
        return trilayer(**kw)

    return System(sys_.lattice, sys_.info, rebuild, spin_unit, sys_.defaults)


def bilayer(
    metal="nm",
    basis=None,
    *,
    N_x=PAPER_PARAMETERS["N_x"],
    N_y=PAPER_PARAMETERS["N_y"],
    N_FM=PAPER_PARAMETERS["N_FM"],
    m_FM="z",
    m=PAPER_PARAMETERS["m"],
    gamma=1.0,
    tp=None,
    w=None,
    t=PAPER_PARAMETERS["t"],
    mu=PAPER_PARAMETERS["mu"],
    interface="fm",
    spin_unit="sigma",
    N_z=None,
):
    """NM/FM or AM/FM bilayer (Figs. 3-4): the FM occupies the last ``N_FM`` of ``N_x`` columns.

    ``metal="nm"`` with ``basis="orbital"`` (default) is the multiorbital NM/FM; ``basis="spin"``
    the spin NM (altermagnet, ``w = 0``); ``metal="am"`` the AM/FM (spin basis, ``w`` default 0.4).
    Other parameters as in :func:`trilayer`; ``m_FM`` is the FM magnetization; ``N_z`` makes a film.
    """
    metal, basis = _metal_kind(metal, basis)
    N_FM = _check_int("N_FM", N_FM, 1, " (FM columns)")
    N_x = _check_int("N_x", N_x, 2, " (columns: metal, FM)")
    if N_x < N_FM + 1:
        raise ValueError(
            f"N_x = {N_x} is too small for N_FM = {N_FM}: a bilayer needs N_x >= N_FM + 1 = {N_FM + 1} "
            "columns (the FM and at least one metal column)"
        )
    _scalars(m=m, gamma=gamma, tp=tp, w=w, t=t, mu=mu)
    mv = magnetization(m_FM, m)
    mp = _metal_params(metal, basis, gamma, w, tp)
    layers = [layer(metal, N_x - N_FM, **mp), layer("fm", N_FM, m=mv, label="FM")]
    info = {"geometry": "bilayer", "metal": metal, "N_x": N_x, "N_FM": N_FM, "m_FM": list(mv), "t": float(t), "mu": float(mu), **mp}
    if basis == "orbital":
        info.setdefault("tp", float(t if tp is None else tp))
    sys_ = heterostructure(layers, N_y=N_y, basis=basis, interface=interface, spin_unit=spin_unit, info=info, N_z=N_z, t=t, mu=mu)
    args = dict(metal=metal, basis=basis, N_x=N_x, N_y=N_y, N_FM=N_FM, m_FM=mv, m=m, gamma=gamma, tp=tp, w=w, t=t, mu=mu, interface=interface, spin_unit=spin_unit, N_z=N_z)

    def rebuild(**changes):
        kw = dict(args)
        kw.update(changes)
        return bilayer(**kw)

    return System(sys_.lattice, sys_.info, rebuild, spin_unit, sys_.defaults)


# =============================================================================== solving
def spin_unit_scale(system):
    """Factor applied to polarized quantities: 1/2 for the spin basis reported in units of
    ``S = sigma/2`` (``spin_unit="S"``), else 1 (:mod:`orbsym.conventions`)."""
    return 0.5 if (system.info.get("basis") == "spin" and system.spin_unit == "S") else 1.0


def per_polarization(fn, scale=1.0, charge=True):
    """``{"charge", "x", "y", "z"}: fn(polarization)`` with the polarized values times ``scale``
    (arrays, or dicts of arrays such as the torque terms); the one layout every result uses."""
    out = {}
    for p in POLARIZATIONS:
        if p is None and not charge:
            continue
        v = fn(p)
        s = 1.0 if p is None else scale
        out[polarization_label(p)] = {k: s * a for k, a in v.items()} if isinstance(v, dict) else s * v
    return out


class Result:
    """Equilibrium state of a :class:`System` at temperature ``T`` (computed lazily, cached).

    Quantities are per site (the same in every row); the free energy and particle number per row
    by default.  Keys of the per-polarization dicts: ``"charge"``, ``"x"``, ``"y"``, ``"z"``.
    """

    def __init__(self, system, T, workers=1, engine="auto"):
        if not isinstance(system, System):
            raise TypeError(f"solve() needs an orbsym.systems.System (from trilayer(), bilayer(), heterostructure()), got {type(system).__name__}")
        self.system = system
        self.T = check_energy_scale("temperature T", check_temperature(T))
        self.workers = integer_at_least("workers", workers, 1)
        self.engine_requested = check_name("engine", engine, ENGINES)
        self._full = None
        self._evals = None
        self._used = {}
        lat = system.lattice
        scale = max(float(np.abs(a).max(initial=0.0)) for a in (lat.onsite, *lat.hoppings.values()))  # every bond (films: z too)
        if scale > ENERGY_LIMIT:
            raise ValueError(
                f"the Hamiltonian has matrix elements up to {scale:.3g}, outside the allowed range [-{ENERGY_LIMIT:g}, "
                f"{ENERGY_LIMIT:g}] (units of t): larger energies overflow the free energy and the eigensolver"
            )
        self.check_resources(vectors=False)

    def estimate(self, vectors=True):
        """Estimated memory and time of the solve (:class:`orbsym.numeric.budget.ResourceEstimate`);
        ``vectors=False``: the eigenvalue-only solve of the free energy and particle number.  Films:
        one 2D solve per k_z sector solved (:func:`orbsym.numeric.budget.film_estimate`)."""
        if self.lattice.is_film:
            from .numeric.budget import film_estimate

            return film_estimate(_solve_estimate(self._base_lattice, vectors, self.workers), self.lattice, vectors, n_sectors=self._film_sectors())
        return _solve_estimate(self.lattice, vectors, self.workers)

    def _film_sectors(self):
        """k_z sectors a film solve runs (None: the lattice's grid); ``N_z = infinity``: the 65 of the
        trapezoid's 128-point grid, where it stops for smooth integrands (lower T needs more)."""
        return 65 if self.system.infinite_z else None

    @property
    def _base_lattice(self):
        """The lattice the engine choice and the 2D estimates see: the lattice, or a film's k_z = 0 sector."""
        lat = self.lattice
        return lat.sector(0.0) if lat.is_film else lat

    def check_resources(self, vectors=True):
        """Raise :class:`orbsym.numeric.budget.ResourceError` (a ValueError) with the estimate if the
        dense solve would not fit in memory or would take longer than the limit; called before
        solving.  The Green's-function engine by its calibrated estimate
        (:func:`orbsym.numeric.engines.greens_solve_estimate`, batches counted); the dense
        ``N_y = infinity`` integral (memory O(N_x^2) per k-point batch) checks its own budget."""
        from .numeric.budget import check_resources

        if self._engine_for(vectors) == "greens":
            from .numeric.engines import greens_solve_estimate

            try:
                est = greens_solve_estimate(self._base_lattice, self.T, vectors, N_y=None if self.system.infinite else "lattice")
            except ValueError:  # a point set the engine cannot run: the solve says why
                return None
            if self.lattice.is_film:
                from .numeric.budget import film_estimate

                est = film_estimate(est, self.lattice, vectors, n_sectors=self._film_sectors())
            what = "the Green's-function solve" + (" with correlation bands" if vectors else " of the free energy")
            return check_resources(est, what=what, workers=1)
        if self.system.infinite:
            return None

        what = "the solve with eigenvectors" if vectors else "the eigenvalue solve"
        return check_resources(self.estimate(vectors), what=what, workers=self.workers)

    def _engine_for(self, vectors):
        key = "bands" if vectors else "eigenvalues"
        if key not in self._used:
            N_y = None if self.system.infinite else "lattice"
            self._used[key] = choose_engine(self.engine_requested, self._base_lattice, self.T, vectors, N_y=N_y)
        return self._used[key]

    def _run(self, vectors):
        """One solve with the chosen engine (``vectors``: correlation bands too)."""
        lat = self.lattice
        if lat.is_film:
            from .numeric.film import solve_film

            pairs = lat.offset_pairs(KERNEL_NAMES) if vectors else ()
            eng = self._engine_for(vectors)
            return solve_film(
                lat, self.T, pairs, vectors=vectors, engine=eng, workers=self.workers if eng == "dense" else 1,
                N_y=None if self.system.infinite else "lattice", N_z=None if self.system.infinite_z else "lattice", tol=INFINITE_TOL,
            )
        if self._engine_for(vectors) == "greens":
            from .numeric.greens import solve_greens

            N_y = None if self.system.infinite else "lattice"
            return solve_greens(lat, self.T, lat.offset_pairs(KERNEL_NAMES) if vectors else (), vectors=vectors, N_y=N_y)
        if self.system.infinite:
            from .numeric.infinite import solve_infinite

            sol = solve_infinite(lat, self.T, lat.offset_pairs(KERNEL_NAMES) if vectors else (), tol=INFINITE_TOL)
            return _InfiniteDense(sol)
        if vectors:
            return solve_bloch(lat, self.T, lat.offset_pairs(KERNEL_NAMES), workers=self.workers)
        return solve_bloch(lat, self.T, vectors=False, workers=self.workers)

    @property
    def engine(self):
        """Engine that ran (``"dense"`` or ``"greens"``): of the band solve if any, else of the free energy."""
        if self._full is not None or self._evals is None:
            return self._engine_for(True)
        return self._engine_for(False)

    @property
    def lattice(self):
        return self.system.lattice

    @property
    def _scale(self):
        return spin_unit_scale(self.system)

    @property
    def solution(self):
        """The full :class:`~orbsym.numeric.BlochSolution` (eigenvectors and correlation bands)."""
        if self._full is None:
            self.check_resources(vectors=True)
            self._full = self._run(True)
        return self._full

    @property
    def observables(self):
        """:class:`~orbsym.numeric.Observables` on the solution's correlation bands."""
        sol = self.solution
        if not hasattr(self, "_obs"):
            self._obs = Observables(self.lattice, sol.bands)
        return self._obs

    def _per_pol(self, fn, charge=True):
        return per_polarization(fn, self._scale, charge)

    def densities(self):
        """Particle density (``"charge"``) and ``<J_alpha>`` per column."""
        return self._per_pol(self.observables.density)

    def currents(self, kind="bond", direction="x"):
        """Currents per polarization.

        Parameters
        ----------
        kind : {"bond", "eq7", "forward", "backward"}
            ``bond``: the exact bond current (kernel ``current``, positive toward larger x).
            ``forward``/``backward``: the paper's Eq. (7) with a one-sided difference.  ``eq7``: the
            paper's site-centred Eq. (7) current per column (NaN at the two hard-wall end columns,
            and for a bond offset ``(dx, dy)`` at the ``dx`` columns next to each wall).  Charge is
            included for ``bond`` only.
        direction : "x", "y" or a bond offset ``(dx, dy)`` of the model
            ``"x"`` (default) -- the **slice-boundary total**: the current through the boundary
            between columns ``b`` and ``b + 1`` (``N_x - 1`` values), summed over every bond that
            crosses it (``(1, 0)``, ``(1, +-1)``, ``(2, 0)`` ...;
            :meth:`orbsym.numeric.Observables.boundary_current`).  It satisfies the per-column balance
            ``d<J_x>/dt = I(x - 1) - I(x) + tau(x)`` (:meth:`torques`; ``forward`` with the forward
            torques) and, deep inside a wide uniform sample, tends to the bulk conventional current
            ``{v_x, J}/2 = sum_d d_x j_d`` per site.  For models whose only x bond is ``(1, 0)`` it is that bond's
            current, bit for bit.  ``eq7`` along ``"x"`` is the average of the forward total
            through a column's right boundary and the backward total through its left one.
            ``(dx, dy)`` -- **bond (dx, dy)** alone (``N_x - dx`` values for ``dx > 0``, indexed by
            the bond's start column; one per column for ``dx = 0``); e.g. ``(1, 0)`` is the
            nearest-neighbour x bond without the diagonal and longer bonds.
            ``"y"`` -- bond ``(0, 1)`` alone, one value per column.

        Returns
        -------
        dict
            ``{"charge", "x", "y", "z"}`` (``charge`` for ``bond`` only) -> ndarray, per row (one y
            cell; the bulk value is per site), units of ``t / hbar`` times the unit of ``J``.

        Raises
        ------
        ValueError
            An unknown kind or direction, or a bond offset the model does not have.
        """
        from .numeric.observables import current_offset

        check_name("current kind", kind, CURRENT_KINDS)
        if isinstance(direction, (tuple, list)):
            current_offset(self.lattice, direction)  # a bond offset of the model, refused by name before solving
        else:
            check_name("current direction", direction, ("x", "y", "z") if self.system.is_film else ("x", "y"))
        o = self.observables
        fns = {"bond": o.bond_current, "eq7": o.eq7_current, "forward": o.forward_current, "backward": o.backward_current}
        return self._per_pol(lambda p: fns[kind](p, direction), charge=kind == "bond")

    def torques(self, kind="bond"):
        """Torque terms per polarization and column: ``exchange`` (FM exchange, on-site),
        ``bond_x``, ``bond_y`` (hopping torques) and ``total``, for the bond-current (``"bond"``) or
        Eq. (7) forward (``"forward"``) decomposition; ``d<J>/dt = -div j + total``."""
        check_name("torque decomposition", kind, ("bond", "forward"))
        return self._per_pol(lambda p: self.observables.torques(p, kind), charge=False)

    def proper_currents(self, kind="bond"):
        """Proper (conserved) currents ``I + P`` of Shi-Zhang-Xiao-Niu (the paper's ref. 44) per polarization.

        ``I`` is the slice-boundary total (the current through each column boundary, every bond crossing
        it: :meth:`currents` with ``direction="x"``), ``P = -sum_{x <= b} tau``
        the lattice torque dipole (:meth:`orbsym.numeric.Observables.torque_dipole`), so that
        ``-div(I + P) = d<J>/dt``: zero in equilibrium, where the proper current therefore vanishes
        identically (hard walls) -- the equilibrium OAM current is pure torque dipole.  Each entry:
        ``current`` (None when no dipole exists: net torque != 0), ``conventional`` (= ``I``),
        ``torque_dipole``, ``net_torque``, ``exists``.
        """
        check_name("current kind", kind, ("bond", "forward"))
        o = self.observables
        out = {}
        for p in "xyz":
            td = o.torque_dipole(p, kind)
            I = o.boundary_current(p, kind)
            s = self._scale
            out[p] = {
                "current": s * (I + td["P"]) if td["exists"] else None,
                "conventional": s * I,
                "torque_dipole": s * td["P"],
                "net_torque": s * td["net_torque"],
                "exists": td["exists"],
            }
        return out

    def continuity_residual(self):
        """Largest ``|d<J>/dt|`` and ``|d<J>/dt - (-div j + tau)|`` over columns and polarizations."""
        o = self.observables
        rate = max(float(np.abs(o.time_derivative(p)).max()) for p in POLARIZATIONS)
        res = max(float(np.abs(o.continuity_residual(p, k)).max()) for p in "xyz" for k in ("bond", "forward"))
        return {"max_abs_dJ_dt": rate, "max_abs_continuity_residual": res}

    def _eigen(self):
        if self._full is not None:
            return self._full
        if self._evals is None:
            self._evals = self._run(False)
        return self._evals

    def _per_row(self, per_row, what):
        if not per_row and (self.system.infinite or self.system.infinite_z):
            which = "N_y" if self.system.infinite else "N_z"
            raise ValueError(f"the total {what} of an {which} = infinity system is infinite; use per_row=True")

    def free_energy(self, per_row=True):
        """Grand potential ``F = -T sum ln(1 + exp(-E/T))`` (Eq. 13), per row (films: per transverse
        cell) by default."""
        self._per_row(per_row, "free energy")
        return self._eigen().free_energy(per_row)

    def particle_number(self, per_row=True):
        """Electrons per row (default) or in total."""
        self._per_row(per_row, "particle number")
        sol = self._eigen()
        if getattr(sol, "_N", 0) is None:  # Green's-function free-energy solve: the number needs the bands
            sol = self.solution
        return sol.particle_number(per_row)

    def k_integral(self):
        """``N_y = infinity`` only (else None): how the k integral was done and its error estimate.

        ``engine``; ``method`` (greens: ``"poles+k-subgrids"``; dense: ``"trapezoid"`` or
        ``"adaptive"`` of :mod:`orbsym.numeric.infinite`); ``error_estimate`` (units of t per row for
        F; dense: the rule's estimate, max norm over F, N and every band element; greens: the
        a-priori bound ``n E_max err`` on F, ``err`` the per-level occupation bound of the pole
        expansion and k sub-grids); ``points`` (greens: (k, w) points; dense: diagonalizations).
        """
        if not (self.system.infinite or self.system.infinite_z):
            return None
        sol = self._eigen()
        if self.lattice.is_film:
            return sol.k_integral()
        if isinstance(sol, _InfiniteDense):
            s = sol.solution
            return {"N_y": "inf", "engine": "dense", "method": s.method, "tol": INFINITE_TOL, "error_estimate": s.error, "points": s.evaluations}
        from .numeric.greens import spectral_bound

        n = self.lattice.N_x * self.lattice.dim
        return {
            "N_y": "inf",
            "engine": "greens",
            "method": "poles+k-subgrids",
            "tol": sol.expansion.tol,
            "error_estimate": float(n * spectral_bound(self.lattice) * sol.error),
            "occupation_error": float(sol.error),
            "points": sol.points,
        }

    def to_dict(self, quantities=("densities", "currents", "torques", "free_energy")):
        """JSON-ready dict (NaN -> None) with the system description and the requested quantities."""
        out = {"system": self.system.describe(), "T": self.T}
        if isinstance(quantities, str):
            quantities = (quantities,)
        for q in quantities:
            check_name("quantity", q, QUANTITIES)
        out["engine_requested"] = self.engine_requested
        if "densities" in quantities:
            out["densities"] = _jsonable(self.densities())
        if "currents" in quantities:
            out["currents"] = {k: _jsonable(self.currents(k)) for k in CURRENT_KINDS}
            out["currents"]["bond_y"] = _jsonable(self.currents("bond", "y"))
            if self.system.is_film:
                out["currents"]["bond_z"] = _jsonable(self.currents("bond", "z"))
        if "torques" in quantities:
            out["torques"] = _jsonable(self.torques("bond"))
            out["torques_forward"] = _jsonable(self.torques("forward"))
        if "free_energy" in quantities:
            out["free_energy_per_row"] = self.free_energy()
            out["free_energy_total"] = None if (self.system.infinite or self.system.infinite_z) else self.free_energy(per_row=False)
        if "particle_number" in quantities:
            out["particle_number_per_row"] = self.particle_number()
        if "continuity" in quantities:
            out["continuity"] = self.continuity_residual()
        out["engine"] = self.engine
        if self.system.infinite or self.system.infinite_z:
            for name, inf in (("N_y", self.system.infinite), ("N_z", self.system.infinite_z)):
                if inf:
                    out["system"][name] = "inf"
            out["k_integral"] = self.k_integral()
        return out


#: Absolute tolerance of the dense ``N_y = infinity`` k integral (:func:`orbsym.numeric.infinite.solve_infinite`).
INFINITE_TOL = 1e-11


class _InfiniteDense:
    """:class:`orbsym.numeric.infinite.InfiniteSolution` with the solution interface of the engines."""

    engine = "dense"

    def __init__(self, solution):
        self.solution = solution
        self.bands = solution.bands
        self.N_y = None

    def free_energy(self, per_row=True):
        return self.solution.free_energy

    def particle_number(self, per_row=True):
        return self.solution.particle_number


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return [None if not np.isfinite(v) else float(v) for v in x.ravel()]
    return x


def solve(system, T=PAPER_PARAMETERS["T"], workers=1, engine="auto", *, disorder=None, realizations=None, seed=None, out=None, progress=False):
    """Equilibrium state of ``system`` at temperature ``T`` (units of t, ``T >= 0``).

    Returns a lazy :class:`Result`: the free energy alone uses an eigenvalue-only solve; any
    density, current or torque triggers one solve with correlation bands.  ``workers > 1`` shares the
    k-points among that many processes (dense engine only, see :func:`orbsym.numeric.solve_bloch`).

    ``engine``: ``"dense"`` (Bloch diagonalization, the reference), ``"greens"`` (recursive
    Green's functions on the imaginary axis, linear in ``N_x``: :mod:`orbsym.numeric.greens`) or
    ``"auto"`` (the faster by the cost model of :mod:`orbsym.numeric.engines`).  Both agree to
    ~1e-12; :attr:`Result.engine` and ``to_dict()["engine"]`` record which one ran.

    A system built with ``N_y=math.inf`` is solved as the k_y integral (module docstring, "N_y =
    infinity"); :meth:`Result.k_integral` and ``to_dict()["k_integral"]`` give the rule and its error.

    ``system`` may also be a :class:`orbsym.numeric.sites.SiteLattice` (multi-site cells, finite or
    disordered samples, material films of :mod:`orbsym.materials.films`): it is solved at once with
    the chosen engine (``"auto"``: :meth:`SiteLattice.choose_engine`) and a
    :class:`orbsym.numeric.sites.SiteObservables` is returned (per-site densities, per-bond currents and
    torques, the per-site balance; ``.solution.engine``-free: the engine is the one named here).

    Disorder (``disorder=`` one or more terms of :mod:`orbsym.numeric.disorder`, e.g.
    ``Anderson(1.0)``, ``[Anderson(0.5), Vacancies(0.05)]``, or explicit ``Potential`` / ``VacancyMask``
    arrays): an ensemble of ``realizations`` (default 1) with seeds ``seed, seed + 1, ...`` (default
    ``seed = 0``) on the system's site lattice (:func:`orbsym.numeric.sites.from_column_lattice`, one site
    per column cell; a SiteLattice as given), each realization the Gamma-only supercell of the periodic
    sample (:func:`orbsym.numeric.disorder.supercell`: the ``N_x x N_y`` torus, films ``x N_z``, with
    disorder) solved with ``engine`` (``"auto"``: the faster by :meth:`SiteLattice.choose_engine` on the clean supercell),
    ``workers`` local processes sharing the realizations, ``out`` a resumable NetCDF store
    (:func:`orbsym.workflows.ensembles.ensemble`).  Returns that ensemble's :class:`xarray.Dataset`::

        free_energy       [realization]                            F per transverse cell (t)
        density           [realization, polarization, x, row, site] <c_i^dag J_alpha c_i> per site
        boundary_current  [realization, polarization, boundary]    per transverse cell (J t / hbar)
        balance_residual  [realization]                            the per-site balance (checked <= 1e-9)
        <var>_mean, <var>_stderr                                   average and standard error s / sqrt(n)

    ``row`` is the transverse cell ``r = y`` (films ``y N_z + z``), ``polarization`` charge, x, y, z
    (the spin basis in the system's ``spin_unit``); ``attrs["max_balance_residual"]`` the worst residual
    of all realizations, ``attrs["engine"]``, ``["disorder"]``, ``["seeds"]`` what ran.  Zero-strength
    disorder reproduces the clean solve (per transverse cell, to rounding).  ``N_y = infinity`` (and films'
    ``N_z = infinity``) is refused: a disordered sample is a finite torus.  Without ``disorder`` nothing
    changes (``realizations`` and ``seed`` are then refused).
    """
    from .numeric.sites import SiteLattice

    if disorder is not None:
        return disorder_ensemble(system, T, disorder, realizations, seed, workers=workers, engine=engine, out=out, progress=progress)
    for name, v in (("realizations", realizations), ("seed", seed), ("out", out)):
        if v is not None:
            raise ValueError(f"{name}={v!r} applies only to a disorder ensemble: give disorder=... (orbsym.numeric.disorder terms), or drop {name}")
    if isinstance(system, SiteLattice):
        if workers != 1:
            raise ValueError(f"workers={workers!r} applies to the k split of a System's dense solve; a SiteLattice solves in one process (use workers=1)")
        if engine not in ("auto", "dense", "greens"):
            raise ValueError(f"unknown engine {engine!r}; allowed: auto, dense, greens")
        check_temperature(T)
        used = system.choose_engine(T) if engine == "auto" else engine
        obs = system.solve(T, engine=used)
        obs.engine = used
        return obs
    return Result(system, T, workers, engine)


def _identity(lattice):
    """``factory()`` of a disorder ensemble: the clean sample (module level: picklable)."""
    return lattice


def disorder_site_lattice(system, what="disorder"):
    """The clean periodic :class:`~orbsym.numeric.sites.SiteLattice` a disorder ensemble of ``system`` runs on.

    A :class:`System`: :func:`orbsym.numeric.sites.from_column_lattice` of its lattice (one site ``"site"`` per
    column cell, the column models' generators; spin basis with ``spin_unit="S"``: ``sigma / 2``), after
    refusing ``N_y = infinity`` (films: ``N_z = infinity``).  A SiteLattice: itself."""
    from .numeric.sites import Hopping, Site, SiteLattice, from_column_lattice

    if isinstance(system, SiteLattice):
        return system
    if not isinstance(system, System):
        raise TypeError(f"{what} needs an orbsym.systems.System (from trilayer(), bilayer(), heterostructure()) or an orbsym.numeric.sites.SiteLattice, "
                        f"got {type(system).__name__}")
    for name, inf in (("N_y", system.infinite), ("N_z", system.infinite_z)):
        if inf:
            raise ValueError(f"{what} needs a finite {name}: a disordered sample is a finite torus (the Gamma-only supercell of "
                             f"{name} transverse cells); got {name} = inf, give an integer {name}")
    lat = from_column_lattice(system.lattice)
    scale = spin_unit_scale(system)
    if scale != 1.0:
        cells = [tuple(Site(c.name, c.position, c.onsite, scale * c.generators) for c in cell) for cell in lat.cells]
        hops = [Hopping(lat.names[i], lat.names[j], off, T) for i, j, off, T in lat.hoppings]
        lat = SiteLattice(cells, hops, N_y=lat.N_y, N_z=lat.N_z, vectors=lat.vectors)
    return lat


def disorder_ensemble(system, T, disorder, realizations=None, seed=None, *, workers=1, engine="auto", response=None, eta=None, part="total",
                      out=None, progress=False, restart=False, attrs=None, observables=None):
    """The disorder ensemble of :func:`solve` / :func:`orbsym.response.response` with ``disorder=``.

    Checks the options, builds the clean site lattice (:func:`disorder_site_lattice`) and runs
    :func:`orbsym.workflows.ensembles.ensemble` on seeds ``seed .. seed + realizations - 1`` (equilibrium
    with ``engine``, or the Kubo response to ``E_response`` with ``eta`` and ``part``); returns its Dataset
    (documented in :func:`solve`), with ``attrs["system"]`` the system's description (JSON).  ``engine="greens"``
    on a supercell with diagonal slice bonds is refused up front; ``restart`` and ``attrs`` (extra NetCDF
    attributes) and ``observables`` (default: all that apply) go to the ensemble.
    """
    import functools
    import json

    from .numeric.disorder import KINDS
    from .workflows.ensembles import ensemble

    terms = (disorder,) if isinstance(disorder, KINDS) else disorder
    if isinstance(terms, str) or not isinstance(terms, (list, tuple)) or not terms or not all(isinstance(t, KINDS) for t in terms):
        raise TypeError(f"disorder must be one or more terms of orbsym.numeric.disorder ({', '.join(k.__name__ for k in KINDS)}), "
                        f"e.g. Anderson(1.0); got {disorder!r:.120}")
    n = 1 if realizations is None else integer_at_least("realizations", realizations, 1, " (disorder realizations)")
    first = 0 if seed is None else integer_at_least("seed", seed, 0, " (the first seed; realizations use seed, seed + 1, ...)")
    workers = integer_at_least("workers", workers, 1, " (local processes sharing the realizations)")
    check_temperature(T)
    lat = disorder_site_lattice(system, "a disorder ensemble")
    from .numeric.disorder import supercell

    sc = supercell(lat).lattice if lat.transverse_dimension else lat
    if response is None:
        engine = check_name("engine", engine, ENGINES)
        # auto: the faster by the cost model on the clean supercell (dense for a wide slice of D = R dim states at
        # one k point, greens for long samples: engines.greens_seconds grows like D^3 per column)
        used = sc.choose_engine(T) if engine == "auto" else engine
        if used == "greens" and (sc.slices.sector(0.0) if sc.transverse_dimension == 2 else sc.slices).has_diagonal_bonds:
            raise ValueError("engine='greens' takes nearest-slice bonds only; this sample's supercell has diagonal slice bonds "
                             "(next-nearest neighbours): use engine='dense' or 'auto'")
    else:
        used = None
    attrs = {**(attrs or {}), "engine_requested": engine if response is None else "kubo"}
    if isinstance(system, System):
        attrs["system"] = json.dumps(system.describe(), default=repr)
        attrs["spin_unit"] = system.spin_unit if system.info.get("basis") == "spin" else "none (orbital basis: L in hbar)"
    return ensemble(functools.partial(_identity, lat), list(terms), list(range(first, first + n)), T, response=response, eta=eta, part=part,
                    workers=workers, progress=progress, engine=used, out=out, restart=restart, attrs=attrs, observables=observables)


def rkky(system, T=PAPER_PARAMETERS["T"], per_row=True, workers=1, engine="auto"):
    """RKKY coupling ``J = F_AP - F_P`` of a trilayer (Fig. 5), per row by default.

    ``F_P`` uses ``m_R`` parallel to ``m_L`` and ``F_AP`` antiparallel (both with ``|m_R|``).
    ``engine="dense"``: ``J`` as the difference of the two free energies (reference);
    ``"greens"``: ``J`` directly from Lloyd's formula (:mod:`orbsym.rkky`), ``F_P``/``F_AP`` from
    Green's-function solves; ``"auto"``: by the cost model (:mod:`orbsym.numeric.engines`).

    Returns
    -------
    dict
        ``J``, ``F_P``, ``F_AP``, the direction used, ``interface`` and ``engine``.
    """
    u, mag = rkky_directions(system)
    check_energy_scale("temperature T", check_temperature(T))
    sP, sAP = system.rebuild(m_R=tuple(mag * u)), system.rebuild(m_R=tuple(-mag * u))
    used = choose_engine(engine, sP.lattice, T, vectors=False, N_y=None if system.infinite else "lattice")
    FP = solve(sP, T, workers, used).free_energy(per_row)
    FAP = solve(sAP, T, workers, used).free_energy(per_row)
    J = FAP - FP
    if used == "greens" and not system.infinite_z:  # Lloyd's formula (films: per k_z sector)
        J = float(rkky_vs_length(system, T, [system.lattice.N_x])["J"][0]) * (1 if per_row else system.lattice.N_y)
    return {"J": J, "F_P": FP, "F_AP": FAP, "direction": [float(v) for v in u], "per_row": per_row, "interface": system.interface, "engine": used}
