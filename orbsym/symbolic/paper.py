"""What the paper prints, as data, for the comparison in ``derivations/`` (not used to derive).

Everything orbsym reports as "derived" comes from :mod:`orbsym.symbolic.continuity`; the expressions here
are the paper's *printed* answers, transcribed so that :mod:`orbsym.symbolic.render` can compare them with
the derived ones term by term.  Normalization: the paper's (its Eqs. 7-11 carry the factor 1/2 of
Eq. 5); orbsym's results are twice these (see :mod:`orbsym.conventions`).
"""

from __future__ import annotations

import sympy as sp

from .models import SYMBOLS

__all__ = ["EQ11", "EQ8_PREFACTOR", "EQ7_PREFACTOR", "PAPER_NORMALIZATION"]

t, gamma = SYMBOLS["t"], SYMBOLS["gamma"]

#: orbsym result = PAPER_NORMALIZATION x printed expression (each bond once with amplitude t).
PAPER_NORMALIZATION = 2

#: Eq. (8): dJ/dt = (i/2) sum_delta (...): the printed prefactor.
EQ8_PREFACTOR = sp.I / 2
#: Eq. (7): (i a^2 / 2) c^dag J t (c_{n+e} - c_{n-e}) / (2a) + h.c.: prefactor of c^dag J t c_{n+e}.
EQ7_PREFACTOR = sp.I / 4

#: Eq. (11), as printed, for the multiorbital metal with t' = t: for each polarization a list of
#: ``(kind, direction, coefficient, matrix)`` with kind "onsite" (c^dag |L| c) or "dd"
#: ((d_k c)^dag |L| d_k c).  Printed typos are noted in ``EQ11_NOTES``.
EQ11 = {
    "x": [("onsite", None, -(t - gamma), "|L_x|"), ("dd", "y", (t - gamma) / 2, "|L_x|")],
    "y": [("onsite", None, (t - gamma), "|L_y|"), ("dd", "x", -(t - gamma) / 2, "|L_y|")],
    "z": [("dd", "x", (t - gamma) / 2, "|L_z|"), ("dd", "y", -(t - gamma) / 2, "|L_z|")],
}

EQ11_NOTES = {
    "z": "printed as (d c^dag/dx)|L_z|(d c^dag/dx) (the second c^dag should be c) and labelled (11a) a second time",
}
