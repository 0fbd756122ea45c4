"""Run an orbsym command with stderr on a pseudo-terminal (tests of the progress bars)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_under_pty(argv):
    """``(returncode, stdout, stderr)`` of ``python -m orbsym.cli *argv`` with stderr on a 120-column
    pseudo-terminal (tqdm sizes its bar to it)."""
    import fcntl
    import select
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    p = subprocess.Popen([sys.executable, "-m", "orbsym.cli", *argv], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = p.communicate(timeout=60)
    os.close(master)
    return p.returncode, out.decode(), b"".join(chunks).decode(errors="replace")
