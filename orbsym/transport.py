"""Steady-state transport: semi-infinite leads, Landauer conductance, the driven state under bias.

A :class:`~orbsym.systems.System` (any heterostructure, open in x, periodic in y) becomes the
scattering region between two semi-infinite leads (:func:`attach_leads`); :func:`transport` computes
the non-equilibrium steady state with Green's functions (:mod:`orbsym.numeric.negf`) and evaluates
every derived kernel on it -- OAM (or spin) density, bond and Eq. (7) currents, each torque term
and the exchange torque -- with the balance ``d<J_n>/dt = -div j + tau = 0`` checked at every column.

Conventions (also :mod:`orbsym.conventions`, "Transport")
---------------------------------------------------------
* Leads: by default each lead continues the model and parameters of the region's end column
  (``left=None``/``right=None``); any :class:`~orbsym.numeric.Column` or :func:`orbsym.systems.layer`
  may be given instead.  The bond between a lead and the region follows the system's interface rule
  (``Lattice`` ownership), exactly as a bond inside a heterostructure.
* Energies are measured on the axis of ``h`` (the model's ``mu`` is inside ``h``): the equilibrium
  Fermi level is ``E = mu`` with ``mu = 0`` the model's own filling (the default).
* Bias ``V = mu_L - mu_R``: ``mu_L = mu + s V``, ``mu_R = mu - (1 - s) V`` (``s = split``, default
  1/2); both leads at temperature ``T``; no electrostatic potential drop (flat bands, non
  self-consistent).  A positive bias drives electrons toward +x.
* Currents are particle currents (electrons per unit time, ``e = hbar = 1``, units of ``t``), positive
  toward +x; the electric current is ``-e`` times that.  Conductance in units of ``e^2/h``: the
  particle current per unit bias is ``G / 2 pi`` (``h = 2 pi``).  Per row (per unit width) by
  default, like the free energy.
* ``bias=None``: linear response -- every quantity is ``d<O>/dV`` at ``V = 0`` (per unit bias,
  per site).  ``bias=V``: the full steady state at that bias (equilibrium part included).

Finite width
------------
``attach_leads(system, width="open")`` makes the system's ``N_y`` rows a strip with hard walls in y
between leads of the same width (:mod:`orbsym.numeric.strip`); :class:`StripTransportResult` then
resolves every quantity per site ``(x, y)`` (e.g. orbital Hall accumulation at the edges).

Region layout
-------------
The solved lattice (``LeadedSystem.lattice``) is the region plus one lead cell on each side, so every
bond touching a region column is inside it and the balance at every region column is exact.
Site quantities have ``N_x`` values (the region's columns).  x-bond quantities have ``N_x + 1``:
bond ``b`` joins columns ``b - 1`` and ``b`` (``b = 0``: left lead -> column 0; ``b = N_x``:
column ``N_x - 1`` -> right lead).

Example
-------
>>> from orbsym.systems import heterostructure, layer
>>> from orbsym.transport import attach_leads, transport
>>> s = heterostructure([layer("nm", 6, gamma=0.3)], N_y=40)
>>> res = transport(attach_leads(s), T=0.01)          # linear response, per unit bias
>>> res.conductance()["total"]                         # e^2/h per row
>>> res.densities()["z"]                               # d<L_z>/dV per column
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .execution import blas_limited
from .numeric import Column, Lattice, Observables
from .numeric.checks import check_name, integer_at_least, real_number
from .numeric.leads import DEFAULT_ETA, Lead
from .numeric.negf import OpenSystem, bands_from_blocks, dense_region_solver, fermi_derivative_rule, window_rule
from .numeric.realspace import angular_momentum_rate
from .numeric.strip import OpenStripObservables, strip_correlations, strip_hamiltonian, strip_lattice, strip_lead
from .numeric.observables import KERNEL_NAMES, POLARIZATIONS, polarization_label
from .numeric.thermo import check_temperature
from .systems import CURRENT_KINDS, QUANTITIES, Layer, System, _jsonable

__all__ = ["LeadedSystem", "attach_leads", "transport", "TransportResult", "StripTransportResult", "WIDTHS", "DEFAULT_N_LINEAR", "DEFAULT_N_BIAS"]

#: Default Gauss-Legendre nodes in ``u = f(E - mu)`` for the linear response at ``T > 0``.
DEFAULT_N_LINEAR = 16
#: Default energy nodes of the bias window (composite Gauss-Legendre).
DEFAULT_N_BIAS = 200


@dataclass(frozen=True)
class LeadedSystem:
    """A scattering region with two semi-infinite leads (from :func:`attach_leads`).

    Attributes
    ----------
    system : orbsym.systems.System
        The scattering region.
    left, right : orbsym.numeric.leads.Lead
    lattice : orbsym.numeric.Lattice
        Region plus one lead cell on each side (``N_x + 2`` columns, see module docstring).
    """

    system: System
    left: Lead
    right: Lead
    lattice: Lattice
    lead_labels: tuple = field(default=("", ""))
    width: str = "periodic"

    @property
    def N_x(self):
        return self.system.lattice.N_x

    def solve_parts(self):
        """Lattice and leads handed to :class:`~orbsym.numeric.negf.OpenSystem` (super-sites for strips)."""
        if self.width == "periodic":
            return self.lattice, self.left, self.right
        rows = self.lattice.N_y
        return strip_lattice(self.lattice), strip_lead(self.left, rows), strip_lead(self.right, rows)

    def describe(self):
        out = self.system.describe()
        out["leads"] = {
            "left": {"label": self.lead_labels[0], "model": self.left.column.kernels.model, "params": dict(self.left.column.params)},
            "right": {"label": self.lead_labels[1], "model": self.right.column.kernels.model, "params": dict(self.right.column.params)},
            "geometry": (
                "semi-infinite in x, periodic in y (k_y conserved)" if self.width == "periodic" else f"semi-infinite in x, finite width {self.lattice.N_y} rows open in y (hard walls)"
            )
            + "; one lead cell on each side is part of the solved lattice",
        }
        out["width"] = self.width
        return out


def _lead_column(system, spec, end):
    lat = system.lattice
    own = lat.columns[0 if end == "left" else -1]
    if spec is None:
        return own, f"{own.label or own.kernels.model} (continuation)"
    if isinstance(spec, Column):
        return spec, spec.label or spec.kernels.model
    if isinstance(spec, Layer):
        from .systems import heterostructure

        basis = system.info.get("basis", "orbital")
        col = heterostructure([spec], N_y=lat.N_y, basis=basis, interface=lat.interface).lattice.columns[0]
        return col, col.label or col.kernels.model
    raise TypeError(f"{end} lead must be None (continue the end column), an orbsym.numeric.Column or an orbsym.systems.layer(...), got {type(spec).__name__}")


#: Transverse geometries: periodic rows (k_y conserved) or a finite-width strip open in y.
WIDTHS = ("periodic", "open")


def attach_leads(system, left=None, right=None, width="periodic"):
    """Attach semi-infinite leads to the two open ends (in x) of ``system``.

    Parameters
    ----------
    system : orbsym.systems.System
    left, right : None, Column or Layer
        Lead model: None continues the end column's model and parameters; a ``Column`` or a
        one-column :func:`orbsym.systems.layer` (built in the system's basis) is used as given.
    width : {"periodic", "open"}
        ``"periodic"``: rows periodic, ``k_y`` conserved (default).  ``"open"``: a strip of the
        system's ``N_y`` rows with hard walls in y, between leads of the same width
        (:mod:`orbsym.numeric.strip`); every quantity is then resolved per site ``(x, y)``.

    Returns
    -------
    LeadedSystem
    """
    if not isinstance(system, System):
        raise TypeError(f"attach_leads() needs an orbsym.systems.System, got {type(system).__name__}")
    system.require_finite_rows("attach_leads()")
    cl, ll = _lead_column(system, left, "left")
    cr, lr = _lead_column(system, right, "right")
    check_name("width", width, WIDTHS)
    lat = system.lattice
    ext = Lattice((cl,) + tuple(lat.columns) + (cr,), lat.N_y, lat.interface)
    return LeadedSystem(system, Lead.from_column(cl), Lead.from_column(cr), ext, (ll, lr), width)


@blas_limited
def transport(leaded, T=0.01, bias=None, mu=0.0, split=0.5, n_energy=None, eta=DEFAULT_ETA, solver=dense_region_solver):
    """Steady state of a :class:`LeadedSystem`: linear response (``bias=None``) or finite bias.

    Parameters
    ----------
    leaded : LeadedSystem
    T : float
        Temperature of both leads (units of t, ``>= 0``).
    bias : float or None
        ``V = mu_L - mu_R`` (units of t/e).  None: linear response, quantities per unit bias.
    mu : float
        Equilibrium chemical potential on the energy axis of ``h`` (0: the model's own ``mu``).
    split : float in [0, 1]
        Fraction of the bias on the left lead (``mu_L = mu + split V``).
    n_energy : int, optional
        Energy nodes: linear response at ``T > 0`` (Gauss-Legendre in ``f``; default 16; ``T = 0``
        uses ``E = mu`` only), or the bias window (default 200).
    eta : float
        Imaginary part of the energy in the leads' surface Green's functions.
    solver : callable
        Scattering-region solver (contract: :mod:`orbsym.numeric.negf`).

    Returns
    -------
    TransportResult
    """
    if not isinstance(leaded, LeadedSystem):
        raise TypeError(f"transport() needs the result of attach_leads(system), got {type(leaded).__name__}")
    T = check_temperature(T)
    mu = real_number("mu", mu)
    split = real_number("split", split, minimum=0.0)
    if split > 1:
        raise ValueError(f"split (fraction of the bias on the left lead) must be in [0, 1], got {split!r}")
    if bias is not None:
        bias = real_number("bias", bias)
    if n_energy is not None:
        n_energy = integer_at_least("n_energy", n_energy, 1, " (energy nodes)")
    eta = real_number("eta", eta, minimum=0.0, strict=True)
    cls = TransportResult if leaded.width == "periodic" else StripTransportResult
    return cls(leaded, T, bias, mu, split, n_energy, eta, solver)


class TransportResult:
    """Steady state from :func:`transport` (computed on construction, observables lazily).

    Per-polarization dicts use the keys ``"charge"``, ``"x"``, ``"y"``, ``"z"`` as in
    :class:`orbsym.systems.Result`.  Linear response: every value is per unit bias.
    """

    #: Current kinds of :meth:`currents`.
    CURRENT_KINDS = CURRENT_KINDS

    @staticmethod
    def _json(x):
        return _jsonable(x)

    def __init__(self, leaded, T, bias, mu, split, n_energy, eta, solver):
        self.leaded = leaded
        self.T, self.bias, self.mu, self.split, self.eta = T, bias, mu, split, eta
        lat = leaded.lattice
        self.open = OpenSystem(*leaded.solve_parts(), eta=eta, solver=solver)
        op = self.open
        pairs = lat.offset_pairs(KERNEL_NAMES)
        dxs = sorted({p[0] for p in pairs})
        info = {}
        if bias is None:
            E, w = fermi_derivative_rule(mu, T, n_energy or DEFAULT_N_LINEAR)
            blocks, trans = op.scattering_blocks(E, split * w, -(1 - split) * w, dxs)
            self._g_k = trans @ w
            self._current_k = self._g_k / (2 * np.pi)
            info["energy_rule"] = "E = mu" if T == 0 else f"Gauss-Legendre in u = f(E - mu), {E.size} nodes"
        else:
            mu_L, mu_R = mu + split * bias, mu - (1 - split) * bias
            E, w = window_rule(mu_L, mu_R, T, n_energy or DEFAULT_N_BIAS)
            blocks, trans = op.scattering_blocks(E, w, np.zeros_like(w), dxs)
            eq, einfo = op.equilibrium_blocks(mu_R, T, dxs)
            for dx in dxs:
                blocks[dx] = blocks[dx] + eq[dx]
            self._current_k = trans @ w / (2 * np.pi)
            self._g_k = None
            info["energy_rule"] = f"composite Gauss-Legendre on the bias window, {E.size} nodes"
            info["equilibrium_part"] = einfo
            info["mu_L"], info["mu_R"] = mu_L, mu_R
        self.energies = E
        self.info = info
        self._obs = None
        self._store(blocks, pairs)

    def _store(self, blocks, pairs):
        op = self.open
        self.bands = bands_from_blocks(blocks, op.k, op.weights, self.leaded.lattice.N_y, pairs, op.symmetric)

    # ---------------------------------------------------------------- basics
    @property
    def k(self):
        return self.open.k

    @property
    def observables(self):
        """:class:`~orbsym.numeric.Observables` on the solved lattice (region + one lead cell each side)."""
        if self._obs is None:
            self._obs = Observables(self.leaded.lattice, self.bands)
        return self._obs

    @property
    def linear(self):
        return self.bias is None

    @property
    def _scale(self):
        s = self.leaded.system
        return 0.5 if (s.info.get("basis") == "spin" and s.spin_unit == "S") else 1.0

    def _per_pol(self, fn, charge=True):
        out = {}
        for p in POLARIZATIONS:
            if p is None and not charge:
                continue
            v = fn(p)
            s = 1.0 if p is None else self._scale
            out[polarization_label(p)] = {k: s * a for k, a in v.items()} if isinstance(v, dict) else s * v
        return out

    # ---------------------------------------------------------------- transport coefficients
    def conductance(self, per_row=True):
        """Landauer conductance in units of ``e^2/h`` (linear response only).

        Returns ``{"k": k_y, "weight": multiplicities, "per_k": G(k_y) (transmission averaged
        with -f'), "total": sum_k w G(k) (/ N_y per row)}``.
        """
        if not self.linear:
            raise ValueError("conductance() is the linear response; this result is at finite bias (use landauer_current())")
        Ny = self.leaded.lattice.N_y
        tot = float(self.open.weights @ self._g_k)
        return {"k": self.k, "weight": self.open.weights, "per_k": self._g_k, "total": tot / Ny if per_row else tot, "per_row": per_row, "units": "e^2/h"}

    def landauer_current(self, per_row=True):
        """Particle current from the Landauer formula ``(1/2pi) sum_k int dE T(k, E) (f_L - f_R)``.

        Per unit bias in linear response (``G / 2pi``).  Units: ``t/hbar`` (electrons per unit time),
        positive toward +x.
        """
        Ny = self.leaded.lattice.N_y
        tot = float(self.open.weights @ self._current_k)
        return tot / Ny if per_row else tot

    # ---------------------------------------------------------------- observables of the region
    def _site(self, a):
        return a[1:-1]

    def densities(self):
        """Particle density and ``<J_alpha>`` per region column (per unit bias in linear response)."""
        return self._per_pol(lambda p: self._site(self.observables.density(p)))

    def currents(self, kind="bond", direction="x"):
        """Currents per polarization (see :meth:`orbsym.systems.Result.currents`).

        x-bond kinds have ``N_x + 1`` values (contact bonds included, module docstring); ``eq7`` and
        every y quantity one per region column.
        """
        o = self.observables
        fns = {"bond": o.bond_current, "eq7": o.eq7_current, "forward": o.forward_current, "backward": o.backward_current}
        check_name("current kind", kind, CURRENT_KINDS)
        check_name("current direction", direction, ("x", "y"))
        per_column = direction == "y" or kind == "eq7"
        return self._per_pol(lambda p: self._site(fns[kind](p, direction)) if per_column else fns[kind](p, direction), charge=kind == "bond")

    def torques(self, kind="bond"):
        """Torque terms per region column: ``exchange``, ``bond_x``, ``bond_y``, ``total``."""
        check_name("torque decomposition", kind, ("bond", "forward"))
        return self._per_pol(lambda p: {k: self._site(v) for k, v in self.observables.torques(p, kind).items()}, charge=False)

    def divergence(self, kind="bond"):
        """``div j`` per region column and polarization (``j`` of the x-bonds; y-part zero)."""
        return self._per_pol(lambda p: self._site(self.observables.divergence(p, kind)), charge=True)

    def continuity_residual(self):
        """Steady-state balance on the region: largest ``|d<J>/dt|`` (zero in a steady state), largest
        ``|-div j + tau|`` and largest ``|d<J>/dt - (-div j + tau)|`` over columns and polarizations, and
        the largest deviation of the charge bond current from the Landauer current."""
        o = self.observables
        rate = max(float(np.abs(self._site(o.time_derivative(p))).max()) for p in POLARIZATIONS)
        bal = 0.0
        res = 0.0
        for p in POLARIZATIONS:
            for k in ("bond", "forward"):
                if p is None and k == "forward":
                    continue
                tau = o.torques(p, k)["total"] if p is not None else 0.0
                bal = max(bal, float(np.abs(self._site(-o.divergence(p, k) + tau)).max()))
                if p is not None:
                    res = max(res, float(np.abs(self._site(o.continuity_residual(p, k))).max()))
        jc = o.bond_current(None)
        dev = float(np.abs(jc - self.landauer_current()).max())
        return {"max_abs_dJ_dt": rate, "max_abs_balance": bal, "max_abs_continuity_residual": res, "max_abs_charge_current_minus_landauer": dev}

    def describe(self):
        out = {
            "system": self.leaded.describe(),
            "T": self.T,
            "mu": self.mu,
            "regime": "linear response (per unit bias V)" if self.linear else "finite bias",
            "bias": self.bias,
            "split": self.split,
            "eta_leads": self.eta,
            "units": "e = hbar = a = 1; energies in t; currents are particle currents (electric current = -e x), positive toward +x; per site; conductance in e^2/h per row",
            "x_bonds": "N_x + 1 values: bond b joins columns b-1 and b (b = 0: left lead -> column 0, b = N_x: column N_x-1 -> right lead)",
        }
        out.update(self.info)
        return out

    def to_dict(self, quantities=("densities", "currents", "torques", "continuity")):
        """JSON-ready dict: description, transport coefficients and the requested quantities."""
        if isinstance(quantities, str):
            quantities = (quantities,)
        for q in quantities:
            check_name("quantity", q, tuple(q for q in QUANTITIES if q not in ("free_energy", "particle_number")))
        out = self.describe()
        out["landauer_current_per_row"] = self.landauer_current()
        if self.linear:
            c = self.conductance()
            out["conductance"] = {"total_per_row": c["total"], "per_k": self._json(c["per_k"]), "k": self._json(c["k"]), "weight": self._json(c["weight"])}
        if "densities" in quantities:
            out["densities"] = self._json(self.densities())
        if "currents" in quantities:
            out["currents"] = {k: self._json(self.currents(k)) for k in self.CURRENT_KINDS}
            out["currents"]["bond_y"] = self._json(self.currents("bond", "y"))
        if "torques" in quantities:
            out["torques"] = self._json(self.torques("bond"))
            out["torques_forward"] = self._json(self.torques("forward"))
        if "continuity" in quantities:
            out["continuity"] = self.continuity_residual()
        return out


class StripTransportResult(TransportResult):
    """Steady state of a finite-width strip (``attach_leads(..., width="open")``), resolved per site.

    Arrays have shape ``(N_x, N_y)`` for site quantities, ``(N_x + 1, N_y)`` for x-bonds (contact
    bonds included, as in :class:`TransportResult`) and ``(N_x, N_y - 1)`` for y-bonds (bond ``y ->
    y + 1``).  Landauer quantities are for the whole strip (``per_row`` divides by ``N_y``).
    """

    CURRENT_KINDS = ("bond", "forward", "backward")

    @staticmethod
    def _json(x):
        """Nested lists keeping the (x, y) shape (NaN -> None)."""
        if isinstance(x, dict):
            return {k: StripTransportResult._json(v) for k, v in x.items()}
        if isinstance(x, np.ndarray):
            return [StripTransportResult._json(r) for r in x] if x.ndim > 1 else _jsonable(x)
        return x

    def _store(self, blocks, pairs):
        sup = self.open.lattice
        self.G = strip_correlations(blocks, sup.N_x, sup.dim)
        self.bands = None

    @property
    def observables(self):
        """:class:`~orbsym.numeric.strip.OpenStripObservables` on the solved columns."""
        if self._obs is None:
            self._obs = OpenStripObservables(self.leaded.lattice, self.G)
        return self._obs

    def densities(self):
        return self._per_pol(lambda p: self.observables.evaluate_sites("density", p)[1:-1])

    def currents(self, kind="bond", direction="x"):
        names = {"bond": "current", "forward": "current_forward", "backward": "current_backward"}
        check_name("current kind (strip)", kind, tuple(names))
        check_name("current direction", direction, ("x", "y"))
        bond = (1, 0) if direction == "x" else (0, 1)
        Ny = self.leaded.lattice.N_y

        def fn(p):
            v = self.observables.evaluate_sites(names[kind], p, bond)
            return v if direction == "x" else v[1:-1, : Ny - 1]

        return self._per_pol(fn, charge=kind == "bond")

    def torques(self, kind="bond"):
        check_name("torque decomposition", kind, ("bond", "forward"))
        o = self.observables
        start, end = ("source", "source") if kind == "bond" else ("source_forward_start", "source_forward_end")

        def fn(p):
            bx, by = o.bond_sum_sites(start, end, p)
            ex = o.evaluate_sites("torque_onsite", p)
            return {"exchange": ex[1:-1], "bond_x": bx[1:-1], "bond_y": by[1:-1], "total": (ex + bx + by)[1:-1]}

        return self._per_pol(fn, charge=False)

    def divergence(self, kind="bond"):
        name = {"bond": "current", "forward": "current_forward"}.get(kind)
        if name is None:
            raise ValueError(f"unknown current kind {kind!r}; allowed: 'bond', 'forward'")
        o = self.observables
        N = self.leaded.lattice.N_x

        def fn(p):
            jx = o.evaluate_sites(name, p, (1, 0))
            jy = o.evaluate_sites(name, p, (0, 1))
            div = jy - np.roll(jy, 1, axis=1)
            div[: N - 1] += jx
            div[1:] -= jx
            return div[1:-1]

        return self._per_pol(fn, charge=True)

    def time_derivative(self, polarization):
        """``d<J_n>/dt = i Tr(rho [h, J_n])`` per region site, directly from ``h`` (no kernels)."""
        h = strip_hamiltonian(self.open.lattice)
        return angular_momentum_rate(self.leaded.lattice, h, self.G.T, polarization)[1:-1]

    def continuity_residual(self):
        o = self.observables
        rate = max(float(np.abs(self.time_derivative(p)).max()) for p in POLARIZATIONS)
        bal = max(float(np.abs(o.site_continuity(p, k)[1:-1]).max()) for p in POLARIZATIONS for k in ("bond", "forward") if not (p is None and k == "forward"))
        jc = o.evaluate_sites("current", None, (1, 0)).sum(axis=1)
        dev = float(np.abs(jc - self.landauer_current(per_row=False)).max())
        return {"max_abs_dJ_dt": rate, "max_abs_balance": bal, "max_abs_charge_current_minus_landauer": dev}
