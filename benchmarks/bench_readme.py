"""Time every command whose duration the README or the guide quotes; print the table docs/site/guide/times.md copies.

    python benchmarks/bench_readme.py                 # every case but the test suite
    python benchmarks/bench_readme.py --with-tests    # also `python -m pytest -q` (about 8 CPU-minutes)
    python benchmarks/bench_readme.py --only reproduce-quick,orbital-hall

Each case runs as a fresh process from the repository root, in a temporary output directory, exactly
as the README writes it (``python -m orbsym.cli`` stands for the ``orbsym`` entry point so that an
uninstalled checkout works).  Reported per case: wall seconds, CPU seconds of the process and its
children (user + system, from ``resource.getrusage(RUSAGE_CHILDREN)``), and the 1-minute load average
before it started (the machine's other load: compare it with the core count before trusting a wall
time).  BLAS threads are left at their defaults, as a user would run (the commands limit themselves).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "orbsym.cli"]

#: name -> (argv builder taking the output directory, what the README says about it)
CASES = {
    "reproduce": (lambda d: CLI + ["reproduce", "--out", str(d / "figures")], "quick start: orbsym reproduce --out figures"),
    "reproduce-quick": (lambda d: CLI + ["reproduce", "--quick", "--out", str(d / "figures")], "quick start: --quick"),
    "orbital-hall": (
        lambda d: [sys.executable, "-c",
                   "from orbsym.response import orbital_hall\nfrom orbsym.symbolic.symmetry import symmetric_hoppings\n"
                   "model = symmetric_hoppings('t2g', 'D4h', neighbours='nn+nnn', time_reversal=True).to_model()\n"
                   "P = dict(t_1=-0.5, t_2=-1.0, t_3=-1.0, s_1=0.1, s_2=0.1, s_3=0.2)\n"
                   "orbital_hall(model, mu=-0.2, N_k=400, **P)"],
        "first orbital_hall call in a fresh process (SymPy derivation included)",
    ),
    "figure-3": (lambda d: CLI + ["figure", "3", "--out", str(d / "f3")], "orbsym figure 3 (symmetry-reduced F map)"),
    "sweep-703": (
        lambda d: CLI + ["sweep", "bilayer", "--param", "theta=0:3.14159:19", "--param", "phi=0:6.28319:37", "--set", "gamma=0.3",
                         "--observable", "free_energy", "--out", str(d / "F.nc"), "--workers", "2"],
        "README sweep example (703 full solves, 2 workers)",
    ),
    "transport-open": (lambda d: CLI + ["transport", "--fm", "y", "--bias", "0.05", "--width", "open"], "orbsym transport --fm y --bias 0.05 --width open"),
    "evolve-precess": (
        lambda d: CLI + ["evolve", "bilayer", "--basis", "spin", "--N-x", "8", "--N-y", "12", "--precess", "0.2,0.3", "--switch-on", "3",
                         "--tau-r", "1", "--t-max", "60", "--steps", "300", "--out", str(d / "pump.nc")],
        "README evolve example (orbital pumping, spin basis)",
    ),
    "tests": (lambda d: [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], "the test suite (python -m pytest -q)"),
}


def run(name, argv_of):
    with tempfile.TemporaryDirectory() as tmp:
        argv = argv_of(pathlib.Path(tmp))
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT)))
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ok = proc.returncode == 0
    if not ok:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        print(f"  {name}: exit {proc.returncode}: {' | '.join(tail)}", file=sys.stderr)
    return {"name": name, "wall": wall, "cpu": cpu, "load": load, "ok": ok}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated case names: " + ", ".join(CASES))
    ap.add_argument("--with-tests", action="store_true", help="also time the test suite")
    args = ap.parse_args(argv)
    names = [n for n in CASES if n != "tests"] + (["tests"] if args.with_tests else [])
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        bad = [n for n in names if n not in CASES]
        if bad:
            ap.error(f"unknown case(s) {bad}; allowed: {', '.join(CASES)}")
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    print("| case | what | wall (s) | CPU (s) | load before |")
    print("|---|---|---|---|---|")
    for n in names:
        r = run(n, CASES[n][0])
        flag = "" if r["ok"] else " (FAILED)"
        print(f"| {n}{flag} | {CASES[n][1]} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
