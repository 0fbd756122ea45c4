"""What an :func:`orbsym.dynamics.evolve` run records, the Dataset built from it, and its I/O.

:class:`_Recorder` holds, per stored time, every derived kernel formed from the k-sums of the
propagation (:func:`_record`: densities, bond and Eq. (7) currents, each torque term, the
relaxation source, the exact rate, energy, particle number, ``A_y``, ``E_y``, ``m``) and builds
the ``xarray.Dataset`` (:meth:`_Recorder.dataset`; the Dataset convention is in the docstring of
:mod:`orbsym.dynamics`).  :func:`save` / :func:`load` (NetCDF) and :func:`write_csv` write and read
it atomically; :func:`pumped_current` averages a bond current over a time window;
:func:`annotate_units` puts ``units`` (and a ``description``) on every variable and coordinate.
"""

from __future__ import annotations

import json
import math

import numpy as np

from ..numeric import Observables
from ..numeric import evolution as ev
from ..numeric.checks import unknown_name
from ..numeric.observables import POLARIZATIONS, polarization_label
from .drives import _plain

__all__ = ["save", "load", "write_csv", "pumped_current", "annotate_units", "variable_units", "POL_LABELS"]


POL_LABELS = tuple(polarization_label(p) for p in POLARIZATIONS)


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
    #: Films only: the current of the z-bonds and the hopping torque of the z-bonds (and of every
    #: other offset, ``bond_diagonal``, when the film has diagonal bonds).
    NAMES_FILM = ("current_z", "torque_bond_z")

    def __init__(self, nt, N, film=False, diagonal=False):
        names = self.NAMES_PC + (self.NAMES_FILM + (("torque_bond_diagonal",) if diagonal else ()) if film else ())
        self.pc = {name: np.full((nt, 4, N), np.nan) for name in names}
        self.film = bool(film)
        if film:
            self.A_z, self.E_z = np.zeros(nt), np.zeros(nt)
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


# =============================================================================== units
#: Variables whose values are rates of a density: d<J_n>/dt and its parts (torques, divergence,
#: relaxation source), the balance residuals and their tolerances.
RATE_VARIABLES = (
    "torque_exchange", "torque_bond_x", "torque_bond_y", "torque_bond_z", "torque_bond_diagonal", "torque_total", "torque_forward_total",
    "divergence", "divergence_forward", "relaxation", "dJdt_kernel", "rate_exact", "defect_estimate", "rate_kink",
    "residual_exact", "residual_eom", "dJdt_fd", "residual_fd", "tolerance_fd",
)
#: Bond currents (the x-boundary totals, the y/z bonds of each column, the paper's Eq. (7) current).
CURRENT_VARIABLES = ("current_x", "current_x_forward", "current_x_backward", "current_y", "current_z", "current_eq7")
#: Descriptions of the variables added by the continuity check (:mod:`orbsym.dynamics.balance`), used
#: where a variable has none.
_BALANCE_DOC = {
    "residual_exact": "rate_exact - (-divergence + torque_total + relaxation): exact identity",
    "residual_eom": "dJdt_kernel - rate_exact: equation-of-motion kernels vs matrices",
    "dJdt_fd": "d<J>/dt of the stored trajectory by finite differences (NaN: stencil across a quench)",
    "residual_fd": "dJdt_fd - (-divergence + torque_total + relaxation)",
    "tolerance_fd": "tolerance of residual_fd: finite-difference truncation + propagator defect bound",
}
#: ``units`` and ``description`` of the coordinates.
COORD_ATTRS = {
    "time": ("1/t (hbar = 1; t the hopping)", "stored time"),
    "polarization": ("1", "operator O_n: charge (the particle number, 1 per orbital) or x, y, z (the components J_x, J_y, J_z of the angular momentum)"),
    "column": ("1", "column index x of the site, 0 = leftmost (open along x)"),
    "bond": ("1", "x-bond (x, x+1): the boundary between columns x and x+1"),
    "component": ("1", "Cartesian component of a vector"),
}


def _J_unit(scale, basis=None):
    """The unit of J: ``sigma`` (spin basis in Pauli units: ``spin_unit_scale`` 1) or ``hbar``."""
    return "sigma" if basis == "spin" and scale == 1.0 else "hbar"


def variable_units(J="hbar", film=False):
    """``{name: units}`` of every variable an evolve Dataset can hold.

    Parameters
    ----------
    J : {"hbar", "sigma"}
        Unit of the angular momentum J: ``hbar`` (orbital basis, or spin with ``spin_unit="S"``,
        ``S = sigma/2``) or ``sigma`` (spin basis in Pauli units).
    film : bool
        Films: every per-site value is per transverse cell ``a^2`` of one column.

    Notes
    -----
    ``e = hbar = k_B = a = 1``, energies in units of the hopping ``t``, times in ``1/t``.  The
    variables on the ``polarization`` axis carry the charge (particle number) and J together, so
    their units name both: a density is ``particles`` / ``J`` per site, a current or a rate is
    ``t/hbar`` (particles per unit time) / ``J t/hbar``.  A bond current is that of one bond per
    row (x currents: summed over every bond crossing the column boundary, in one row).
    """
    site = "per transverse cell a^2 of one column" if film else "per site"
    row = "per transverse cell" if film else "per row"
    dens = f"charge: particles {site}; x, y, z: {J} {site}"
    cur = f"charge: t/hbar (particles per unit time); x, y, z: {J} t/hbar; {row}"
    rate = f"charge: t/hbar {site}; x, y, z: {J} t/hbar {site} (d<O_n>/dt)"
    out = {"density": dens, "density_eq": dens}
    out.update({k: cur for k in CURRENT_VARIABLES})
    out.update({k: rate for k in RATE_VARIABLES})
    out.update(
        {
            "energy": f"t {row}",
            "particle_number": f"particles {row}",
            "A_y": "1/a (k_y -> k_y + A_y; e = hbar = 1)",
            "A_z": "1/a (k_z -> k_z + A_z; e = hbar = 1)",
            "E_y": "t/(e a) (e = a = 1: units of t)",
            "E_z": "t/(e a) (e = a = 1: units of t)",
            "m": "t (exchange energy)",
        }
    )
    return out


def annotate_units(ds, J=None, film=None):
    """Put ``units`` and a ``description`` on every variable and coordinate of an evolve Dataset
    (in place; returns it).  Existing attributes are kept; a variable orbsym does not know gets
    ``units = "see description"`` rather than none.

    ``J`` and ``film`` default to what the Dataset records (``attrs["system"]`` basis and
    ``spin_unit_scale``; ``attrs["N_z"]``).
    """
    if J is None:
        try:
            basis = json.loads(ds.attrs.get("system", "{}")).get("basis")
        except (TypeError, ValueError):
            basis = None
        J = _J_unit(float(ds.attrs.get("spin_unit_scale", 1.0)), basis)
    if film is None:
        film = "N_z" in ds.attrs
    units = variable_units(J, film)
    for name, var in ds.data_vars.items():
        var.attrs.setdefault("units", units.get(name, "see description"))
        if "description" not in var.attrs:
            var.attrs["description"] = _BALANCE_DOC.get(name, name.replace("_", " "))
    for name, (u, d) in COORD_ATTRS.items():
        if name in ds.coords:
            ds[name].attrs.setdefault("units", u)
            ds[name].attrs.setdefault("description", d)
    return ds


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
        if "current_z" in pc:  # films
            pc["current_z"][i, j] = s * obs.bond_current(p, "z")
            pc["torque_bond_z"][i, j] = s * tq["bond_z"]
            if "torque_bond_diagonal" in pc:
                pc["torque_bond_diagonal"][i, j] = s * tq.get("bond_diagonal", 0.0)
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
    rec.E[i] = sum(f.field(t) for f in proto.field_y)
    if rec.film:
        rec.A_z[i] = proto.A_z(t)
        rec.E_z[i] = sum(f.field(t) for f in proto.field_z)
    rec.m[i] = proto.magnetizations(t)


def _rec_dataset(self, xr, times, proto, system, drives, relax, method, T, symmetric, nk, scale, film_grid=None):
    N = system.lattice.N_x
    coords = {"time": times, "polarization": list(POL_LABELS), "column": np.arange(N), "bond": np.arange(N - 1), "component": ["x", "y", "z"]}
    data = {}
    doc = {
        "density": "<c_n^dag J_alpha c_n> per column (charge: particles per site)",
        "density_eq": "density in the instantaneous equilibrium f(h(t)) (relaxation target; NaN without relaxation)",
        "current_x": "bond current through the boundary between columns x and x+1, summed over every bond crossing it "
        "(slice-boundary total; the (1,0) bond for nearest-neighbour models), positive toward larger x (kernel 'current')",
        "current_x_forward": "Eq. (7) current, forward difference, slice-boundary total per boundary (kernel 'current_forward')",
        "current_x_backward": "Eq. (7) current, backward difference, slice-boundary total per boundary (kernel 'current_backward')",
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
        "current_z": "bond current of the z-bond (0, 0, 1) of each column (films), positive toward larger z",
        "torque_bond_z": "hopping torque of the z-bonds of the site (kernel 'source'; films)",
        "torque_bond_diagonal": "hopping torque of every other bond offset of the site (diagonal bonds; films)",
    }
    for name, arr in self.pc.items():
        data[name] = (("time", "polarization", "column"), arr, {"description": doc[name]})
    for name, arr in self.pb.items():
        data[name] = (("time", "polarization", "bond"), arr, {"description": doc[name]})
    data["energy"] = (("time",), self.energy, {"description": "sum_k Tr(h(t) rho_k)/N_y: energy per row (mu inside h), units of t"})
    data["particle_number"] = (("time",), self.particles, {"description": "particles per row"})
    data["A_y"] = (("time",), self.A, {"description": "vector potential along y (k -> k + A_y)"})
    data["E_y"] = (("time",), self.E, {"description": "electric field along y, E = -dA_y/dt"})
    if film_grid is not None:
        data["A_z"] = (("time",), self.A_z, {"description": "vector potential along z (films: k_z -> k_z + A_z)"})
        data["E_z"] = (("time",), self.E_z, {"description": "electric field along z (films), E = -dA_z/dt"})
    data["m"] = (("time", "column", "component"), self.m, {"description": "exchange field m of each column (0 for metal columns)"})
    data["defect_estimate"] = (("time", "polarization", "column"), self.local_error, {"description": "step-doubling estimate of the local error of the last step before this time, divided by the step: the propagator defect in d<J>/dt"})
    data["rate_kink"] = (("time", "polarization", "column"), self.kink, {"description": "|rate(h(t + dt/2)) - rate(h(t - dt/2))| on the stored state: jump of d<J>/dt across a step boundary"})
    if film_grid is not None:
        data["energy"][2]["description"] = "N_z^-1 sum_kz w_kz sum_ky Tr(h(t) rho_k)/N_y: energy per transverse cell (mu inside h), units of t"
        data["particle_number"][2]["description"] = "particles per transverse cell (one site of every column)"
    ds = xr.Dataset({k: xr.Variable(v[0], v[1], v[2]) for k, v in data.items()}, coords=coords)
    basis = system.info.get("basis")
    annotate_units(ds, J=_J_unit(scale, basis), film=film_grid is not None)
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
    if film_grid is not None:
        kz, wz, Nz, zsym = film_grid
        ds.attrs.update(
            {
                "units": "energies in units of t, hbar = k_B = a = 1, time in 1/t; film: per-site quantities = per transverse cell a^2 of one column "
                "(same in every cell), energy and particle_number per transverse cell; see orbsym.conventions",
                "engine": "real-time Bloch (per-k density matrices) by k_z sectors, orbsym.numeric.evolution; "
                "film bands G(x, x+dx; dy, dz) = N_z^-1 sum_kz w_kz e^{i k_z dz} G_kz(x, x+dx; dy)",
                "N_z": int(Nz),
                "k_z_grid": "0..pi (k_z <-> -k_z symmetric)" if zsym else "full",
                "N_k_z": int(np.size(kz)),
                "current_definitions": _film_current_definitions(),
            }
        )
    return ds


def _film_current_definitions():
    """``attrs["current_definitions"]`` of a film run."""
    return (
        "current_x: slice-boundary total through the boundary (x, x+1) per transverse cell (every bond crossing it); "
        "current_y / current_z: current of the bond (0, 1, 0) / (0, 0, 1) of each column; current_x_forward/backward and "
        "current_eq7: the paper's Eq. (7) (twice the printed value, bond counted once); continuity uses the bond decomposition"
    )


_Recorder.dataset = _rec_dataset


def _plain_dict(x):
    if isinstance(x, dict):
        return {str(k): _plain_dict(v) for k, v in x.items()}
    return _plain(x)


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

    from ..io import check_output_file

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}: path must be a file name (str or pathlib.Path), got {type(path).__name__}: {path!r}")
    text = os.fspath(path)
    if not text.strip():
        raise ValueError(f"{fn}: path is empty; give a file name, e.g. {example!r}")
    if os.path.isdir(text) or text.endswith(("/", os.sep)):
        raise ValueError(f"{fn}: path {text!r} is a directory; give a file name, e.g. {os.path.join(text, example)!r}")
    return check_output_file(text, f"{fn} path", example)


def save(ds, path):
    """Write an evolution Dataset to NetCDF (NetCDF3, xarray's scipy backend) atomically, with
    ``units`` and ``description`` on every variable and coordinate (:func:`annotate_units`).

    ``path`` is checked before anything is written (a file name in a writable directory, not a
    directory; ValueError naming it)."""
    from ..io import atomic_path

    _check_dataset(ds, "save()")
    path = _check_path(path, "save()", "run.nc")
    ds = annotate_units(ds.copy())  # units on every variable, also those of the continuity check
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
    from ..io import atomic_write

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
    ds = annotate_units(ds.copy())
    with atomic_write(path) as fh:
        for key in ("system", "drives", "units", "current_definitions", "interface", "propagator", "propagator_order", "continuity_check"):
            if key in ds.attrs:
                fh.write(f"# {key}: {json.dumps(ds.attrs[key]) if not isinstance(ds.attrs[key], str) else ds.attrs[key]}\n")
        for name in variables:
            fh.write(f"# {name}: {ds[name].attrs['description']} [{ds[name].attrs['units']}]\n")
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
