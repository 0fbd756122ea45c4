"""Drives of :func:`orbsym.dynamics.evolve` and the time-dependent Hamiltonian they make.

* :class:`Quench` -- system parameters changed at a stored time (``system.rebuild``), with the
  checks of the quenched names and values (:func:`quench_parameters`, :func:`check_builtin_quench`).
* :class:`Precession` -- ``m(t)`` of FM columns on a cone about an axis (:func:`smooth_switch`).
* :class:`ElectricField` -- ``A_y(t)`` (Peierls, ``k -> k + A_y``; films also ``A_z``): static or a Gaussian pulse.
* :class:`Relaxation` -- the relaxation time ``tau_r`` toward the instantaneous equilibrium.

:class:`_Protocol` turns a system and its drives into ``h(t)``: the lattice at time ``t`` (quench
segments, precessing columns re-evaluated), ``A_y(t)`` and (films) ``A_z(t)``; it is plain data once built (pickled to
the pool workers of :mod:`orbsym.dynamics.propagation`).  Units: ``hbar = 1``, energies in units
of t, times in units of 1/t (:mod:`orbsym.conventions`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numeric import Column, Lattice
from ..numeric.checks import ENERGY_LIMIT, check_name, real_number, unknown_name

__all__ = [
    "Quench",
    "Precession",
    "ElectricField",
    "Relaxation",
    "smooth_switch",
    "quench_parameters",
    "check_builtin_quench",
    "QUENCH_PARAMETERS",
    "QUENCH_FIXED",
]


def smooth_switch(t, duration):
    """``0 -> 1`` over ``0 <= t <= duration`` (``6u^5 - 15u^4 + 10u^3``, C^2); 1 for ``duration = 0``."""
    t = np.asarray(t, float)
    if duration <= 0:
        return np.ones_like(t)
    u = np.clip(t / duration, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u * u)


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
    from ..systems import INTERFACES, magnetization

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
    ``dE/dt = -E_y sum_x j_y`` (``j_y`` the charge bond current per column; checked in the tests;
    along z: ``-E_z sum_x j_z`` per transverse cell of a nearest-neighbour film).

    ``pulse=None``: static field switched on at t = 0, ``A_y = -E t``.  ``pulse=(t0, sigma)``:
    Gaussian pulse ``E(t) = E exp(-(t - t0)^2 / (2 sigma^2))``, ``A_y = -E sigma sqrt(pi/2)
    [erf((t - t0)/(sqrt 2 sigma)) + erf(t0/(sqrt 2 sigma))]`` (``A_y(0) = 0``).

    ``direction``: ``"y"`` (default; on a film it acts in every k_z sector alike, ``k_y -> k_y + A_y``)
    or ``"z"`` (films only): ``A_z(t)`` of the same form, the Peierls phase ``t_d -> t_d e^{i A_z d_z}``
    on every bond with a z component, i.e. ``h(k_y, k_z, t) = h_0(k_y, k_z + A_z(t))``: each k_z
    sector is propagated at its shifted momentum and the full k_z grid is used.
    """

    def __init__(self, E, pulse=None, direction="y"):
        if not (isinstance(direction, str) and direction in ("y", "z")):
            raise unknown_name("ElectricField direction", direction, ("y", "z"))
        self.direction = direction
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
        return {"drive": "ElectricField", "E": self.E, "pulse": None if self.pulse is None else list(self.pulse), "direction": self.direction}


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


class _Protocol:
    """The time-dependent Hamiltonian of a system under a list of drives."""

    def __init__(self, system, drives):
        self.system = system
        self.lattice0 = system.lattice
        self.quenches = sorted([d for d in drives if isinstance(d, Quench)], key=lambda q: q.time)
        self.precessions = [d.resolve(self.lattice0) for d in drives if isinstance(d, Precession)]
        fields = [d for d in drives if isinstance(d, ElectricField)]
        self.field = fields  # every field (y and z): no fast path, no k <-> -k symmetry
        self.field_y = [f for f in fields if getattr(f, "direction", "y") == "y"]
        self.field_z = [f for f in fields if getattr(f, "direction", "y") == "z"]
        if self.field_z and not self.lattice0.is_film:
            raise ValueError("ElectricField(direction='z') needs a film (a system built with N_z); a 2D system has no z direction")
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
            if (L.N_x, L.N_y, L.dim, L.N_z) != (self.lattice0.N_x, self.lattice0.N_y, self.lattice0.dim, self.lattice0.N_z):
                raise ValueError(
                    f"Quench {q.params} changes the geometry (N_x, N_y, dim, N_z) from "
                    f"{(self.lattice0.N_x, self.lattice0.N_y, self.lattice0.dim, self.lattice0.N_z)} to {(L.N_x, L.N_y, L.dim, L.N_z)}; only parameters may change"
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
        """``A_y(t)``: the vector potential along y (``k_y -> k_y + A_y``)."""
        return float(sum(f.A(t) for f in self.field_y))

    def A_z(self, t):
        """``A_z(t)``: the vector potential along z of a film (``k_z -> k_z + A_z``)."""
        return float(sum(f.A(t) for f in self.field_z))

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
                lat = Lattice([updates.get(x, c) for x, c in enumerate(base.columns)], base.N_y, base.interface, N_z=base.N_z)
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
