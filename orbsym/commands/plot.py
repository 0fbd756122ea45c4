"""``orbsym plot FILE.nc``: a quick figure of any NetCDF file orbsym writes.

Examples::

    orbsym plot figs/fig2.nc --force                      # j(x) per gamma, the finite-N_y floor shaded
    orbsym plot run.nc --var particle_number --out n.pdf  # evolve: a time series
    orbsym plot run.nc --var density --sel polarization=z # evolve: space-time map of <L_z>
    orbsym plot run.nc --var density --x time --sel column=0,1,2
    orbsym plot F_mu.nc --log                             # a sweep: |F|(mu) on a log axis
    orbsym plot r.nc --var current_x --sel mu=-0.4 --sel part=fermi_sea

Reads figures (``figN.nc``), sweeps, ``evolve``, ``response``, ``sites``, ``transport`` and any other
labeled dataset the same way (:mod:`orbsym.workflows.plotting`).  The view is chosen from the
dimensions of the variable (default: the first with a spatial, time or spectral dimension): a
profile against the column/site axis, a time series, a spectrum against E or mu, a 2D map for two
spatial dimensions (or space and time); of the other dimensions, one with a numeric coordinate and
at most 6 values gives one line per value, the rest are reduced to their first value and the title
says which.  ``--var`` (repeatable: one panel each), ``--sel DIM=VALUE`` (repeatable; ``DIM=a,b``:
one line per value), ``--x DIM`` (the horizontal axis) and ``--log`` (``|value|``, log axis) change it.
A finite-size floor stated in the file (attribute ``finite_size_floor``, see
:mod:`orbsym.workflows.plotting`) is shaded and named in the legend.

Output: ``--out FIG.png`` or ``FIG.pdf``, written atomically (replaced if it exists, as every orbsym
``--out``); default ``FILE.png`` next to the input, refused if it exists unless ``--force`` (it may be
the figure ``orbsym figure`` wrote next to ``figN.nc``).  One line on stdout names the file and the
view.  Bad input (missing or non-NetCDF file, unknown ``--var`` or ``--sel`` value: the message lists
the allowed ones, bad suffix, unwritable ``--out``): one line on stderr, exit status 2; a failed
write: exit status 1.
"""

from __future__ import annotations

NAME = "plot"
HELP = "plot any NetCDF file orbsym writes (figures, sweeps, evolve, response, sites, transport) as PNG or PDF"


def add_arguments(parser):
    parser.add_argument("file", metavar="FILE.nc", help="a NetCDF file written by orbsym (figure, sweep, evolve, response, sites, transport, ...)")
    parser.add_argument("--var", action="append", default=None, metavar="NAME",
                        help="variable to plot (repeatable: one panel each; default: the first with a spatial, time or spectral dimension)")
    parser.add_argument("--sel", action="append", default=None, metavar="DIM=VALUE",
                        help="fix a dimension to a coordinate value (an index 0..n-1 without coordinate; DIM=a,b: one line per value); repeatable")
    parser.add_argument("--x", default=None, metavar="DIM", help="dimension on the horizontal axis (default: chosen from the dimensions)")
    parser.add_argument("--log", action="store_true", help="plot |value| on a logarithmic axis")
    parser.add_argument("--out", default=None, metavar="FIG.png|FIG.pdf", help="output figure, .png or .pdf (default: FILE.png next to FILE.nc)")
    parser.add_argument("--force", action="store_true", help="replace the default output FILE.png if it exists")


def run(args):
    from ..workflows.plotting import parse_sel, plot_file

    sel = parse_sel(args.sel)
    target, views, others = plot_file(args.file, out=args.out, variables=args.var, sel=sel, log=args.log, x=args.x, force=args.force)
    parts = []
    for v in views:
        text = f"{v.name}: {v.kind} against {v.x}" + (f" and {v.y}" if v.y else "") + (f", one line per {v.lines}" if v.lines else "")
        if v.notes:
            text += f" ({'; '.join(v.notes)})"
        parts.append(text)
    line = f"wrote {target}: " + "; ".join(parts) + ("; |value| on a log axis" if args.log else "")
    if others:
        line += f"; other variables (--var NAME): {', '.join(others[:8])}" + (f", ... ({len(others)})" if len(others) > 8 else "")
    print(line)
    return 0
