"""Submodules that share their name with a public function of :mod:`orbsym`.

``orbsym.response`` (the function) lives in the module ``orbsym.response``, ``orbsym.rkky`` (the
function, in :mod:`orbsym.systems`) shares its name with the module of Lloyd's formula, and
``orbsym.kernels`` (the function, in :mod:`orbsym.symbolic.continuity`) with the hand-off module.  Once
such a submodule is imported, Python binds the *module* to the package attribute, and both
``from orbsym import rkky`` and ``import orbsym.rkky as m`` read that attribute: no lazy export can
tell them apart.  These modules are therefore callable: calling the module calls the function, so
``from orbsym import rkky; rkky(system)`` works whatever was imported before, and the module keeps
its own names (``orbsym.rkky.rkky_vs_length``).
"""

import importlib
import sys
import types

__all__ = ["make_callable"]


class _CallableModule(types.ModuleType):
    """A module whose call forwards to one function (named in ``_orbsym_entry``)."""

    def __call__(self, *args, **kwargs):
        module, name = self._orbsym_entry
        return getattr(importlib.import_module(module), name)(*args, **kwargs)


def make_callable(module_name, target_module, target_name):
    """Make ``sys.modules[module_name]`` callable as ``target_module.target_name``."""
    mod = sys.modules[module_name]
    mod._orbsym_entry = (target_module, target_name)
    mod.__class__ = _CallableModule
