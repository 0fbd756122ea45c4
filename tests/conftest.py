import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("orbsym", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.load_profile("orbsym")
