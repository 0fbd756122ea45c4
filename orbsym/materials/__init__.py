"""Real materials: numeric tight-binding models of crystals and what reads, builds and measures them.

``model.py``          :class:`TightBinding` (cell, atoms with orbitals, ``H(R)``; ``H(k)``, velocities,
                      atom-centred ``L``, ``S``), the one model type every importer returns
``shells.py``         angular momentum of real-harmonic shells (s, p, d, f in Wannier90's order), spin,
                      spin-orbit coupling, the map to orbsym's t2g basis (Eq. 2)
``slater_koster.py``  two-centre integrals (Slater & Koster 1954) and the model builder; shipped
                      parameter sets in ``data/*.json`` (``material("Cu")``...), each with its source
``wannier90.py``      readers of ``seedname_hr.dat``, ``_tb.dat``, ``.win``, ``_centres.xyz``, ``_wsvec.dat``
                      (never executed) and ``write_hr``
``interop.py``        sisl, PythTB, TBmodels and qsymm models in and out (optional extra ``interop``;
                      each package imported only when its function is called)
``hall.py``           bulk orbital/spin/charge Hall tensors and the Edelstein response (Kubo, natural or
                      physical units, k-grid convergence); ``load.py``: ``load_model`` (file or name)
``films.py``          a crystal cut along a lattice vector: ``film``, ``film_stack`` (two materials),
                      ``supercell`` -> :class:`orbsym.numeric.sites.SiteLattice` for every engine

No SymPy anywhere in this package (a numeric layer, like :mod:`orbsym.numeric`).  Names are
re-exported lazily.
"""

import importlib

_EXPORTS = {
    "TightBinding": "model",
    "Atom": "model",
    "Orbital": "model",
    "slater_koster": "slater_koster", "sk_block": "slater_koster", "material": "slater_koster", "material_data": "slater_koster",
    "MATERIALS": "slater_koster",
    "film": "films", "film_stack": "films", "supercell": "films",
    "orbital_L": "shells", "soc_matrix": "shells", "parse_shells": "shells",
    "from_sisl": "interop", "from_pythtb": "interop", "from_tbmodels": "interop", "from_qsymm": "interop", "to_sisl": "interop", "to_pythtb": "interop",
    "hall_conductivity": "hall", "edelstein": "hall", "load_model": "load",
    "disordered_conductivity": "born", "scba_self_energy": "born",
    "read_hr": "wannier90", "read_tb": "wannier90", "read_win": "wannier90", "read_centres": "wannier90", "write_hr": "wannier90",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orbsym.materials' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
