"""Test helper: NumPy-only KernelSets with next-nearest-neighbour (diagonal) bonds."""

import numpy as np
from numeric_kernels import L_T2G, X, Y, _e, fm, linear_kernelset

from orbsym.numeric import Column, Lattice

I3 = np.eye(3, dtype=complex)
D1, D2 = (1, 1), (1, -1)


def _mix(sign):
    m = np.zeros((3, 3), complex)
    m[0, 1] = m[1, 0] = sign
    return m


def nnn_orbital():
    """t2g metal allowed by D4h + T with nn + nnn bonds (``orbsym hoppings --neighbours nn+nnn``):
    Eq. (3) plus ``t_(1,+-1) = [[s_1, +-s_3, 0], [+-s_3, s_1, 0], [0, 0, s_2]]`` (s_3 mixes d_yz/d_xz)."""
    hx = {"gamma": -_e(0), "t": -_e(1), "tp": -_e(2)}
    hy = {"t": -_e(0), "gamma": -_e(1), "tp": -_e(2)}
    d1 = {"s_1": _e(0) + _e(1), "s_2": _e(2), "s_3": _mix(1)}
    d2 = {"s_1": _e(0) + _e(1), "s_2": _e(2), "s_3": _mix(-1)}
    return linear_kernelset("multiorbital-nnn", L_T2G, 1, {X: hx, Y: hy, D1: d1, D2: d2}, {"mu": -I3})


def random_nnn_model(seed, extra=((2, 0),)):
    """Random complex hoppings on (1,0), (0,1), (1,1), (1,-1) and ``extra`` offsets (user model)."""
    rng = np.random.default_rng(seed)

    def c():
        return rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))

    H = c()
    hops = {d: {"t": c()} for d in (X, Y, D1, D2) + tuple(extra)}
    return linear_kernelset(f"random-nnn{seed}", L_T2G, 1, hops, {"mu": -I3, "gamma": H + H.conj().T})


_CACHE = {}


def _models():
    if not _CACHE:
        _CACHE.update(nnn=nnn_orbital(), user=random_nnn_model(3), fm=fm())
    return _CACHE


def metal_params(rng, mu):
    return dict(t=rng.uniform(0.5, 1.5), gamma=rng.uniform(0, 1.5), tp=rng.uniform(0.5, 1.5), mu=mu,
                s_1=rng.uniform(-0.5, 0.5), s_2=rng.uniform(-0.5, 0.5), s_3=rng.uniform(-0.5, 0.5))


def random_nnn_lattice(rng, kind, N_x, N_y, interface):
    """Columns: FM (nearest neighbours only, random m) or an NNN metal (``kind``: 'nnn' or 'user')."""
    ms = _models()
    mu = rng.uniform(-1.5, 1.5)
    cols = []
    for _ in range(N_x):
        if rng.random() < 0.35:
            m = rng.normal(size=3)
            cols.append(Column(ms["fm"], dict(t=rng.uniform(0.5, 1.5), mu=mu, m_x=m[0], m_y=m[1], m_z=m[2]), label="FM"))
        else:
            p = metal_params(rng, mu)
            ks = ms[kind]
            cols.append(Column(ks, {k: v for k, v in p.items() if k in ks.parameters}, label="M"))
    return Lattice(cols, N_y, interface)


def nnn_bilayer(interface, s3=0.3):
    """Three NNN-metal columns and one FM (m = z), N_y = 6."""
    ms = _models()
    p = metal_params(np.random.default_rng(0), -0.2)
    p["s_3"] = s3
    cols = [Column(ms["nnn"], p, label="NM") for _ in range(3)] + [Column(ms["fm"], dict(t=1.0, mu=-0.2, m_x=0, m_y=0, m_z=1.0), label="FM")]
    return Lattice(cols, 6, interface)
