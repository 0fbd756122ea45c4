"""Imaginary-axis expansions of the Fermi function and grand potential against the closed forms."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbsym.numeric.poles import ozaki_poles, pole_expansion
from orbsym.numeric.thermo import fermi, grand_potential_terms


def _energies(E_max, lo=0.0):
    E = np.concatenate([np.linspace(-E_max, E_max, 4001), np.geomspace(max(lo, 1e-9), E_max, 400)])
    E = np.concatenate([E, -E])
    return E[np.abs(E) >= lo]


@settings(max_examples=25)
@given(
    T=st.sampled_from([1.0, 0.1, 0.01, 1e-3, 1e-4]),
    E_max=st.floats(0.5, 20.0),
    tol=st.sampled_from([1e-6, 1e-9, 1e-12, 1e-13]),
)
def test_ozaki_accuracy_meets_tolerance(T, E_max, tol):
    """f to tol and Omega to E_max * tol (+ rounding) on the whole spectral range, T > 0."""
    pe = pole_expansion(T, E_max, tol)
    E = _energies(E_max)
    assert np.abs(pe.fermi(E) - fermi(E, T)).max() <= tol
    assert pe.error <= tol
    assert np.abs(pe.grand_potential(E) - grand_potential_terms(E, T)).max() <= E_max * tol + 1e-13 * E_max


@settings(max_examples=15)
@given(E_max=st.floats(0.5, 20.0), tol=st.sampled_from([1e-6, 1e-9, 1e-12, 1e-13]), res=st.sampled_from([1e-8, 1e-6, 1e-4]))
def test_zero_temperature_quadrature_meets_tolerance(E_max, tol, res):
    """T = 0: levels with |E| >= 4 resolution to tol (f) and E_max tol (Omega); a level at 0 is half filled."""
    pe = pole_expansion(0.0, E_max, tol, res)
    E = _energies(E_max, lo=4 * res)
    assert np.abs(pe.fermi(E) - fermi(E, 0.0)).max() <= 1.05 * tol
    assert np.abs(pe.grand_potential(E) - grand_potential_terms(E, 0.0)).max() <= E_max * tol + 1e-13 * E_max
    assert pe.error >= np.abs(pe.fermi(E) - fermi(E, 0.0)).max()
    assert pe.fermi(0.0) == pytest.approx(0.5, abs=1e-15)
    assert abs(pe.grand_potential(0.0)) < 1e-2 * res


def test_tolerance_controls_accuracy():
    """A looser tolerance gives fewer poles and a larger (but bounded) error."""
    E = _energies(10.0)
    errs, sizes = [], []
    for tol in (1e-4, 1e-8, 1e-12):
        pe = pole_expansion(0.01, 10.0, tol)
        errs.append(np.abs(pe.fermi(E) - fermi(E, 0.01)).max())
        sizes.append(pe.size)
    assert sizes[0] < sizes[1] < sizes[2]
    assert errs[0] > 1e-9 and errs[2] < 1e-12


def test_pole_count_grows_like_sqrt_beta_w():
    """Ozaki: N(E_max/T = 1e5) / N(1e3) is about sqrt(100) = 10, far below the linear 100."""
    n3 = pole_expansion(0.01, 10.0, 1e-13).size
    n5 = pole_expansion(1e-4, 10.0, 1e-13).size
    assert 5 < n5 / n3 < 15


def test_ozaki_lowest_poles_are_matsubara():
    z, R = ozaki_poles(60)
    np.testing.assert_allclose(z[:10], (2 * np.arange(10) + 1) * math.pi, rtol=1e-12)
    np.testing.assert_allclose(R[:10], 1.0, rtol=1e-10)
    assert np.all(np.diff(z) > 0) and np.all(R > 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(T=-1.0, E_max=1.0), "temperature"),
        (dict(T=0.1, E_max=0.0), "spectral bound"),
        (dict(T=0.1, E_max=1.0, tol=0.5), r"tol must be in \[1e-15, 0.1\)"),
        (dict(T=0.1, E_max=1.0, tol=1e-17), "tol must be in"),
        (dict(T=0.1, E_max=1.0, tol="small"), "tolerance tol must be a real number"),
        (dict(T=0.0, E_max=1.0, resolution=-1.0), "resolution"),
        (dict(T=0.0, E_max=1.0, resolution=2.0), "below the spectral bound"),
    ],
)
def test_bad_input_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pole_expansion(**kwargs)
