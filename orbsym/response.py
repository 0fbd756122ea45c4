"""Linear response to a static electric field: orbital Hall effect, orbital accumulation and torque.

Two geometries:

* :func:`response` -- a heterostructure of :mod:`orbsym.systems` (open in x, periodic in y) in a
  uniform field ``E_y`` along the periodic direction: the DC response of every derived kernel
  operator per column (OAM accumulation = densities, bond and Eq. (7) currents, every torque
  term including the exchange torque on the FM, i.e. the orbital torque), split into Fermi-surface
  and Fermi-sea parts, and the driven continuity balance.
* :func:`orbital_hall` -- a bulk crystal (periodic in x and y, ``N_k x N_k`` k grid): the intrinsic
  angular-momentum Hall conductivity ``sigma^{J_a}_{xy}(mu)`` of the conventional current
  ``{v_x, J_a}/2`` (orbital Hall for ``L``, spin Hall for ``S``), ``eta -> 0``.

Proper currents (:meth:`Response.proper_currents`, Shi-Zhang-Xiao-Niu) where the driven net torque
vanishes; global (:meth:`Response.reciprocity`) and column-resolved (:meth:`Response.local_reciprocity`)
Onsager reciprocity with orbital pumping.

The driven state (:mod:`orbsym.numeric.kubo`): every Bloch block relaxes with rate ``eta`` toward
the instantaneous equilibrium, ``d rho/dt = -i[h(t), rho] - eta (rho - f(h(t)))``, and the field
enters by ``h(k) -> h(k - q A)``, ``E = -dA/dt``.  Degenerate subspaces are handled by the density
matrix (matrix function of the energies), not by single eigenvectors.

Units and definitions
---------------------
* ``e = hbar = a = 1``; energies (``t, mu, T, hbar eta``) in units of ``t``.
* Every response is per unit force ``q E_y`` (``q`` the particles' charge; ``q E_y = -e E_y`` for
  electrons): ``delta<O> = chi q E_y a / t`` in the units of ``O``.  Densities are per site (OAM
  ``<J_alpha>`` of the on-site, intra-atomic angular momentum ``L`` or spin), currents per bond and
  torques per site in units of ``t / hbar`` times the angular-momentum unit.
* Currents (:meth:`orbsym.systems.Result.currents`, inherited): ``bond`` (the exact bond current),
  ``eq7`` / ``forward`` / ``backward`` (the paper's Eq. 7).  Along x two quantities are named:

  - ``direction="x"`` (default): the **slice-boundary total** ``I(b)``, the current through the
    boundary between columns ``b`` and ``b + 1`` summed over every bond that crosses it
    (``(1, 0)``, ``(1, +-1)``, ``(2, 0)`` twice).  It closes the driven balance column by column,
    ``I(x - 1) - I(x) + tau = eta <J> + D``, and deep inside a wide sample tends to the bulk
    conventional current ``{v_x, J}/2`` per site of :func:`orbital_hall` (which is
    ``sum_d d_x j_d``).  For nearest-neighbour models it is the ``(1, 0)`` bond current, bit for bit.
  - ``direction=(dx, dy)``: **bond (dx, dy)** alone, e.g. ``(1, 0)`` without the diagonal bonds;
    in a next-nearest-neighbour model this is only part of the current through a boundary.

  Torques: :meth:`orbsym.systems.Result.torques`.  Normalization (each bond once):
  :mod:`orbsym.conventions`.
* The charge (particle-number) channel is the ``"charge"`` polarization; its y bond current is the
  longitudinal particle current (Drude conductivity ``~ 1/eta``).

Checks before any work
----------------------
Every parameter of a user Model or KernelSet needs a value (a missing one is refused by name, never
set to zero; only the built-in kinds have documented defaults, :data:`BULK_DEFAULTS`); unknown names
are refused with the close allowed ones; complex, NaN, infinite and out-of-range values are refused.
The memory and time of a solve are estimated first (:func:`orbsym.numeric.budget.kubo_estimate`,
:func:`orbsym.numeric.budget.bulk_hall_estimate`) and a solve beyond the limits of
:func:`orbsym.numeric.budget.check_resources` is refused with the estimate, naming ``N_x``, ``N_y``
or ``N_k``.

Example
-------
>>> from orbsym.systems import bilayer
>>> from orbsym.response import response
>>> r = response(bilayer(N_x=12, N_y=200, gamma=0.5, m_FM="x"), T=0.05, eta=0.05)
>>> acc = r.densities()["z"]           # driven L_z accumulation per column, per unit q E_y
>>> tq = r.orbital_torque()            # exchange torque on the FM columns
>>> r.balance()["max_abs_residual"]    # -div j + tau - eta <J> - D: exact (~1e-15)
"""

from __future__ import annotations

import numpy as np

from .conventions import PAPER_PARAMETERS
from .numeric import Observables
from .numeric.checks import check_name, integer_at_least, real_number, unknown_name
from .numeric.kubo import PARTS, bulk_hall, solve_kubo
from .numeric.observables import KERNEL_NAMES, POLARIZATIONS, polarization_label
from .systems import BASES, CURRENT_KINDS, Result, System, _builtin_model, _jsonable

__all__ = ["response", "Response", "orbital_hall", "PARTS", "UNITS", "DEFAULT_ETA", "BULK_DEFAULTS"]

#: Default broadening ``hbar eta`` (units of t).
DEFAULT_ETA = 0.05
#: Units statement attached to every output.
UNITS = (
    "linear response per unit force q E_y (q: particle charge, q E_y = -e E_y for electrons); "
    "e = hbar = a = 1, energies and hbar*eta in units of t: delta<O> = chi * q E_y a / t; "
    "L is the on-site (intra-atomic) angular momentum; densities per site, currents per bond (x: per slice boundary, every bond crossing it), torques per site"
)
#: Quantities of :meth:`Response.to_dict`.
RESPONSE_QUANTITIES = ("densities", "currents", "torques", "orbital_torque", "balance", "proper_currents")


class Response(Result):
    """DC linear response of a :class:`~orbsym.systems.System` to ``E_y`` (lazy, cached).

    Same accessors as :class:`orbsym.systems.Result` -- :meth:`densities` (OAM accumulation),
    :meth:`currents`, :meth:`torques`, :meth:`continuity_residual` -- but every value is the
    response ``chi`` per unit ``q E_y`` of the part :attr:`part` (``"total"``, ``"fermi_surface"``,
    ``"fermi_sea"``; ``"drive"`` is the finite-N_y term of the balance).  :meth:`select` gives
    another part without recomputing.
    """

    def __init__(self, system, T, eta, part="total", workers=1, _shared=None, field="y"):
        super().__init__(system, T, workers)
        self.eta = real_number("broadening eta", eta, minimum=0.0, strict=True)
        self.part = check_name("response part", part, PARTS)
        self.field = _field(system, field)
        self._shared = {} if _shared is None else _shared

    def check_resources(self, vectors=True):
        """The response's own estimate (:func:`response_resources`), not the equilibrium solve's: a
        Response never runs the equilibrium engines."""
        return response_resources(self.lattice)

    def select(self, part):
        """The same response, another part (shares the solution; a copy: the system and the
        parameters were checked when this response was made, and are not estimated again)."""
        import copy

        other = copy.copy(self)
        other.part = check_name("response part", part, PARTS)
        return other

    @property
    def solution(self):
        """The :class:`~orbsym.numeric.kubo.KuboSolution` of all parts (one pass over k: the
        Fermi-surface and Fermi-sea parts, their total, and the ``drive`` term of the balance)."""
        if "solution" not in self._shared:
            lat = self.lattice
            parts = ("fermi_surface", "fermi_sea", "drive")
            if lat.is_film:  # k_z sectors (E_y: each sector's dh/dk_y; E_z: dh/dk_z)
                from .numeric.film import solve_film_kubo

                sol = solve_film_kubo(lat, self.T, self.eta, lat.offset_pairs(KERNEL_NAMES), self.field, parts)
            else:
                sol = solve_kubo(lat, self.T, self.eta, lat.offset_pairs(KERNEL_NAMES), parts=parts)
            self._shared["solution"] = sol
        return self._shared["solution"]

    @property
    def observables(self):
        key = ("observables", self.part)
        if key not in self._shared:
            self._shared[key] = Observables(self.lattice, self.solution.bands[self.part])
        return self._shared[key]

    def free_energy(self, per_row=True):
        raise ValueError("a Response holds the driven deviation of the state; the free energy is an equilibrium quantity (use orbsym.systems.solve)")

    def particle_number(self, per_row=True):
        """Driven change of the particle number per row (films: per transverse cell; per unit q E)."""
        n = float(self.observables.density(None).sum())
        return n if per_row else n * self.lattice.n_transverse

    def magnetic_columns(self):
        """Indices of the FM columns."""
        return [x for x, c in enumerate(self.lattice.columns) if c.magnetic]

    def orbital_torque(self):
        """Driven exchange torque ``i <[eps, J_alpha]>`` summed over the FM columns, per polarization.

        This is the torque of the exchange field on the electrons' angular momentum; the (orbital)
        torque on the magnetization is its negative.  Per row, per unit ``q E_y``.
        """
        fm = self.magnetic_columns()
        tq = self.torques("bond")
        return {p: float(np.sum(v["exchange"][fm])) for p, v in tq.items()}

    def reciprocity(self):
        """Global Onsager reciprocity between the E_y drive and orbital pumping by a precessing FM.

        For each axis ``a``: ``torque_side`` = ``<dh/dm_a> = -sum_FM <J_a>`` driven per unit ``q E_y``
        (the FM's OAM response to E, conjugate to ``m_a``; with ``eps = -m.J`` the exchange torque is
        ``m x`` this OAM up to the normalization), and ``pumping_side`` = the particle current along y
        (all bonds, ``sum_d dy j_d``, per row) pumped per unit ``d m_a/dt``.  Exactly: ``pumping = torque`` for the Fermi-surface part
        and ``pumping = -torque`` for the Fermi-sea part (``K_mn = conj(K_nm)``; the sea part is odd
        under the time reversal that maps m -> -m).  Per unit ``q`` and per row.
        """
        self.system.require_2d("reciprocity()")
        lat = self.lattice
        fm = self.magnetic_columns()
        if not fm:
            raise ValueError("reciprocity() needs a system with an FM column (orbital pumping by its precession)")
        pairs = lat.offset_pairs(KERNEL_NAMES)
        response_resources(lat, solves=4)  # the E_y response and three pumping drives (no k symmetry)
        out = {}
        for a, J in zip("xyz", lat.generators):
            W = np.zeros((lat.N_x, lat.dim, lat.dim), complex)
            W[fm] = -J
            pump = solve_kubo(lat, self.T, self.eta, pairs, perturbation=W)
            rec = {}
            for part in ("fermi_surface", "fermi_sea"):
                A = -float(self.select(part).observables.density(a)[fm].sum()) * self._scale
                oP = Observables(lat, pump.bands[part])
                B = sum(d[1] * float(oP.evaluate("current", None, d).sum()) for d in lat.bonds if d[1] != 0) * self._scale
                rec[part] = {"torque_side": A, "pumping_side": B}
            out[a] = rec
        return out

    def local_reciprocity(self, polarization="z"):
        """Column-resolved reciprocity: which OAM current is conjugate to a local orbital force.

        For every column boundary ``b`` a step orbital Zeeman field ``H' = -lambda sum_{x > b} J_a(x)``
        is ramped (``d lambda/dt``); the particle current along y it pumps (``pumping``, per row) is
        reciprocal to the E-driven OAM to the right of ``b``, ``A(b) = <sum_{x > b} J_a>``:
        ``pumping = -A`` for the Fermi-surface parts and ``+A`` for the Fermi-sea parts (``<dh/dlambda> = -A``).  The driven balance turns ``A`` into currents:
        ``eta A(b) + D(b) = I(b) + P(b) + net`` (``I`` conventional boundary current, ``P`` torque dipole,
        ``net`` the net torque, ``D(b)`` the drive term to the right of ``b``).  So the reciprocal partner
        of the local orbital force is the proper current ``I + P``, not the conventional ``I``: the
        conventional current is locally non-reciprocal by the torque dipole ``P(b)``.

        Returns
        -------
        dict of arrays over the ``N_x - 1`` boundaries
            ``pumping_surface``, ``pumping_sea``, ``accumulation_surface``, ``accumulation_sea`` (``A``),
            ``conventional`` (``I``), ``torque_dipole`` (``P``), ``drive`` (``D(b)``), ``net_torque``.
        """
        from .numeric.observables import _check_pol

        a = _check_pol(polarization)
        if a is None:
            raise ValueError("local_reciprocity() needs an angular-momentum polarization x, y or z")
        self.system.require_2d("local_reciprocity()")
        lat = self.lattice
        N = lat.N_x
        J = lat.generators["xyz".index(a)]
        pairs = lat.offset_pairs(KERNEL_NAMES)
        response_resources(lat, solves=N)  # the E_y response and one drive per boundary
        tot = self.select("total").observables
        dens = {p: self.select(p).observables.density(a) for p in ("fermi_surface", "fermi_sea", "drive")}
        td = tot.torque_dipole(a)
        out = {k: np.zeros(N - 1) for k in ("pumping_surface", "pumping_sea", "accumulation_surface", "accumulation_sea", "drive")}
        for b in range(N - 1):
            W = np.zeros((N, lat.dim, lat.dim), complex)
            W[b + 1 :] = -J
            pump = solve_kubo(lat, self.T, self.eta, pairs, perturbation=W)
            for part, key in (("fermi_surface", "pumping_surface"), ("fermi_sea", "pumping_sea")):
                oP = Observables(lat, pump.bands[part])
                out[key][b] = sum(d[1] * float(oP.evaluate("current", None, d).sum()) for d in lat.bonds if d[1] != 0)
            out["accumulation_surface"][b] = dens["fermi_surface"][b + 1 :].sum()
            out["accumulation_sea"][b] = dens["fermi_sea"][b + 1 :].sum()
            out["drive"][b] = dens["drive"][b + 1 :].sum()
        s = self._scale
        out = {k: s * v for k, v in out.items()}
        out["conventional"] = s * tot.boundary_current(a)
        out["torque_dipole"] = s * td["P"]
        out["net_torque"] = s * td["net_torque"]
        return out

    def balance(self):
        """The driven continuity balance per polarization and column.

        ``-div j + tau = eta <J> + D`` exactly (:mod:`orbsym.numeric.kubo`); returns the four terms
        (``divergence``, ``torque``, ``relaxation = eta <J>``, ``drive = D``: the finite-N_y sum of a
        k-derivative, -> 0 for ``N_y -> inf``) for ``x, y, z`` and ``charge`` and the largest residual.
        Uses the total response (Fermi surface + Fermi sea).
        """
        tot = self.select("total").observables
        drv = self.select("drive").observables
        out, worst = {}, 0.0
        for p in POLARIZATIONS:
            div = tot.divergence(p)
            tq = tot.torques(p)["total"] if p is not None else np.zeros(self.lattice.N_x)
            relax = self.eta * tot.density(p)
            drive = drv.density(p)
            rate = tot.time_derivative(p)
            worst = max(worst, float(np.abs(-div + tq - relax - drive).max()), float(np.abs(rate - relax - drive).max()))
            out[polarization_label(p)] = {"divergence": div, "torque": tq, "relaxation": relax, "drive": drive}
        out["max_abs_residual"] = worst
        return out

    def describe(self):
        units = UNITS if self.field == "y" else UNITS.replace("E_y", "E_z")
        if self.system.is_film:
            units += "; film: per site = per transverse cell a^2 of one column"
        return {"T": self.T, "eta": self.eta, "part": self.part, "field": f"E_{self.field}", "units": units, "system": self.system.describe()}

    def to_dict(self, quantities=("densities", "currents", "torques", "orbital_torque")):
        """JSON-ready dict of the requested quantities for the current part (NaN -> None)."""
        if isinstance(quantities, str):
            quantities = (quantities,)
        for q in quantities:
            check_name("response quantity", q, RESPONSE_QUANTITIES)
        out = self.describe()
        if "densities" in quantities:
            out["densities"] = _jsonable(self.densities())
        if "currents" in quantities:
            out["currents"] = {k: _jsonable(self.currents(k)) for k in CURRENT_KINDS}
            out["currents"]["bond_y"] = _jsonable(self.currents("bond", "y"))
        if "torques" in quantities:
            out["torques"] = _jsonable(self.torques("bond"))
        if "orbital_torque" in quantities:
            out["orbital_torque"] = self.orbital_torque()
        if "proper_currents" in quantities:
            out["proper_currents"] = _jsonable(self.proper_currents())
        if "balance" in quantities:
            b = self.balance()
            out["balance"] = {k: (_jsonable(v) if isinstance(v, dict) else v) for k, v in b.items()}
        return out


def response(system, T=PAPER_PARAMETERS["T"], eta=DEFAULT_ETA, part="total", field="y", *, disorder=None, realizations=None, seed=None, workers=1,
             out=None, progress=False):
    """DC linear response of ``system`` to a static uniform field ``E_y`` (module docstring).

    Parameters
    ----------
    system : orbsym.systems.System or orbsym.numeric.sites.SiteLattice
        A SiteLattice (material films, multi-site cells) returns its
        :class:`orbsym.numeric.sites.SiteResponse` (every part; the driven per-site balance checked).
    T : float
        Temperature (units of t, ``>= 0``; the Fermi-surface part needs ``T`` above the level
        spacing ``~ 8 t / N_y`` of the k grid).
    eta : float
        Relaxation rate ``hbar eta > 0`` (units of t).
    part : {"total", "fermi_surface", "fermi_sea", "drive"}
    field : {"y", "z"}
        Direction of the field: ``"y"`` (every system) or, for films (``N_z``), ``"z"`` -- the
        response to ``E_z`` with ``v = dh/dk_z`` (:func:`orbsym.numeric.film.solve_film_kubo`).

    disorder, realizations, seed, workers, out, progress
        A disorder ensemble (as :func:`orbsym.systems.solve` with ``disorder=``): every realization is the
        Gamma-only supercell of the periodic sample (the ``N_x x N_y`` torus, films ``x N_z``, with the
        disorder), driven by the same uniform field (Peierls phases on the real bond vectors, so per real
        ``E``), its driven per-site balance ``-div j + tau = eta <J> + D`` checked; the variables are those of
        ``part``.  ``realizations``, ``seed``, ``workers``, ``out`` and ``progress`` apply only with ``disorder``.

    Returns
    -------
    Response
        Lazy: the first quantity triggers one batched Bloch solve of all parts.
    xarray.Dataset
        With ``disorder``: the ensemble (:func:`orbsym.workflows.ensembles.ensemble`): ``density``
        ``[realization, polarization, x, row, site]`` (per unit force ``q E``; ``row`` the transverse cell),
        ``boundary_current`` ``[realization, polarization, boundary]`` (per transverse cell),
        ``balance_residual`` ``[realization]``, each with ``_mean`` and ``_stderr``;
        ``attrs["max_balance_residual"]``, ``["engine"]``, ``["field"]``, ``["part"]``, ``["disorder"]``, ``["seeds"]``.

    Raises
    ------
    ValueError
        Bad arguments, or a solve whose estimated memory or time exceeds the limits
        (:func:`response_resources`: :class:`orbsym.numeric.budget.ResourceError` naming ``N_x``,
        ``N_y`` and the estimate), before any work.
    """
    from .numeric.sites import SiteLattice

    if disorder is not None:
        from .systems import disorder_ensemble

        if isinstance(system, System):
            _field(system, field)
        check_name("response part", part, PARTS)
        eta = real_number("broadening eta", eta, minimum=0.0, strict=True)
        return disorder_ensemble(system, T, disorder, realizations, seed, workers=workers, response=field, eta=eta, part=part, out=out, progress=progress)
    for name, v in (("realizations", realizations), ("seed", seed), ("out", out)):
        if v is not None:
            raise ValueError(f"{name}={v!r} applies only to a disorder ensemble: give disorder=... (orbsym.numeric.disorder terms), or drop {name}")
    if workers != 1:
        raise ValueError(f"workers={workers!r} applies to a disorder ensemble (processes sharing the realizations): give disorder=..., or drop workers")
    if isinstance(system, SiteLattice):  # multi-site cells, material films: every part at once
        if part != "total":
            raise ValueError(f"part={part!r}: a SiteLattice response holds every part (SiteResponse['fermi_sea'], ...); call response() without part")
        return system.respond(T, eta, field=field)
    if not isinstance(system, System):
        raise TypeError(f"response() needs an orbsym.systems.System (from trilayer(), bilayer(), heterostructure()) or an orbsym.numeric.sites.SiteLattice, got {type(system).__name__}")
    if system.is_film:
        system.require_finite_k("response()")
    else:
        system.require_finite_rows("response()")
    _field(system, field)
    response_resources(system.lattice)
    return Response(system, T, eta, part, field=field)


def _field(system, field):
    """The field direction: ``"y"``, or ``"z"`` for a film."""
    allowed = ("y", "z") if system.is_film else ("y",)
    if field not in allowed:
        if field == "z":
            raise ValueError("field='z' (E_z) needs a film, periodic in z: build the system with N_z; a 2D system has E_y only")
        raise unknown_name("field direction", field, allowed)
    return field


def response_resources(lattice, solves=1, max_bytes=None, max_seconds=None):
    """Check the cost of ``solves`` Kubo solves of ``lattice`` before any starts.

    Raises :class:`orbsym.numeric.budget.ResourceError` (a ValueError) with the estimate
    (:func:`orbsym.numeric.budget.kubo_estimate`) naming ``N_x`` and ``N_y``; returns the estimate.
    """
    from .numeric.budget import check_resources, kubo_estimate, kubo_path

    path = kubo_path(lattice)  # the eigensolver the solve will use (cheap: from the blocks)
    if lattice.is_film:  # one 2D response per k_z sector, no k_y half zone assumed
        from .numeric.budget import film_estimate

        est = film_estimate(kubo_estimate(lattice.N_x, lattice.N_y, lattice.dim, symmetric=False, solves=solves, path=path), lattice)
        what = f"the linear response of the film N_x = {lattice.N_x}, N_y = {lattice.N_y}, N_z = {lattice.N_z}" + (f" ({solves} solves)" if solves > 1 else "")
        return check_resources(est, what=what, max_bytes=max_bytes, max_seconds=max_seconds, hint="reduce N_x, N_y or N_z")
    est = kubo_estimate(lattice.N_x, lattice.N_y, lattice.dim, symmetric=bool(lattice.y_hermitian), solves=solves, path=path)
    what = f"the linear response of N_x = {lattice.N_x}, N_y = {lattice.N_y}" + (f" ({solves} solves)" if solves > 1 else "")
    return check_resources(est, what=what, max_bytes=max_bytes, max_seconds=max_seconds, hint="reduce N_x or N_y")


# =============================================================================== bulk
def _bulk_model(model, basis):
    from .symbolic.continuity import kernels
    from .symbolic.models import Model

    if isinstance(model, str):
        kind = model.lower()
        if kind not in ("nm", "am", "fm"):
            raise unknown_name("bulk model", model, ("nm", "am", "fm", "an orbsym Model"))
        return kernels(_builtin_model(kind, basis))
    if isinstance(model, Model):
        return kernels(model)
    if hasattr(model, "hamiltonian") and hasattr(model, "operators"):
        return model  # a KernelSet
    raise ValueError(f"bulk model must be 'nm', 'am', 'fm', an orbsym Model or a KernelSet, got {model!r}")


#: Documented defaults of the built-in bulk kinds (``tp`` defaults to ``t``); a user Model or
#: KernelSet has no defaults: every parameter must be given.
BULK_DEFAULTS = {"t": 1.0, "gamma": 1.0, "w": 0.0, "m_x": 0.0, "m_y": 0.0, "m_z": 0.0}


def _bulk_values(ks, builtin, params):
    """Numeric values of every parameter of ``ks`` except ``mu`` (ValueError naming the bad ones).

    Built-in kinds: :data:`BULK_DEFAULTS` (``tp = t``) unless given; user models: none -- a
    parameter without a value is refused by name, never set to zero.
    """
    from .numeric.checks import ENERGY_LIMIT

    names = [p for p in ks.parameters if p != "mu"]
    for name in params:
        if name == "mu":
            raise ValueError("the chemical potential is the mu argument of orbital_hall(), not a model parameter")
        if name not in names:
            raise unknown_name(f"parameter of model {ks.model!r}", name, names)
    vals = {name: real_number(f"parameter {name}", v, bound=ENERGY_LIMIT) for name, v in params.items()}
    if builtin:
        for name in names:
            if name not in vals:
                vals[name] = vals.get("t", BULK_DEFAULTS["t"]) if name == "tp" else BULK_DEFAULTS.get(name)
    missing = [name for name in names if vals.get(name) is None]
    if missing:
        raise ValueError(
            f"model {ks.model!r} needs values for its parameters {missing} (a missing parameter is never set to zero); "
            f"give all of {names} as keyword arguments, e.g. orbital_hall(model, {missing[0]}=...)"
        )
    return vals


def _chemical_potentials(mu):
    """``mu`` (a real number or a non-empty sequence of them) as a 1D float array."""
    from .numeric.checks import ENERGY_LIMIT

    if isinstance(mu, (str, bytes)):
        raise ValueError(f"mu must be a real number or a sequence of them (units of t), got {mu!r}")
    arr = np.asarray(mu, dtype=object)
    if arr.ndim > 1:
        raise ValueError(f"mu must be a real number or a 1D sequence of them, got an array of shape {arr.shape}")
    items = list(np.atleast_1d(arr))
    if not items:
        raise ValueError("mu is empty; give at least one chemical potential (units of t)")
    return np.array([real_number(f"mu[{i}]" if arr.ndim else "mu", v, bound=ENERGY_LIMIT) for i, v in enumerate(items)], dtype=float)


def bulk_hall_resources(N_k, dim, n_mu=1, grids=1, max_bytes=None, max_seconds=None, mu_option="the number of chemical potentials"):
    """Check the cost of a bulk Hall computation before it starts.

    ``grids`` ``N_k x N_k`` grids (:func:`orbsym.numeric.budget.bulk_hall_estimate`), each serving
    ``n_mu`` chemical potentials.  Raises :class:`orbsym.numeric.budget.ResourceError` (a
    ValueError) naming ``N_k`` and the estimate; returns the estimate otherwise.
    """
    from .numeric.budget import bulk_hall_estimate, check_resources

    est = bulk_hall_estimate(N_k, dim, n_mu).times(grids, "grids")
    extra = (f" and {n_mu} chemical potentials" if n_mu > 1 else "") + (f" on {grids} grids" if grids > 1 else "")
    more = " or " + " or ".join(w for w, n in ((mu_option, n_mu), ("the number of grids (scan points)", grids)) if n > 1) if max(n_mu, grids) > 1 else ""
    return check_resources(est, what=f"the bulk Hall conductivity with N_k = {N_k}{extra}", max_bytes=max_bytes, max_seconds=max_seconds,
                           hint="reduce N_k (k points per direction; the work grows as N_k^2)" + more)


def orbital_hall(model="nm", mu=PAPER_PARAMETERS["mu"], N_k=400, T=0.0, eta=0.0, polarization="z", basis=None, **params):
    """Intrinsic angular-momentum Hall conductivity ``sigma^{J_alpha}_{xy}(mu)`` of a bulk crystal.

    Response of the conventional current ``j^alpha_x = {v_x, J_alpha}/2`` per site to the force
    ``q E_y`` on an ``N_k x N_k`` grid (periodic in x and y), from the density-matrix Kubo formula of
    :mod:`orbsym.numeric.kubo`; ``eta = 0`` gives the intrinsic (Fermi-sea, Berry-curvature-like)
    limit, ``eta > 0`` adds the Fermi-surface part.  ``J`` is the model's generator set (orbital
    ``L`` of the t2g basis: orbital Hall; spin: spin Hall).

    Parameters
    ----------
    model : {"nm", "am", "fm"}, orbsym Model, KernelSet or orbsym.materials.TightBinding
        Built-in kinds in ``basis``, a user/symmetry-generated model (e.g.
        ``symmetric_hoppings("t2g", neighbours="nn+nnn").to_model()``) or its kernels; a numeric
        crystal model (Wannier90, Slater-Koster; any dimension) goes to
        :func:`orbsym.materials.hall.hall_conductivity` (natural units here; its own generators, else
        the atom-centred L).
    mu : float or sequence of float
        Chemical potential(s) (units of t), the Fermi level: one diagonalization serves all (``mu``
        enters as ``-mu 1``; a model without a ``mu`` parameter is shifted the same way).
    N_k : int
        k points per direction (``>= 2``).  The cost (``N_k^2`` blocks) is estimated first and a
        run beyond the memory or time limit is refused naming ``N_k``
        (:func:`orbsym.numeric.budget.bulk_hall_estimate`, :func:`orbsym.numeric.budget.check_resources`).
    T, eta : float
        Temperature and broadening (units of t, ``>= 0``).
    polarization : {"x", "y", "z"}
    basis : {"orbital", "spin"}, optional
        Basis of the built-in kinds (default ``"orbital"``); refused for a user Model or KernelSet,
        which brings its own.
    **params
        Model parameters (real numbers, units of t).  Built-in kinds only have documented
        defaults (:data:`BULK_DEFAULTS`): ``t = 1``, ``gamma = 1``, ``tp = t``, ``w = 0``,
        ``m_x = m_y = m_z = 0``.  A user Model or KernelSet needs a value for every parameter
        except ``mu``: a missing one is refused by name (ValueError), never set to zero.  Unknown
        names are refused with the close allowed ones.

    Returns
    -------
    dict
        ``mu``, ``sigma`` (Fermi sea), ``fermi_surface`` (None for ``eta = 0``), ``total``
        (``sigma + fermi_surface``), ``charge_hall`` (particle Hall response of ``v_x``, zero with
        time reversal), and the ``units``/``current`` statements.  For a scalar ``mu`` (a real
        number or a 0-d array) these five are Python floats; for a sequence of ``mu`` they are 1D
        float arrays of its length, in its order (a one-element list gives one-element arrays).

    Examples
    --------
    >>> orbital_hall("nm", mu=-0.2, N_k=40, gamma=0.5)["sigma"]   # doctest: +SKIP
    0.0
    >>> orbital_hall("nm", mu=[-0.2, 0.4], N_k=40)["sigma"].shape  # doctest: +SKIP
    (2,)

    Raises
    ------
    ValueError
        Bad or missing parameters, or a size beyond the limits (``ResourceError``), before any
        k point is computed.
    """
    from .numeric.checks import ENERGY_LIMIT

    from .materials.model import TightBinding

    if isinstance(model, TightBinding):
        return _material_hall(model, mu, N_k, T, eta, polarization, basis, params)
    builtin = isinstance(model, str)
    if basis is not None and not builtin:
        raise ValueError(f"basis={basis!r} applies only to the built-in kinds 'nm', 'am', 'fm'; a user Model or KernelSet brings its own basis")
    basis = check_name("basis", "orbital" if basis is None else basis, BASES)
    ks = _bulk_model(model, basis)
    N_k = integer_at_least("N_k", N_k, 2, " (k points per direction)")
    T = real_number("temperature T", T, minimum=0.0, bound=ENERGY_LIMIT)
    eta = real_number("broadening eta", eta, minimum=0.0, bound=ENERGY_LIMIT)
    pol = check_name("polarization", polarization, ("x", "y", "z"))
    vals = _bulk_values(ks, builtin, params)
    mus = _chemical_potentials(mu)
    onsite = lambda m: ks.onsite_matrix({**vals, "mu": m}) if "mu" in ks.parameters else ks.onsite_matrix(vals)  # noqa: E731
    shift = "mu" not in ks.parameters or np.allclose(onsite(1.0) - onsite(0.0), -np.eye(ks.dim), atol=1e-14)
    bulk_hall_resources(N_k, ks.dim, mus.size, 1) if shift else bulk_hall_resources(N_k, ks.dim, 1, mus.size)
    hops = {tuple(d): ks.hopping_matrix(d, {**vals, "mu": 0.0}) for d in ks.bonds}
    gens = np.asarray(ks.generators)
    p = "xyz".index(pol)
    if shift:
        res = bulk_hall(onsite(0.0), hops, gens, mus, N_k, T, eta, p, mu_shift=True)
    else:
        parts = [bulk_hall(onsite(m), hops, gens, np.zeros(1), N_k, T, eta, p) for m in mus]
        res = {k: (None if parts[0][k] is None else np.array([r[k][0] for r in parts])) for k in parts[0]}
    total = res["fermi_sea"] + (0.0 if res["fermi_surface"] is None else res["fermi_surface"])
    scalar = np.ndim(mu) == 0  # a real number (or a 0-d array), not a sequence

    def out(v):
        """A scalar ``mu`` gives Python floats, a sequence the 1D arrays (None stays None)."""
        return float(v[0]) if scalar and v is not None else v

    return {
        "mu": out(mus),
        "sigma": out(res["fermi_sea"]),
        "fermi_surface": out(res["fermi_surface"]),
        "total": out(total),
        "charge_hall": out(res["charge_hall"]),
        "polarization": pol,
        "model": ks.model,
        "N_k": N_k,
        "T": T,
        "eta": eta,
        "current": "conventional {v_x, J}/2 (= sum of orbsym bond currents d_x j_d)",
        "units": UNITS.replace("per bond", "per site (bulk)"),
    }


def _material_hall(model, mu, N_k, T, eta, polarization, basis, params):
    """:func:`orbital_hall` of a numeric crystal model: :func:`orbsym.materials.hall.hall_conductivity`
    in natural units (the component ``sigma^{J_pol}_{xy}``; ``J``: the model's own generators when it
    has them, else the atom-centred ``L``), in the dict layout of :func:`orbital_hall`."""
    from .materials.hall import hall_conductivity

    if basis is not None:
        raise ValueError(f"basis={basis!r} applies only to the built-in kinds 'nm', 'am', 'fm'; a TightBinding brings its own orbitals")
    if params:
        raise ValueError(f"model parameters {sorted(params)} apply to symbolic models; a TightBinding has numeric H(R) (build another model instead)")
    pol = check_name("polarization", polarization, ("x", "y", "z"))
    op = "model" if model.generators is not None else "L"
    kw = dict(components=f"{pol}xy", N_k=N_k, T=T, units="natural", convergence=False)
    ds = hall_conductivity(model, mu, operator=op, eta=eta, **kw)
    charge = hall_conductivity(model, mu, operator="charge", eta=0.0, **dict(kw, components="xy"))
    g = "xyz".index(pol)
    scalar = np.ndim(mu) == 0

    def out(v):
        v = np.asarray(v, float)
        return float(v[0]) if scalar else v

    sea = ds.fermi_sea.values[:, g, 0, 1]
    surf = ds.fermi_surface.values[:, g, 0, 1] if "fermi_surface" in ds else None
    return {
        "mu": out(ds.mu.values),
        "sigma": out(sea),
        "fermi_surface": None if surf is None else out(surf),
        "total": out(ds.sigma.values[:, g, 0, 1]),
        "charge_hall": out(charge.fermi_sea.values[:, 0, 0, 1]),
        "polarization": pol,
        "model": model.name,
        "N_k": N_k,
        "T": T,
        "eta": eta,
        "current": f"conventional {{v_x, J}}/2 with J = {'the model generators' if op == 'model' else 'the atom-centred L'} (orbsym.materials.hall)",
        "units": "natural: e = hbar = 1, per unit force q E, per cell (lengths and energies of the model); "
                 "physical units: orbsym.materials.hall.hall_conductivity(units='physical')",
    }


# `orbsym.response` is also the public function above: calling this module calls it (orbsym/_entry.py)
from ._entry import make_callable  # noqa: E402

make_callable(__name__, __name__, "response")
