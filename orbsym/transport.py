"""Steady-state transport: semi-infinite leads, Landauer conductance, the driven state under bias.

A :class:`~orbsym.systems.System` (any heterostructure, open in x, periodic in y -- or a film, periodic
in y and z, see "Films" below) becomes the
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

Films
-----
A film (a system built with ``N_z``: open in x, periodic in y and z) gets leads of film columns that
carry the same transverse group (:class:`~orbsym.numeric.leads.FilmLead`): ``k_y`` and ``k_z`` are
conserved, so the leaded film is exactly its k_z sectors, each a 2D open system with conserved
``k_y``.  At ``k_z = 2 pi j / N_z`` the region and the leads fold their z-bonds with the film's rule
(:meth:`orbsym.numeric.Lattice.sector`)::

    t_(dx,dy)(k_z) = sum_dz t_(dx,dy,dz) e^{i k_z dz},   eps(k_z) = eps + sum_{dz>0} (t_(0,0,dz) e^{i k_z dz} + h.c.),

and every sector is solved by the 2D machinery above (leads, region solver, energy rules, pairs of
columns for ``period=2``).  The film's correlation bands are recombined by
:func:`orbsym.numeric.film.sector_sum`,
``G(x, x+dx; dy, dz) = N_z^-1 sum_{k_z} e^{i k_z dz} G_{k_z}(x, x+dx; dy)``, and every kernel is
evaluated on the film lattice (:class:`~orbsym.numeric.Observables`): densities, currents (also
``direction="z"``) and torques (``bond_z``) per site, i.e. per transverse cell ``a^2`` of one column.
Conductance and Landauer current are per transverse cell: the average over the sectors of each
sector's value per row, ``G = (N_y N_z)^-1 sum_{k_y, k_z} G(k_y, k_z)``.  When region and leads have
``sector(-k_z) = sector(k_z)`` (:attr:`orbsym.numeric.Lattice.z_symmetric`, e.g. the cubic films of
:mod:`orbsym.systems`) only ``0 <= k_z <= pi`` is solved.  The balance stays exact in every sector,
hence in the film.  The adaptive linear-response rule (``energy_tol``) refines the film's conductance;
the error estimates are the weighted sums of the sectors'.  Cost: ``n_sectors`` times one 2D solve
(:func:`transport_resources` with ``N_z``, :func:`orbsym.numeric.budget.film_estimate`).
``width="open"`` (finite width in y) is not defined for films yet and is refused.

Finite width
------------
``attach_leads(system, width="open")`` makes the system's ``N_y`` rows a strip with hard walls in y
between leads of the same width (:mod:`orbsym.numeric.strip`); :class:`StripTransportResult` then
resolves every quantity per site ``(x, y)`` (e.g. orbital Hall accumulation at the edges).

Disorder (open strips)
----------------------
``transport(attach_leads(s, width="open"), T, ..., disorder=Anderson(1.0), realizations=16, seed=0)``
averages the steady state over realizations of a disordered strip (:mod:`orbsym.numeric.disorder`).  The
region -- the system's ``N_x`` columns times its ``N_y`` open rows -- becomes a finite
:class:`~orbsym.numeric.sites.SiteLattice` sample (one site per cell, the columns' on-site and bond
matrices, the same generators: :func:`strip_site_sample`); realization ``r`` is
``realize(sample, disorder, seed + r)``, placed between one clean lead cell on each side (with the clean
contact bonds of the system's interface rule) and solved between the clean leads of :func:`attach_leads`
by :func:`orbsym.numeric.sites_transport.site_transport`, through
:func:`orbsym.workflows.ensembles.ensemble` (workers, resumable NetCDF store).  The leads stay clean: the
disorder is a property of the scattering region, not of the reservoirs.  At ``W = 0`` the sample is the
open strip itself (same Hamiltonian, leads, energy rules): conductance, densities, bond currents and
torques equal the clean :class:`StripTransportResult` (the tests' cross-check, 1e-10).  Disorder needs
``width="open"``: a periodic transverse direction with disorder would need a supercell (a random
configuration breaks the k_y grid), which is refused.  The result is a :class:`DisorderedTransportResult`
(the labeled Dataset of every realization, the means, standard errors, the worst balance residual and
the engine that ran).  Conductance and currents there are for the whole strip (not per row).

Bounded work
------------
:func:`transport` checks every argument and estimates the memory and CPU time of the solve from the
sizes alone (:func:`transport_resources`, :func:`orbsym.numeric.budget.transport_estimate`: k-points or
strip width, columns, energies, Fermi poles, region solver, and the correlation band of an open
strip) before anything is built; runs above the limits of :mod:`orbsym.numeric.budget` are refused
with the estimate in the message.

Region layout
-------------
The solved lattice (``LeadedSystem.lattice``) is the region plus one lead cell on each side (two
columns each with ``period=2``: bonds ``(2, dy)`` or leads repeating two columns, solved in pairs of
columns by :mod:`orbsym.numeric.supercell`), so every bond touching a region column is inside it and
the balance at every region column is exact.  Diagonal bonds ``(1, +-1)`` make the inter-column
coupling k-dependent, ``h_{x,x+1}(k) = t_(1,0) + t_(1,1) e^{ik} + t_(1,-1) e^{-ik}`` (leads and region);
their currents enter the divergence and their hopping torques the ``bond_diagonal`` term.
Current at 45 degrees to the crystal axes: :func:`rotated_model`, :func:`rotated_layers`.
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
from .numeric.bloch import k_points
from .numeric.budget import check_resources, film_estimate, film_sector_count, transport_estimate
from .numeric.film import sector_sum
from .numeric.checks import ENERGY_LIMIT, check_energy_scale, check_name, integer_at_least, real_number
from .numeric.leads import DEFAULT_ETA, FilmLead, Lead
from .numeric.negf import OpenSystem, bands_from_blocks, fermi_derivative_rule, window_rule
from .numeric.rgf import choose_region_solver
from .numeric.strip import OpenStripObservables, band_commutator_site_blocks, strip_band, strip_hamiltonian, strip_hamiltonian_blocks, strip_lattice, strip_lead
from .numeric.supercell import pair_columns, pair_lead, super_offsets, unpack_blocks
from .numeric.observables import KERNEL_NAMES, POLARIZATIONS
from .numeric.thermo import check_temperature
from .systems import CURRENT_KINDS, QUANTITIES, Layer, System, _jsonable, per_polarization, spin_unit_scale

__all__ = ["rotated_model", "rotated_layers", "crystal_bond_torques", "ANGLES", "LeadedSystem", "attach_leads", "transport", "transport_resources", "TransportResult", "StripTransportResult", "WIDTHS", "DEFAULT_N_LINEAR", "DEFAULT_N_BIAS", "MAX_N_LINEAR", "MAX_POLES",
           "DisorderedTransportResult", "strip_site_sample"]

#: Current directions of :func:`rotated_model`: along a crystal axis or at 45 degrees to it.
ANGLES = ("0", "45")


#: Strip offsets of the crystal bonds for a current at 45 degrees (rows ``r = floor(v / 2)``, ``v = X - Y``),
#: for columns of even and odd ``u = X + Y`` (see :func:`rotated_model`).
ROTATED_OFFSETS = {
    "even": {(1, 0): (1, 0), (0, 1): (1, -1), (1, 1): (2, 0), (1, -1): (0, 1)},
    "odd": {(1, 0): (1, 1), (0, 1): (1, 0), (1, 1): (2, 0), (1, -1): (0, 1)},
}


def rotated_model(model, angle="45", column="even"):
    """Re-express a square-lattice model with the crystal rotated by 45 degrees to the strip.

    The crystal has sites ``(X, Y)`` and bonds ``(1, 0)`` (``t_X``), ``(0, 1)`` (``t_Y``) and
    optionally the diagonals ``(1, 1)``, ``(1, -1)``.  For a current at 45 degrees the strip's column
    index is ``u = X + Y`` (current toward +u; the leads' interfaces are the lines ``X + Y = const``
    along the crystal ``(1, -1)`` direction) and its row index ``r = floor(v / 2)`` with ``v = X - Y``
    (``v = 2 r + (u mod 2)``): rows run parallel to the current, so a strip open in y has edges
    parallel to the current.  A bond from a column of even / odd ``u`` then has the strip offset::

        crystal     (1, 0)   (0, 1)    (1, 1)   (1, -1)
        even u      (1, 0)   (1, -1)   (2, 0)   (0, 1)
        odd u       (1, 1)   (1, 0)    (2, 0)   (0, 1)

    so the rotated crystal is the alternating column sequence even, odd, even, ... of the two models
    returned for ``column="even"`` and ``"odd"`` (:func:`rotated_layers`; bonds belong to their left
    column, as in every orbsym lattice).  Crystal diagonals become ``(2, 0)`` bonds (along the current)
    and y-bonds: such models need ``attach_leads(..., period=2)`` (chosen automatically).  For a
    nearest-neighbour model the even model alone is also the rotated crystal exactly, in the sheared
    labelling ``w = -Y`` (the map ``(X, Y) -> (X + Y, -Y)`` is unimodular), periodic in y.

    The orbital basis and the generators stay attached to the crystal: ``L_x, L_y, L_z`` (and every
    current and torque) are components along the crystal axes ``X, Y, z``, not along the current;
    the on-site matrix is unchanged.  ``angle="0"`` returns ``model`` itself.

    Parameters
    ----------
    model : orbsym.symbolic.models.Model
        Bonds among ``(1, 0)``, ``(0, 1)``, ``(1, 1)``, ``(1, -1)``.
    angle : {"0", "45"}
    column : {"even", "odd"}

    Returns
    -------
    orbsym.symbolic.models.Model
        Named ``"<name>@45"`` (even columns) or ``"<name>@45odd"``.
    """
    from .symbolic.models import Model

    if not isinstance(model, Model):
        raise TypeError(f"rotated_model() needs an orbsym Model, got {type(model).__name__}")
    check_name("angle", str(angle), ANGLES)
    check_name("column", column, ("even", "odd"))
    if str(angle) == "0":
        return model
    table = ROTATED_OFFSETS[column]
    bad = [d for d in model.hoppings if d not in table]
    if bad:
        raise ValueError(
            f"model {model.name!r} has bonds {bad}; the 45-degree re-expression supports the crystal bonds "
            f"{list(table)} (nearest and next-nearest neighbours)"
        )
    import sympy as sp

    hops = {table[d]: m for d, m in model.hoppings.items() if not sp.ImmutableMatrix(m).is_zero_matrix}
    suffix = "@45" if column == "even" else "@45odd"
    desc = f"{model.description or model.name}, crystal rotated by 45 degrees ({column} columns of u = X + Y)"
    return Model(model.name + suffix, model.generators, hops, model.onsite, desc, model.magnetization)


def rotated_layers(model, width, angle="45", label="", **params):
    """Layers of ``width`` columns of ``model`` with the current at ``angle`` to the crystal axes.

    ``"45"``: even and odd columns alternate (:func:`rotated_model`; the first column has even ``u``);
    ``"0"``: one layer of ``model``.  Parameters as in :func:`orbsym.systems.layer`.  With crystal
    diagonals (or for leads that continue the alternation, e.g. in a strip open in y) use an even
    ``width`` and ``attach_leads(..., period=2)``.
    """
    from .systems import layer

    width = integer_at_least("width", width, 1, " (columns)")
    check_name("angle", str(angle), ANGLES)
    if str(angle) == "0":
        return [layer(model, width, label=label, **params)]
    even, odd = rotated_model(model, "45", "even"), rotated_model(model, "45", "odd")
    return [layer(even if u % 2 == 0 else odd, 1, label=label or model.name, **params) for u in range(width)]


#: Crystal bond of each strip offset, by the owner column's labelling (inverse of :data:`ROTATED_OFFSETS`).
_CRYSTAL_BOND = {suffix: {v: k for k, v in ROTATED_OFFSETS[col].items()} for suffix, col in (("@45", "even"), ("@45odd", "odd"))}


def _crystal_label(b):
    return {(1, 0): "bond_X", (0, 1): "bond_Y", (1, 1): "bond_(1,1)", (1, -1): "bond_(1,-1)"}[b]


def crystal_bond_torques(result, polarization, kind="bond"):
    """Hopping torques of a 45-degree result (:func:`rotated_layers`) grouped by **crystal** bond.

    ``result.torques()`` groups by strip offset (``bond_x`` = strip ``(1, 0)``, which is the crystal X
    bond from even columns but the crystal Y bond from odd ones).  Here every bond is mapped back
    through its owner column's labelling (model name ``...@45`` or ``...@45odd``) and the torque
    kernel at its two end sites is added to ``bond_X``, ``bond_Y``, ``bond_(1,1)`` or ``bond_(1,-1)``;
    ``exchange`` and ``total`` as in ``torques()``.  Per region column (periodic) or per site (strip).
    """
    if not isinstance(result, TransportResult):
        raise TypeError(f"crystal_bond_torques() needs a transport() result, got {type(result).__name__}")
    if result.leaded.is_film:
        raise ValueError("crystal_bond_torques() regroups the bonds of a 45-degree 2D strip (rotated_layers); this result is a film, whose torques() already group by bond (bond_x, bond_y, bond_z, bond_diagonal)")
    check_name("torque decomposition", kind, ("bond", "forward"))
    start, end = ("source", "source") if kind == "bond" else ("source_forward_start", "source_forward_end")
    lat = result.leaded.lattice
    o = result.observables
    strip = isinstance(result, StripTransportResult)
    N = lat.N_x
    shape = (N, lat.N_y) if strip else (N,)
    out = {_crystal_label(b): np.zeros(shape) for b in ((1, 0), (0, 1), (1, 1), (1, -1))}
    for b in lat.bonds:
        dx, dy = b
        if N - dx <= 0:
            continue
        if strip:
            sv, ev = o.evaluate_sites(start, polarization, b), o.evaluate_sites(end, polarization, b)
        else:
            sv, ev = o.evaluate(start, polarization, b), o.evaluate(end, polarization, b)
        for x, owner in enumerate(lat.owners[b]):
            name = lat.columns[owner].kernels.model
            suffix = "@45odd" if name.endswith("@45odd") else ("@45" if name.endswith("@45") else None)
            if suffix is None:
                raise ValueError(f"column {owner} (model {name!r}) is not a 45-degree column of rotated_layers(); crystal bonds are unknown")
            cb = _CRYSTAL_BOND[suffix].get(b)
            if cb is None:
                if np.any(lat.hoppings[b][x] != 0):  # pragma: no cover - rotated models only have the mapped offsets
                    raise ValueError(f"bond {b} of column {owner} has no crystal counterpart")
                continue
            tgt = out[_crystal_label(cb)]
            tgt[x] += sv[x]
            tgt[x + dx] += np.roll(ev[x], dy) if strip else ev[x]
    pad = result._pad
    ex = o.evaluate_sites("torque_onsite", polarization) if strip else o.evaluate("torque_onsite", polarization)
    res = {"exchange": ex[pad:-pad], **{k: v[pad:-pad] for k, v in out.items()}}
    res["total"] = (ex + sum(out.values()))[pad:-pad]
    return res


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
    left, right : orbsym.numeric.leads.Lead or orbsym.numeric.leads.FilmLead
        Films: :class:`~orbsym.numeric.leads.FilmLead` (film columns, one 2D lead per k_z sector).
    lattice : orbsym.numeric.Lattice
        Region plus ``period`` lead columns on each side (``N_x + 2 period`` columns, module docstring);
        a film lattice (``N_z``) for films.
    period : int
        1: leads of one column per cell.  2: supercells of two columns for the leads and the solved
        region (bonds ``(2, dy)``, or leads that repeat two different columns; :mod:`orbsym.numeric.supercell`).
    """

    system: System
    left: Lead
    right: Lead
    lattice: Lattice
    lead_labels: tuple = field(default=("", ""))
    width: str = "periodic"
    period: int = 1

    @property
    def N_x(self):
        return self.system.lattice.N_x

    @property
    def is_film(self):
        """Whether the region and leads are a film (periodic in y and z; leads are :class:`~orbsym.numeric.leads.FilmLead`)."""
        return self.lattice.is_film

    def solve_parts(self, k_z=None):
        """Lattice and leads handed to :class:`~orbsym.numeric.negf.OpenSystem` (super-sites for strips,
        pairs of columns for ``period = 2``).

        Films: the k_z sector ``k_z`` (radians per cell, required) of the solved lattice
        (:meth:`orbsym.numeric.Lattice.sector`) and of both leads (:meth:`FilmLead.sector`), a 2D open
        system with conserved ``k_y``."""
        if self.is_film:
            if k_z is None:
                raise ValueError("a film's open system is solved per k_z sector: give k_z (radians per cell)")
            sec = self.lattice.sector(k_z)
            lat = sec if self.period == 1 else pair_columns(sec)
            return lat, self.left.sector(k_z), self.right.sector(k_z)
        if k_z is not None:
            raise ValueError(f"k_z = {k_z!r} given, but this is a 2D system (no z direction); k_z applies to films")
        lat = self.lattice if self.period == 1 else pair_columns(self.lattice)
        if self.width == "periodic":
            return lat, self.left, self.right
        rows = self.lattice.N_y
        return strip_lattice(lat), strip_lead(self.left, rows), strip_lead(self.right, rows)

    def describe(self):
        out = self.system.describe()
        out["leads"] = {
            "left": {"label": self.lead_labels[0], "model": self.left.column.kernels.model, "params": dict(self.left.column.params)},
            "right": {"label": self.lead_labels[1], "model": self.right.column.kernels.model, "params": dict(self.right.column.params)},
            "geometry": (
                f"semi-infinite in x, periodic in y and z (k_y and k_z conserved; N_z = {self.lattice.N_z})" if self.is_film
                else "semi-infinite in x, periodic in y (k_y conserved)" if self.width == "periodic"
                else f"semi-infinite in x, finite width {self.lattice.N_y} rows open in y (hard walls)"
            )
            + f"; {self.period} lead column(s) on each side are part of the solved lattice",
        }
        if self.period == 2:
            out["leads"]["supercell"] = "leads and solved region grouped in pairs of columns (orbsym.numeric.supercell)"
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
        from .systems import _DEFAULTS, heterostructure

        if isinstance(spec.width, bool) or not isinstance(spec.width, (int, np.integer)) or spec.width != 1:
            raise ValueError(
                f"{end} lead layer {spec.label or spec.model!r} has width {spec.width!r}; a lead is the repetition of ONE column: "
                f"give layer(..., 1) (or, for a lead cell of two columns, a pair (first, second) with period=2)"
            )
        basis = system.info.get("basis", "orbital")
        # the system's parameter defaults (t, mu, ...) hold for the lead too: a lead at another mu than
        # the region would not be in equilibrium with it
        own_names = set(_DEFAULTS) | {"m"} | ({p.name for p in spec.model.parameters} if not isinstance(spec.model, str) else set())
        defaults = {k: v for k, v in getattr(system, "defaults", {}).items() if k in own_names}
        col = heterostructure([spec], N_y=lat.N_y, basis=basis, interface=lat.interface, N_z=lat.N_z, **defaults).lattice.columns[0]
        return col, col.label or col.kernels.model
    raise TypeError(
        f"{end} lead must be None (continue the end column), an orbsym.numeric.Column, a one-column orbsym.systems.layer(...) "
        f"or (period=2) a pair of them, got {type(spec).__name__}"
    )


def _check_lead_spec(spec, end):
    """A pair (lead cell of two columns) must have exactly two items; lists of other lengths are refused."""
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2:
            raise ValueError(f"{end} lead given as a sequence of {len(spec)} items; a lead cell of period=2 is a pair (first, second) of columns or layers")
        for item in spec:
            if isinstance(item, (tuple, list)) or item is None:
                raise TypeError(f"{end} lead pair items must be orbsym.numeric.Column or one-column layers, got {type(item).__name__}")


def _check_lead_matches(system, col, end):
    """The lead's column must have the region's number of states per site (the Lattice then checks the generators)."""
    own = system.lattice.columns[0 if end == "left" else -1]
    d, do = col.kernels.dim, own.kernels.dim
    if d != do:
        raise ValueError(
            f"{end} lead (model {col.kernels.model!r}) has {d} states per site, the region's {end} column (model "
            f"{own.kernels.model!r}) has {do}: a lead must be in the region's basis"
        )


#: Transverse geometries: periodic rows (k_y conserved) or a finite-width strip open in y.
WIDTHS = ("periodic", "open")


def _unknown_arguments(fn, unknown, allowed):
    if unknown:
        from .numeric.checks import unknown_name

        name = sorted(unknown)[0]
        raise TypeError(str(unknown_name(f"argument of {fn}", name, allowed)))


def attach_leads(system, left=None, right=None, width="periodic", period=None, **unknown):
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
        (:mod:`orbsym.numeric.strip`); every quantity is then resolved per site ``(x, y)``.  Films
        (systems built with ``N_z``): ``"periodic"`` only -- the leads are film columns carrying the
        same transverse group (periodic y and z, ``k_y`` and ``k_z`` conserved; module docstring, "Films").
    period : {None, 1, 2}
        Lead cell in columns.  2: every lead repeats two columns -- by default the region's first
        two (left) and last two (right), e.g. the alternating columns of :func:`rotated_layers`, or
        ``(c, c)`` for a given lead column ``c`` -- and the region is solved in pairs of columns
        (needs an even ``N_x``); this also admits bonds ``(2, dy)``.  ``left``/``right`` may then be
        a pair ``(first, second)`` of columns or layers (the lead cell, in the order of increasing x).
        None: 2 when the system has bonds with ``dx = 2`` or a lead is given as a pair, else 1.

    Returns
    -------
    LeadedSystem

    Raises
    ------
    ValueError, TypeError
        A lead layer of more than one column, a sequence that is not a pair, a lead that is not a
        Column/layer, a lead in another basis (states per site) than the region's end column, a lead
        model with bonds skipping a column at ``period=1``, an unknown ``width``/``period``, a
        misspelled argument name (with the close allowed names), ``N_y = inf``, or ``width="open"``
        for a film.
    """
    _unknown_arguments("attach_leads()", unknown, ("system", "left", "right", "width", "period"))
    if not isinstance(system, System):
        raise TypeError(f"attach_leads() needs an orbsym.systems.System, got {type(system).__name__}")
    system.require_finite_k("attach_leads()")  # N_y (and, films, N_z) = infinity: no finite k grid
    _check_lead_spec(left, "left")
    _check_lead_spec(right, "right")
    pair = lambda spec: isinstance(spec, (tuple, list))  # noqa: E731  (a period-2 lead cell)
    check_name("width", width, WIDTHS)
    film = system.is_film
    if film and width == "open":
        raise ValueError(
            f"width='open' (a strip of finite width with hard walls in y) is not defined for films yet (this system is a film, "
            f"N_z = {system.N_z}); use width='periodic' (k_y and k_z conserved), or drop N_z for an open 2D strip"
        )
    cl, ll = _lead_column(system, left[0] if pair(left) else left, "left")
    cr, lr = _lead_column(system, right[-1] if pair(right) else right, "right")
    for spec, end in ((left, "left"), (right, "right")):
        for item in (spec if pair(spec) else (spec,)):
            if item is not None:
                _check_lead_matches(system, _lead_column(system, item, end)[0], end)
    lat = system.lattice
    if period is None:
        period = 2 if (lat.max_dx >= 2 or pair(left) or pair(right)) else 1
    if isinstance(period, bool) or period not in (1, 2):
        raise ValueError(f"period (lead cell in columns) must be None, 1 or 2, got {period!r}")
    if period == 1:
        if pair(left) or pair(right):
            raise ValueError("a lead given as a pair of columns needs period=2")
        ext = Lattice((cl,) + tuple(lat.columns) + (cr,), lat.N_y, lat.interface, N_z=lat.N_z)
        leads = []
        for c, end in ((cl, "left"), (cr, "right")):
            try:
                leads.append(FilmLead((c,), lat.N_z, lat.interface) if film else Lead.from_column(c))
            except ValueError as exc:  # bonds (2, dy) in the lead's model: cells of two columns are needed
                raise ValueError(f"{end} lead: {exc}; attach_leads(..., period=2) does it") from None
        return LeadedSystem(system, leads[0], leads[1], ext, (ll, lr), width)
    if lat.N_x % 2:
        raise ValueError(f"period=2 (leads and region in pairs of columns) needs an even number of region columns, got N_x = {lat.N_x}")
    cols = lat.columns

    def cell(spec, own):
        if spec is None:
            return own
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            return tuple(_lead_column(system, s_, "left")[0] for s_ in spec)
        c = _lead_column(system, spec, "left")[0]
        return (c, c)

    lc = cell(left, (cols[0], cols[1]))
    rc = cell(right, (cols[-2], cols[-1]))
    ext = Lattice(lc + tuple(cols) + rc, lat.N_y, lat.interface, N_z=lat.N_z)
    if film:
        return LeadedSystem(system, FilmLead(lc, lat.N_z, lat.interface), FilmLead(rc, lat.N_z, lat.interface), ext, (ll, lr), width, 2)
    return LeadedSystem(system, pair_lead(*lc, interface=lat.interface), pair_lead(*rc, interface=lat.interface), ext, (ll, lr), width, 2)


#: Most Fermi poles of the equilibrium part at finite bias (:func:`orbsym.numeric.negf.fermi_poles` gives up above).
MAX_POLES = 4096
#: Nodes of the T = 0 imaginary-axis rule (:func:`orbsym.numeric.negf.imaginary_axis_rule`: 40 panels of 8 + a tail of 16).
_T0_AXIS_NODES = 336


def _pole_count(radius, T):
    """Fermi poles :func:`~orbsym.numeric.negf.fermi_poles` will need for ``x = radius / T`` (fit of its
    search: ``~2.2 sqrt(x)``, rounded up to a multiple of 8; within one step of 8 for ``x = 10 ... 1e5``)."""
    x = max(float(radius), 1e-3) / T
    return int(8 * max(1, int(np.ceil(2.2 * np.sqrt(x) / 8))))


def _energy_plan(T, bias, n_energy, energy_tol, error_estimate, radius, mu, split):
    """Energies per k-point of a :func:`transport` run: ``(full, transmission only, poles, notes)``."""
    if bias is None:
        if T == 0:
            return 1, 0, 0, "linear response at T = 0: one energy"
        n = n_energy or DEFAULT_N_LINEAR
        if energy_tol is not None:  # worst case: the nodes doubled up to MAX_N_LINEAR, transmission at each step
            top = n
            while 2 * top <= MAX_N_LINEAR:
                top *= 2
            return top, max(1, n // 2) + 2 * top, 0, f"linear response, at most {top} nodes (energy_tol)"
        return n, (n // 2 if (error_estimate and n >= 2) else 0), 0, f"linear response, {n} nodes"
    n = n_energy or DEFAULT_N_BIAS
    mu_L, mu_R = mu + split * bias, mu - (1 - split) * bias
    window = 0 if (T == 0 and mu_L == mu_R) else 10 * max(1, int(np.ceil(n / 10)))
    trans = 5 * (window // 10) if (error_estimate and window >= 2) else 0
    R = max(float(radius) + abs(mu_R), 1e-3)
    poles = _T0_AXIS_NODES if T == 0 else _pole_count(R, T)
    return window + poles, trans, (0 if T == 0 else poles), f"bias window {window} nodes + equilibrium {poles} {'imaginary-axis nodes' if T == 0 else 'poles'}"


def _z_symmetric(leaded):
    """Films: whether the whole open system (solved lattice and both leads) has sector(-k_z) == sector(k_z)."""
    return bool(leaded.lattice.z_symmetric and leaded.left.z_symmetric and leaded.right.z_symmetric)


def _radius_bound(lattice, leads=()):
    """Cheap upper bound of ``max |E|`` of region and leads (Frobenius norms of the per-column matrices)."""
    def nrm(a):
        a = np.asarray(a)
        return np.sqrt((np.abs(a) ** 2).sum(axis=(-2, -1))) if a.size else np.zeros(a.shape[:-2])

    r = nrm(lattice.onsite) + 2 * nrm(lattice.hop_y)
    for b, t in lattice.hoppings.items():
        if b[0] >= 1:
            v = nrm(t)
            r[: v.size] += v
            r[b[0] : b[0] + v.size] += v
    out = float(r.max(initial=0.0))
    for lead in leads:
        out = max(out, float(nrm(lead.onsite) + 2 * nrm(lead.hop_y) + 2 * (nrm(lead.hop_x) + nrm(lead.hop_up) + nrm(lead.hop_down))))
    return out


def transport_resources(N_x, N_y, dim, width="periodic", period=1, T=0.01, bias=None, mu=0.0, split=0.5, n_energy=None,
                        energy_tol=None, error_estimate=True, solver="auto", radius=10.0, symmetric=True, mirror_leads=True,
                        hint="reduce n_energy, N_y or N_x", N_z=None, z_symmetric=True):
    """Estimate (and check against the limits) the memory and time of :func:`transport` from sizes alone.

    Called by :func:`transport` before anything is built, and by ``orbsym transport`` before even the
    system is built.  Raises :class:`~orbsym.numeric.budget.ResourceError` (a ValueError) with the
    estimate and ``hint`` in the message, or ValueError when the equilibrium part would need more than
    :data:`MAX_POLES` Fermi poles.

    Parameters
    ----------
    N_x, N_y, dim : int
        Region columns, rows (periodic k-points / strip width), states per site.
    width, period : as in :func:`attach_leads`
    T, bias, mu, split, n_energy, energy_tol, error_estimate, solver : as in :func:`transport`
    radius : float
        Bound of ``max |E|`` of the spectrum (units of t; sets the number of Fermi poles at finite bias).
    symmetric : bool
        ``h(-k) = h(k)``: ``N_y // 2 + 1`` k-points are solved instead of ``N_y``.
    mirror_leads : bool
        Both leads the same (one surface Green's function per point).
    N_z : int, optional
        Films: cells along z.  The film is solved as its k_z sectors, one 2D open system each, so the
        estimate is :func:`orbsym.numeric.budget.film_estimate` of the 2D one: ``n_sectors`` times its
        time (:func:`~orbsym.numeric.budget.film_sector_count`), the same peak memory plus the film's bands.
    z_symmetric : bool
        Films: the sector at ``-k_z`` equals that at ``k_z`` (region and leads), so only
        ``0 <= k_z <= pi`` is solved.

    Returns
    -------
    orbsym.numeric.budget.ResourceEstimate
    """
    full, trans, poles, plan = _energy_plan(T, bias, n_energy, energy_tol, error_estimate, radius, mu, split)
    if poles > MAX_POLES:
        raise ValueError(
            f"T = {T:g} is too small for this bias/energy range: the equilibrium part would need ~{poles:.3g} Fermi poles "
            f"(more than {MAX_POLES}) for a spectral radius ~{radius + abs(mu - (1 - split) * (bias or 0.0)):.3g} t; raise T (or lower |bias|)"
        )
    open_width = width == "open"
    M = (N_x + 2 * period) // period
    D = period * dim * (N_y if open_width else 1)
    name = "rgf" if callable(solver) else choose_region_solver(solver, M, D)[1]
    nk = 1 if open_width else (N_y // 2 + 1 if symmetric else N_y)
    n_dx = 3 if period == 1 else 5
    est = transport_estimate(N_x, N_y, dim, open_width, period, full, trans, nk, name, 1 if mirror_leads else 2, n_dx, poles)
    est = type(est)(est.engine, est.bytes, est.seconds, f"{plan}; {est.detail}")
    if N_z is not None:
        from types import SimpleNamespace

        N_z = integer_at_least("N_z", N_z, 1, " (cells of a film, periodic in z)")
        film = SimpleNamespace(N_z=N_z, z_symmetric=bool(z_symmetric), ndim=3, N_x=N_x + 2 * period, dim=dim)
        est = film_estimate(est, film)
        return check_resources(est, what=f"this film transport solve ({film_sector_count(N_z, bool(z_symmetric))} k_z sectors)", hint=hint if ("N_z" in hint or "N-z" in hint) else hint + " or the cells N_z")
    return check_resources(est, what="this transport solve", hint=hint)


@blas_limited
def transport(leaded, T=0.01, bias=None, mu=0.0, split=None, n_energy=None, eta=DEFAULT_ETA, solver="auto", energy_tol=None, error_estimate=True,
              disorder=None, realizations=None, seed=None, workers=None, out=None, progress=False, **unknown):
    """Steady state of a :class:`LeadedSystem`: linear response (``bias=None``) or finite bias.

    A film is solved sector by sector in ``k_z`` and recombined (module docstring, "Films"); every
    quantity is then per transverse cell.

    Parameters
    ----------
    leaded : LeadedSystem
    T : float
        Temperature of both leads (units of t, ``>= 0``).
    bias : float or None
        ``V = mu_L - mu_R`` (units of t/e).  None: linear response, quantities per unit bias.
    mu : float
        Equilibrium chemical potential on the energy axis of ``h`` (0: the model's own ``mu``).
    split : float in [0, 1], optional
        Fraction of the bias on the left lead (``mu_L = mu + split V``; default 1/2).  Refused at
        ``bias = 0`` (nothing to divide).
    n_energy : int, optional
        Energy nodes: linear response at ``T > 0`` (Gauss-Legendre in ``f``; default 16; ``T = 0``
        uses ``E = mu`` only), or the bias window (default 200).
    eta : float
        Imaginary part of the energy in the leads' surface Green's functions.
    solver : {"auto", "rgf", "dense"} or callable
        Scattering-region solver (contract: :mod:`orbsym.numeric.negf`): ``"rgf"`` the recursive
        Green's function (:mod:`orbsym.numeric.rgf`, cost linear in the number of columns), ``"dense"``
        the dense reference inverse; ``"auto"`` (default) RGF above the measured crossover
        (:func:`orbsym.numeric.rgf.choose_region_solver`; solved columns, leads' cells included).  Recorded
        in ``info["region_solver"]`` (and ``describe()`` / ``to_dict()``).
    energy_tol : float, optional
        Linear response at ``T > 0``: double the number of energy nodes (from ``n_energy``, up to
        :data:`MAX_N_LINEAR`) until the error estimate of the conductance is ``<= energy_tol`` relative.
    error_estimate : bool
        Report the error estimate of the energy integral (Notes; ~+30 % cost at T > 0 and finite bias).
    disorder : disorder term or sequence of terms, optional
        :mod:`orbsym.numeric.disorder` kinds (``Anderson``, ``RandomHopping``, ``Vacancies``,
        ``Substitution``, ``MagneticTexture``; explicit ``Potential``/``VacancyMask`` arrays of shape
        ``(N_x, N_y, ...)``, site name ``"site"``) applied to the region of an open strip
        (``attach_leads(..., width="open")``); module docstring, "Disorder".  Returns a
        :class:`DisorderedTransportResult`.  Not with ``split``, ``energy_tol``, a non-default ``eta`` or a
        callable ``solver`` (the ensemble's site engine has the symmetric split and the leads' default eta).
    realizations : int, optional
        Number of realizations (default 1), seeds ``seed, seed + 1, ...``; only with ``disorder``.
    seed : int, optional
        First seed (``>= 0``, default 0); only with ``disorder``.
    workers : int, optional
        Local worker processes sharing the realizations (default 1); only with ``disorder``.
    out : path, optional
        ``.nc`` file of the ensemble (written atomically; resumable store ``<out>.parts/``); only with ``disorder``.
    progress : bool or None
        Progress bar of the ensemble (None: when stderr is a terminal); only with ``disorder``.

    Returns
    -------
    TransportResult
        :class:`StripTransportResult` for open strips; :class:`DisorderedTransportResult` with ``disorder``.

    Raises
    ------
    ValueError
        Before any work: values out of range (energies ``|E| > 1e100``, :data:`orbsym.numeric.checks.ENERGY_LIMIT`),
        options that do not apply (``n_energy`` in linear response at ``T = 0`` or at ``bias = 0``,
        ``energy_tol`` outside the linear response at ``T > 0``, ``split`` at ``bias = 0``), more than
        :data:`MAX_POLES` Fermi poles, or an estimated memory / CPU time above the limits
        (:func:`transport_resources`, :class:`orbsym.numeric.budget.ResourceError`).

    Notes
    -----
    Error estimate of the energy integral (``info["energy_error_estimate"]``, ``T > 0`` or finite
    bias): the Landauer integral -- conductance, or the window's current -- recomputed with half the
    nodes from the transmission alone (first/last block columns, a fraction of the cost of the
    observables); ``|Q_n - Q_{n/2}|`` bounds the error of ``Q_n`` when the rule converges at least
    linearly (the error then drops by ``>= 2`` per doubling; van Hove steps and band edges within a
    few ``T`` of ``mu`` make the convergence algebraic).  The same nodes carry every observable, so
    the estimate is the accuracy indicator of the whole driven state.  The balance is exact for any
    grid (:mod:`orbsym.numeric.negf`).
    """
    _unknown_arguments("transport()", unknown, ("leaded", "T", "bias", "mu", "split", "n_energy", "eta", "solver", "energy_tol", "error_estimate",
                                                "disorder", "realizations", "seed", "workers", "out", "progress"))
    if not isinstance(leaded, LeadedSystem):
        raise TypeError(f"transport() needs the result of attach_leads(system), got {type(leaded).__name__}")
    T = check_energy_scale("T", check_temperature(T))
    mu = real_number("mu", mu, bound=ENERGY_LIMIT)
    if bias is not None:
        bias = real_number("bias", bias, bound=ENERGY_LIMIT)
    if split is not None:
        split = real_number("split", split, minimum=0.0)
        if split > 1:
            raise ValueError(f"split (fraction of the bias on the left lead) must be in [0, 1], got {split!r}")
        if bias == 0:
            raise ValueError("split does not apply at bias = 0 (equilibrium: there is no bias to divide); it applies in linear response (bias=None) and at finite bias")
    split = 0.5 if split is None else split
    if n_energy is not None:
        n_energy = integer_at_least("n_energy", n_energy, 1, " (energy nodes)")
        if bias is None and T == 0:
            raise ValueError("n_energy does not apply to the linear response at T = 0 (one energy, E = mu); it applies at T > 0 or with a bias")
        if bias == 0:
            raise ValueError("n_energy does not apply at bias = 0 (the bias window is empty); it applies in linear response at T > 0 and at finite bias")
    eta = real_number("eta", eta, minimum=0.0, strict=True, bound=ENERGY_LIMIT)
    if energy_tol is not None:
        energy_tol = real_number("energy_tol", energy_tol, minimum=0.0, strict=True)
        if bias is not None or T == 0:
            raise ValueError("energy_tol applies only to the linear response (bias=None) at T > 0 (it refines the conductance's energy nodes)")
    if not isinstance(error_estimate, (bool, np.bool_)):
        raise TypeError(f"error_estimate must be True or False, got {error_estimate!r}")
    if isinstance(solver, str):
        check_name("region solver", solver, ("auto", "rgf", "dense"))
    elif not callable(solver):
        raise TypeError(f"solver must be 'auto', 'rgf', 'dense' or a callable region solver, got {type(solver).__name__}")
    ens = _check_disorder_args(leaded, disorder, realizations, seed, workers, out, progress, split, eta, energy_tol, solver)
    if ens is not None:
        return _disordered_transport(leaded, T, bias, mu, n_energy, solver, *ens)
    lat = leaded.lattice
    film = leaded.is_film
    if film:  # the k_z = 0 sector stands for all (the estimate); the radius bound is the largest of k_z = 0, pi/2, pi
        probe = [leaded.solve_parts(k) for k in (0.0, 0.5 * np.pi, np.pi)]
        lat2, left, right = leaded.lattice.sector(0.0), probe[0][1], probe[0][2]
        radius = max(_radius_bound(leaded.lattice.sector(k), (p[1], p[2])) for k, p in zip((0.0, 0.5 * np.pi, np.pi), probe))
    else:
        lat2, left, right = lat, leaded.left, leaded.right
        radius = _radius_bound(lat, (left, right))
    # one surface Green's function serves both leads when they are equal with t_x = t_x^dag (as in OpenSystem)
    mirror = left.coupling_hermitian and all(np.array_equal(getattr(left, a), getattr(right, a)) for a in ("onsite", "hop_x", "hop_y", "hop_up", "hop_down"))
    transport_resources(
        leaded.N_x, lat.N_y, lat.dim, leaded.width, leaded.period, T, bias, mu, split, n_energy, energy_tol, error_estimate, solver,
        radius=radius, symmetric=bool(lat2.y_hermitian and left.k_even and right.k_even),
        mirror_leads=mirror, hint="reduce n_energy, the rows N_y (k-points, or the width of an open strip) or the columns N_x",
        N_z=lat.N_z, z_symmetric=_z_symmetric(leaded) if film else True,
    )
    cls = TransportResult if leaded.width == "periodic" else StripTransportResult
    return cls(leaded, T, bias, mu, split, n_energy, eta, solver, energy_tol, bool(error_estimate))


# ====================================================================== disorder (open strips)
#: Name of the one site per cell of :func:`strip_site_sample` (for ``Potential(SITE, values)``).
SITE = "site"


def _site_columns(lattice, lo, hi, bonds):
    """Columns ``lo .. hi - 1`` of a column :class:`~orbsym.numeric.Lattice` as a finite
    :class:`~orbsym.numeric.sites.SiteLattice` of ``width = N_y`` open rows (one site per cell, the columns'
    on-site and bond matrices; the bonds ``bonds`` in that order, zero where a bond leaves the columns)."""
    from .numeric.sites import Hopping, Site, SiteLattice

    gens = np.asarray(lattice.generators)
    n = hi - lo
    cells = [(Site(SITE, (0.0, 0.0, 0.0), lattice.onsite[x], gens),) for x in range(lo, hi)]
    hops = []
    for b in bonds:
        t = lattice.hoppings[b]  # t[x]: the bond from column x to x + dx
        full = np.zeros((n, lattice.dim, lattice.dim), complex)
        m = max(0, min(n, t.shape[0] - lo))
        full[:m] = t[lo : lo + m]
        hops.append(Hopping(SITE, SITE, tuple(int(v) for v in b), full))
    return SiteLattice(cells, hops, width=lattice.N_y)


def _lead_sample(lead, lattice):
    """Two cells of a lead (:class:`~orbsym.numeric.leads.Lead`) as a finite SiteLattice of the strip's width:
    its slice continued (:class:`~orbsym.numeric.sites_transport.SiteLead`) is the lead itself, with the
    lead's own coupling ``h_01`` between its cells."""
    from .numeric.sites import Hopping, Site, SiteLattice

    gens = np.asarray(lattice.generators)
    mats = {(1, 0): lead.hop_x, (0, 1): lead.hop_y, (1, 1): lead.hop_up, (1, -1): lead.hop_down}
    hops = [Hopping(SITE, SITE, b, np.asarray(t, complex)) for b, t in mats.items() if np.any(np.asarray(t) != 0)]
    return SiteLattice(Site(SITE, (0.0, 0.0, 0.0), lead.onsite, gens), hops, N_x=2, width=lattice.N_y)


def strip_site_sample(leaded):
    """The region of an open strip as a finite sample, with its contacts and leads.

    Returns ``(sample, contacts, left, right)``:

    * ``sample`` -- :class:`~orbsym.numeric.sites.SiteLattice` of the system's ``N_x`` columns and ``N_y``
      open rows (``width = N_y``; one site ``"site"`` per cell with the column's on-site matrix and the
      lattice's generators; bonds ``(dx, dy)`` with the column lattice's per-column matrices, i.e. its
      interface rule), the clean sample that disorder is applied to;
    * ``contacts`` -- the same with one clean lead cell on each side (``N_x + 2`` x-cells: the solved
      lattice ``leaded.lattice`` of :func:`attach_leads`, contact bonds included);
    * ``left``, ``right`` -- the leads as ``(SiteLattice of two lead cells, slice)`` for
      :func:`orbsym.numeric.sites_transport.site_transport`, with the leads' own coupling between cells.

    ``site_transport(contacts, left=left, right=right, ...)`` is the clean open strip of
    :class:`StripTransportResult`, with the same Hamiltonian and leads (state order ``(x, y, orbital)``).
    """
    if not isinstance(leaded, LeadedSystem):
        raise TypeError(f"strip_site_sample() needs the result of attach_leads(system, width='open'), got {type(leaded).__name__}")
    if leaded.width != "open" or leaded.is_film or leaded.period != 1:
        raise ValueError(f"strip_site_sample() needs a 2D open strip with leads of one column (width='open', period=1), got width={leaded.width!r}, "
                         f"period={leaded.period}" + (", a film" if leaded.is_film else ""))
    lat = leaded.lattice
    bonds = [b for b in lat.bonds if np.any(lat.hoppings[b] != 0)]
    sample = _site_columns(lat, 1, lat.N_x - 1, bonds)
    contacts = _site_columns(lat, 0, lat.N_x, bonds)
    return sample, contacts, (_lead_sample(leaded.left, lat), 0), (_lead_sample(leaded.right, lat), -1)


class _Sample:
    """``factory()`` of an ensemble: the clean sample (module level: picklable)."""

    def __init__(self, lattice):
        self.lattice = lattice

    def __call__(self):
        return self.lattice

    def __repr__(self):
        return "strip_site_sample(leaded)[0] (the clean open strip as a finite SiteLattice)"


def _check_disorder_args(leaded, disorder, realizations, seed, workers, out, progress, split, eta, energy_tol, solver):
    """None without disorder (refusing the ensemble options); else ``(terms, seeds, workers, out, progress)``."""
    if disorder is None:
        for name, value in (("realizations", realizations), ("seed", seed), ("workers", workers), ("out", out)):
            if value is not None:
                raise ValueError(f"{name} applies only to a disorder ensemble (transport(..., disorder=...)); give disorder or drop {name}")
        if progress is not False:
            raise ValueError("progress applies only to a disorder ensemble (transport(..., disorder=...)); give disorder or drop progress")
        return None
    from .numeric.disorder import KINDS

    terms = (disorder,) if isinstance(disorder, KINDS) else tuple(disorder) if isinstance(disorder, (list, tuple)) else None
    if not terms or not all(isinstance(t, KINDS) for t in terms):
        raise TypeError(f"disorder must be one or more of {[k.__name__ for k in KINDS]} (orbsym.numeric.disorder), got {disorder!r:.120}")
    if leaded.is_film:
        raise ValueError("disorder is not defined for films (periodic in y and z): a random configuration breaks the k grids; "
                         "use a 2D system with attach_leads(..., width='open')")
    if leaded.width != "open":
        raise ValueError(
            "disorder needs attach_leads(..., width='open'): with width='periodic' the rows are k_y points, and a random configuration "
            "breaks the translation symmetry in y (it would need a periodic supercell of the whole width, not supported here); "
            "use width='open' (a finite strip of N_y rows with hard walls, disordered site by site)")
    if leaded.period != 1:
        raise ValueError("disorder with leads of two columns (period=2: (2, dy) bonds or a lead given as a pair, e.g. the 45-degree strips) "
                         "is not supported; use leads of one column (period=1)")
    if split is not None and split != 0.5:
        raise ValueError(f"split = {split!r} does not apply with disorder: the ensemble's site engine divides the bias symmetrically "
                         "(mu_L = mu + V/2, mu_R = mu - V/2); drop split")
    if eta != DEFAULT_ETA:
        raise ValueError(f"eta = {eta!r} does not apply with disorder: the ensemble's leads use the default eta = {DEFAULT_ETA:g}; drop eta")
    if energy_tol is not None:
        raise ValueError("energy_tol does not apply with disorder (the ensemble uses fixed energy nodes: give n_energy)")
    if not isinstance(solver, str):
        raise TypeError("a callable solver does not apply with disorder: use 'auto', 'rgf' or 'dense' (recorded in the ensemble's engine)")
    n = 1 if realizations is None else realizations
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"realizations must be an integer >= 1, got {realizations!r}")
    from .numeric.disorder import Potential, VacancyMask

    if all(isinstance(t, (Potential, VacancyMask)) for t in terms) and (n > 1 or seed is not None):
        raise ValueError("realizations and seed apply to random disorder: explicit arrays alone (Potential, VacancyMask) are one configuration; "
                         "add a random kind (e.g. Anderson(W)) or drop realizations/seed")
    first = 0 if seed is None else seed
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 0:
        raise ValueError(f"seed must be an integer >= 0 (the first seed; realizations use seed, seed + 1, ...), got {seed!r}")
    w = 1 if workers is None else workers
    if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return terms, list(range(int(first), int(first) + int(n))), int(w), out, progress


def _disordered_transport(leaded, T, bias, mu, n_energy, solver, terms, seeds, workers, out, progress, attrs=None, restart=False):
    from .workflows.ensembles import ensemble

    sample, contacts, left, right = strip_site_sample(leaded)
    tr = {"left": left, "right": right, "mu": mu, "bias": bias, "n_energy": n_energy, "contacts": contacts}
    ds = ensemble(_Sample(sample), terms, seeds, T, transport=tr, engine=solver, workers=workers, out=out, progress=progress, restart=restart,
                  attrs={"region": f"open strip of {leaded.N_x} columns x {leaded.lattice.N_y} rows (orbsym.transport.strip_site_sample: one site per cell)",
                         "leads": _json_text(leaded.describe()["leads"]), **(attrs or {})})
    return DisorderedTransportResult(leaded, ds, terms, seeds)


def _json_text(x):
    import json

    return json.dumps(x, default=repr)


class DisorderedTransportResult:
    """Disorder-averaged steady state of an open strip (``transport(..., disorder=...)``).

    Attributes
    ----------
    leaded : LeadedSystem
    dataset : xarray.Dataset
        :func:`orbsym.workflows.ensembles.ensemble` output: every realization (dimension ``realization``,
        coordinate the seed) and ``<var>_mean``, ``<var>_stderr``; ``units`` and ``description`` on every
        variable; ``attrs`` the disorder record, the seeds, the engine.  Variables: ``conductance`` (linear
        response, ``e^2/h`` of the whole strip), ``landauer_current`` (whole strip), ``density`` ``[polarization,
        x, row, site]``, ``boundary_current`` ``[polarization, boundary]`` (``N_x + 1`` boundaries, the
        contacts included: ``boundary = -1`` left lead -> column 0 ... ``N_x - 1`` last column -> right
        lead; summed over the width), ``layer_torque``, ``layer_torque_onsite``, ``layer_torque_disorder``
        ``[polarization, x]`` (summed over the width), ``balance_residual``, ``boundary_mismatch``.
    disorder : tuple
        The disorder terms.
    seeds : list of int
    engine : str
        The engine that ran (``dataset.attrs["engine"]``).
    max_balance_residual : float
        Worst per-site and per-layer balance residual over the realizations (checked against
        :data:`orbsym.workflows.ensembles.BALANCE_TOL`).
    """

    def __init__(self, leaded, dataset, disorder, seeds):
        self.leaded, self.dataset, self.disorder, self.seeds = leaded, dataset, tuple(disorder), list(seeds)
        self.engine = str(dataset.attrs.get("engine", ""))
        self.max_balance_residual = float(dataset.attrs["max_balance_residual"])

    @property
    def linear(self):
        return "conductance" in self.dataset

    @property
    def realizations(self):
        return len(self.seeds)

    def mean(self, var):
        """Ensemble mean of ``var`` (a NumPy array or float)."""
        return self._get(var, "_mean")

    def stderr(self, var):
        """Standard error ``s / sqrt(n)`` of the mean of ``var`` (NaN for one realization)."""
        return self._get(var, "_stderr")

    def _get(self, var, suffix):
        key = var + suffix
        if key not in self.dataset:
            allowed = sorted(v[: -len(suffix)] for v in self.dataset.data_vars if v.endswith(suffix))
            raise ValueError(f"unknown ensemble variable {var!r}; allowed: {', '.join(allowed)}")
        v = self.dataset[key].values
        return float(v) if v.ndim == 0 else v

    def conductance(self):
        """``{"mean", "stderr", "per_row_mean", "per_row_stderr", "units", "realizations"}``: Landauer conductance of
        the whole strip in ``e^2/h`` (linear response only) and per row (``/ N_y``, as :meth:`TransportResult.conductance`)."""
        if not self.linear:
            raise ValueError("conductance() is the linear response; this ensemble is at finite bias (use mean('landauer_current'))")
        Ny = self.leaded.lattice.N_y
        m, e = self.mean("conductance"), self.stderr("conductance")
        return {"mean": m, "stderr": e, "per_row_mean": m / Ny, "per_row_stderr": e / Ny, "units": "e^2/h (whole strip; per_row: / N_y)",
                "realizations": self.realizations}

    def layer_balance(self):
        """Per realization and layer, ``j(x - 1 | x) - j(x | x + 1) + tau(x)`` (``[realization, polarization, x]``;
        zero to rounding: the current lost in a layer is its torque, no source term between leads)."""
        j = self.dataset["boundary_current"].values
        tau = self.dataset["layer_torque"].values
        return j[:, :, :-1] - j[:, :, 1:] + tau

    def describe(self):
        ds = self.dataset
        return {"system": self.leaded.describe(), "disorder": ds.attrs["disorder"], "seeds": self.seeds, "engine": self.engine,
                "T": ds.attrs["T"], "mu": ds.attrs["mu"], "bias": ds.attrs["bias"], "units": ds.attrs["units"],
                "max_balance_residual": self.max_balance_residual}


#: Largest number of Gauss-Legendre nodes the adaptive linear-response rule (``energy_tol``) uses.
MAX_N_LINEAR = 1024


def _landauer_integral(op, E, w):
    """``sum_k w_k int T(k, E) w(E) / N_y`` from the transmission alone (first/last block columns)."""
    if E.size == 0:
        return 0.0
    return float(op.weights @ (op.transmission(E) @ w)) / op.lattice.N_y


def _error_info(value, half, what, tol):
    n_half, v_half = half
    err = abs(value - v_half)
    out = {"quantity": what, "value": value, "half_rule_nodes": int(n_half), "half_rule_value": v_half, "abs": err, "rel": err / abs(value) if value else float("inf")}
    if tol is not None:
        out["tolerance_rel"] = tol
        out["converged"] = bool(err <= tol * abs(value))
    return out


class TransportResult:
    """Steady state from :func:`transport` (computed on construction, observables lazily).

    Per-polarization dicts use the keys ``"charge"``, ``"x"``, ``"y"``, ``"z"`` as in
    :class:`orbsym.systems.Result`.  Linear response: every value is per unit bias.

    Films (module docstring, "Films"): ``sectors`` lists the solved k_z sectors (``k_z``, ``weight`` =
    multiplicity / N_z, their 2D ``open`` system, ``g_k``, ``current_k``, ``energies``, ``info``);
    ``open`` is None and ``energies`` is the list of the sectors' nodes.
    """

    #: Current kinds of :meth:`currents`.
    CURRENT_KINDS = CURRENT_KINDS

    @staticmethod
    def _json(x):
        return _jsonable(x)

    def __init__(self, leaded, T, bias, mu, split, n_energy, eta, solver, energy_tol=None, error_estimate=True):
        self.leaded = leaded
        self.T, self.bias, self.mu, self.split, self.eta = T, bias, mu, split, eta
        self._obs = None
        self.sectors = None
        lat = leaded.lattice
        pairs = lat.offset_pairs(KERNEL_NAMES)
        if leaded.is_film:
            self._solve_film(pairs, n_energy, solver, energy_tol, error_estimate)
            return
        parts = leaded.solve_parts()
        solver, solver_name = choose_region_solver(solver, parts[0].N_x, parts[0].dim)
        self.open = OpenSystem(*parts, eta=eta, solver=solver)
        info = {"region_solver": solver_name}
        blocks, self._g_k, self._current_k, self.energies, more = self._steady(self.open, pairs, n_energy, energy_tol, error_estimate)
        info.update(more)
        self.info = info
        self._store(blocks, pairs)

    def _steady(self, op, pairs, n_energy, energy_tol, error_estimate):
        """The steady state of one 2D open system ``op`` (the system itself, or one k_z sector of a film).

        Returns ``(blocks, g_k, current_k, energies, info)``: the per-k density-matrix blocks
        ``rho_k[x + dx, x]`` per column (pairs unpacked for ``period = 2``), the conductance per k (linear
        response; None at finite bias), the Landauer current per k, the energy nodes and the rule used.
        """
        leaded, T, bias, mu, split = self.leaded, self.T, self.bias, self.mu, self.split
        lat = leaded.lattice
        dxs = sorted({p[0] for p in pairs})
        wanted = dxs
        if leaded.period == 2:
            dxs = super_offsets(wanted)
        info = {}
        if bias is None:
            n = n_energy or DEFAULT_N_LINEAR
            half = None  # (nodes, conductance) of the half rule, for the error estimate
            if T > 0 and energy_tol is not None:
                prev = (max(1, n // 2), _landauer_integral(op, *fermi_derivative_rule(mu, T, max(1, n // 2))))
                while True:
                    g = _landauer_integral(op, *fermi_derivative_rule(mu, T, n))
                    if abs(g - prev[1]) <= energy_tol * abs(g) or 2 * n > MAX_N_LINEAR:
                        half = prev
                        break
                    prev, n = (n, g), 2 * n
            E, w = fermi_derivative_rule(mu, T, n)
            blocks, trans = op.scattering_blocks(E, split * w, -(1 - split) * w, dxs)
            g_k = trans @ w
            current_k = g_k / (2 * np.pi)
            info["energy_rule"] = "E = mu" if T == 0 else f"Gauss-Legendre in u = f(E - mu), {E.size} nodes"
            if T > 0 and n >= 2 and (error_estimate or half is not None):
                if half is None:
                    half = (n // 2, _landauer_integral(op, *fermi_derivative_rule(mu, T, n // 2)))
                g = float(op.weights @ g_k) / op.lattice.N_y
                info["energy_error_estimate"] = _error_info(g, half, "conductance (e^2/h per row)", energy_tol)
        else:
            mu_L, mu_R = mu + split * bias, mu - (1 - split) * bias
            bounds = op.spectral_bounds()  # scattering states live inside the spectrum: the window is clipped to it
            E, w = window_rule(mu_L, mu_R, T, n_energy or DEFAULT_N_BIAS, bounds=bounds)
            blocks, trans = op.scattering_blocks(E, w, np.zeros_like(w), dxs)
            eq, einfo = op.equilibrium_blocks(mu_R, T, dxs)
            for dx in dxs:
                blocks[dx] = blocks[dx] + eq[dx]
            current_k = trans @ w / (2 * np.pi)
            g_k = None
            if E.size >= 2 and error_estimate:
                # per panel: 10-node (main) vs 5-node Gauss-Legendre on the same panels; |differences| summed
                Eh, wh = window_rule(mu_L, mu_R, T, 5 * (E.size // 10), panel=5, bounds=bounds)
                main = (op.weights @ (trans * w[None])).reshape(-1, 10).sum(axis=1)
                low = (op.weights @ (op.transmission(Eh) * wh[None])).reshape(-1, 5).sum(axis=1)
                cur = float(main.sum()) / (2 * np.pi * op.lattice.N_y)
                err = float(np.abs(main - low).sum()) / (2 * np.pi * op.lattice.N_y)
                info["energy_error_estimate"] = {
                    "quantity": "window current (t/hbar per row)", "value": cur, "abs": err, "rel": err / abs(cur) if cur else float("inf"),
                    "method": "sum over the panels of |10-node - 5-node Gauss-Legendre| (transmission only)", "half_rule_nodes": int(Eh.size),
                }
            info["energy_rule"] = f"composite Gauss-Legendre on the bias window, {E.size} nodes"
            info["equilibrium_part"] = einfo
            info["mu_L"], info["mu_R"] = mu_L, mu_R
        if leaded.period == 2:
            rows = 1 if leaded.width == "periodic" else lat.N_y
            blocks = unpack_blocks(blocks, lat.N_x, lat.dim, wanted, rows)
        return blocks, g_k, current_k, E, info

    def _solve_film(self, pairs, n_energy, solver, energy_tol, error_estimate):
        """A film: one 2D open system per k_z sector (:meth:`LeadedSystem.solve_parts`), recombined by
        :func:`orbsym.numeric.film.sector_sum` (module docstring, "Films")."""
        from types import SimpleNamespace

        leaded, T, mu = self.leaded, self.T, self.mu
        lat = leaded.lattice
        symmetric = _z_symmetric(leaded)
        kz, wz = k_points(lat.N_z, symmetric)
        ops, names = {}, set()
        for k in kz:  # every sector's open system first (cheap: no solve), for the film-level energy rule
            parts = leaded.solve_parts(k)
            fn, name = choose_region_solver(solver, parts[0].N_x, parts[0].dim)
            ops[float(k)] = OpenSystem(*parts, eta=self.eta, solver=fn)
            names.add(name)
        weight = {float(k): float(w) / lat.N_z for k, w in zip(kz, wz)}

        def film_integral(E, w):  # conductance per transverse cell from the transmission alone
            return sum(c * _landauer_integral(ops[k], E, w) for k, c in weight.items())

        n, half = n_energy, None
        if self.bias is None and T > 0 and energy_tol is not None:  # the adaptive rule on the film's conductance
            n = n_energy or DEFAULT_N_LINEAR
            prev = (max(1, n // 2), film_integral(*fermi_derivative_rule(mu, T, max(1, n // 2))))
            while True:
                g = film_integral(*fermi_derivative_rule(mu, T, n))
                if abs(g - prev[1]) <= energy_tol * abs(g) or 2 * n > MAX_N_LINEAR:
                    half = prev
                    break
                prev, n = (n, g), 2 * n

        def one(sec, k, pairs2):
            op = ops[float(k)]
            blocks, g_k, current_k, E, info = self._steady(op, pairs, n, None, error_estimate and half is None)
            bands = bands_from_blocks(blocks, op.k, op.weights, lat.N_y, pairs2, op.symmetric)
            return SimpleNamespace(k_z=float(k), weight=weight[float(k)], open=op, bands=bands, g_k=g_k, current_k=current_k, energies=E, info=info)

        self.bands, _, _, sols = sector_sum(lat, one, pairs, use_symmetry=symmetric)
        self.sectors = sols
        self.open = None
        self.energies = [s.energies for s in sols]
        self._g_k = None
        info = {
            "region_solver": "/".join(sorted(names)),
            "k_z_sectors": len(sols),
            "k_z_symmetric": symmetric,
            "k_z_rule": f"k_z = 2 pi j / N_z, N_z = {lat.N_z}" + ("; only 0 <= k_z <= pi solved (sector(-k_z) = sector(k_z))" if symmetric else ""),
        }
        first = sols[0].info
        info["energy_rule"] = first["energy_rule"] + " (per k_z sector)"
        for key in ("equilibrium_part", "mu_L", "mu_R"):
            if key in first:
                info[key] = first[key]
        if "equilibrium_part" in first:
            info["equilibrium_part"] = dict(first["equilibrium_part"], note="rule of the k_z = 0 sector; every sector has its own spectral bounds")
        if self.bias is None:
            g = self.conductance()["total"]
            if half is not None:
                info["energy_error_estimate"] = _error_info(g, half, "conductance (e^2/h per transverse cell)", energy_tol)
        ests = [s.info.get("energy_error_estimate") for s in sols]
        if half is None and ests and all(e is not None for e in ests):
            value = sum(s.weight * e["value"] for s, e in zip(sols, ests))
            err = sum(s.weight * e["abs"] for s, e in zip(sols, ests))
            info["energy_error_estimate"] = {
                "quantity": ests[0]["quantity"].replace("per row", "per transverse cell"), "value": value, "abs": err,
                "rel": err / abs(value) if value else float("inf"),
                **({"half_rule_value": sum(s.weight * e["half_rule_value"] for s, e in zip(sols, ests))} if "half_rule_value" in ests[0] else {}),
                "method": "weighted sum over the k_z sectors of each sector's estimate (" + ests[0].get("method", "half rule of the transmission") + ")",
                "half_rule_nodes": int(ests[0]["half_rule_nodes"]),
            }
        self.info = info

    def _store(self, blocks, pairs):
        op = self.open
        self.bands = bands_from_blocks(blocks, op.k, op.weights, self.leaded.lattice.N_y, pairs, op.symmetric)

    # ---------------------------------------------------------------- basics
    @property
    def k(self):
        """Transverse momenta solved: ``k_y`` (2D), or the ``k_z`` of the sectors (films)."""
        if self.sectors is not None:
            return np.array([s.k_z for s in self.sectors])
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
        return spin_unit_scale(self.leaded.system)

    def _per_pol(self, fn, charge=True):
        return per_polarization(fn, self._scale, charge)

    # ---------------------------------------------------------------- transport coefficients
    def conductance(self, per_row=True):
        """Landauer conductance in units of ``e^2/h`` (linear response only).

        Returns ``{"k": k_y, "weight": multiplicities, "per_k": G(k_y) (transmission averaged
        with -f'), "total": sum_k w G(k) (/ N_y per row)}``.

        Films: ``G = sum_{k_y, k_z} G(k_y, k_z)``; ``total`` per transverse cell (``/ N_y N_z``, the
        average over the k_z sectors of each sector's conductance per row) or for the whole cross
        section (``per_row=False``); ``{"k_z": sectors solved, "weight_z": multiplicities, "per_k_z":
        G(k_z) per row of the sector, "sectors": [{"k_z", "k", "weight", "per_k"}, ...], "total"}``.
        """
        if not self.linear:
            raise ValueError("conductance() is the linear response; this result is at finite bias (use landauer_current())")
        Ny = self.leaded.lattice.N_y
        if self.sectors is not None:
            per = np.array([float(s.open.weights @ s.g_k) / Ny for s in self.sectors])
            wz = np.array([s.weight * self.leaded.lattice.N_z for s in self.sectors])
            tot = float(sum(s.weight * p for s, p in zip(self.sectors, per)))
            return {
                "k_z": self.k, "weight_z": wz, "per_k_z": per, "total": tot if per_row else tot * Ny * self.leaded.lattice.N_z, "per_row": per_row,
                "per": "transverse cell (a^2)" if per_row else "whole cross section (N_y N_z cells)", "units": "e^2/h",
                "sectors": [{"k_z": s.k_z, "k": s.open.k, "weight": s.open.weights, "per_k": s.g_k} for s in self.sectors],
            }
        tot = float(self.open.weights @ self._g_k)
        return {"k": self.k, "weight": self.open.weights, "per_k": self._g_k, "total": tot / Ny if per_row else tot, "per_row": per_row, "units": "e^2/h"}

    def landauer_current(self, per_row=True):
        """Particle current from the Landauer formula ``(1/2pi) sum_k int dE T(k, E) (f_L - f_R)``.

        Per unit bias in linear response (``G / 2pi``).  Units: ``t/hbar`` (electrons per unit time),
        positive toward +x.  Films: per transverse cell (``per_row``) or through the whole cross section.
        """
        Ny = self.leaded.lattice.N_y
        if self.sectors is not None:
            tot = float(sum(s.weight * float(s.open.weights @ s.current_k) for s in self.sectors)) / Ny
            return tot if per_row else tot * Ny * self.leaded.lattice.N_z
        tot = float(self.open.weights @ self._current_k)
        return tot / Ny if per_row else tot

    # ---------------------------------------------------------------- observables of the region
    @property
    def _pad(self):
        return self.leaded.period

    def _site(self, a):
        p = self._pad
        return a[p:-p]

    def _xbond(self, a):
        """The ``N_x + 1`` x-bonds touching region columns (contact bonds included)."""
        p = self._pad - 1
        return a[p : a.shape[0] - p]

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
        check_name("current direction", direction, ("x", "y", "z") if self.leaded.is_film else ("x", "y"))
        per_column = direction in ("y", "z") or kind == "eq7"
        return self._per_pol(lambda p: self._site(fns[kind](p, direction)) if per_column else self._xbond(fns[kind](p, direction)), charge=kind == "bond")

    def torques(self, kind="bond"):
        """Torque terms per region column: ``exchange``, ``bond_x``, ``bond_y``, (with diagonal or
        ``(2, dy)`` bonds) ``bond_diagonal``, and ``total``."""
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
        # every bond crossing each column boundary ((1, 0), diagonal, (2, 0)); the boundaries touching
        # region columns (with period 2 the outermost ones miss (2, dy) bonds from outside the solved lattice)
        jc = self._xbond(o.boundary_current(None))
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
        if self.leaded.is_film:
            out["units"] = (
                "e = hbar = a = 1; energies in t; currents are particle currents (electric current = -e x), positive toward +x; per site, "
                "i.e. per transverse cell a^2 of one column; conductance in e^2/h per transverse cell"
            )
        out.update(self.info)
        return out

    def to_dict(self, quantities=("densities", "currents", "torques", "continuity")):
        """JSON-ready dict: description, transport coefficients and the requested quantities."""
        if isinstance(quantities, str):
            quantities = (quantities,)
        for q in quantities:
            check_name("quantity", q, tuple(q for q in QUANTITIES if q not in ("free_energy", "particle_number")))
        out = self.describe()
        film = self.leaded.is_film
        if film:
            out["landauer_current_per_cell"] = self.landauer_current()
        else:
            out["landauer_current_per_row"] = self.landauer_current()
        if self.linear and film:
            c = self.conductance()
            out["conductance"] = {"total_per_cell": c["total"], "per_k_z": self._json(c["per_k_z"]), "k_z": self._json(c["k_z"]), "weight_z": self._json(c["weight_z"])}
        elif self.linear:
            c = self.conductance()
            out["conductance"] = {"total_per_row": c["total"], "per_k": self._json(c["per_k"]), "k": self._json(c["k"]), "weight": self._json(c["weight"])}
        if "densities" in quantities:
            out["densities"] = self._json(self.densities())
        if "currents" in quantities:
            out["currents"] = {k: self._json(self.currents(k)) for k in self.CURRENT_KINDS}
            out["currents"]["bond_y"] = self._json(self.currents("bond", "y"))
            if film:
                out["currents"]["bond_z"] = self._json(self.currents("bond", "z"))
        if "torques" in quantities:
            out["torques"] = self._json(self.torques("bond"))
            out["torques_forward"] = self._json(self.torques("forward"))
        if "continuity" in quantities:
            out["continuity"] = self.continuity_residual()
        return out


def _commutator_site_blocks(lattice, h, rho):
    """Diagonal site blocks ``[rho h - h rho]_{ss}``, shape ``(S, d, d)`` for ``S = N_x N_y`` sites: one batched
    product of ``(d x n)`` rows with ``(n x d)`` columns per site (``O(n^2 d)`` for ``n = S d``, no ``n x n``
    product)."""
    d = lattice.dim
    S = lattice.N_x * lattice.N_y
    n = S * d
    rho, h = np.asarray(rho), np.asarray(h)
    rows_r, rows_h = rho.reshape(S, d, n), h.reshape(S, d, n)
    cols_h, cols_r = h.reshape(n, S, d).transpose(1, 0, 2), rho.reshape(n, S, d).transpose(1, 0, 2)
    return rows_r @ cols_h - rows_h @ cols_r


def _site_rate(lattice, h, rho, polarization, blocks=None):
    """``d<J_n>/dt = i Tr(rho [h, J_n])`` per site, ``(N_x, N_y)``: the same quantity as
    :func:`orbsym.numeric.realspace.angular_momentum_rate`, from the diagonal site blocks of ``rho h - h rho``
    alone (:func:`_commutator_site_blocks`, reusable for every polarization via ``blocks``) instead of two
    dense ``O(n^3)`` products."""
    d = lattice.dim
    J = np.eye(d) if polarization is None else lattice.generators["xyz".index(polarization)]
    C = _commutator_site_blocks(lattice, h, rho) if blocks is None else blocks
    # Tr(rho [h, J]) = Tr(J [rho, h]) restricted to the site: sum_ij J_ji C_ij
    return (1j * np.einsum("ji,sij->s", J, C)).real.reshape(lattice.N_x, lattice.N_y)


class StripTransportResult(TransportResult):
    """Steady state of a finite-width strip (``attach_leads(..., width="open")``), resolved per site.

    Arrays have shape ``(N_x, N_y)`` for site quantities, ``(N_x + 1, N_y)`` for x-bonds (contact
    bonds included, as in :class:`TransportResult`) and ``(N_x, N_y - 1)`` for y-bonds (bond ``y ->
    y + 1``).  Landauer quantities are for the whole strip (``per_row`` divides by ``N_y``).

    ``G`` is the correlation band by slice (:class:`~orbsym.numeric.strip.StripBand`: ``G[x, x + dx]``
    for the kernels' offsets, memory ``O(N_x (N_y d)^2)``), not the dense matrix; ``G.dense()`` forms
    that (small strips only).  ``d<J>/dt`` (:meth:`time_derivative`, the continuity check) is taken from
    the band and the column blocks of ``h``; the dense commutator is the tests' slow path.
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
        lat = self.leaded.lattice
        #: the correlation band by slice (:class:`~orbsym.numeric.strip.StripBand`), ``O(N_x (N_y d)^2)``
        #: memory; ``self.G.dense()`` gives the dense matrix (small strips only)
        self.G = strip_band(blocks, lat.N_x, lat.N_y, lat.dim)
        self.bands = None

    @property
    def observables(self):
        """:class:`~orbsym.numeric.strip.OpenStripObservables` on the solved columns."""
        if self._obs is None:
            self._obs = OpenStripObservables(self.leaded.lattice, self.G)
        return self._obs

    def densities(self):
        return self._per_pol(lambda p: self.observables.evaluate_sites("density", p)[self._pad : -self._pad])

    def currents(self, kind="bond", direction="x"):
        names = {"bond": "current", "forward": "current_forward", "backward": "current_backward"}
        check_name("current kind (strip)", kind, tuple(names))
        check_name("current direction", direction, ("x", "y"))
        lat = self.leaded.lattice
        Ny = lat.N_y

        def fn(p):
            if direction == "y":
                return self._site(self.observables.evaluate_sites(names[kind], p, (0, 1)))[:, : Ny - 1]
            # x: the slice-boundary total per row (every bond crossing the boundary, at its start row);
            # the (1, 0) bond itself for nearest-neighbour models
            out = np.zeros((lat.N_x - 1, Ny))
            for b in lat.bonds:
                if b[0] == 0 or lat.N_x - b[0] <= 0:
                    continue
                v = self.observables.evaluate_sites(names[kind], p, b)
                for s in range(b[0]):
                    out[s : s + v.shape[0]] += v
            return self._xbond(out)

        return self._per_pol(fn, charge=kind == "bond")

    def torques(self, kind="bond"):
        check_name("torque decomposition", kind, ("bond", "forward"))
        o = self.observables
        start, end = ("source", "source") if kind == "bond" else ("source_forward_start", "source_forward_end")

        diag = self.leaded.lattice.has_diagonal_bonds

        def fn(p):
            per = o.bond_sum_per_bond(start, end, p)
            ex = o.evaluate_sites("torque_onsite", p)
            out = {"exchange": ex[self._pad : -self._pad], "bond_x": per[(1, 0)][self._pad : -self._pad], "bond_y": per[(0, 1)][self._pad : -self._pad]}
            if diag:
                out["bond_diagonal"] = sum((v for b, v in per.items() if b not in ((1, 0), (0, 1))), np.zeros_like(ex))[self._pad : -self._pad]
            out["total"] = (ex + sum(per.values(), np.zeros_like(ex)))[self._pad : -self._pad]
            return out

        return self._per_pol(fn, charge=False)

    def divergence(self, kind="bond"):
        name = {"bond": "current", "forward": "current_forward"}.get(kind)
        if name is None:
            raise ValueError(f"unknown current kind {kind!r}; allowed: 'bond', 'forward'")
        o = self.observables
        return self._per_pol(lambda p: o.divergence_sites(name, p)[self._pad : -self._pad], charge=True)

    def time_derivative(self, polarization):
        """``d<J_n>/dt = i Tr(rho [h, J_n])`` per region site, directly from ``h`` (no kernels).

        From the correlation band and the column blocks of ``h``
        (:func:`~orbsym.numeric.strip.band_commutator_site_blocks`, ``O(N_x (N_y d)^2 d)``); equal to the
        dense commutator :func:`_commutator_site_blocks` (the slow reference of the tests)."""
        if getattr(self, "_rate_blocks", None) is None:  # site blocks once per result, for every polarization
            hb = strip_hamiltonian_blocks(self.open.lattice, self.leaded.period)
            self._rate_blocks = band_commutator_site_blocks(self.G, hb)
        return _site_rate(self.leaded.lattice, None, None, polarization, self._rate_blocks)[self._pad : -self._pad]

    def _dense_time_derivative(self, polarization):
        """Slow reference of :meth:`time_derivative`: the dense ``h`` and ``G`` (tests only, ``O((N_x N_y d)^2)`` memory)."""
        h = strip_hamiltonian(self.open.lattice)
        if self.leaded.period == 2:  # pair ordering (X, y, a, i) -> column ordering (2X + a, y, i)
            lat = self.leaded.lattice
            P, rows, d = lat.N_x // 2, lat.N_y, lat.dim
            perm = np.arange(h.shape[0]).reshape(P, rows, 2, d).transpose(0, 2, 1, 3).reshape(-1)
            h = h[np.ix_(perm, perm)]
        C = _commutator_site_blocks(self.leaded.lattice, h, self.G.dense().T)
        return _site_rate(self.leaded.lattice, None, None, polarization, C)[self._pad : -self._pad]

    def continuity_residual(self):
        o = self.observables
        rate = max(float(np.abs(self.time_derivative(p)).max()) for p in POLARIZATIONS)
        bal = max(float(np.abs(o.site_continuity(p, k)[self._pad : -self._pad]).max()) for p in POLARIZATIONS for k in ("bond", "forward") if not (p is None and k == "forward"))
        lat = self.leaded.lattice
        jc = np.zeros(lat.N_x - 1)  # current through each column boundary, every bond that crosses it
        for b in lat.bonds:
            if b[0] >= 1 and lat.N_x - b[0] > 0:
                j = o.evaluate_sites("current", None, b).sum(axis=1)
                for sft in range(b[0]):
                    jc[sft : sft + j.size] += j
        jc = self._xbond(jc)
        dev = float(np.abs(jc - self.landauer_current(per_row=False)).max())
        return {"max_abs_dJ_dt": rate, "max_abs_balance": bal, "max_abs_charge_current_minus_landauer": dev}
