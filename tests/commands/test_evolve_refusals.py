"""Bad input to real-time dynamics is refused before any work (issue 24), at the API and the CLI.

Every case runs with tripwires in place of the expensive parts -- building the system (CLI), the
time-dependent protocol and the propagator (API) -- so a refusal that comes after work has started
fails the test, whatever the machine's speed.  One class of bad input per table block: values that
are not finite reals (complex, NaN, inf, text), empty list entries, options or quench parameters that
do not apply (naming where they do), misspelled names (did you mean), work beyond the limits (the
estimate in the message), outputs that cannot be written (the user's path in the message).
"""

import numpy as np
import pytest

from orbsym import dynamics as dyn
from orbsym.cli import main
from orbsym.dynamics import ElectricField, Precession, Quench, Relaxation, evolve
from orbsym.systems import bilayer, heterostructure, layer, trilayer


class Tripwire(AssertionError):
    pass


def _trip(what):
    def fail(*args, **kwargs):
        raise Tripwire(f"{what} ran although the input must be refused before any work")

    return fail


@pytest.fixture
def no_work(monkeypatch):
    """Nothing expensive may run: the protocol (lattices of every quench), the propagation, the thermal state."""
    from orbsym.commands import evolve as cmd
    from orbsym.numeric import evolution as ev

    monkeypatch.setattr(dyn, "_Protocol", _trip("_Protocol"))
    monkeypatch.setattr(dyn, "_Job", _trip("the propagator"))
    monkeypatch.setattr(ev, "thermal_state", _trip("thermal_state"))
    monkeypatch.setattr(ev, "step", _trip("a propagation step"))
    monkeypatch.setattr(cmd, "_system", _trip("building the system"))
    monkeypatch.setenv("ORBSYM_MAX_SECONDS", "3600")
    monkeypatch.setenv("ORBSYM_MAX_MEMORY", "4G")


SPIN = dict(basis="spin", N_x=4, N_y=4, N_FM=1)
T4 = np.linspace(0, 1, 5)


def spin():
    return bilayer(**SPIN)


def orbital():
    return trilayer(N_x=5, N_y=4, N_FM=1)


# ----------------------------------------------------------------------------- API
def _evolve(system, drives=(), times=T4, **kw):
    return lambda: evolve(system(), drives() if callable(drives) else drives, times, **kw)


API = [
    # times: complex, NaN, inf, text, empty, too short, not increasing, not starting at 0, wrong shape
    ("times complex", _evolve(spin, times=np.linspace(0, 1, 5) * (1 + 0.5j)), ValueError, ["times", "complex", "times[1]"]),
    ("times complex zero imag", _evolve(spin, times=np.linspace(0, 1, 5) + 0j), ValueError, ["times", "complex"]),
    ("times complex entry", _evolve(spin, times=[0, 0.5, 1j]), ValueError, ["times", "complex"]),
    ("times NaN", _evolve(spin, times=[0, 0.5, np.nan, 1]), ValueError, ["times[2]", "nan", "finite"]),
    ("times inf", _evolve(spin, times=[0, 0.5, np.inf]), ValueError, ["times[2]", "inf", "finite"]),
    ("times text", _evolve(spin, times=["0", "1"]), ValueError, ["times", "real numbers"]),
    ("times string", _evolve(spin, times="0,1,2"), ValueError, ["times", "sequence"]),
    ("times None entry", _evolve(spin, times=[0, None, 1]), ValueError, ["times[1]", "None"]),
    ("times bools", _evolve(spin, times=[False, True]), ValueError, ["times", "real numbers"]),
    ("times empty", _evolve(spin, times=[]), ValueError, ["at least 2 stored times", "got 0"]),
    ("times single", _evolve(spin, times=[0.0]), ValueError, ["at least 2 stored times", "got 1"]),
    ("times repeated", _evolve(spin, times=[0, 0.5, 0.5, 1]), ValueError, ["strictly increasing", "times[1] = 0.5", "times[2] = 0.5"]),
    ("times decreasing", _evolve(spin, times=[0, 1, 0.5]), ValueError, ["strictly increasing", "times[1] = 1.0"]),
    ("times start", _evolve(spin, times=[0.5, 1]), ValueError, ["start at 0", "0.5"]),
    ("times 2-d", _evolve(spin, times=[[0, 1], [2, 3]]), ValueError, ["1-d", "(2, 2)"]),
    # dt, T, workers, modes
    ("dt zero", _evolve(spin, dt=0.0), ValueError, ["time step dt", "> 0"]),
    ("dt negative", _evolve(spin, dt=-0.1), ValueError, ["time step dt", "> 0", "-0.1"]),
    ("dt NaN", _evolve(spin, dt=np.nan), ValueError, ["time step dt", "finite"]),
    ("dt complex", _evolve(spin, dt=0.1j), ValueError, ["time step dt", "complex"]),
    ("dt text", _evolve(spin, dt="0.1"), ValueError, ["time step dt", "real number"]),
    ("T complex", _evolve(spin, T=0.1j), ValueError, ["temperature", "0.1j"]),
    ("T NaN", _evolve(spin, T=np.nan), ValueError, ["temperature", "finite"]),
    ("workers 0", _evolve(spin, workers=0), ValueError, ["workers", ">= 1"]),
    ("workers float", _evolve(spin, workers=1.5), ValueError, ["workers", "1.5"]),
    ("method typo", _evolve(spin, method="magnus"), ValueError, ["propagator method", "did you mean 'magnus4'"]),
    ("check typo", _evolve(spin, check="raies"), ValueError, ["check mode", "did you mean 'raise'"]),
    ("error_estimate", _evolve(spin, error_estimate="yes"), ValueError, ["error_estimate", "'auto'"]),
    ("progress", _evolve(spin, progress="yes"), ValueError, ["progress", "'yes'"]),
    ("relaxation magnus4", _evolve(spin, [Relaxation(1.0)], method="magnus4"), ValueError, ["tau_r", "needs method 'exact'"]),
    ("two relaxations", _evolve(spin, [Relaxation(1.0)], relaxation=2.0), ValueError, ["at most one Relaxation"]),
    ("drive type", _evolve(spin, ["precess"]), TypeError, ["drives must be", "'precess'"]),
    # drive values: complex, NaN, text, out of range (at construction)
    ("precession omega NaN", lambda: Precession(np.nan, 0.2), ValueError, ["omega", "finite"]),
    ("precession theta complex", lambda: Precession(0.1, 0.2j), ValueError, ["theta", "complex"]),
    ("precession switch_on negative", lambda: Precession(0.1, 0.2, switch_on=-1), ValueError, ["switch_on", ">= 0"]),
    ("precession axis complex", lambda: Precession(0.1, 0.2, axis=(0, 0, 1j)), ValueError, ["axis", "complex"]),
    ("precession axis NaN", lambda: Precession(0.1, 0.2, axis=(0, np.nan, 1)), ValueError, ["axis", "finite"]),
    ("precession axis zero", lambda: Precession(0.1, 0.2, axis=(0, 0, 0)), ValueError, ["axis", "nonzero 3-vector"]),
    ("precession columns empty label", lambda: Precession(0.1, 0.2, columns=""), ValueError, ["columns", "empty label"]),
    ("precession columns floats", lambda: Precession(0.1, 0.2, columns=[1.5]), ValueError, ["columns", "[1.5]"]),
    ("precession columns bool", lambda: Precession(0.1, 0.2, columns=True), ValueError, ["columns", "True"]),
    ("precession label typo", _evolve(spin, lambda: [Precession(0.1, 0.2, columns="FN")]), ValueError, ["FM layer label", "'FN'", "did you mean 'FM'"]),
    ("field complex", lambda: ElectricField(0.1j), ValueError, ["electric field E", "complex"]),
    ("field huge", lambda: ElectricField(1e200), ValueError, ["electric field E", "1e+200"]),
    ("pulse one number", lambda: ElectricField(0.1, pulse=(1.0,)), ValueError, ["pulse must be (t0, sigma)"]),
    ("pulse width", lambda: ElectricField(0.1, pulse=(1.0, -1.0)), ValueError, ["pulse width sigma", "> 0"]),
    ("pulse NaN", lambda: ElectricField(0.1, pulse=(np.nan, 1.0)), ValueError, ["pulse centre t0", "finite"]),
    ("relaxation zero", lambda: Relaxation(0.0), ValueError, ["tau_r", "> 0"]),
    ("relaxation complex", lambda: Relaxation(1j), ValueError, ["tau_r", "complex"]),
    # quench: names fixed by the geometry, near misses, values (at construction)
    ("quench typo", lambda: Quench(gama=0.3), ValueError, ["'gama'", "did you mean 'gamma'"]),
    ("quench typo interface", lambda: Quench(interfce="metal"), ValueError, ["'interfce'", "did you mean 'interface'"]),
    ("quench N_x", lambda: Quench(N_x=7), ValueError, ["'N_x'", "cannot change in time", "geometry"]),
    ("quench basis", lambda: Quench(basis="spin"), ValueError, ["'basis'", "cannot change in time"]),
    ("quench spin_unit", lambda: Quench(spin_unit="S"), ValueError, ["'spin_unit'", "cannot change in time"]),
    ("quench empty name", lambda: Quench(**{"": 0.3}), ValueError, ["identifiers", "''"]),
    ("quench NaN", lambda: Quench(gamma=np.nan), ValueError, ["Quench gamma", "finite"]),
    ("quench complex", lambda: Quench(mu=0.1j), ValueError, ["Quench mu", "complex"]),
    ("quench text", lambda: Quench(gamma="0.3"), ValueError, ["Quench gamma", "'0.3'"]),
    ("quench huge", lambda: Quench(mu=1e200), ValueError, ["Quench mu", "outside the allowed range"]),
    ("quench magnetization", lambda: Quench(m_L="q"), ValueError, ["Quench m_L", "'q'"]),
    ("quench magnetization NaN", lambda: Quench(m_FM=(0, np.nan, 1)), ValueError, ["Quench m_FM", "finite"]),
    ("quench interface", lambda: Quench(interface="metl"), ValueError, ["interface rule", "did you mean 'metal'"]),
    ("quench m negative", lambda: Quench(m_FM="x", m=-1), ValueError, ["Quench m", ">= 0"]),
    ("quench time negative", lambda: Quench(mu=0.1, time=-1), ValueError, ["quench time", ">= 0"]),
    ("quench time complex", lambda: Quench(mu=0.1, time=1j), ValueError, ["quench time", "complex"]),
    # quench parameters that do not apply to the system, or that it does not have (in evolve, before any work)
    ("quench gamma spin", _evolve(spin, lambda: [Quench(gamma=0.3)]), ValueError, ["'gamma'", "does not apply", "orbital basis", "allowed: t, mu"]),
    ("quench tp spin", _evolve(spin, lambda: [Quench(tp=0.3)]), ValueError, ["'tp'", "orbital basis"]),
    ("quench w orbital", _evolve(orbital, lambda: [Quench(w=0.3)]), ValueError, ["'w'", "altermagnet"]),
    ("quench w spin nm", _evolve(spin, lambda: [Quench(w=0.3)]), ValueError, ["'w'", "altermagnet", "w = 0"]),
    ("quench m_L bilayer", _evolve(spin, lambda: [Quench(m_L="x")]), ValueError, ["'m_L'", "trilayer geometry"]),
    ("quench m_FM trilayer", _evolve(orbital, lambda: [Quench(m_FM="x")]), ValueError, ["'m_FM'", "bilayer geometry"]),
    ("quench unknown", _evolve(orbital, lambda: [Quench(gamme=0.3)]), ValueError, ["'gamme'", "did you mean 'gamma'", "allowed:"]),
    ("quench m alone", _evolve(orbital, lambda: [Quench(m=2.0)]), ValueError, ["Quench m = 2.0", "axis name or angles"]),
    ("quench time off grid", _evolve(spin, lambda: [Quench(mu=0.1, time=0.3)]), ValueError, ["quench time 0.3", "stored times"]),
    # work beyond the limits (ORBSYM_MAX_SECONDS = 3600, ORBSYM_MAX_MEMORY = 4G): refused with the estimate
    ("dt tiny", _evolve(spin, lambda: [Precession(0.1, 0.2)], dt=1e-12), ValueError, ["1e+12 propagation steps", "CPU time", "ORBSYM_MAX_SECONDS", "dt"]),
    ("dt tiny eigh path", _evolve(spin, lambda: [ElectricField(0.1)], dt=1e-9), ValueError, ["propagation steps", "eigen-decomposition", "CPU time"]),
    ("dt tiny many workers", _evolve(spin, lambda: [Precession(0.1, 0.2)], dt=1e-12, workers=10**9), ValueError, ["propagation steps", "CPU time"]),
    ("T huge", _evolve(spin, T=1e200), ValueError, ["temperature T", "outside the allowed range"]),
    ("many stored times", _evolve(spin, lambda: [Precession(0.1, 0.2)], times=np.linspace(0, 1, 3_000_001)), ValueError, ["3e+06 stored times", "memory", "ORBSYM_MAX_MEMORY"]),
]


@pytest.mark.parametrize("call, exc, words", [pytest.param(c, e, w, id=i) for i, c, e, w in API])
def test_api_refuses_before_any_work(no_work, call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert not isinstance(info.value, Tripwire), info.value
    msg = str(info.value)
    for w in words:
        assert w in msg, (w, msg)


def test_huge_system_refused_before_building(monkeypatch):
    """The estimate needs only the sizes: check_size refuses N_x = N_y = 1e5 without a lattice."""
    from orbsym.numeric.budget import ResourceError

    monkeypatch.setattr("orbsym.systems.heterostructure", _trip("heterostructure"))
    with pytest.raises(ResourceError, match="300000 x 300000 blocks.*N_x = 100000"):
        dyn.check_size(100_000, 100_000, 3, [Precession(0.1, 0.2)], 201, 200)


def test_estimate_scales_with_the_work():
    """The estimate follows the steps, the stored times, the path and the k grid it is meant to predict."""
    from orbsym.numeric.budget import evolve_estimate

    base = evolve_estimate(25, 200, 3, 101, 100, path="local")
    assert evolve_estimate(25, 200, 3, 101, 10_000, path="local").seconds > 5 * base.seconds
    assert evolve_estimate(25, 200, 3, 101, 100, path="eigh").seconds > 2 * base.seconds
    assert evolve_estimate(25, 200, 3, 101, 100, path="eigh", symmetric=False).seconds > 1.5 * evolve_estimate(25, 200, 3, 101, 100, path="eigh").seconds
    assert evolve_estimate(25, 200, 3, 10_001, 100, path="local").bytes > 2 * base.bytes
    assert "ORBSYM_MAX_SECONDS" not in base.describe()


def test_quench_of_a_layer_parameter_set_per_layer_is_refused():
    """A heterostructure whose metal layer sets its own gamma ignores a heterostructure-wide quench of
    gamma: refused, not silently a no-op (and a name no layer has is unknown, with the allowed list)."""
    s = heterostructure([layer("fm", 1, m="z"), layer("nm", 2, gamma=0.5), layer("fm", 1, m="x")], N_y=4)
    with pytest.raises(ValueError, match="Quench gamma = 0.3 changes no column"):
        evolve(s, [Quench(gamma=0.3)], T4)
    with pytest.raises(ValueError, match="'lam'.*allowed:.*gamma"):
        evolve(s, [Quench(lam=0.3)], T4)
    with pytest.raises(ValueError, match="Quench m = 2.0 changes no column"):
        evolve(heterostructure([layer("fm", 1, m=(0, 0, 1)), layer("nm", 2)], N_y=4), [Quench(m=2.0)], T4)
    ds = evolve(s, [Quench(mu=-0.4)], T4)  # mu is heterostructure-wide: it reaches every column
    assert ds.attrs["continuity_check"] == "passed"


@pytest.mark.parametrize("target, words", [("DIR", ["is a directory", "run.nc"]), ("", ["path is empty"]), ("DIR/sub/", ["is a directory"])])
def test_save_checks_the_path_first(tmp_path, target, words):
    ds = evolve(spin(), Precession(0.1, 0.2), T4)
    path = target.replace("DIR", str(tmp_path))
    for fn in (dyn.save, dyn.write_csv):
        with pytest.raises(ValueError) as info:
            fn(ds, path)
        for w in words:
            assert w.replace("run.nc", "run.csv" if fn is dyn.write_csv else "run.nc") in str(info.value)
        if target:
            assert str(tmp_path) in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
    with pytest.raises(TypeError, match="xarray.Dataset"):
        dyn.save({"not": "a dataset"}, tmp_path / "x.nc")
    with pytest.raises(ValueError, match="CSV variable 'densty'.*did you mean 'density'"):
        dyn.write_csv(ds, tmp_path / "x.csv", ["densty"])
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- CLI (in process)
BASE = ["evolve", "trilayer", "--N-x", "5", "--N-y", "4", "--N-FM", "1", "--t-max", "1", "--steps", "4", "--quiet"]
BI = ["evolve", "bilayer", "--N-x", "4", "--N-y", "4", "--N-FM", "1", "--t-max", "1", "--steps", "4", "--quiet"]
P = ["--precess", "0.1,0.2"]

CLI = [
    # options that do not apply to the geometry, basis, metal or drives
    ("gamma spin", [*BI, "--basis", "spin", "--gamma", "0.5", *P], ["--gamma", "orbital basis"]),
    ("tp spin", [*BI, "--basis", "spin", "--tp", "0.5", *P], ["--tp", "orbital basis"]),
    ("gamma am", [*BI, "--metal", "am", "--gamma", "0.5", *P], ["--gamma", "orbital basis"]),
    ("w orbital", [*BI, "--w", "0.3", *P], ["--w", "altermagnet", "--gamma and --tp"]),
    ("w spin nm", [*BI, "--basis", "spin", "--w", "0.3", *P], ["--w", "altermagnet", "w = 0"]),
    ("spin-unit orbital", [*BASE, "--spin-unit", "S", *P], ["--spin-unit", "spin basis"]),
    ("am orbital", [*BI, "--metal", "am", "--basis", "orbital", *P], ["--metal am", "spin basis"]),
    ("m-FM trilayer", [*BASE, "--m-FM", "x", *P], ["--m-FM", "bilayer geometry", "--m-L/--m-R"]),
    ("m-L bilayer", [*BI, "--m-L", "x", *P], ["--m-L", "trilayer geometry", "--m-FM"]),
    ("m-R bilayer", [*BI, "--m-R", "x", *P], ["--m-R", "trilayer geometry"]),
    ("switch-on without precess", [*BASE, "--switch-on", "2", "--quench", "gamma=0.3"], ["--switch-on", "--precess"]),
    ("pulse without field", [*BASE, "--pulse", "1,1", *P], ["--pulse needs --field"]),
    ("tau-r magnus4", [*BASE, "--tau-r", "1", "--method", "magnus4"], ["--tau-r", "needs method 'exact'", "--method exact"]),
    ("no drive", [*BASE], ["no drive given"]),
    # quench names: misspelled, fixed, not applicable; values and times
    ("quench typo", [*BASE, "--quench", "gama=0.3"], ["'gama'", "did you mean 'gamma'", "allowed:"]),
    ("quench typo case", [*BASE, "--quench", "Mu=0.3"], ["'Mu'", "did you mean 'mu'"]),
    ("quench N_x", [*BASE, "--quench", "N_x=7"], ["'N_x'", "cannot change in time"]),
    ("quench spin_unit", [*BASE, "--quench", "spin_unit=S"], ["'spin_unit'", "cannot change in time"]),
    ("quench gamma spin", [*BI, "--basis", "spin", "--quench", "gamma=0.3"], ["'gamma'", "does not apply", "orbital basis"]),
    ("quench m_L bilayer", [*BI, "--quench", "m_L=x"], ["'m_L'", "trilayer geometry"]),
    ("quench m_FM trilayer", [*BASE, "--quench", "m_FM=x"], ["'m_FM'", "bilayer geometry"]),
    ("quench w orbital", [*BASE, "--quench", "w=0.3"], ["'w'", "altermagnet"]),
    ("quench m alone", [*BASE, "--quench", "m=2"], ["m = 2.0", "axis name or angles"]),
    ("quench empty name", [*BASE, "--quench", "=0.3"], ["--quench '=0.3'", "name before '=' is empty"]),
    ("quench empty value", [*BASE, "--quench", "gamma="], ["--quench 'gamma='", "value after '=' is empty"]),
    ("quench empty time", [*BASE, "--quench", "gamma=0.3@"], ["--quench 'gamma=0.3@'", "time after '@' is empty"]),
    ("quench bad time", [*BASE, "--quench", "gamma=0.3@soon"], ["'@' must be a number", "'soon'"]),
    ("quench value text", [*BASE, "--quench", "gamma=big"], ["value of gamma must be a number", "'big'"]),
    ("quench value NaN", [*BASE, "--quench", "mu=nan"], ["Quench mu", "finite"]),
    ("quench twice", [*BASE, "--quench", "mu=0.1", "--quench", "mu=0.2"], ["mu is quenched twice at t = 0"]),
    ("quench magnetization", [*BASE, "--quench", "m_L=1,,0"], ["--quench m_L", "'1,,0'"]),
    # empty list entries and labels
    ("precess empty entry", [*BASE, "--precess", "0.1,,0.2"], ["--precess '0.1,,0.2'", "entry 2 is empty"]),
    ("precess trailing comma", [*BASE, "--precess", "0.1,0.2,"], ["--precess '0.1,0.2,'", "entry 3 is empty"]),
    ("precess leading comma", [*BASE, "--precess", ",0.1,0.2"], ["entry 1 is empty"]),
    ("precess label", [*BASE, "--precess", "0.1,0.2,FM"], ["unknown FM layer label 'FM'", "FM_L, FM_R", "trilayer"]),
    ("precess label bilayer", [*BI, "--precess", "0.1,0.2,FM_L"], ["unknown FM layer label 'FM_L'", "did you mean 'FM'", "bilayer"]),
    ("pulse empty entry", [*BASE, "--field", "0.1", "--pulse", "1,"], ["--pulse '1,'", "entry 2 is empty"]),
    ("m-L empty entry", [*BASE, "--m-L", "1,,0", *P], ["--m-L", "'1,,0'"]),
    # numbers that are not finite, out of range
    ("t-max NaN", [*BASE[:-5], "--t-max", "nan", "--quiet", *P], ["--t-max", "nan"]),
    ("t-max inf", [*BASE[:-5], "--t-max", "inf", "--quiet", *P], ["--t-max", "inf"]),
    ("dt zero", [*BASE, "--dt", "0", *P], ["--dt", "> 0"]),
    ("dt negative", [*BASE, "--dt", "-0.1", *P], ["--dt", "-0.1"]),
    ("dt NaN", [*BASE, "--dt", "nan", *P], ["--dt", "nan"]),
    ("dt not below the interval", [*BASE, "--dt", "0.25", *P], ["--dt 0.25", "not smaller than the stored interval", "0.25"]),
    ("T NaN", [*BASE, "--T", "nan", *P], ["--T", "nan"]),
    ("mu inf", [*BASE, "--mu", "inf", *P], ["--mu", "finite"]),
    ("gamma NaN", [*BASE, "--gamma", "nan", *P], ["--gamma", "finite"]),
    ("field NaN", [*BASE, "--field", "nan"], ["--field", "finite"]),
    ("field huge", [*BASE, "--field", "1e200"], ["--field", "outside the allowed range"]),
    ("switch-on negative", [*BASE, *P, "--switch-on", "-1"], ["switch_on", ">= 0"]),
    ("tau-r zero", [*BASE, "--tau-r", "0"], ["tau_r", "> 0"]),
    ("steps 3", [*BASE, "--steps", "3", *P], ["--steps", ">= 4"]),
    ("workers 0", [*BASE, "--workers", "0", *P], ["--workers", ">= 1"]),
    # work beyond the limits: refused with the estimate and the options to change
    ("dt tiny", [*BASE, "--dt", "1e-12", *P], ["propagation steps", "CPU time", "--dt"]),
    ("steps huge", [*BASE, "--steps", "1000000000", *P], ["1e+09 stored times", "memory", "--steps"]),
    ("dt tiny many workers", [*BASE, "--dt", "1e-12", "--workers", "1000000000", *P], ["propagation steps", "CPU time"]),
    ("T huge", [*BASE, "--T", "1e200", *P], ["--T", "outside the allowed range"]),
    ("N_x N_y huge", [*BASE, "--N-x", "100000", "--N-y", "100000", *P], ["N_x = 100000", "N_y = 100000", "memory"]),
    ("dt tiny relaxation", [*BASE, "--dt", "1e-9", "--tau-r", "2"], ["eigen-decomposition", "CPU time"]),
    # outputs checked before the run
    ("out directory", [*BASE, *P, "--out", "OUTDIR"], ["--out 'OUTDIR'", "is a directory"]),
    ("out trailing slash", [*BASE, *P, "--out", "OUTDIR/new/"], ["is a directory"]),
    ("out empty", [*BASE, *P, "--out", ""], ["--out is empty"]),
    ("out suffix", [*BASE, *P, "--out", "OUTDIR/run.txt"], [".nc", ".csv", "run.txt"]),
]


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in CLI])
def test_cli_refuses_in_one_line_before_any_work(no_work, tmp_path, capsys, argv, words):
    argv = [a.replace("OUTDIR", str(tmp_path)) for a in argv]
    rc = main(argv)
    captured = capsys.readouterr()
    err = captured.err
    assert rc == 2, err
    assert err.startswith("orbsym: error: ") and err.count("\n") == 1 and "Tripwire" not in err, err
    for w in words:
        w = w.replace("OUTDIR", str(tmp_path))
        assert w in err, (w, err)
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_cli_option_defaults_unchanged(tmp_path, capsys):
    """The None sentinels keep the documented defaults: a run without the checked options equals the
    API with the old defaults (m_L = m_R = z, gamma = 1, nm metal), and --help still shows them."""
    out = tmp_path / "run.nc"
    assert main([*BASE, *P, "--out", str(out)]) == 0, capsys.readouterr().err
    ds = dyn.load(out)
    ref = evolve(trilayer(N_x=5, N_y=4, N_FM=1, m_L="z", m_R="z", gamma=1.0), [Precession(0.1, 0.2)], np.linspace(0, 1, 5), T=0.05)
    np.testing.assert_allclose(ds["current_x"].values, ref["current_x"].values, atol=1e-14)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["evolve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default 1.0" in help_text and "default z" in help_text and "None" not in help_text


def test_cli_quenches_at_one_time_merge(tmp_path, capsys):
    """--quench m_FM=x@0.5 --quench m=2@0.5 is one quench: |m| = 2 along x from t = 0.5."""
    out = tmp_path / "q.nc"
    rc = main([*BI, "--basis", "spin", "--quench", "m_FM=x@0.5", "--quench", "m=2@0.5", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    m = dyn.load(out)["m"].sel(column=3).values
    np.testing.assert_allclose(m[-1], [2.0, 0.0, 0.0])
    np.testing.assert_allclose(m[0], [0.0, 0.0, 1.0])
