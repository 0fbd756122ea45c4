"""Driven heterostructures in real time: quenches, precessing magnets, field pulses, relaxation.

:func:`evolve` starts from the thermal state of :func:`orbsym.systems.solve` and propagates the
one-body density matrix per k_y block (:mod:`orbsym.numeric.evolution`, Eq. (1) there) under
composable drives:

* :class:`Quench` -- any system parameter changed at a time on the stored grid (``system.rebuild``).
* :class:`Precession` -- ``m(t)`` of FM columns precessing about an axis at angular frequency
  ``omega`` on a cone of angle ``theta`` (smoothly switched on over ``switch_on``).
* :class:`ElectricField` -- a uniform field along y through the Peierls substitution
  ``k -> k + A_y(t)``, ``A_y = -E t`` (static field from t = 0) or a Gaussian pulse (films: also
  along z, ``k_z -> k_z + A_z(t)``).
* :class:`Relaxation` -- relaxation toward the instantaneous equilibrium with time ``tau_r``.

Films (``system.is_film``: periodic in y and z, built with ``N_z``) run too.  Every drive is
uniform in y and z, so ``(k_y, k_z)`` stay good quantum numbers: the film is the set of its k_z
sectors (:meth:`orbsym.numeric.Lattice.sector`), each propagated per k_y exactly as a 2D system
(same fast path), and the records are formed from the film's correlation bands
``G(x, x+dx; dy, dz) = N_z^-1 sum_kz w_kz e^{i k_z dz} G_kz(x, x+dx; dy)``
(:mod:`orbsym.dynamics.propagation`) with :class:`orbsym.numeric.Observables` on the film lattice:
every per-site quantity per transverse cell ``a^2`` of one column, energy and particle number per
transverse cell; films add ``current_z`` (the z-bond current of each column) and ``torque_bond_z``
(and ``torque_bond_diagonal`` with diagonal bonds), ``A_z`` and ``E_z``.  On a film the field may
also point along z (``ElectricField(E, direction="z")``: ``k_z -> k_z + A_z(t)`` in every sector).

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

Modules (one per concept; every name is re-exported here)
---------------------------------------------------------
* :mod:`orbsym.dynamics.drives` -- :class:`Quench`, :class:`Precession`, :class:`ElectricField`,
  :class:`Relaxation` and the time-dependent Hamiltonian they make (``_Protocol``);
* :mod:`orbsym.dynamics.propagation` -- the propagation job over the momenta (``_Job``, the
  local-update fast path ``_LocalPath``) and its split over the workers of :mod:`orbsym.execution`;
* :mod:`orbsym.dynamics.records` -- what is recorded at every stored time, the Dataset, its I/O
  (:func:`save`, :func:`load`, :func:`write_csv`) and :func:`pumped_current`;
* :mod:`orbsym.dynamics.balance` -- the continuity balance in time (:class:`ContinuityError`,
  :func:`finite_difference`);
* here: :func:`evolve`, its size check :func:`check_size` and the switches :data:`LOCAL_UPDATE`,
  :data:`K_GROUPS` (read by :func:`evolve` at each call and carried by the job to the workers).
"""

from __future__ import annotations

import numpy as np

from ..execution import blas_limited
from ..numeric import evolution as ev
from ..numeric.checks import check_energy_scale, integer_at_least, real_number, unknown_name
from ..numeric.observables import KERNEL_NAMES
from ..numeric.thermo import check_temperature
# every name of the former single module stays importable from orbsym.dynamics (re-exports)
from .balance import EXACT_RTOL, ContinuityError, _balance, _fd_weights, _window_max, finite_difference  # noqa: F401
from .drives import (  # noqa: F401
    _DRIVES,
    _TYPO_CUTOFF,
    QUENCH_FIXED,
    QUENCH_PARAMETERS,
    ElectricField,
    Precession,
    Quench,
    Relaxation,
    _check_quench_reached,
    _check_quenches,
    _plain,
    _precession_columns,
    _Protocol,
    _quench_value,
    _real_vector,
    _select_columns,
    _split_drives,
    check_builtin_quench,
    quench_parameters,
    smooth_switch,
)
from .propagation import _add, _Job, _LocalPath, _NotLocal, _run_chunk, _run_parallel  # noqa: F401
from .records import POL_LABELS, _check_dataset, _check_path, _plain_dict, _rec_dataset, _record, _Recorder, load, pumped_current, save, write_csv  # noqa: F401

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


#: Largest number of complex entries of the propagated state (N_k n^2) accepted (about 1.5 GB).
MAX_STATE_ENTRIES = 96 * 2**20


#: Use the precession fast path (:mod:`orbsym.numeric.local_update`) when it applies; tests switch
#: it off to compare with the eigen-decomposition path.  Read here by :func:`evolve` and
#: :func:`check_size` at each call (the job carries it to the pool workers).
LOCAL_UPDATE = True


#: Momentum groups of the local path (by the number of states each k needs); read by :func:`evolve`.
K_GROUPS = 12


#: Bound (units of t) on the spectral half-width used to predict whether the fast path's
#: collocation takes a step (:func:`orbsym.numeric.local_update.nodes_needed`): the estimate's guess only.
_R_GUESS = 8.0


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


def check_size(N_x, N_y, dim, drives, n_times, n_steps, relaxation=None, method="exact", error_estimate=False, workers=1, h_max=None, y_hermitian=True, N_z=None, z_symmetric=True):
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
    N_z : int, optional
        Films: cells along z.  The k_z sectors run one after the other
        (:func:`orbsym.numeric.budget.film_sector_count` of them: ``N_z // 2 + 1`` with
        ``z_symmetric``, else ``N_z``), so the time is ``n_sectors`` times the 2D estimate of one
        sector and the peak memory that of one sector plus the film's bands of every stored time.
    z_symmetric : bool
        Films: whether the sector at ``-k_z`` equals that at ``k_z``
        (:attr:`orbsym.numeric.Lattice.z_symmetric`).

    Returns
    -------
    orbsym.numeric.budget.ResourceEstimate
    """
    from ..numeric.budget import check_resources, evolve_estimate
    from ..numeric.local_update import nodes_needed

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
    if N_z is not None:
        from ..numeric.budget import ResourceEstimate, film_sector_count

        n_sec = film_sector_count(N_z, bool(z_symmetric))
        est = est.times(n_sec, "k_z sectors (one after the other)")
        # the film's bands (dx, dy, dz) of every stored time next to one sector's 2D sums
        film_bands = max(1.0, float(n_times)) * 27 * 16.0 * N_x * dim * dim
        est = ResourceEstimate(est.engine, est.bytes + film_bands, est.seconds, est.detail + f", film N_z = {int(N_z)}")
    import os

    workers = max(1, min(int(workers), os.cpu_count() or 1))  # more processes than cores do not shorten the run
    return check_resources(
        est, what=f"evolve with {float(n_times):.3g} stored times and {float(n_steps):.3g} propagation steps", workers=workers,
        hint="use fewer stored times (times, --steps), a larger time step (dt, --dt) or a smaller system (N_x, N_y" + (", N_z)" if N_z is not None else ")"),
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
        docstring and the variables' ``attrs``.  Films: the same variables per transverse cell,
        plus ``current_z``, ``torque_bond_z`` (``torque_bond_diagonal`` with diagonal bonds) and the
        attrs ``N_z``, ``N_k_z``, ``k_z_grid``.

    Films
    -----
    A film (``system.is_film``) runs its k_z sectors one after the other inside the propagation
    job (each a 2D run over k_y with the same path choice; ``workers`` share the sectors, or k_y
    when there are fewer sectors than workers), and the sectors' sums are recombined into the
    film's bands before the records (:mod:`orbsym.dynamics.propagation`).  Only ``0 <= k_z <= pi`` is propagated when the
    sector at ``-k_z`` equals that at ``k_z`` for the initial lattice and every quench's
    (:attr:`orbsym.numeric.Lattice.z_symmetric`; the built-in cubic films), and the half k_y grid
    when every sector is ``k_y``-even (no field).  The estimate (:func:`check_size`) is the number
    of sectors times one sector's; the balance below is checked on the film's records.

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

    from ..systems import System

    if not isinstance(system, System):
        raise TypeError(f"evolve() needs an orbsym.systems.System, got {type(system).__name__}")
    film = bool(system.is_film)
    system.require_finite_k("evolve()")  # N_y (and, films, N_z) = infinity: no finite k grid
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
    if not film and any(isinstance(d, ElectricField) and d.direction == "z" for d in drives):  # before any work
        raise ValueError("ElectricField(direction='z') needs a film (a system built with N_z); a 2D system has no z direction")
    quenches = [d for d in drives if isinstance(d, Quench)]
    _check_quenches(system, quenches)
    L0 = system.lattice
    for p in drives:
        if isinstance(p, Precession):
            p.resolve(L0)  # FM layer labels and columns, before any work
    # films: the sectors' y symmetry and the z symmetry as the estimate's guess (decided below on every lattice of the run)
    y_herm = L0.sector(0.0).y_hermitian if film else L0.y_hermitian
    field_z = any(isinstance(d, ElectricField) and d.direction == "z" for d in drives)
    film_size = {"N_z": L0.N_z, "z_symmetric": bool(L0.z_symmetric and not field_z)} if film else {}
    if hasattr(times, "__len__") and not isinstance(times, (str, bytes)):  # the records alone, before copying times
        check_size(L0.N_x, L0.N_y, L0.dim, drives, len(times), max(1, len(times) - 1), relax, method, bool(error_estimate), workers, y_hermitian=y_herm, **film_size)
    times = _time_grid(times)
    steps = np.diff(times)
    uniform = bool(np.allclose(steps, steps[0], rtol=1e-9, atol=0))
    n_steps = float(times.size - 1) if dt is None else float(np.maximum(1.0, np.ceil(steps / dt * (1 - 1e-12))).sum())
    h_max = float(steps.max()) if dt is None else min(dt, float(steps.max()))
    check_size(L0.N_x, L0.N_y, L0.dim, drives, times.size, n_steps, relax, method, bool(error_estimate), workers, h_max, y_herm, **film_size)
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
    fixed = [proto.lattice0] + [Lq for _, Lq in proto._bases]
    film_grid = None
    if film:
        from ..numeric.bloch import k_points

        # h(k_y, -k_z) = h(k_y, k_z) at all times: every fixed lattice, the initial one and, with a
        # precession, two later ones (a precession changes the on-site blocks of built-in models only;
        # a user model whose hoppings depend on m would show it there)
        moving = [proto.initial_lattice()] + ([proto.lattice(times[times.size // 2]), proto.lattice(times[-1])] if proto.precessions else [])
        z_sym = bool(not proto.field_z and all(L.z_symmetric for L in fixed + moving))
        kz, wz = k_points(L0.N_z, z_sym)
        film_grid = (kz, wz, L0.N_z, z_sym)
        symmetric = bool(not proto.field and all(L.sector(q).y_hermitian for L in fixed for q in kz))
    else:
        symmetric = bool(not proto.field and all(L.y_hermitian for L in fixed))
    k, w = ev.momentum_grid(Ny, symmetric)
    pairs = L0.offset_pairs(KERNEL_NAMES)
    scale = 0.5 if (system.info.get("basis") == "spin" and system.spin_unit == "S") else 1.0
    ops = np.concatenate([np.eye(d)[None], L0.generators], axis=0)

    nt = times.size
    job = _Job(proto, times, dt, method, T, tau, Ny, N, d, pairs, ops, symmetric, error_estimate, LOCAL_UPDATE, K_GROUPS, film_grid)
    bar = None
    if progress:
        from ..execution import progress_bar  # the text bar outside Jupyter (tqdm.auto warns without ipywidgets)

        bar = progress_bar(nt * (1 if film_grid is None else film_grid[0].size), desc="evolve" if film_grid is None else f"evolve ({film_grid[0].size} k_z sectors)",
                           progress=True, unit="time")
    # films: the workers share the k_z sectors when there are enough of them (else k_y, as in 2D)
    shared = k.size >= 2 * workers or (film_grid is not None and film_grid[0].size >= workers)
    if workers == 1 or not shared:
        sums = job.run(k, w, bar)
    else:
        sums = _run_parallel(job, k, w, workers, bar)
    if bar is not None:  # the records take about as long as the propagation: a bar of their own
        bar.close()
        from ..execution import progress_bar

        bar = progress_bar(nt, desc="evolve: records", progress=True, unit="time")
    rec = _Recorder(nt, N, film, bool(film and L0.has_diagonal_bonds))
    rec.substeps = list(job.substeps)
    for i, t in enumerate(times):
        _record(rec, i, sums[i], proto, t, scale, tau)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    ds = rec.dataset(xr, times, proto, system, drives, relax, method, T, symmetric, k.size, scale, film_grid)
    ds.attrs["workers"] = int(workers if shared else 1)
    ds.attrs["error_estimate"] = (
        "step doubling on the last step of every stored interval (defect_estimate)"
        if error_estimate
        else "off (defect_estimate = 0): the exact midpoint trajectory is piecewise exact, its defect is rate_kink"
        if (method == "exact" and tau is None)
        else "off (defect_estimate = 0), by request"
    )
    ds.attrs["engine"] += "; fast path for precessions and quenches (numeric.local_update, orbitals per k)" if job.local_path else "; eigen-decomposition per step"
    _balance(ds, times, uniform, proto, check, fd_order)
    from .records import annotate_units

    annotate_units(ds)  # units and descriptions on every variable, the balance's included
    return ds
