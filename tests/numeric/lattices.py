"""Test helper: random small heterostructures built from the NumPy-only kernels of numeric_kernels."""

from numeric_kernels import L_T2G, PAULI, am, fm, nm_orbital, random_model

from orbsym.numeric import Column, Lattice

_CACHE = {}


def models(basis):
    """(metal KernelSet, FM KernelSet) of a basis: 'orbital', 'spin' or 'user' (random complex hoppings)."""
    if basis not in _CACHE:
        if basis == "orbital":
            _CACHE[basis] = (nm_orbital(), fm())
        elif basis == "spin":
            _CACHE[basis] = (am(), fm(PAULI, 2))
        elif basis == "user":
            _CACHE[basis] = (random_model(3, 7, L_T2G, 1), fm())
        else:
            raise ValueError(basis)
    return _CACHE[basis]


def random_lattice(rng, basis, N_x, N_y, interface):
    """Random column sequence: each column FM (random m) or metal (random gamma/w/t, shared mu)."""
    metal, ferro = models(basis)
    mu = rng.uniform(-1.5, 1.5)
    cols = []
    for _ in range(N_x):
        if rng.random() < 0.4:
            m = rng.normal(size=3)
            cols.append(Column(ferro, dict(t=rng.uniform(0.5, 1.5), mu=mu, m_x=m[0], m_y=m[1], m_z=m[2]), label="FM"))
        else:
            cols.append(Column(metal, dict(t=rng.uniform(0.5, 1.5), gamma=rng.uniform(0, 1.5), tp=rng.uniform(0.5, 1.5), w=rng.uniform(-0.6, 0.6), mu=mu), label="M"))
    return Lattice(cols, N_y, interface)


def trilayer(basis, N_x, N_y, gamma, mL, mR, mu=-0.2, interface="fm", w=0.0):
    metal, ferro = models(basis)
    cols = [Column(ferro, dict(t=1.0, mu=mu, m_x=mL[0], m_y=mL[1], m_z=mL[2]), label="FM")]
    cols += [Column(metal, dict(t=1.0, gamma=gamma, tp=1.0, w=w, mu=mu), label="M") for _ in range(N_x - 2)]
    cols += [Column(ferro, dict(t=1.0, mu=mu, m_x=mR[0], m_y=mR[1], m_z=mR[2]), label="FM")]
    return Lattice(cols, N_y, interface)


def all_kernel_values(lattice, obs):
    """Every kernel every column model provides, evaluated on ``obs``: ``{(name, pol, bond): values}``
    (the comparison set of the engine-vs-engine tests)."""
    from orbsym.numeric import KERNEL_NAMES

    out = {}
    for ks in {id(c.kernels): c.kernels for c in lattice.columns}.values():
        for name, pol, bond in ks.operators:
            if name in KERNEL_NAMES and lattice.has_kernel(name, pol, bond):
                out[name, pol, bond] = obs.evaluate(name, pol, bond)
    return out

