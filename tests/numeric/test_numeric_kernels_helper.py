"""The NumPy-only test KernelSets (numeric_kernels.py) equal the symbolic derivation, kernel by kernel.

The engine tests use these hand-written kernels with SymPy blocked; this pins them to
``orbsym.symbolic.continuity.kernels`` so that a wrong factor (e.g. the Eq. 7 currents at half their
value, which no continuity identity can see) fails here.
"""

import numpy as np
import pytest
from numeric_kernels import PAULI, am, fm, nm_orbital

from orbsym.symbolic.continuity import kernels
from orbsym.symbolic.generators import pauli
from orbsym.symbolic.models import altermagnet, ferromagnet, multiorbital_metal

PARAMS = dict(t=0.9, gamma=0.35, tp=1.2, w=0.3, mu=-0.4, m_x=0.3, m_y=-0.7, m_z=0.5)


@pytest.mark.parametrize(
    "hand, model",
    [(nm_orbital, multiorbital_metal), (fm, ferromagnet), (am, altermagnet), (lambda: fm(PAULI, 2), lambda: ferromagnet(pauli()))],
    ids=["nm", "fm", "am", "fm-spin"],
)
def test_hand_kernels_equal_the_derivation(hand, model):
    a, b = hand(), kernels(model())
    assert set(a.bonds) == set(b.bonds)
    keys = [k for k in b.operators if k in a.operators]
    assert {k[0] for k in keys} >= {"current", "source", "current_forward", "current_backward", "source_forward_start", "eom_start"}
    for key in keys:
        pa = {p: PARAMS[p] for p in a.operators[key].parameters}
        pb = {p: PARAMS[p] for p in b.operators[key].parameters}
        ba, bb = a.operators[key].blocks(pa), b.operators[key].blocks(pb)
        for off in set(ba) | set(bb):
            np.testing.assert_allclose(ba.get(off, 0), bb.get(off, 0), rtol=0, atol=1e-13, err_msg=str((key, off)))
