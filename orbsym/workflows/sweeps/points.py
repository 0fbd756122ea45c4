"""One parameter point of a sweep: build the system, solve, extract the requested observables.

Everything here runs inside the workers, so it is a module-level function on plain, picklable data
(a :class:`SystemSpec` and dicts of parameter values); workers build their own systems (kernels are
derived once per worker process and cached by :func:`orbsym.symbolic.continuity.kernels`).

Sweepable parameters
--------------------
* every keyword of :func:`orbsym.systems.trilayer` / :func:`orbsym.systems.bilayer` (``gamma``,
  ``mu``, ``t``, ``tp``, ``w``, ``m``, ``N_x``, ``N_y``, ``N_FM``, ``interface``, ``basis``,
  ``metal``, ``spin_unit``, ``m_L``, ``m_R``, ``m_FM``) or of a user factory;
* ``T`` (temperature of the solve);
* magnetization angles (radians, ``m = |m| (sin th cos ph, sin th sin ph, cos th)``): ``theta``,
  ``phi`` for the bilayer FM; ``theta_L``, ``phi_L``, ``theta_R``, ``phi_R`` for the trilayer.  An
  angle that is not given keeps the value of the base magnetization;
* ``N_y = inf`` (``math.inf``): the thermodynamic limit in y (:mod:`orbsym.numeric.infinite`);
* ``N_z`` (an integer ``>= 1``, fixed or swept; built-in geometries: the cubic models): every point
  is a film, periodic in y and z (:func:`orbsym.systems.trilayer`), solved by k_z sectors; its
  free energy, particle number, densities, currents and torques are per transverse cell (``a^2`` of
  one column) instead of per row, torques gain the ``bond_z`` and ``bond_diagonal`` terms
  (:data:`FILM_TORQUE_TERMS`; a bond family the model lacks contributes exactly 0) and currents
  the direction ``z`` (bond ``(0, 0, 1)``).  Films need a finite ``N_y`` and have no ``levels``.

Observable ``levels``: the band energies ``E_n(k)`` (dims ``k``, ``level``) and k weights of one
eigenvalue-only solve, from which F at any chemical potential follows in closed form.

Conventions (units of t, F per row): :mod:`orbsym.conventions`.
"""

from __future__ import annotations

import inspect
import math
import os
import traceback
from dataclasses import dataclass, field

import numpy as np

#: BLAS thread variables as found when this module was first imported (in a spawned worker: its
#: environment at start, i.e. before NumPy was loaded there).
STARTUP_BLAS_ENV = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

__all__ = ["SystemSpec", "OBSERVABLES", "ANGLE_PARAMETERS", "parse_observable", "observable_schema", "compute_point", "run_chunk"]

#: Observable names (``currents`` and ``torques`` take options, see :func:`parse_observable`).
OBSERVABLES = ("free_energy", "particle_number", "densities", "currents", "torques", "rkky", "levels")
#: Angle parameters per geometry (radians), mapped onto the magnetization keyword.
ANGLE_PARAMETERS = {
    "bilayer": {"theta": ("m_FM", 0), "phi": ("m_FM", 1)},
    "trilayer": {"theta_L": ("m_L", 0), "phi_L": ("m_L", 1), "theta_R": ("m_R", 0), "phi_R": ("m_R", 1)},
}
_CURRENT_KINDS = ("bond", "eq7", "forward", "backward")
_TORQUE_KINDS = ("bond", "forward")
_INT_PARAMETERS = ("N_x", "N_y", "N_FM", "N_z")
POLARIZATION_LABELS = ("charge", "x", "y", "z")
AXIS_LABELS = ("x", "y", "z")
TORQUE_TERMS = ("exchange", "bond_x", "bond_y", "total")
#: Torque terms of film sweeps (``N_z`` given): the hopping torques of the z bonds and of the
#: diagonal bonds too (``total = exchange + bond_x + bond_y + bond_z + bond_diagonal``).
FILM_TORQUE_TERMS = ("exchange", "bond_x", "bond_y", "bond_z", "bond_diagonal", "total")


def film_of(kw):
    """The ``N_z`` of a point's constructor keywords (None: a 2D point)."""
    return kw.get("N_z")


@dataclass(frozen=True)
class SystemSpec:
    """Picklable recipe of a system: a geometry name or a module-level factory, plus fixed keywords.

    Attributes
    ----------
    geometry : str
        ``"trilayer"``, ``"bilayer"`` or ``"custom"`` (user ``factory``).
    factory : callable or None
        ``factory(**params) -> orbsym.systems.System``; must be picklable (module-level function or
        :func:`functools.partial`) for process pools.
    ny_inf_method : str
        Rule of the ``N_y = inf`` k_y integral, ``"auto"``, ``"trapezoid"`` or ``"adaptive"``
        (:func:`orbsym.numeric.infinite.solve_infinite`).
    engine : str
        ``"auto"``, ``"dense"`` or ``"greens"`` for the finite-``N_y`` solves; at ``N_y = inf``
        ``"greens"`` uses the Green's-function k sub-grids (``free_energy_error``: its a-priori
        bound), the others the dense k integral of ``ny_inf_method``.
    """

    geometry: str
    factory: object = None
    fixed: dict = field(default_factory=dict)
    #: Rule of the ``N_y = inf`` k_y integral (:data:`orbsym.numeric.infinite.METHODS`).
    ny_inf_method: str = "auto"
    #: Engine of :func:`orbsym.systems.solve` (:data:`orbsym.numeric.engines.ENGINES`); for
    #: ``N_y = inf`` points only ``"greens"`` replaces the dense k integral.
    engine: str = "auto"

    def constructor(self):
        if self.factory is not None:
            return self.factory
        from ... import systems

        return getattr(systems, self.geometry)

    def parameter_names(self):
        """Sweepable names: constructor keywords, ``T`` and the geometry's angle parameters."""
        sig = inspect.signature(self.constructor())
        names = [p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        names.append("T")
        names.extend(ANGLE_PARAMETERS.get(self.geometry, {}))
        return names

    def accepts_any(self):
        sig = inspect.signature(self.constructor())
        return any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def _unknown(prefix, value, allowed):
    """ValueError ``<prefix> 'value' (did you mean ...?); allowed: ...`` (:func:`orbsym.numeric.checks.unknown_name`)."""
    from ...numeric.checks import unknown_name

    msg = str(unknown_name("x", value, allowed))  # "unknown x 'value'...; allowed: ..."
    return ValueError(prefix + msg[len("unknown x"):])


def parse_observable(name):
    """Normalize an observable request to ``(base, option, direction)``.

    ``"currents"`` is ``"currents:bond:x"``; other kinds ``"currents:eq7"``, ``"currents:forward:y"``...
    ``"torques"`` is ``"torques:bond"`` (or ``"torques:forward"``).
    """
    if not isinstance(name, str):
        raise ValueError(f"observable names must be strings, got {name!r}; allowed: {', '.join(OBSERVABLES)}")
    parts = name.strip().split(":")
    base = parts[0]
    if base not in OBSERVABLES:
        import difflib

        close = difflib.get_close_matches(base, OBSERVABLES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown observable {name!r}{hint}; allowed: {', '.join(OBSERVABLES)} (currents[:KIND[:DIR]], torques[:KIND])")
    if base == "currents":
        if len(parts) > 3:
            raise ValueError(f"observable {name!r}: expected currents[:KIND[:DIRECTION]]")
        kind = parts[1] if len(parts) > 1 else "bond"
        direction = parts[2] if len(parts) > 2 else "x"
        if kind not in _CURRENT_KINDS:
            raise _unknown(f"observable {name!r}: unknown current kind", kind, _CURRENT_KINDS)
        if direction not in ("x", "y", "z"):
            raise _unknown(f"observable {name!r}: unknown current direction", direction, ("x", "y", "z"))
        return ("currents", kind, direction)
    if base == "torques":
        if len(parts) > 2:
            raise ValueError(f"observable {name!r}: expected torques[:KIND]")
        kind = parts[1] if len(parts) > 1 else "bond"
        if kind not in _TORQUE_KINDS:
            raise _unknown(f"observable {name!r}: unknown torque decomposition", kind, _TORQUE_KINDS)
        return ("torques", kind, None)
    if len(parts) > 1:
        raise ValueError(f"observable {name!r}: {base} takes no options")
    return (base, None, None)


def observable_schema(obs, infinite=False):
    """Output variables of one parsed observable: ``[(variable, dims)]`` (dims after the sweep axes).

    Dimension names: ``polarization`` (charge, x, y, z), ``axis`` (x, y, z), ``x`` (columns),
    ``x_bond`` (x-bonds ``(x, x+1)``), ``torque_term`` (exchange, bond_x, bond_y, total).
    """
    base, kind, direction = obs
    if base == "free_energy":
        return [("free_energy", ())] + ([("free_energy_error", ())] if infinite else [])
    if base == "particle_number":
        return [("particle_number", ())]
    if base == "densities":
        return [("density", ("polarization", "x"))]
    if base == "currents":
        pol = "polarization" if kind == "bond" else "axis"
        site = "x" if (direction in ("y", "z") or kind == "eq7") else "x_bond"
        return [(f"current_{kind}_{direction}", (pol, site))]
    if base == "torques":
        return [(f"torque_{kind}", ("axis", "torque_term", "x"))]
    if base == "rkky":
        return [("rkky_J", ()), ("F_P", ()), ("F_AP", ())]
    if base == "levels":
        return [("levels", ("k", "level")), ("k_weight", ("k",))]
    raise AssertionError(base)


# ----------------------------------------------------------------------------- building
def system_kwargs(spec, params):
    """Constructor keywords and temperature for one point: ``(kwargs, T, infinite)``."""
    from ...conventions import PAPER_PARAMETERS

    kw = dict(spec.fixed)
    kw.update(params)
    T = kw.pop("T", PAPER_PARAMETERS["T"])
    angles = ANGLE_PARAMETERS.get(spec.geometry, {})
    given = {a: kw.pop(a) for a in list(kw) if a in angles}
    if given:
        from ...systems import magnetization

        defaults = {"m_FM": "z", "m_L": "x", "m_R": "y"}
        mag = float(kw.get("m", 1.0))
        for target in {angles[a][0] for a in given}:
            vec = np.array(magnetization(kw.get(target, defaults[target]), mag), float)
            r = float(np.linalg.norm(vec))
            th = math.acos(max(-1.0, min(1.0, vec[2] / r))) if r > 0 else 0.0
            ph = math.atan2(vec[1], vec[0]) if r > 0 else 0.0
            pair = [th, ph]
            for a, v in given.items():
                if angles[a][0] == target:
                    pair[angles[a][1]] = float(v)
            kw[target] = tuple(pair)
    for name in _INT_PARAMETERS:
        if name in kw and not (name == "N_z" and kw[name] is None):  # N_z = None: the 2D system
            kw[name] = _as_int(name, kw[name])
    infinite = "N_y" in kw and kw["N_y"] == math.inf
    if infinite:
        kw["N_y"] = 1
    return kw, T, infinite


def _as_int(name, v):
    if isinstance(v, (str, bytes)):
        raise ValueError(f"{name} must be an integer, got {v!r}")
    if name == "N_y" and isinstance(v, (float, np.floating)) and math.isinf(v) and v > 0:
        return math.inf
    fv = float(v)
    if not math.isfinite(fv) or fv != int(fv):
        raise ValueError(f"{name} must be an integer{' or inf' if name == 'N_y' else ''}, got {v!r}")
    return int(fv)


class _InfiniteResult:
    """:class:`orbsym.systems.Result`-like view of an ``N_y = infinity`` solution."""

    def __init__(self, system, T, tol, vectors, method="auto", engine="auto", number=True):
        from ...numeric import Observables
        from ...numeric.observables import KERNEL_NAMES
        from ...numeric.infinite import solve_infinite

        lat = system.lattice
        pairs = lat.offset_pairs(KERNEL_NAMES) if vectors else ()
        if engine == "greens":
            from ...numeric.greens import solve_greens, spectral_bound

            sol = solve_greens(lat, T, pairs or ((0, 0),), vectors=vectors or number, N_y=None)
            self._F, self._N, self.error = sol.free_energy(), sol._N, lat.N_x * lat.dim * spectral_bound(lat) * sol.error
            self.solution = sol
        else:
            self.solution = solve_infinite(lat, T, pairs=pairs, tol=tol, method=method)
            self._F, self._N, self.error = self.solution.free_energy, self.solution.particle_number, self.solution.error
        self.observables = Observables(lat, self.solution.bands) if vectors else None
        spin_half = system.info.get("basis") == "spin" and system.spin_unit == "S"
        self._scale = 0.5 if spin_half else 1.0

    def _per_pol(self, fn, charge=True):
        out = {}
        for p in (None, "x", "y", "z"):
            if p is None and not charge:
                continue
            v = fn(p)
            s = 1.0 if p is None else self._scale
            out["charge" if p is None else p] = {k: s * a for k, a in v.items()} if isinstance(v, dict) else s * v
        return out

    def free_energy(self):
        return self._F

    def particle_number(self):
        return self._N

    def densities(self):
        return self._per_pol(self.observables.density)

    def currents(self, kind, direction):
        o = self.observables
        fns = {"bond": o.bond_current, "eq7": o.eq7_current, "forward": o.forward_current, "backward": o.backward_current}
        return self._per_pol(lambda p: fns[kind](p, direction), charge=kind == "bond")

    def torques(self, kind):
        return self._per_pol(lambda p: self.observables.torques(p, kind), charge=False)


def _solve(system, T, infinite, tol, vectors, method="auto", engine="auto", number=True):
    if infinite:
        return _InfiniteResult(system, T, tol, vectors, method, engine, number)
    from ...systems import solve

    return solve(system, T, engine=engine)


def _stack(d, labels, width):
    out = np.full((len(labels), width), np.nan)
    for i, lab in enumerate(labels):
        if lab in d:
            out[i] = d[lab]
    return out


def compute_point(spec, params, observables, tol):
    """All requested observables at one parameter point.

    Returns
    -------
    dict
        ``{variable: ndarray}`` following :func:`observable_schema` (free energies per row).
    """
    kw, T, infinite = system_kwargs(spec, params)
    system = spec.constructor()(**kw)
    film = film_of(kw) is not None
    if bool(getattr(system, "is_film", False)) != film:
        raise ValueError(
            f"the factory built a {'film' if system.is_film else '2D system'} at a point "
            + ("with" if film else "without") + " N_z: a film sweep is declared by N_z (a factory keyword, fixed or swept)"
        )
    vectors = any(o[0] in ("densities", "currents", "torques") for o in observables)
    need_res = any(o[0] not in ("rkky", "levels") for o in observables)
    number = any(o[0] == "particle_number" for o in observables)
    res = _solve(system, T, infinite, tol, vectors, spec.ny_inf_method, spec.engine, number) if need_res else None
    N = system.lattice.N_x
    out = {}
    for obs in observables:
        base, kind, direction = obs
        if base == "free_energy":
            out["free_energy"] = np.array(res.free_energy())
            if infinite:
                out["free_energy_error"] = np.array(res.error)
        elif base == "particle_number":
            out["particle_number"] = np.array(res.particle_number())
        elif base == "densities":
            out["density"] = _stack(res.densities(), POLARIZATION_LABELS, N)
        elif base == "currents":
            d = res.currents(kind, direction)
            labels = POLARIZATION_LABELS if kind == "bond" else AXIS_LABELS
            width = N if (direction in ("y", "z") or kind == "eq7") else N - 1
            out[f"current_{kind}_{direction}"] = _stack(d, labels, width)
        elif base == "torques":
            d = res.torques(kind)
            if film:  # a bond family the model lacks (e.g. diagonal bonds) contributes exactly zero
                extra = sorted({term for a in AXIS_LABELS for term in d[a]} - set(FILM_TORQUE_TERMS))
                if extra:
                    raise ValueError(f"torque terms {extra} of this film have no place in a sweep (allowed: {', '.join(FILM_TORQUE_TERMS)})")
                out[f"torque_{kind}"] = np.array([[d[a].get(term, np.zeros(N)) for term in FILM_TORQUE_TERMS] for a in AXIS_LABELS], float)
            else:
                out[f"torque_{kind}"] = np.array([[d[a][term] for term in TORQUE_TERMS] for a in AXIS_LABELS], float)
        elif base == "levels":
            out["levels"], out["k_weight"] = _levels(system, T, infinite)
        elif base == "rkky":
            FP, FAP = _rkky(spec, system, kw, T, infinite, tol)
            out["rkky_J"] = np.array(FAP - FP)
            out["F_P"] = np.array(FP)
            out["F_AP"] = np.array(FAP)
    return out


def _levels(system, T, infinite):
    """Single-particle levels ``E_n(k)`` (measured from the system's own mu) and the k weights.

    One eigenvalue-only diagonalization; everything thermodynamic at any chemical potential
    follows in closed form, e.g. ``F(mu') / N_y = sum_k w_k sum_n g(E_n(k) - (mu' - mu)) / sum_k w_k``
    (Eq. 13; used by Fig. 4).
    """
    if infinite:
        raise ValueError("observable 'levels' needs a finite N_y (the k grid is the lattice's)")
    if system.is_film:
        raise ValueError(f"observable 'levels' needs a 2D system; this point is a film (N_z = {system.N_z}) with one band set per k_z sector")
    from ...numeric import solve_bloch

    sol = solve_bloch(system.lattice, T, vectors=False)
    return np.asarray(sol.energies, float), np.asarray(sol.weights, float)


def _rkky(spec, system, kw, T, infinite, tol):
    """``F_P``, ``F_AP`` per row: ``m_R`` along ``+-m_L`` with ``|m_R|`` (as :func:`orbsym.systems.rkky`)."""
    if system.info.get("geometry") != "trilayer":
        raise ValueError(f"observable 'rkky' needs the trilayer geometry, got {system.info.get('geometry')!r}")
    mL = np.array(system.info["m_L"], float)
    nL = float(np.linalg.norm(mL))
    if nL == 0:
        raise ValueError("observable 'rkky' needs a nonzero m_L to define parallel/antiparallel")
    u = mL / nL
    mag = float(np.linalg.norm(system.info["m_R"]))
    make = spec.constructor()
    F = []
    for sign in (1.0, -1.0):
        s = make(**{**kw, "m_R": tuple(sign * mag * u)})
        F.append(_solve(s, T, infinite, tol, False, spec.ny_inf_method, spec.engine, False).free_energy())
    return F[0], F[1]


def run_chunk(spec, points, observables, tol):
    """Worker task: compute a list of ``(index, params)``; failures are caught per point.

    Returns
    -------
    list of (index, dict or None, str or None, float)
        The observables of each point (or ``None`` and the error: type, message and traceback),
        and the seconds spent on the point in the worker.
    """
    import time

    out = []
    for index, params in points:
        t0 = time.perf_counter()
        try:
            out.append((index, compute_point(spec, params, observables, tol), None, time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - reported with the failing point
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3))
            out.append((index, None, f"{type(exc).__name__}: {exc}\n{tb}", time.perf_counter() - t0))
    return out


def worker_init(env):
    """Process-pool initializer: keep BLAS single-threaded in this worker's children too."""
    os.environ.update(env)


def startup_blas_env():
    """:data:`STARTUP_BLAS_ENV` (a task for checking what a worker process started with)."""
    return dict(STARTUP_BLAS_ENV)
