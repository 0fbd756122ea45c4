"""Sub-commands of the ``orbsym`` CLI (see :mod:`orbsym.cli`)."""
