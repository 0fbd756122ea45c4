"""Test helper: KernelSets built with NumPy only (no SymPy), for models linear in their parameters.

The kernels follow the documented hand-off format of :mod:`orbsym.kernels` and are derived here by
hand from the one-body commutators (see :mod:`orbsym.conventions`):

* ``eom_start(n, d) = i(-c_n^dag J t c_{n+d} + c_{n+d}^dag t^dag J c_n)``
* ``eom_end(n, d)   = i( c_n^dag t J c_{n+d} - c_{n+d}^dag J t^dag c_n)``
* ``current = (eom_end - eom_start)/2``, ``source = (eom_start + eom_end)/2``
* ``current_forward(n, d) = i c_n^dag J t (c_{n+d} - c_n) + h.c.``,
  ``current_backward(n, d) = i c_{n+d}^dag J t^dag (c_{n+d} - c_n) + h.c.`` (the paper's Eq. 7 with our
  normalization, each bond once: twice the printed expression, as ``symbolic.continuity.paper_current``),
  ``source_forward_start = eom_start + current_forward``, ``source_forward_end = eom_end - current_forward``.

They let the numeric layer be tested with SymPy blocked, and independently of orbsym.symbolic.continuity.
"""

import numpy as np

from orbsym.kernels import Kernel, KernelSet, Term

I3 = np.eye(3, dtype=complex)
I2 = np.eye(2, dtype=complex)
L_T2G = np.array(
    [
        [[0, 0, 0], [0, 0, 1j], [0, -1j, 0]],
        [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]],
        [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]],
    ],
    dtype=complex,
)
PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
X, Y = (1, 0), (0, 1)
O = (0, 0)


def _e(i, n=3):
    m = np.zeros((n, n), complex)
    m[i, i] = 1
    return m


def _terms(pairs):
    """pairs: list of (left, right, param, matrix) -> tuple of Term (zero matrices dropped)."""
    return tuple(Term(tuple(l), tuple(r), p, np.asarray(m, complex)) for l, r, p, m in pairs if np.abs(m).max() > 0)


def linear_kernelset(name, generators, normalization, hoppings, onsite, basis=None):
    """KernelSet of ``H = sum_n sum_d c_n^dag t_d c_{n+d} + h.c. + c_n^dag eps c_n``.

    ``hoppings = {d: {param: M}}`` means ``t_d = sum_p p M_p``; ``onsite = {param: E}`` likewise.
    """
    gens = np.asarray(generators, complex)
    dim = gens.shape[1]
    params = []
    for comp in list(hoppings.values()) + [onsite]:
        for p in comp:
            if p not in params:
                params.append(p)
    params = tuple(params)
    ham = {"onsite": Kernel("onsite", "site", None, None, _terms([(O, O, p, E) for p, E in onsite.items()]), params)}
    for d, comp in hoppings.items():
        ham[d] = Kernel("hopping", "bond", d, None, _terms([(O, d, p, M) for p, M in comp.items()]), params)
    ops = {}
    for pol, J in [(None, np.eye(dim, dtype=complex))] + list(zip("xyz", gens)):
        ops[("density", pol, None)] = Kernel("density", "site", None, pol, _terms([(O, O, "1", J)]), params)
        ops[("torque_onsite", pol, None)] = Kernel(
            "torque_onsite", "site", None, pol, _terms([(O, O, p, 1j * (E @ J - J @ E)) for p, E in onsite.items()]), params
        )
        for d, comp in hoppings.items():
            es, ee, cf, cb = [], [], [], []
            for p, M in comp.items():
                Md = M.conj().T
                es += [(O, d, p, -1j * J @ M), (d, O, p, 1j * Md @ J)]
                ee += [(O, d, p, 1j * M @ J), (d, O, p, -1j * J @ Md)]
                A = 1j * J @ M
                Ad = A.conj().T
                cf += [(O, d, p, A), (d, O, p, Ad), (O, O, p, -(A + Ad))]
                B = 1j * J @ Md
                Bd = B.conj().T
                cb += [(d, d, p, B + Bd), (d, O, p, -B), (O, d, p, -Bd)]

            def scaled(pairs, s):
                return [(l, r, p, s * m) for l, r, p, m in pairs]

            def k(nm, pairs):
                ops[(nm, pol, d)] = Kernel(nm, "bond", d, pol, _terms(pairs), params)

            k("eom_start", es)
            k("eom_end", ee)
            k("current", scaled(ee, 0.5) + scaled(es, -0.5))
            k("source", scaled(ee, 0.5) + scaled(es, 0.5))
            k("current_forward", cf)
            k("current_backward", cb)
            k("source_forward_start", es + cf)
            k("source_forward_end", ee + scaled(cf, -1))
    return KernelSet(
        name,
        dim,
        tuple(basis or (f"s{i}" for i in range(dim))),
        gens,
        float(normalization),
        params,
        tuple(hoppings),
        ham,
        ops,
    )


def nm_orbital():
    """Multiorbital NM, Eq. (3): t_x = diag(-gamma, -t, -tp), t_y = diag(-t, -gamma, -tp)."""
    hx = {"gamma": -_e(0), "t": -_e(1), "tp": -_e(2)}
    hy = {"t": -_e(0), "gamma": -_e(1), "tp": -_e(2)}
    return linear_kernelset("multiorbital", L_T2G, 1, {X: hx, Y: hy}, {"mu": -I3})


def fm(gens=L_T2G, normalization=1):
    n = gens.shape[1]
    onsite = {"mu": -np.eye(n, dtype=complex)}
    onsite.update({f"m_{a}": -g for a, g in zip("xyz", gens)})
    return linear_kernelset("ferromagnet", gens, normalization, {X: {"t": -np.eye(n)}, Y: {"t": -np.eye(n)}}, onsite)


def am():
    sz = PAULI[2]
    return linear_kernelset("altermagnet", PAULI, 2, {X: {"t": -I2, "w": sz}, Y: {"t": -I2, "w": -sz}}, {"mu": -I2})


def random_model(dim, seed, gens, normalization, hermitian_y=False):
    """A user-like model with random complex hoppings (non-Hermitian t_y unless hermitian_y)."""
    rng = np.random.default_rng(seed)

    def c():
        return rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))

    ty = c()
    if hermitian_y:
        ty = ty + ty.conj().T
    H = c()
    H = H + H.conj().T
    return linear_kernelset(
        f"random{seed}", gens, normalization, {X: {"t": c(), "w": c()}, Y: {"t": ty}}, {"mu": -np.eye(dim, dtype=complex), "gamma": H}
    )
