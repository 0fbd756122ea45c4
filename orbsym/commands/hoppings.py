"""``orbsym hoppings``: print the symmetry-allowed hopping matrices of a basis.

Examples
--------
``orbsym hoppings --basis t2g --group D4h`` reproduces Eq. (3) (three free parameters);
``orbsym hoppings --basis spin --group altermagnet`` gives the form of Eq. (4);
``orbsym hoppings --basis t2g-spin --group D4h --time-reversal --onsite --format latex``;
``--out FILE`` writes the output atomically (checked before anything is derived).
"""

from __future__ import annotations

__all__ = ["NAME", "HELP", "add_arguments", "run", "FORMATS"]

NAME = "hoppings"
HELP = "print the most general hopping matrices allowed by a point group (or spin group) for a basis"
FORMATS = ("text", "latex")


def add_arguments(parser):
    """Register the options of ``orbsym hoppings``."""
    parser.add_argument("--basis", default="t2g", help="on-site basis: t2g, p, d, spin, t2g-spin, p-spin, d-spin (default t2g)")
    parser.add_argument(
        "--group", default="D4h",
        help="symmetry group: C2v, C4, C4v, C4h, D2h, D4h (= C4v+Mz), altermagnet (spin group), "
        "altermagnet-soc (magnetic point group) (default D4h)",
    )
    parser.add_argument("--neighbours", default="nn", help="bond shells: nn, nnn or nn+nnn (default nn)")
    parser.add_argument("--time-reversal", action="store_true", help="add time reversal to the group")
    parser.add_argument("--no-soc", action="store_true",
                        help="spin-rotation invariant (no spin-orbit coupling); only matters for spinful bases")
    parser.add_argument("--onsite", action="store_true", help="also print the most general symmetric on-site matrix")
    parser.add_argument("--format", default="text", help="output format: text or latex (default: text)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write to FILE (atomically) instead of standard output")


def run(args):
    """Derive and print; returns 0.  Bad values raise ValueError naming the allowed values."""
    from ..symbolic.symmetry import symmetric_hoppings

    if args.format not in FORMATS:
        raise ValueError(f"unknown format {args.format!r}; allowed: {', '.join(FORMATS)}")
    if args.out is not None:
        from ..io import check_output_file

        check_output_file(args.out, "--out", "hoppings.txt")
    result = symmetric_hoppings(
        args.basis,
        args.group,
        neighbours=args.neighbours,
        time_reversal=args.time_reversal,
        spin_rotation_invariant=args.no_soc,
        onsite=args.onsite,
    )
    text = result.to_text() if args.format == "text" else result.to_latex()
    if args.out is None:
        print(text)
    else:
        from ..io import atomic_write

        with atomic_write(args.out) as fh:
            fh.write(text + "\n")
    return 0
