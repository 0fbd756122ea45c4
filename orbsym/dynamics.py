"""Driven heterostructures in real time: quenches, precessing magnets, field pulses, relaxation.

:func:`evolve` starts from the thermal state of :func:`orbsym.systems.solve` and propagates the
one-body density matrix per k_y block (:mod:`orbsym.numeric.evolution`, Eq. (1) there) under
composable drives:

* :class:`Quench` -- any system parameter changed at a time on the stored grid (``system.rebuild``).
* :class:`Precession` -- ``m(t)`` of FM columns precessing about an axis at angular frequency
  ``omega`` on a cone of angle ``theta`` (smoothly switched on over ``switch_on``).
* :class:`ElectricField` -- a uniform field along y through the Peierls substitution
  ``k -> k + A_y(t)``, ``A_y = -E t`` (static field from t = 0) or a Gaussian pulse.
* :class:`Relaxation` -- relaxation toward the instantaneous equilibrium with time ``tau_r``.

Every stored time carries every derived kernel (densities, bond and Eq. (7) currents, each torque
term incl. the FM exchange torque, the relaxation source) and the continuity balance
``d<J_n>/dt = -div j + tau + relaxation`` checked twice (see :func:`evolve`).  Units: ``hbar = 1``,
energies in units of ``t``, times in units of ``1/t`` (``hbar/t``); conventions: :mod:`orbsym.conventions`.

Dataset convention (shared with other time/frequency-resolved results)
---------------------------------------------------------------------
Dimensions ``time`` (or the response's own axis), ``polarization`` (``"charge", "x", "y", "z"``),
``column`` (``0..N_x-1``, per-site quantities), ``bond`` (x-bond ``(x, x+1)`` labelled by ``x``),
``component`` (``"x", "y", "z"`` of a vector such as ``m``).  Variable names follow
:class:`orbsym.numeric.Observables` (``density``, ``current_x`` ...), and ``attrs`` hold JSON
strings ``system``, ``drives``, plus ``units``, ``current_definitions``, ``interface``,
``engine``, ``propagator``, ``propagator_order``.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass

import numpy as np

from .execution import blas_limited
from .numeric import Column, Lattice, Observables
from .numeric import evolution as ev
from .numeric.checks import ENERGY_LIMIT, check_energy_scale, check_name, integer_at_least, real_number, unknown_name
from .numeric.observables import KERNEL_NAMES, POLARIZATIONS, polarization_label
from .numeric.thermo import check_temperature

__all__ = [
    "Quench",
    "Precession",
    "ElectricField",
    "Relaxation",
    "evolve",
    "ContinuityError",
    "save",
    "load",
    "write_csv",
    "pumped_current",
    "smooth_switch",
    "finite_difference",
    "quench_parameters",
    "check_builtin_quench",
    "check_size",
]

POL_LABELS = tuple(polarization_label(p) for p in POLARIZATIONS)
#: Largest number of complex entries of the propagated state (N_k n^2) accepted (about 1.5 GB).
MAX_STATE_ENTRIES = 96 * 2**20
#: Tolerance of the exact rate identity, relative to the largest rate of the run.
EXACT_RTOL = 1e-10


class ContinuityError(ArithmeticError):
    """The continuity balance of a run exceeded its tolerance (see :func:`evolve`)."""


def smooth_switch(t, duration):
    """``0 -> 1`` over ``0 <= t <= duration`` (``6u^5 - 15u^4 + 10u^3``, C^2); 1 for ``duration = 0``."""
    t = np.asarray(t, float)
    if duration <= 0:
        return np.ones_like(t)
    u = np.clip(t / duration, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u * u)


# ----------------------------------------------------------------------------- drives
#: Parameters of the built-in trilayer/bilayer that a :class:`Quench` may change, and where each applies.
QUENCH_PARAMETERS = ("t", "mu", "m", "interface", "gamma", "tp", "w", "m_L", "m_R", "m_FM")
#: Constructor arguments that fix the geometry, the basis or the reporting: never changed by a quench.
QUENCH_FIXED = {
    "N_x": "the number of columns (the geometry)",
    "N_y": "the number of rows (the geometry)",
    "N_FM": "the FM width (the geometry)",
    "geometry": "the geometry",
    "basis": "the basis (the states per site)",
    "metal": "the kind of metal (its model and basis)",
    "spin_unit": "only how the spin is reported, not the Hamiltonian",
}
#: A name at least this close (difflib ratio) to a built-in parameter, but not equal, is a typo.
_TYPO_CUTOFF = 0.85


def quench_parameters(geometry, basis, metal):
    """``(allowed, elsewhere)``: the quench parameters of a built-in ``geometry`` (``"trilayer"``,
    ``"bilayer"``) with this ``basis`` and ``metal``, and ``{name: where it applies}`` for the
    built-in parameters that do not apply to it (refused, naming where they do)."""
    allowed = ["t", "mu", "m", "interface"]
    elsewhere = {}
    if geometry == "trilayer":
        allowed += ["m_L", "m_R"]
        elsewhere["m_FM"] = "the bilayer geometry (the trilayer has m_L and m_R)"
    else:
        allowed += ["m_FM"]
        elsewhere.update({k: "the trilayer geometry (the bilayer has m_FM)" for k in ("m_L", "m_R")})
    if basis == "orbital":
        allowed += ["gamma", "tp"]
        elsewhere["w"] = "the altermagnet (metal 'am', spin basis); the orbital basis has gamma and tp"
    else:
        elsewhere.update({k: "the orbital basis (Eq. 3); the spin basis (Eq. 4) has w for metal 'am'" for k in ("gamma", "tp")})
        if metal == "am":
            allowed += ["w"]
        else:
            elsewhere["w"] = "the altermagnet (metal 'am'); the spin normal metal has w = 0"
    return allowed, elsewhere


def _quench_value(name, value):
    """Validate one quench parameter at construction (name and value); returns the value."""
    from .systems import INTERFACES, magnetization

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Quench parameter names must be identifiers such as 'gamma', got {name!r}")
    if name in QUENCH_FIXED:
        raise ValueError(
            f"Quench parameter {name!r} cannot change in time: it fixes {QUENCH_FIXED[name]}; only Hamiltonian "
            f"parameters can be quenched ({', '.join(QUENCH_PARAMETERS)} or a parameter of the system's own model)"
        )
    if name not in QUENCH_PARAMETERS:
        import difflib

        if difflib.get_close_matches(name, QUENCH_PARAMETERS, n=1, cutoff=_TYPO_CUTOFF):
            err = unknown_name("Quench parameter", name, QUENCH_PARAMETERS)
            raise ValueError(f"{err} (or a parameter of the system's own model)")
    if name in ("m_L", "m_R", "m_FM"):
        try:
            magnetization(value, 1.0)
        except ValueError as exc:
            raise ValueError(f"Quench {name}: {exc}") from None
        return value
    if name == "interface":
        return check_name("interface rule", value, INTERFACES)
    if name == "tp" and value is None:
        return None
    return real_number(f"Quench {name}", value, minimum=0.0 if name == "m" else None, bound=ENERGY_LIMIT)


class Quench:
    """Change system parameters at ``time`` (default 0: the state is the old thermal state).

    ``Quench(gamma=0.3, mu=-0.5, time=2.0)``: any Hamiltonian parameter of the system
    (``system.rebuild``): for the built-in trilayer/bilayer ``t``, ``mu``, the magnetizations
    (``m_L``, ``m_R`` of a trilayer, ``m_FM`` of a bilayer; ``m`` = |m| with an axis name or angles
    given in the same quench), ``interface``, ``gamma`` and ``tp`` (orbital basis), ``w`` (metal
    ``"am"``); for a :func:`~orbsym.systems.heterostructure` the parameters of its models.  The geometry
    (``N_x``, ``N_y``, ``N_FM``, basis, metal) and ``spin_unit`` cannot change.  ``time`` must be a
    stored time (so the jump sits on the step grid and the piecewise-constant propagation is exact).

    Values are checked here (finite real numbers, magnetizations, the interface rule), and so are
    names: a fixed parameter, or a near miss of a built-in one (``gama``), is refused at once; every
    other name is matched against the system's own parameters by :func:`evolve` before any work
    (a parameter that does not apply to the system is refused, naming where it applies).
    """

    def __init__(self, time=0.0, **params):
        if not params:
            raise ValueError("Quench needs at least one parameter to change, e.g. Quench(gamma=0.3)")
        self.time = real_number("quench time", time, minimum=0.0)
        self.params = {name: _quench_value(name, v) for name, v in params.items()}

    def describe(self):
        return {"drive": "Quench", "time": self.time, "params": {k: _plain(v) for k, v in self.params.items()}}


class Precession:
    """Precession of the magnetization of FM columns.

    ``m(t) = |m| [cos th(t) n + sin th(t) (cos(omega t + phase) e1 + sin(omega t + phase) e2)]``,
    ``th(t) = theta * smooth_switch(t, switch_on)``; ``n`` is the precession axis (default: the
    column's initial ``m``), ``e1 = normalize(z x n)`` (``x`` if ``n || z``), ``e2 = n x e1``, and
    ``|m|`` the column's initial magnitude.  The cycle average of ``m x dm/dt`` is
    ``|m|^2 omega sin^2(theta) n``.

    Parameters
    ----------
    omega : float
        Angular frequency (units of t).
    theta : float
        Cone angle (radians).
    columns : None, str or sequence of int
        FM columns that precess: all magnetic columns (default), those with a label (``"FM_L"``),
        or column indices.
    axis : None or 3-vector
    switch_on : float
        Duration of the smooth switch-on of the cone angle (0: precession from t = 0 on the tilted cone,
        the initial state being the equilibrium at ``m(0)``).
    """

    def __init__(self, omega, theta, columns=None, axis=None, switch_on=0.0, phase=0.0):
        self.omega = real_number("precession omega", omega, bound=ENERGY_LIMIT)
        self.theta = real_number("precession cone angle theta", theta)
        self.switch_on = real_number("precession switch_on", switch_on, minimum=0.0)
        self.phase = real_number("precession phase", phase)
        self.columns = _precession_columns(columns)
        if axis is not None:
            a = _real_vector("precession axis", axis)
            if a.shape != (3,) or np.linalg.norm(a) == 0:
                raise ValueError(f"precession axis must be a nonzero 3-vector, got {axis!r}")
            axis = a / np.linalg.norm(a)
        self.axis = axis

    def resolve(self, lattice):
        cols = _select_columns(lattice, self.columns)
        frames = {}
        for x in cols:
            p = lattice.columns[x].params
            m0 = np.array([p["m_x"], p["m_y"], p["m_z"]])
            mag = float(np.linalg.norm(m0))
            n = self.axis if self.axis is not None else (m0 / mag if mag > 0 else None)
            if n is None:
                raise ValueError(f"column {x} has m = 0: give Precession(axis=...) and a magnetized FM")
            e1 = np.cross([0.0, 0.0, 1.0], n)
            if np.linalg.norm(e1) < 1e-12:
                e1 = np.array([1.0, 0.0, 0.0])
            e1 /= np.linalg.norm(e1)
            frames[x] = (mag, n, e1, np.cross(n, e1))
        self._frames = frames
        return self

    def m(self, t, x):
        mag, n, e1, e2 = self._frames[x]
        th = self.theta * float(smooth_switch(t, self.switch_on))
        ph = self.omega * t + self.phase
        return mag * (math.cos(th) * n + math.sin(th) * (math.cos(ph) * e1 + math.sin(ph) * e2))

    def describe(self):
        return {
            "drive": "Precession",
            "omega": self.omega,
            "theta": self.theta,
            "columns": _plain(self.columns),
            "axis": None if self.axis is None else self.axis.tolist(),
            "switch_on": self.switch_on,
            "phase": self.phase,
        }


def _real_vector(name, value):
    """``value`` as a finite real float array; ValueError naming ``name`` (complex, NaN, text refused)."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be real numbers, got {value!r}") from None
    if a.dtype.kind == "c":
        raise ValueError(f"{name} must be real numbers, got the complex value(s) {value!r}")
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be real numbers, got {value!r}")
    a = a.astype(float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return a


def _precession_columns(columns):
    """``None``, an FM layer label, or column indices (checked against the lattice by ``resolve``)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        if not columns.strip():
            raise ValueError("Precession columns is an empty label; give an FM layer label (e.g. 'FM_L') or column indices")
        return columns
    bad = ValueError(f"Precession columns must be None, an FM layer label or a sequence of column indices, got {columns!r}")
    if isinstance(columns, (bytes, dict)) or not hasattr(columns, "__iter__"):
        raise bad
    cols = list(columns)
    if not cols or any(isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) for x in cols):
        raise bad
    return [int(x) for x in cols]


class ElectricField:
    """Uniform electric field along y via ``A_y(t)`` (``E = -dA_y/dt``; the particle charge is absorbed
    in ``E``, units of t per lattice constant): ``h_k(t) = h_0(k + A_y(t))``.  The field does the work
    ``dE/dt = -E_y sum_x j_y`` (``j_y`` the charge bond current per column; checked in the tests).

    ``pulse=None``: static field switched on at t = 0, ``A_y = -E t``.  ``pulse=(t0, sigma)``:
    Gaussian pulse ``E(t) = E exp(-(t - t0)^2 / (2 sigma^2))``, ``A_y = -E sigma sqrt(pi/2)
    [erf((t - t0)/(sqrt 2 sigma)) + erf(t0/(sqrt 2 sigma))]`` (``A_y(0) = 0``).
    """

    def __init__(self, E, pulse=None):
        self.E = real_number("electric field E", E, bound=ENERGY_LIMIT)
        if pulse is not None:
            try:
                t0, sigma = pulse
            except (TypeError, ValueError):
                raise ValueError(f"pulse must be (t0, sigma), got {pulse!r}") from None
            t0 = real_number("pulse centre t0", t0)
            sigma = real_number("pulse width sigma", sigma, minimum=0.0, strict=True)
            pulse = (t0, sigma)
        self.pulse = pulse

    def A(self, t):
        if self.pulse is None:
            return -self.E * t
        t0, s = self.pulse
        r = math.sqrt(2.0) * s
        return -self.E * s * math.sqrt(math.pi / 2) * (math.erf((t - t0) / r) + math.erf(t0 / r))

    def field(self, t):
        if self.pulse is None:
            return self.E
        t0, s = self.pulse
        x = (t - t0) / s  # not (t - t0)^2 / (2 s^2): s^2 underflows to 0 for s < 1e-162 (0/0 at t = t0)
        return self.E * math.exp(-0.5 * x * x)

    def describe(self):
        return {"drive": "ElectricField", "E": self.E, "pulse": None if self.pulse is None else list(self.pulse), "direction": "y"}


@dataclass(frozen=True)
class Relaxation:
    """Relaxation of every k-block toward ``f(h(t))`` with time ``tau_r`` (Eq. 1 of
    :mod:`orbsym.numeric.evolution`; the bath does not conserve the particle number)."""

    tau_r: float

    def __post_init__(self):
        object.__setattr__(self, "tau_r", real_number("relaxation time tau_r", self.tau_r, minimum=0.0, strict=True))

    def describe(self):
        return {"drive": "Relaxation", "tau_r": self.tau_r, "target": "f(h(t)) at the bath T and mu"}


_DRIVES = (Quench, Precession, ElectricField, Relaxation)


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (tuple, list)):
        return [_plain(u) for u in v]
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def _select_columns(lattice, columns):
    mag = [x for x, c in enumerate(lattice.columns) if c.magnetic and all(f"m_{a}" in c.params for a in "xyz")]
    if columns is None:
        if not mag:
            raise ValueError("Precession: the system has no FM column with an exchange field m")
        return mag
    if isinstance(columns, str):
        sel = [x for x in mag if lattice.columns[x].label == columns]
        if not sel:
            labels = sorted({lattice.columns[x].label for x in mag})
            raise unknown_name("FM layer label", columns, labels)
        return sel
    try:
        sel = [int(x) for x in columns]
    except (TypeError, ValueError):
        raise ValueError(f"Precession columns must be None, an FM layer label or column indices, got {columns!r}") from None
    bad = [x for x in sel if x not in mag]
    if bad:
        raise ValueError(f"Precession columns {bad} are not FM columns with an exchange field; FM columns: {mag}")
    return sel


def check_builtin_quench(params, geometry, basis, metal, prefix="Quench", check_m=True):
    """Refuse quench parameters ``params`` (a dict) that the built-in ``geometry`` with this ``basis`` and
    ``metal`` does not have (did you mean ...?) or that do not apply to it (naming where they do),
    and ``m`` without a magnetization given as an axis or angles in the same quench."""
    allowed, elsewhere = quench_parameters(geometry, basis, metal)
    what = f"{geometry} ({basis} basis, metal {metal!r})"
    for name in params:
        if name in QUENCH_FIXED:
            raise ValueError(f"{prefix} parameter {name!r} cannot change in time: it fixes {QUENCH_FIXED[name]}; allowed: {', '.join(allowed)}")
        if name in elsewhere:
            raise ValueError(f"{prefix} parameter {name!r} does not apply to this {what}: it applies only to {elsewhere[name]}; allowed: {', '.join(allowed)}")
        if name not in allowed:
            raise unknown_name(f"{prefix} parameter of the {what}", name, allowed)
    if check_m and "m" in params and not any(isinstance(v, str) or np.size(v) == 2 for k, v in params.items() if k.startswith("m_")):
        mag = next(k for k in allowed if k.startswith("m_"))
        raise ValueError(
            f"{prefix} m = {params['m']!r} scales only a magnetization given in the same quench as an axis name or angles "
            f"(e.g. {mag}=x with m={params['m']!r}); the system's own magnetizations are vectors and would not change"
        )


def _check_quenches(system, quenches):
    """Refuse, before any lattice is built, a quench parameter the system does not have or that
    does not apply to it (naming where it applies), and ``m`` without a magnetization to scale."""
    info = system.info
    geometry = info.get("geometry")
    for q in quenches:
        if system.rebuild is None:
            raise ValueError("Quench needs a system with a rebuild() (from trilayer, bilayer or heterostructure)")
        if geometry in ("trilayer", "bilayer"):
            check_builtin_quench(q.params, geometry, info.get("basis"), info.get("metal"))
        else:
            allowed = {"interface"}
            for c in system.lattice.columns:
                allowed.update(c.kernels.parameters)
            if any(c.magnetic for c in system.lattice.columns):
                allowed.add("m")
            for name in q.params:
                if name not in allowed:
                    raise unknown_name(f"Quench parameter of this {geometry or 'system'}", name, sorted(allowed))


def _check_quench_reached(q, lattice):
    """After a heterostructure's rebuild: every quenched model parameter must reach a column (a layer
    that sets its own value ignores the heterostructure-wide one)."""
    for name, value in q.params.items():
        if name == "m":
            mags = [float(np.linalg.norm([c.params.get(f"m_{a}", 0.0) for a in "xyz"])) for c in lattice.columns if all(f"m_{a}" in c.params for a in "xyz")]
            if not any(np.isclose(v, float(value), rtol=1e-12, atol=0) for v in mags):
                raise ValueError(f"Quench m = {value!r} changes no column: every FM layer has its magnetization as a vector (|m| applies to axis names and angles only)")
            continue
        if name == "interface" or value is None:
            continue
        hit = [c for c in lattice.columns if name in c.kernels.parameters and np.isclose(float(c.params.get(name, np.nan)), float(value), rtol=0, atol=0)]
        if not hit:
            raise ValueError(f"Quench {name} = {value!r} changes no column: every layer with the parameter {name!r} sets its own value (give it to layer(...) or rebuild the system)")


class _Protocol:
    """The time-dependent Hamiltonian of a system under a list of drives."""

    def __init__(self, system, drives):
        self.system = system
        self.lattice0 = system.lattice
        self.quenches = sorted([d for d in drives if isinstance(d, Quench)], key=lambda q: q.time)
        self.precessions = [d.resolve(self.lattice0) for d in drives if isinstance(d, Precession)]
        fields = [d for d in drives if isinstance(d, ElectricField)]
        self.field = fields
        self._bases = []
        current = system
        for q in self.quenches:
            if system.rebuild is None:
                raise ValueError("Quench needs a system with a rebuild() (from trilayer, bilayer or heterostructure)")
            try:
                current = current.rebuild(**q.params)
            except TypeError as exc:  # a keyword the constructor does not take (checked before; a custom rebuild)
                raise ValueError(f"Quench {q.params}: {exc}") from None
            L = current.lattice
            if system.info.get("geometry") not in ("trilayer", "bilayer"):
                _check_quench_reached(q, L)
            if (L.N_x, L.N_y, L.dim) != (self.lattice0.N_x, self.lattice0.N_y, self.lattice0.dim):
                raise ValueError(
                    f"Quench {q.params} changes the geometry (N_x, N_y, dim) from "
                    f"{(self.lattice0.N_x, self.lattice0.N_y, self.lattice0.dim)} to {(L.N_x, L.N_y, L.dim)}; only parameters may change"
                )
            self._bases.append((q.time, L))
        self._cache = {}
        # evaluated kernel blocks keyed by (model, parameter values): shared by every lattice built here
        self._blocks = {}

    def __getstate__(self):
        """Pickled for the pool workers (:func:`_run_parallel`) as plain data: the lattices and
        drives, without the system (its ``rebuild`` is a closure, used in ``__init__`` only) and
        without the caches (keyed by object ids of this process)."""
        state = dict(self.__dict__)
        state.update(system=None, _cache={}, _blocks={})
        return state

    def base(self, t):
        L = self.lattice0
        for tq, Lq in self._bases:
            if t >= tq:
                L = Lq
        return L

    def A(self, t):
        return float(sum(f.A(t) for f in self.field))

    def initial_lattice(self):
        """The lattice of the initial thermal state: the system before any quench, with m(0) of the
        precessing columns (the tilted cone when there is no switch-on)."""
        return self.lattice(0.0, base=self.lattice0)

    def lattice(self, t, base=None):
        base = self.base(t) if base is None else base
        if not self.precessions:
            return base
        overrides = {}
        for p in self.precessions:
            for x in p._frames:
                overrides[x] = p.m(t, x)
        key = (id(base), tuple((x, tuple(np.round(v, 15))) for x, v in sorted(overrides.items())))
        lat = self._cache.get(key)
        if lat is None:
            updates = {}
            for x, m in overrides.items():
                c = base.columns[x]
                updates[x] = Column(c.kernels, dict(c.params, m_x=float(m[0]), m_y=float(m[1]), m_z=float(m[2])), c.magnetic, c.label)
            if len(self._blocks) > 20000:
                self._blocks.clear()
            try:
                lat = base.with_columns(updates)  # re-evaluates only the precessing columns
            except ValueError:  # a quench changed a precessing column's model or kind: build it anew
                lat = Lattice([updates.get(x, c) for x, c in enumerate(base.columns)], base.N_y, base.interface)
            lat._blocks = self._blocks  # keys include the column's (model, parameters): valid across lattices
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[key] = lat
        return lat

    def magnetizations(self, t):
        L = self.lattice(t)
        out = np.zeros((L.N_x, 3))
        for x, c in enumerate(L.columns):
            if all(f"m_{a}" in c.params for a in "xyz"):
                out[x] = [c.params["m_x"], c.params["m_y"], c.params["m_z"]]
        return out


# ----------------------------------------------------------------------------- time grid
def _time_grid(times):
    """``times`` as a float array: real, finite, starting at 0, strictly increasing, at least 2 of them.

    Every refusal names the offending entry (complex values are refused, not truncated with a
    ComplexWarning; text, bools and nested sequences as well)."""
    if isinstance(times, (str, bytes)) or times is None:
        raise ValueError(f"times must be a sequence of stored times (units of 1/t), e.g. numpy.linspace(0, 20, 101); got {times!r}")
    try:
        raw = np.asarray(times)
    except (TypeError, ValueError):
        raise ValueError(f"times must be a 1-d sequence of real numbers (units of 1/t), got {times!r}") from None
    if raw.ndim != 1:
        raise ValueError(f"times must be a 1-d sequence of stored times (units of 1/t), got an array of shape {raw.shape}")
    if raw.size < 2:
        raise ValueError(f"times must hold at least 2 stored times (0 and a later one; units of 1/t), got {raw.size}: {raw.tolist()!r}")
    if raw.dtype.kind == "c":
        i = int(np.argmax(raw.imag != 0)) if np.any(raw.imag != 0) else 0
        raise ValueError(f"times must be real numbers (units of 1/t), got complex values, e.g. times[{i}] = {complex(raw[i])!r}")
    if raw.dtype.kind == "O":
        for i, v in enumerate(raw):
            try:
                real_number(f"times[{i}]", v)
            except ValueError as exc:
                raise ValueError(str(exc).replace("(units of t)", "(units of 1/t)")) from None
    elif raw.dtype.kind not in "iuf":
        raise ValueError(f"times must be real numbers (units of 1/t), got {raw.dtype} entries, e.g. times[0] = {raw[0]!r}")
    t = raw.astype(float)
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"times must be finite, got times[{i}] = {float(t[i])!r}")
    if t[0] != 0.0:
        raise ValueError(f"times must start at 0 (the thermal state), got times[0] = {float(t[0])!r}")
    d = np.diff(t)
    if np.any(d <= 0):
        i = int(np.argmax(d <= 0))
        raise ValueError(f"times must be strictly increasing; times[{i}] = {float(t[i])!r} is followed by times[{i + 1}] = {float(t[i + 1])!r}")
    return t


def _fd_weights(order):
    """Finite-difference stencils (offsets, weights) for d/dt at the first points, interior, mirrored."""
    if order == 4:
        interior = (np.arange(-2, 3), np.array([1, -8, 0, 8, -1]) / 12)
        edge = [(np.arange(0, 5), np.array([-25, 48, -36, 16, -3]) / 12), (np.arange(-1, 4), np.array([-3, -10, 18, -6, 1]) / 12)]
    else:
        interior = (np.arange(-1, 2), np.array([-1, 0, 1]) / 2)
        edge = [(np.arange(0, 3), np.array([-3, 4, -1]) / 2)]
    return interior, edge


def finite_difference(y, dt, order=4, axis=0):
    """``dy/dt`` on a uniform grid: central differences of the given order (2 or 4), one-sided
    stencils of the same order at the ends.  Also returns, per point, the index range it used."""
    y = np.moveaxis(np.asarray(y), axis, 0)
    n = y.shape[0]
    (off, w), edges = _fd_weights(order)
    half = off[-1]
    if n < 2 * half + 1:
        raise ValueError(f"finite differences of order {order} need at least {2 * half + 1} stored times, got {n}")
    out = np.empty_like(y, dtype=float)
    ranges = np.zeros((n, 2), int)
    for i in range(half, n - half):
        out[i] = np.tensordot(w, y[i + off], axes=(0, 0))
        ranges[i] = (i - half, i + half)
    for j, (eo, ew) in enumerate(edges):
        out[j] = np.tensordot(ew, y[j + eo], axes=(0, 0))
        ranges[j] = (j + eo[0], j + eo[-1])
        out[n - 1 - j] = -np.tensordot(ew, y[n - 1 - j - eo], axes=(0, 0))
        ranges[n - 1 - j] = (n - 1 - j - eo[-1], n - 1 - j - eo[0])
    return np.moveaxis(out / dt, 0, axis), ranges


# ----------------------------------------------------------------------------- evolve
def _split_drives(drives, relaxation):
    if drives is None:
        drives = []
    elif isinstance(drives, _DRIVES):
        drives = [drives]
    drives = list(drives)
    for d in drives:
        if not isinstance(d, _DRIVES):
            raise TypeError(f"drives must be Quench, Precession, ElectricField or Relaxation objects, got {type(d).__name__}: {d!r}")
    relax = [d for d in drives if isinstance(d, Relaxation)]
    if relaxation is not None:
        relax.append(relaxation if isinstance(relaxation, Relaxation) else Relaxation(relaxation))
    if len(relax) > 1:
        raise ValueError(f"give at most one Relaxation, got {len(relax)}")
    return [d for d in drives if not isinstance(d, Relaxation)], (relax[0] if relax else None)


#: Bound (units of t) on the spectral half-width used to predict whether the fast path's
#: collocation takes a step (:func:`orbsym.numeric.local_update.nodes_needed`): the estimate's guess only.
_R_GUESS = 8.0


def check_size(N_x, N_y, dim, drives, n_times, n_steps, relaxation=None, method="exact", error_estimate=False, workers=1, h_max=None, y_hermitian=True):
    """Refuse a run whose estimated memory or CPU time exceeds the limits, before anything is built
    (:func:`orbsym.numeric.budget.evolve_estimate`; limits ``ORBSYM_MAX_MEMORY``/``ORBSYM_MAX_SECONDS``).

    Parameters
    ----------
    N_x, N_y, dim : int
        Columns, rows, states per site of the system.
    drives : sequence
        The drive objects (they decide the path: the fast path for precessions and quenches, the
        eigen-decomposition per step with a field, relaxation or magnus4; the full k grid with a field).
    n_times, n_steps : int
        Stored times; propagation steps in all.
    h_max : float, optional
        The longest propagation step (units of 1/t): the fast path does not take very long steps.
    y_hermitian : bool
        Whether ``h(-k) = h(k)`` without a field (every built-in system).

    Returns
    -------
    orbsym.numeric.budget.ResourceEstimate
    """
    from .numeric.budget import check_resources, evolve_estimate
    from .numeric.local_update import nodes_needed

    drives = [] if drives is None else list(drives) if isinstance(drives, (list, tuple)) else [drives]
    field = any(isinstance(d, ElectricField) for d in drives)
    relax = relaxation is not None or any(isinstance(d, Relaxation) for d in drives)
    local = bool(
        LOCAL_UPDATE and method == "exact" and not relax and not field
        and any(isinstance(d, (Precession, Quench)) for d in drives)
        and (h_max is None or nodes_needed(_R_GUESS, h_max) is not None)
    )
    path = ("local" if any(isinstance(d, Precession) for d in drives) else "free") if local else "eigh"
    est = evolve_estimate(
        N_x, N_y, dim, n_times, n_steps, path=path, symmetric=bool(y_hermitian and not field), method=method,
        relaxation=relax, error_estimate=error_estimate, n_pairs=9, workers=workers,
    )
    import os

    workers = max(1, min(int(workers), os.cpu_count() or 1))  # more processes than cores do not shorten the run
    return check_resources(
        est, what=f"evolve with {float(n_times):.3g} stored times and {float(n_steps):.3g} propagation steps", workers=workers,
        hint="use fewer stored times (times, --steps), a larger time step (dt, --dt) or a smaller system (N_x, N_y)",
    )


@blas_limited
def evolve(system, drives=(), times=None, T=0.01, dt=None, method="exact", relaxation=None, check="raise", progress=False, fd_order=4, error_estimate="auto", workers=1):
    """Propagate the thermal state of ``system`` under ``drives`` and record every kernel in time.

    Parameters
    ----------
    system : orbsym.systems.System
    drives : drive or sequence of drives
        :class:`Quench`, :class:`Precession`, :class:`ElectricField`, :class:`Relaxation`.
    times : sequence of float
        Stored times, uniform, starting at 0 (units of 1/t).
    T : float
        Temperature of the initial thermal state and of the relaxation bath.
    dt : float, optional
        Largest propagation step; each stored interval is split into ``ceil(interval / dt)``
        equal steps (default: one step per stored interval).
    method : {"exact", "magnus4"}
        Propagator (:mod:`orbsym.numeric.evolution`): exponential midpoint (order 2, exact for
        piecewise-constant h) or 4th-order commutator-free Magnus.  With precessions and quenches
        only (no field, no relaxation), "exact" uses the local-update fast path (:class:`_LocalPath`,
        :mod:`orbsym.numeric.local_update`: the same step to rounding, one eigen-decomposition per
        quench segment, the occupied or empty orbitals per k, records formed from the orbitals),
        falling back to the per-step eigen-decomposition when a step is too long for it;
        ``attrs["engine"]`` says which ran.
    relaxation : float or Relaxation, optional
        Relaxation time ``tau_r``.
    check : {"raise", "warn"}
        What to do when a continuity balance exceeds its tolerance.
    progress : bool
        tqdm progress bar over the stored times.
    error_estimate : bool or "auto"
        Estimate the propagator's local error by step doubling on the last step of every stored
        interval (two extra steps per stored time; enters the finite-difference tolerance as
        ``defect_estimate``).  ``"auto"`` (default): on where the stored trajectory is not a
        piecewise-exact evolution, i.e. for ``magnus4`` (a product of two exponentials per step) and
        with relaxation (the bath's target ``f(h)`` is frozen over the step); off for ``"exact"``
        without relaxation, whose trajectory solves ``d rho/dt = -i[h(t_mid), rho]`` exactly in
        every step, so that its derivative at a stored time is one of the one-sided rates
        ``Tr(rho i[h(t -+ dt/2), J])`` exactly and their difference, ``rate_kink`` (always in the
        tolerance), is its whole defect against the rate at ``h(t)`` up to ``O(dt^2 h'')``.  ``True``
        forces the estimate (about 2x the cost on the precession fast path, 3x on the
        eigen-decomposition path); ``False`` drops it.
    workers : int
        Processes sharing the momenta: the persistent forked pool of the one execution layer
        (:func:`orbsym.execution.shared_pool`, one BLAS thread per worker, lost tasks re-run;
        started once per process and shared with :func:`orbsym.numeric.solve_bloch`).  Each
        worker propagates every ``workers``-th momentum, the k-sums add up; the records are formed
        in the calling process.  At the Fig. 2 size ``workers=2`` halves the wall
        time on two cores (``benchmarks/bench_evolve.py``).

    Returns
    -------
    xarray.Dataset
        Dimensions ``time``, ``polarization``, ``column``, ``bond``, ``component``; see the module
        docstring and the variables' ``attrs``.

    Notes
    -----
    The continuity balance ``d<J_n>/dt = -div j + tau + relaxation`` (bond currents, torques of
    the bond decomposition) is checked in two independent ways at every stored time, column and
    polarization:

    (a) ``rate_exact = Tr(rho [i h(t), J_n]) + relaxation`` from the matrices directly equals the
        kernel decomposition to ``1e-10`` times the largest rate (an exact identity);
    (b) ``dJdt_fd``, the derivative of the stored trajectory ``<J_n>(t)`` by 4th-order finite
        differences (central, one-sided 5-point at the ends), equals the decomposition within::

            tol_fd = 10 W|D_2 - D_4| + W'(rate_kink + 10 defect_estimate) + 1e-9 (1 + max|rate|)

        ``W`` is the maximum over +-2 stored times (``|D_2 - D_4|`` vanishes where ``d^3J/dt^3``
        changes sign), ``W'`` that maximum also over columns and polarizations (a step's error is a
        property of the whole state; every generator has norm <= 1).  The three terms:

        * ``|D_2 - D_4|`` (2nd- minus 4th-order difference) estimates the 2nd-order truncation
          error and bounds the 4th-order one on a resolved grid (spacing ``Delta`` with
          ``Delta x bandwidth`` of order 1 or less);
        * ``rate_kink = |rate(h(t + dt/2)) - rate(h(t - dt/2))|``: the jump of ``d<J>/dt`` across a
          step boundary, ``O(dt |dh/dt|)``;
        * ``defect_estimate``: the local error of the last step by step doubling (scaled with the
          propagator order, ``2^(p+1) / (2^(p+1) - 1)``), divided by the step
          (when the estimate runs, see ``error_estimate``: the relaxation step's and magnus4's own
          errors are only covered by this term; 0 otherwise).

        Stencils that straddle a quench are skipped (NaN): ``J(t)`` has a kink there.  The check
        is meaningful on a resolved grid; a too coarse ``dt`` or stored spacing is reported
        (``ContinuityError``, or a warning with ``check="warn"``) with the advice to refine it.
    """
    import xarray as xr

    from .systems import System

    if not isinstance(system, System):
        raise TypeError(f"evolve() needs an orbsym.systems.System, got {type(system).__name__}")
    system.require_finite_rows("evolve()")
    T = check_energy_scale("temperature T", check_temperature(T))
    if not isinstance(method, str) or method not in ev.METHODS:
        raise unknown_name("propagator method", method, ev.METHODS)
    if check not in ("raise", "warn"):
        raise unknown_name("check mode", check, ("raise", "warn"))
    if fd_order != 4:
        raise ValueError(f"fd_order must be 4 (4th-order differences, checked against 2nd order), got {fd_order!r}")
    if times is None:
        raise ValueError("evolve() needs the stored times, e.g. times=numpy.linspace(0, 20, 101) (units of 1/t)")
    dt = None if dt is None else real_number("time step dt", dt, minimum=0.0, strict=True)
    workers = integer_at_least("workers", workers, 1)
    drives, relax = _split_drives(drives, relaxation)
    tau = None if relax is None else relax.tau_r
    if not (isinstance(error_estimate, str) and error_estimate == "auto" or isinstance(error_estimate, (bool, np.bool_))):
        raise ValueError(f"error_estimate must be True, False or 'auto', got {error_estimate!r}")
    if isinstance(error_estimate, str):
        error_estimate = method != "exact" or tau is not None
    if tau is not None and method != "exact":
        raise ValueError(f"relaxation (tau_r = {tau:g}) needs method 'exact' (the relaxation step is exact for h frozen over a step); got method {method!r}")
    if progress not in (True, False):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    quenches = [d for d in drives if isinstance(d, Quench)]
    _check_quenches(system, quenches)
    L0 = system.lattice
    for p in drives:
        if isinstance(p, Precession):
            p.resolve(L0)  # FM layer labels and columns, before any work
    if hasattr(times, "__len__") and not isinstance(times, (str, bytes)):  # the records alone, before copying times
        check_size(L0.N_x, L0.N_y, L0.dim, drives, len(times), max(1, len(times) - 1), relax, method, bool(error_estimate), workers, y_hermitian=L0.y_hermitian)
    times = _time_grid(times)
    steps = np.diff(times)
    uniform = bool(np.allclose(steps, steps[0], rtol=1e-9, atol=0))
    n_steps = float(times.size - 1) if dt is None else float(np.maximum(1.0, np.ceil(steps / dt * (1 - 1e-12))).sum())
    h_max = float(steps.max()) if dt is None else min(dt, float(steps.max()))
    check_size(L0.N_x, L0.N_y, L0.dim, drives, times.size, n_steps, relax, method, bool(error_estimate), workers, h_max, L0.y_hermitian)
    N, d, Ny = L0.N_x, L0.dim, L0.N_y
    n = N * d
    nk = Ny // 2 + 1 if (L0.y_hermitian and not any(isinstance(f, ElectricField) for f in drives)) else Ny
    if nk * n * n > MAX_STATE_ENTRIES:
        raise ValueError(
            f"the state has N_k n^2 = {nk} x {n}^2 = {nk * n * n:.3g} complex entries "
            f"({nk * n * n * 16 * 4 / 2**30:.1f} GB with work copies); limit {MAX_STATE_ENTRIES:.3g}: reduce N_y or N_x"
        )
    for q in quenches:
        if not np.any(np.isclose(times, q.time, rtol=0, atol=1e-12 * max(1.0, times[-1]))):
            raise ValueError(f"quench time {q.time:g} is not one of the stored times; put it on the grid (e.g. times = linspace(0, {times[-1]:g}, ...))")
    proto = _Protocol(system, drives)
    symmetric = bool(not proto.field and all(L.y_hermitian for L in [proto.lattice0] + [Lq for _, Lq in proto._bases]))
    k, w = ev.momentum_grid(Ny, symmetric)
    pairs = L0.offset_pairs(KERNEL_NAMES)
    scale = 0.5 if (system.info.get("basis") == "spin" and system.spin_unit == "S") else 1.0
    ops = np.concatenate([np.eye(d)[None], L0.generators], axis=0)

    nt = times.size
    job = _Job(proto, times, dt, method, T, tau, Ny, N, d, pairs, ops, symmetric, error_estimate, LOCAL_UPDATE, K_GROUPS)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=nt, desc="evolve", unit="time")
    if workers == 1 or k.size < 2 * workers:
        sums = job.run(k, w, bar)
    else:
        sums = _run_parallel(job, k, w, workers, bar)
    if bar is not None:
        bar.refresh()  # show the last stored time now, not after the records (tqdm throttles its display)
    rec = _Recorder(nt, N)
    rec.substeps = list(job.substeps)
    for i, t in enumerate(times):
        _record(rec, i, sums[i], proto, t, scale, tau)
    if bar is not None:
        bar.close()
    ds = rec.dataset(xr, times, proto, system, drives, relax, method, T, symmetric, k.size, scale)
    ds.attrs["workers"] = int(workers if k.size >= 2 * workers else 1)
    ds.attrs["error_estimate"] = (
        "step doubling on the last step of every stored interval (defect_estimate)"
        if error_estimate
        else "off (defect_estimate = 0): the exact midpoint trajectory is piecewise exact, its defect is rate_kink"
        if (method == "exact" and tau is None)
        else "off (defect_estimate = 0), by request"
    )
    ds.attrs["engine"] += "; fast path for precessions and quenches (numeric.local_update, orbitals per k)" if job.local_path else "; eigen-decomposition per step"
    _balance(ds, times, uniform, proto, check, fd_order)
    return ds


class _Recorder:
    NAMES_PC = (
        "density",
        "density_eq",
        "current_y",
        "current_eq7",
        "torque_exchange",
        "torque_bond_x",
        "torque_bond_y",
        "torque_total",
        "torque_forward_total",
        "divergence",
        "divergence_forward",
        "relaxation",
        "dJdt_kernel",
        "rate_exact",
    )
    NAMES_PB = ("current_x", "current_x_forward", "current_x_backward")

    def __init__(self, nt, N):
        self.pc = {name: np.full((nt, 4, N), np.nan) for name in self.NAMES_PC}
        self.pb = {name: np.full((nt, 4, max(N - 1, 0)), np.nan) for name in self.NAMES_PB}
        self.energy = np.zeros(nt)
        self.particles = np.zeros(nt)
        self.A = np.zeros(nt)
        self.E = np.zeros(nt)
        self.m = np.zeros((nt, N, 3))
        self.trace_dev = np.zeros(nt)
        self.substeps = []
        self.kink = np.zeros((nt, 4, N))
        self.local_error = np.zeros((nt, 4, N))


#: Use the precession fast path (:mod:`orbsym.numeric.local_update`) when it applies; tests switch
#: it off to compare with the eigen-decomposition path.
LOCAL_UPDATE = True
#: Momentum groups of the local path (by the number of states each k needs).
K_GROUPS = 12


class _NotLocal(Exception):
    pass


class _Job:
    """Propagation of one chunk of momenta and its k-sums at every stored time (additive over chunks).

    Plain data once built (pickled to the pool workers, :func:`_run_parallel`): the switches
    ``local_update`` (:data:`LOCAL_UPDATE`) and ``k_groups`` (:data:`K_GROUPS`) are read by
    :func:`evolve` and travel with the job, so a worker started earlier uses the caller's values.
    """

    def __init__(self, proto, times, dt, method, T, tau, Ny, N, d, pairs, ops, symmetric, error_estimate, local_update=True, k_groups=12):
        self.__dict__.update(locals())
        del self.__dict__["self"]
        self.substeps = []
        self.local_path = self._local_applies()

    def _nsub(self, t0, t):
        return 1 if self.dt is None else max(1, int(math.ceil((t - t0) / self.dt * (1 - 1e-12))))

    def run(self, k, w, bar=None):
        proto, times, method, T, tau = self.proto, self.times, self.method, self.T, self.tau
        shape = (k.size, self.N * self.d, self.N * self.d)
        slot = [0]

        def hfun(s):  # two alternating work buffers: magnus4 holds two Hamiltonians at once
            slot[0] ^= 1
            return ev.hamiltonians(proto.lattice(s), k, proto.A(s), out=ev.work_buffer(f"hfun{slot[0]}", shape))

        self.substeps = []
        if self.local_path:
            out, rho, start = _LocalPath(self, k, w).run(bar)
            if rho is None:
                return out
        else:
            rho = ev.thermal_state(proto.initial_lattice(), T, k)
            out = [self.sums(rho, times[0], k, w, None, None)]
            start = 1
            if bar is not None:
                bar.update(1)
        for i in range(start, times.size):
            t0, t = times[i - 1], times[i]
            nsub = self._nsub(t0, t)
            h_sub = (t - t0) / nsub
            if nsub > 1:
                rho = ev.propagate(rho, hfun, t0, t - h_sub, nsub - 1, method, T, tau)
            t_last = t - h_sub
            full = ev.step(rho, hfun, t_last, h_sub, method, T, tau)
            err = None
            if self.error_estimate:
                # step doubling on the last step: local error of the full step ~ (y_1 - y_2) 2^(p+1) / (2^(p+1) - 1)
                half = ev.step(ev.step(rho, hfun, t_last, 0.5 * h_sub, method, T, tau), hfun, t_last + 0.5 * h_sub, 0.5 * h_sub, method, T, tau)
                gain = 2 ** (ev.ORDERS[method] + 1)
                err = ev.onsite_expectations(full - half, self.ops, w, self.Ny, self.N) * gain / (gain - 1) / h_sub
            rho = ev.hermitize(full)
            self.substeps.append(nsub)
            out.append(self.sums(rho, t, k, w, h_sub, err))
            if bar is not None:
                bar.update(1)
        return out

    def _local_applies(self):
        """The fast path of the "exact" propagator (:class:`_LocalPath`): precessions and quenches, no field, no relaxation."""
        proto = self.proto
        return bool(self.local_update and self.method == "exact" and self.tau is None and (proto.precessions or proto.quenches) and not proto.field)

    def sums(self, rho, t, k, w, h_sub, err):
        """Every k-sum the record needs (all linear in the weights, so chunks add up)."""
        proto, Ny, N, ops = self.proto, self.Ny, self.N, self.ops
        A = proto.A(t)
        shape = rho.shape
        h = ev.hamiltonians(proto.lattice(t), k, A, out=ev.work_buffer("h_rec", shape))
        out = {
            "bands": ev.correlation_bands(rho, k, w, Ny, N, self.d, self.pairs, A, self.symmetric),
            "dens": ev.onsite_expectations(rho, ops, w, Ny, N),
            "rate": ev.onsite_rates(rho, h, ops, w, Ny, N),
            "energy": ev.energy(rho, h, w, Ny),
            "particles": float(np.sum(w * np.trace(rho, axis1=1, axis2=2).real)) / Ny,
            "err": np.zeros((len(ops), N)) if err is None else err,
        }
        if h_sub is not None:
            # one-sided rates of the propagated trajectory at this step boundary (h frozen at the
            # neighbouring midpoints): d<J>/dt jumps by their difference
            hs = [ev.hamiltonians(proto.lattice(t + sgn * 0.5 * h_sub), k, proto.A(t + sgn * 0.5 * h_sub), out=ev.work_buffer(f"h_kink{sgn}", shape)) for sgn in (-1, 1)]
            hs[1] -= hs[0]
            out["kink"] = ev.onsite_rates(rho, hs[1], ops, w, Ny, N)
        else:
            out["kink"] = np.zeros((len(ops), N))
        if self.tau is not None:
            out["dens_eq"] = ev.onsite_expectations(ev.equilibrium_state(h, self.T), ops, w, Ny, N)
        return out

class _LocalPath:
    """The fast path of the "exact" propagator for one chunk of momenta: precessions and quenches.

    Between quenches every midpoint Hamiltonian differs from a reference ``h_ref`` (the Hamiltonian at
    the start of the segment: t = 0 or the last quench) only in the on-site blocks ``P v P^T`` of the
    precessing columns, so :class:`~orbsym.numeric.local_update.LocalPropagator` applies the
    exponential midpoint step to rounding with one eigen-decomposition per segment, in the site basis:
    the free step ``e^{-i h_ref dt}`` as a banded matrix, the collocated correction on the columns
    within its reach of the magnet (without a precession ``v = 0`` and only the free step is left).
    Per k the state is kept as its orbitals: ``rho_k = sum_j f_j psi_j psi_j^dag`` over the ``m``
    lowest states of the initial thermal state (particles) or ``1 - sum_j (1 - f_j) psi_j psi_j^dag``
    over the ``m`` highest (holes), whichever needs fewer (weights below 1e-18, the rounding level of
    ``rho``, are dropped).  The momenta are split into ``K_GROUPS`` groups by the number of states
    they need (each group propagates as many as its largest member needs); the orbitals of all groups
    stand side by side in one array, from which every record is formed at once
    (:func:`~orbsym.numeric.evolution.factored_bands`: the correlation bands, then densities, exact
    rates, energy and particle number from the bands and the real-space Hamiltonian), never from the
    full ``rho_k``.  If a step is too long for the collocation, or ``h`` changes outside the
    precessing blocks within a segment, the full ``rho_k`` is formed and the run continues on the
    eigen-decomposition path.
    """

    def __init__(self, job, k, w):
        self.job, self.k, self.w = job, k, w
        proto, d, N = job.proto, job.d, job.N
        cols = sorted({x for p in proto.precessions for x in p._frames})
        self.rows = np.concatenate([np.arange(x * d, (x + 1) * d) for x in cols]) if cols else np.zeros(0, int)
        L0 = proto.initial_lattice()
        E, Q = np.linalg.eigh(ev.hamiltonians(L0, k))
        f = ev._occupations(E, job.T)
        n = E.shape[1]
        m_p = np.sum(f > 1e-18, axis=1)
        m_h = np.sum(1.0 - f > 1e-18, axis=1)
        need = np.minimum(m_p, m_h)
        hole = m_h < m_p
        self.groups = []
        off = 0
        for part in np.array_split(np.argsort(need, kind="stable"), job.k_groups if k.size >= 4 * job.k_groups else 1):
            if part.size == 0:
                continue
            m = int(max(1, need[part].max()))
            hp = hole[part]
            st = np.where(hp[:, None], np.arange(n - m, n)[None, :], np.arange(m)[None, :])
            fp = np.take_along_axis(f[part], st, 1)
            g = {"idx": part, "m": m, "f": np.where(hp[:, None], fp - 1.0, fp), "hole": hp, "states": st, "cols": slice(off, off + part.size * m)}
            self.groups.append(g)
            off += part.size * m
        lattices = [L0] + [Lq for _, Lq in proto._bases]
        max_dx = max(L.max_dx for L in lattices)
        self.D = min(N - 1, max([abs(int(a)) for a, _ in job.pairs] + [max_dx, 1]))
        self.pairs = sorted(set(map(tuple, job.pairs)) | {(a, b) for a in range(-max_dx, max_dx + 1) for b in (-1, 0, 1)})
        # the orbitals psi (site basis) of every group side by side; X_next receives the next step
        self.X = np.zeros(((N + self.D) * d, off), complex)
        self.X_next = np.zeros_like(self.X)
        self.X_half = np.zeros_like(self.X) if job.error_estimate else None
        for g in self.groups:  # the thermal state: eigenvectors of h(0)
            self.psi(self.X, g)[:] = np.take_along_axis(Q[g["idx"]], g["states"][:, None, :], 2)
        self._coef = {}
        self.rebase(job.times[0], (L0, E, Q))

    def rebase(self, t, initial=None):
        """Make ``h_ref`` the Hamiltonian at time ``t`` (the start of a segment: t = 0 or a quench);
        ``initial = (lattice, E, Q)``: the eigen-decomposition of the initial state's Hamiltonian
        (reused when it is the reference).  The orbitals stay in the site basis."""
        from .numeric.local_update import LocalPropagator

        job = self.job
        L = job.proto.lattice(t)
        self.ref = ev.hamiltonian_pieces(L)
        self._v = {}
        if initial is not None and all(np.array_equal(a, b) for a, b in zip(self.ref, ev.hamiltonian_pieces(initial[0]))):
            E, Q = initial[1:]
        else:
            E, Q = np.linalg.eigh(ev.hamiltonians(L, self.k))
        for g in self.groups:
            idx = g["idx"]
            g["prop"] = LocalPropagator(None, self.rows, eig=(E[idx], Q[idx]), site=(job.N, job.d, L.max_dx))
        # the largest perturbation of the segment, sampled (sizes the collocation once; a larger one later re-sizes it)
        ends = [q.time for q in job.proto.quenches if q.time > t] + [job.times[-1]]
        vs = [self.v(s) for s in np.linspace(t, min(ends), 17)]
        # 25% above the sampled maximum: the table is not rebuilt for a slightly larger v between samples
        self.vmax = 1.25 * max((float(np.linalg.norm(v, 2)) for v in vs if v is not None and v.size), default=0.0)

    # ------------------------------------------------------------------ drive
    def v(self, s):
        """``v = (h(s) - h_ref)`` on the precessing rows (cached per time); None if ``h(s)`` differs elsewhere."""
        key = float(s)
        if key not in self._v:
            H0, C, S = ev.hamiltonian_pieces(self.job.proto.lattice(s))
            H0r, Cr, Sr = self.ref
            r = self.rows
            D = H0 - H0r
            v = D[np.ix_(r, r)].copy()
            D[np.ix_(r, r)] = 0.0
            scale = 1e-14 * max(1.0, float(np.abs(H0r).max()))
            local = np.abs(D).max() <= scale and np.abs(C - Cr).max() <= scale and np.abs(S - Sr).max() <= scale
            if len(self._v) > 64:
                self._v.clear()
            self._v[key] = v if local else None
        return self._v[key]

    def _step(self, g, psi, t0, h, out=None):
        v = self.v(t0 + 0.5 * h)
        new = None if v is None else g["prop"].step(psi, v, h, self.vmax, out=out, v_eig=self._v_eig(t0 + 0.5 * h, v))
        if new is None:
            raise _NotLocal
        return new

    def _v_eig(self, s, v):
        """``eigh(v)`` at time ``s``, once for all momentum groups."""
        key = ("eig", float(s))
        hit = self._v.get(key)
        if hit is None:
            hit = self._v[key] = np.linalg.eigh(v) if v.size else (np.zeros(0), np.zeros((0, 0)))
        return hit

    # ------------------------------------------------------------------ state
    def psi(self, X, g):
        """The orbitals of group ``g`` in ``X`` as a ``(N_k, n, m)`` view (rows ``x dim + i``)."""
        n = self.job.N * self.job.d
        return X[:n, g["cols"]].reshape(n, g["idx"].size, g["m"]).transpose(1, 0, 2)

    def coef(self, dy):
        c = self._coef.get(dy)
        if c is None:
            job = self.job
            c = np.concatenate([(ev.band_phases(self.k[g["idx"]], self.w[g["idx"]], job.Ny, dy, 0.0, job.symmetric)[:, None] * g["f"]).reshape(-1) for g in self.groups])
            self._coef[dy] = c
        return c

    def identity(self, dy):
        job = self.job
        return sum(complex(np.sum(ev.band_phases(self.k[g["idx"]], self.w[g["idx"]], job.Ny, dy, 0.0, job.symmetric)[g["hole"]])) for g in self.groups)

    def bands(self, X, pairs=None, band=None):
        job = self.job
        return ev.factored_bands(X, self.coef, self.identity, job.N, job.d, self.pairs if pairs is None else pairs, job.symmetric, band=self.D if band is None else band)

    def rho_full(self):
        """The full ``rho_k`` (chunk order) of the current orbitals, to continue on the eigen-decomposition path."""
        n = self.job.N * self.job.d
        rho = np.zeros((self.k.size, n, n), complex)
        for g in self.groups:
            psi = self.psi(self.X, g)
            r = np.matmul(psi * g["f"][:, None, :], psi.conj().transpose(0, 2, 1))
            idx = np.arange(n)
            r[:, idx, idx] += g["hole"][:, None]
            rho[g["idx"]] = r
        return ev.hermitize(rho)

    # ------------------------------------------------------------------ run
    def run(self, bar):
        job = self.job
        times = job.times
        out = [self.sums(times[0], None, None)]
        if bar is not None:
            bar.update(1)
        gain = 2 ** (ev.ORDERS["exact"] + 1)
        quench_times = sorted({q.time for q in job.proto.quenches if q.time > times[0]})
        for i in range(1, times.size):
            t0, t = times[i - 1], times[i]
            if quench_times and abs(t0 - quench_times[0]) <= 1e-12 * max(1.0, times[-1]):
                self.rebase(t0)  # quench times are stored times (checked by evolve)
                quench_times.pop(0)
            nsub = job._nsub(t0, t)
            h = (t - t0) / nsub
            try:  # X holds the state at t0 until every group has made the step into X_next
                for g in self.groups:
                    psi = self.psi(self.X, g)
                    for j in range(nsub - 1):
                        psi = self._step(g, psi, t0 + j * h, h)
                    self._step(g, psi, t - h, h, out=self.psi(self.X_next, g))
                    if job.error_estimate:  # step doubling, as on the generic path
                        self._step(g, self._step(g, psi, t - h, 0.5 * h), t - 0.5 * h, 0.5 * h, out=self.psi(self.X_half, g))
            except _NotLocal:  # R dt too large for the collocation (or h changed elsewhere): eigen-decomposition path from here
                return out, self.rho_full(), i
            self.X, self.X_next = self.X_next, self.X
            err = None
            if job.error_estimate:
                dens_half = ev.onsite_from_bands(self.bands(self.X_half, [(0, 0)], 0), job.ops)
                err = dens_half  # completed in sums
            job.substeps.append(nsub)
            out.append(self.sums(t, h, err, gain))
            if bar is not None:
                bar.update(1)
        return out, None, times.size

    def sums(self, t, h_sub, dens_half, gain=None):
        """The k-sums of :meth:`_Job.sums` from the orbitals (no ``rho_k`` formed)."""
        job = self.job
        N, d, ops = job.N, job.d, job.ops
        bands = self.bands(self.X)
        lat = job.proto.lattice(t)
        A = ev.density_hamiltonian_blocks(bands, ev.hamiltonian_pieces(lat), N, d, lat.max_dx)
        dens = ev.onsite_from_bands(bands, ops)
        out = {
            "bands": {p: bands[p] for p in map(tuple, job.pairs)},
            "dens": dens,
            "rate": -2.0 * np.einsum("oca,xac->ox", ops, A).imag,
            "energy": float(np.trace(A, axis1=1, axis2=2).sum().real),
            "particles": float(np.trace(bands[0, 0], axis1=1, axis2=2).sum().real),
            "err": np.zeros((len(ops), N)) if dens_half is None else (dens - dens_half) * gain / (gain - 1) / h_sub,
        }
        if h_sub is None:
            out["kink"] = np.zeros((len(ops), N))
        else:
            # one-sided rates at this step boundary (h frozen at the neighbouring midpoints): d<J>/dt jumps by their difference
            lo, hi = (ev.hamiltonian_pieces(job.proto.lattice(t + sgn * 0.5 * h_sub)) for sgn in (-1, 1))
            dh = tuple(b - a for a, b in zip(lo, hi))
            out["kink"] = ev.rates_from_bands(bands, dh, ops, N, d, max(lat.max_dx, 1))
        return out


def _add(a, b):
    if isinstance(a, dict):
        return {key: _add(a[key], b[key]) for key in a}
    return a + b


def _run_chunk(job, k, w):
    """A pool task: propagate the momenta ``k`` (weights ``w``) of ``job``; its k-sums and substeps."""
    return job.run(k, w), job.substeps


def _run_parallel(job, k, w, workers, bar):
    """Share the momenta among ``workers`` processes of the execution layer; the k-sums add.

    The tasks go through :func:`orbsym.execution.map_tasks` on the persistent forked
    :func:`orbsym.execution.shared_pool` (one BLAS thread per worker; a task whose worker died is
    re-run, an exception in a task is re-raised here).  Each task carries the pickled ``job`` (plain
    data: lattices, drives, times; ``_Protocol.__getstate__``) and an interleaved share of the
    momenta, ``k[i::workers]``: every share spans the whole zone, so the shares need about as many
    states (equal work).  The records are sums over k with the weights ``w``, so the shares' sums
    add up to the serial ones (to rounding: the order of the additions differs).
    """
    from .execution import map_tasks, shared_pool

    parts = [np.arange(i, k.size, workers) for i in range(workers)]
    tasks = [(job, k[p], w[p]) for p in parts]
    results = map_tasks(_run_chunk, tasks, executor=shared_pool(workers), workers=workers, progress=False, errors="raise")
    job.substeps = results[0][1]
    sums = results[0][0]
    for r, _ in results[1:]:
        sums = [_add(a, b) for a, b in zip(sums, r)]
    if bar is not None:
        bar.update(len(sums))
    return sums


def _record(rec, i, sums, proto, t, scale, tau):
    lat = proto.lattice(t)
    obs = Observables(lat, sums["bands"])
    dens, rate = sums["dens"], sums["rate"]
    rec.kink[i] = scale * np.abs(sums["kink"])
    rec.local_error[i] = scale * np.abs(sums["err"])
    if tau is not None:
        dens_eq = sums["dens_eq"]
        relax = -(dens - dens_eq) / tau
    else:
        dens_eq = np.full_like(dens, np.nan)
        relax = np.zeros_like(dens)
    for j, p in enumerate(POLARIZATIONS):
        s = 1.0 if p is None else scale
        pc, pb = rec.pc, rec.pb
        pc["density"][i, j] = s * obs.density(p)
        pc["density_eq"][i, j] = s * dens_eq[j]
        pc["current_y"][i, j] = s * obs.bond_current(p, "y")
        pb["current_x"][i, j] = s * obs.bond_current(p, "x")
        pc["divergence"][i, j] = s * obs.divergence(p, "bond")
        pc["relaxation"][i, j] = s * relax[j]
        pc["rate_exact"][i, j] = s * (rate[j] + relax[j])
        pc["dJdt_kernel"][i, j] = s * (obs.time_derivative(p) + relax[j])
        tq = obs.torques(p, "bond")
        pc["torque_exchange"][i, j] = s * tq["exchange"]
        pc["torque_bond_x"][i, j] = s * tq["bond_x"]
        pc["torque_bond_y"][i, j] = s * tq["bond_y"]
        pc["torque_total"][i, j] = s * tq["total"]
        if p is not None:
            pb["current_x_forward"][i, j] = s * obs.forward_current(p, "x")
            pb["current_x_backward"][i, j] = s * obs.backward_current(p, "x")
            pc["current_eq7"][i, j] = s * obs.eq7_current(p, "x")
            pc["torque_forward_total"][i, j] = s * obs.torques(p, "forward")["total"]
            pc["divergence_forward"][i, j] = s * obs.divergence(p, "forward")
    rec.energy[i] = sums["energy"]
    rec.particles[i] = sums["particles"]
    rec.trace_dev[i] = abs(rec.particles[i] - float(obs.density(None).sum()))
    rec.A[i] = proto.A(t)
    rec.E[i] = sum(f.field(t) for f in proto.field)
    rec.m[i] = proto.magnetizations(t)


def _rec_dataset(self, xr, times, proto, system, drives, relax, method, T, symmetric, nk, scale):
    N = system.lattice.N_x
    coords = {"time": times, "polarization": list(POL_LABELS), "column": np.arange(N), "bond": np.arange(N - 1), "component": ["x", "y", "z"]}
    data = {}
    doc = {
        "density": "<c_n^dag J_alpha c_n> per column (charge: particles per site)",
        "density_eq": "density in the instantaneous equilibrium f(h(t)) (relaxation target; NaN without relaxation)",
        "current_x": "bond current of x-bond (x, x+1), positive toward larger x (kernel 'current')",
        "current_x_forward": "Eq. (7) current, forward difference, per x-bond (kernel 'current_forward')",
        "current_x_backward": "Eq. (7) current, backward difference, per x-bond (kernel 'current_backward')",
        "current_y": "bond current of the y-bonds of each column (kinetic, gauge invariant)",
        "current_eq7": "paper's site-centred Eq. (7) current along x (NaN at the end columns)",
        "torque_exchange": "FM exchange torque i c^dag [eps, J] c (kernel 'torque_onsite')",
        "torque_bond_x": "hopping torque of the x-bonds of the site (kernel 'source')",
        "torque_bond_y": "hopping torque of the y-bonds of the site (kernel 'source')",
        "torque_total": "exchange + bond_x + bond_y (bond-current decomposition)",
        "torque_forward_total": "total torque of the Eq. (7) forward decomposition",
        "divergence": "lattice divergence of the bond current",
        "divergence_forward": "lattice divergence of the Eq. (7) forward current",
        "relaxation": "relaxation source -(<J> - <J>_eq)/tau_r (0 without relaxation)",
        "dJdt_kernel": "d<J>/dt from the equation-of-motion kernels (+ relaxation)",
        "rate_exact": "Tr(rho i[h(t), J_n]) from the matrices (+ relaxation)",
    }
    for name, arr in self.pc.items():
        data[name] = (("time", "polarization", "column"), arr, {"description": doc[name]})
    for name, arr in self.pb.items():
        data[name] = (("time", "polarization", "bond"), arr, {"description": doc[name]})
    data["energy"] = (("time",), self.energy, {"description": "sum_k Tr(h(t) rho_k)/N_y: energy per row (mu inside h), units of t"})
    data["particle_number"] = (("time",), self.particles, {"description": "particles per row"})
    data["A_y"] = (("time",), self.A, {"description": "vector potential along y (k -> k + A_y)"})
    data["E_y"] = (("time",), self.E, {"description": "electric field along y, E = -dA_y/dt"})
    data["m"] = (("time", "column", "component"), self.m, {"description": "exchange field m of each column (0 for metal columns)"})
    data["defect_estimate"] = (("time", "polarization", "column"), self.local_error, {"description": "step-doubling estimate of the local error of the last step before this time, divided by the step: the propagator defect in d<J>/dt"})
    data["rate_kink"] = (("time", "polarization", "column"), self.kink, {"description": "|rate(h(t + dt/2)) - rate(h(t - dt/2))| on the stored state: jump of d<J>/dt across a step boundary"})
    ds = xr.Dataset({k: xr.Variable(v[0], v[1], v[2]) for k, v in data.items()}, coords=coords)
    ds["time"].attrs["units"] = "1/t (hbar = 1)"
    all_drives = [dr.describe() for dr in drives] + ([relax.describe()] if relax else [])
    ds.attrs.update(
        {
            "system": json.dumps(_plain_dict(system.describe())),
            "drives": json.dumps(all_drives),
            "T": T,
            "units": "energies in units of t, hbar = k_B = a = 1, time in 1/t; per-site quantities (same in every row); see orbsym.conventions",
            "current_definitions": "current_x: exact bond current; current_x_forward/backward and current_eq7: the paper's Eq. (7) (twice the printed value, bond counted once); continuity uses the bond decomposition",
            "interface": system.interface,
            "engine": "real-time Bloch (per-k density matrices), orbsym.numeric.evolution",
            "propagator": method,
            "propagator_order": ev.ORDERS[method],
            "substeps_per_interval": json.dumps(sorted(set(self.substeps))),
            "k_grid": "0..pi (k <-> -k symmetric)" if symmetric else "full",
            "N_k": int(nk),
            "relaxation_model": "d rho/dt = -i[h, rho] - (rho - f(h(t)))/tau_r" if relax else "none",
            "tau_r": relax.tau_r if relax else math.inf,
            "spin_unit_scale": scale,
            "max_trace_deviation": float(self.trace_dev.max()),
        }
    )
    return ds


_Recorder.dataset = _rec_dataset


def _plain_dict(x):
    if isinstance(x, dict):
        return {str(k): _plain_dict(v) for k, v in x.items()}
    return _plain(x)


def _window_max(a, half=2):
    """Running maximum over ``+-half`` entries along axis 0."""
    out = a.copy()
    for sh in range(1, half + 1):
        out[sh:] = np.maximum(out[sh:], a[:-sh])
        out[:-sh] = np.maximum(out[:-sh], a[sh:])
    return out


def _balance(ds, times, uniform, proto, check, fd_order):
    """Add the continuity residuals and tolerances to ``ds`` and enforce them."""
    decomposition = -ds["divergence"] + ds["torque_total"] + ds["relaxation"]
    rate = ds["rate_exact"]
    scale = float(np.nanmax(np.abs(rate.values))) if rate.size else 0.0
    res_exact = rate - decomposition
    res_kernel = ds["dJdt_kernel"] - rate
    ds["residual_exact"] = res_exact.assign_attrs(description="rate_exact - (-divergence + torque_total + relaxation): exact identity")
    ds["residual_eom"] = res_kernel.assign_attrs(description="dJdt_kernel - rate_exact: equation-of-motion kernels vs matrices")
    tol_exact = EXACT_RTOL * max(1.0, scale)
    max_exact = float(max(np.nanmax(np.abs(res_exact.values)), np.nanmax(np.abs(res_kernel.values))))
    ds.attrs["tolerance_exact"] = tol_exact
    ds.attrs["max_residual_exact"] = max_exact
    failures = []
    if not max_exact <= tol_exact:
        failures.append(f"exact rate identity violated: max |Tr(rho i[h,J]) - (-div j + tau + relax)| = {max_exact:.3g} > {tol_exact:.3g}")
    nt = times.size
    if uniform and nt >= 5:
        Delta = float(times[1] - times[0])
        y = ds["density"].values
        d_hi, ranges = finite_difference(y, Delta, fd_order)
        d_lo, _ = finite_difference(y, Delta, 2)
        # running max over +-2 stored times: |D_2 - D_4| vanishes where d^3 J/dt^3 changes sign, the error of D_4 need not
        # the propagator's defect is a property of the whole state (errors spread across columns within a step, and
        # every J_alpha has operator norm <= 1): max over columns and polarizations
        prop = _window_max(ds["rate_kink"].values + 10 * ds["defect_estimate"].values).max(axis=(1, 2), keepdims=True)
        tol = 10 * _window_max(np.abs(d_hi - d_lo)) + prop + 1e-9 * (1.0 + scale)
        mask = np.zeros(nt, bool)
        for q in proto.quenches:
            if q.time > times[0]:
                mask |= (times[ranges[:, 0]] < q.time - 1e-12) & (times[ranges[:, 1]] > q.time + 1e-12)
        d_hi[mask] = np.nan
        res_fd = d_hi - decomposition.values
        ds["dJdt_fd"] = (("time", "polarization", "column"), d_hi, {"description": f"d<J>/dt of the stored trajectory, finite differences of order {fd_order} (NaN: stencil across a quench)"})
        ds["residual_fd"] = (("time", "polarization", "column"), res_fd, {"description": "dJdt_fd - (-divergence + torque_total + relaxation)"})
        ds["tolerance_fd"] = (("time", "polarization", "column"), tol, {"description": "10 max_{+-2 Delta} |D_2 - D_4| + max_{+-2 Delta, columns, polarizations} (rate_kink + 10 defect_estimate) + 1e-9 (1 + max|rate|): FD truncation + propagator defect bound"})
        ratio = np.abs(res_fd) / tol
        worst = float(np.nanmax(ratio)) if np.any(np.isfinite(ratio)) else 0.0
        ds.attrs["fd_order"] = fd_order
        ds.attrs["max_residual_fd"] = float(np.nanmax(np.abs(res_fd))) if np.any(np.isfinite(res_fd)) else 0.0
        ds.attrs["max_residual_fd_over_tolerance"] = worst
        if worst > 1.0:
            it, ip, ix = np.unravel_index(int(np.nanargmax(ratio)), ratio.shape)
            failures.append(
                f"finite-difference balance violated: |dJ/dt_fd - (-div j + tau + relax)| = {abs(res_fd[it, ip, ix]):.3g} > tolerance "
                f"{tol[it, ip, ix]:.3g} at t = {times[it]:g}, polarization {POL_LABELS[ip]}, column {ix} (reduce dt or the stored spacing)"
            )
    else:
        ds.attrs["fd_order"] = 0
        ds.attrs["fd_check"] = "skipped: needs a uniform time grid with at least 5 stored times"
    ds.attrs["continuity_check"] = "passed" if not failures else "FAILED: " + "; ".join(failures)
    if failures:
        msg = "continuity balance failed: " + "; ".join(failures)
        if check == "raise":
            raise ContinuityError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


# ----------------------------------------------------------------------------- analysis and I/O
def pumped_current(ds, bond, polarization=("x", "y", "z"), window=None, kind="current_x"):
    """Time average of the x-bond current on ``bond`` over ``window = (t_start, t_stop)`` (default: all).

    For a periodic drive, average over an integer number of periods after the transient.
    Returns a dict ``{polarization: value}``.
    """
    sel = ds[kind].sel(bond=bond)
    if window is not None:
        sel = sel.sel(time=slice(*window))
    tt = sel["time"].values
    out = {}
    for p in (polarization,) if isinstance(polarization, str) else polarization:
        y = sel.sel(polarization=p).values
        out[p] = float(np.trapezoid(y, tt) / (tt[-1] - tt[0])) if tt.size > 1 else float(y[0])
    return out


def _check_dataset(ds, what):
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{what} needs the xarray.Dataset returned by evolve(), got {type(ds).__name__}")


def _check_path(path, fn, example):
    """The output file ``path`` of ``fn`` checked before writing (:func:`orbsym.io.check_output_file`)."""
    import os

    from .io import check_output_file

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}: path must be a file name (str or pathlib.Path), got {type(path).__name__}: {path!r}")
    text = os.fspath(path)
    if not text.strip():
        raise ValueError(f"{fn}: path is empty; give a file name, e.g. {example!r}")
    if os.path.isdir(text) or text.endswith(("/", os.sep)):
        raise ValueError(f"{fn}: path {text!r} is a directory; give a file name, e.g. {os.path.join(text, example)!r}")
    return check_output_file(text, f"{fn} path", example)


def save(ds, path):
    """Write an evolution Dataset to NetCDF (NetCDF3, xarray's scipy backend) atomically.

    ``path`` is checked before anything is written (a file name in a writable directory, not a
    directory; ValueError naming it)."""
    from .io import atomic_path

    _check_dataset(ds, "save()")
    path = _check_path(path, "save()", "run.nc")
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")


def load(path):
    """Read a Dataset written by :func:`save` into memory."""
    from pathlib import Path

    import xarray as xr

    p = Path(path)
    if p.is_dir():
        raise ValueError(f"evolution file {str(p)!r} is a directory; give the .nc file written by save()")
    if not p.is_file():
        raise ValueError(f"evolution file {str(p)!r} does not exist")
    with xr.open_dataset(p, engine="scipy") as ds:
        return ds.load()


def write_csv(ds, path, variables=("density", "current_x", "torque_total", "residual_exact")):
    """Long-format CSV (``time, polarization, site, variable, value``) with ``# key: json`` headers, atomically
    (``path`` and the variable names are checked before anything is written)."""
    from .io import atomic_write

    _check_dataset(ds, "write_csv()")
    if isinstance(variables, str):
        variables = [v.strip() for v in variables.split(",")]
    variables = list(variables)
    if not variables or any(not isinstance(v, str) or not v.strip() for v in variables):
        raise ValueError(f"write_csv() variables must be non-empty variable names, got {variables!r}")
    for name in variables:
        if name not in ds:
            raise unknown_name("CSV variable", name, sorted(ds.data_vars))
    path = _check_path(path, "write_csv()", "run.csv")
    with atomic_write(path) as fh:
        for key in ("system", "drives", "units", "current_definitions", "interface", "propagator", "propagator_order", "continuity_check"):
            if key in ds.attrs:
                fh.write(f"# {key}: {json.dumps(ds.attrs[key]) if not isinstance(ds.attrs[key], str) else ds.attrs[key]}\n")
        fh.write("time,polarization,site,variable,value\n")
        for name in variables:
            if name not in ds:
                raise unknown_name("CSV variable", name, sorted(ds.data_vars))
            v = ds[name]
            site_dim = "bond" if "bond" in v.dims else "column"
            arr = v.transpose("time", "polarization", site_dim).values
            for it, t in enumerate(ds["time"].values):
                for ip, p in enumerate(ds["polarization"].values):
                    for ix in range(arr.shape[2]):
                        fh.write(f"{t:.10g},{p},{ix},{name},{arr[it, ip, ix]:.12g}\n")
