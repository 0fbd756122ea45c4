"""orbsym's progress bars in a Jupyter kernel without ipywidgets: a text bar, no ``TqdmWarning``.

``tqdm.auto`` warns ``IProgress not found`` once per kernel when ipywidgets is missing (at its
import); :func:`orbsym.execution.progress_bar` must not import it.  The kernel is simulated: an
IPython shell whose class is named ``ZMQInteractiveShell``, ``ipykernel.zmqshell`` in
``sys.modules`` (what tqdm.autonotebook looks for), ``tqdm.auto`` not imported yet, and
ipywidgets made unimportable.
"""

import io
import sys
import types
import warnings

import pytest

from orbsym import execution


class ZMQInteractiveShell:  # the class name is what marks a Jupyter kernel
    pass


@pytest.fixture
def fake_kernel(monkeypatch):
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    for name in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    assert execution.in_notebook()


@pytest.mark.parametrize("shown", [True, False])
def test_no_tqdm_warning_in_kernel_without_ipywidgets(fake_kernel, monkeypatch, shown):
    from tqdm.std import TqdmWarning, tqdm as std_tqdm

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with execution.progress_bar(3, "test", progress=shown) as bar:
            for _ in range(3):
                bar.update(1)
    tqdm_warnings = [w for w in caught if issubclass(w.category, TqdmWarning)]
    assert not tqdm_warnings, [str(w.message) for w in tqdm_warnings]
    assert type(bar) is std_tqdm
    assert ("3/3" in sys.stderr.getvalue()) is shown


def test_tqdm_auto_would_warn_here(fake_kernel):
    """The simulated kernel is one where ``tqdm.auto`` warns (so the test above can fail)."""
    from tqdm.std import TqdmWarning

    with pytest.warns(TqdmWarning, match="IProgress not found"):
        import tqdm.auto  # noqa: F401


def test_widget_bar_when_ipywidgets_present(fake_kernel, monkeypatch):
    """With ipywidgets importable the notebook widget bar is used (``tqdm.notebook``)."""
    import tqdm.notebook as nb

    monkeypatch.setattr(nb, "IProgress", object)  # as if ipywidgets were there; the bar stays disabled
    bar = execution.progress_bar(2, "test", progress=False)
    assert isinstance(bar, nb.tqdm)
    bar.close()
