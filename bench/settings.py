"""Settings of the benchmark's server and driver: the standalone site as `make serve` runs it, plus
the two things a benchmark needs. Used as DJANGO_SETTINGS_MODULE=bench.settings; bench/run.py sets
the environment (DEBUG=0, fresh keys, a fresh SQLite file unless DATABASE_URL is set, a raised
per-user throttle rate) before Django reads it.
"""

import os

from config.settings import *
from config.settings import OPENAI_VECTOR_STORES

GIB = 1024**3

# Figure 4 uploads one 1 GiB file, over the default per-file limit of 512 MiB (OpenAI's own).
OPENAI_VECTOR_STORES = {
    **OPENAI_VECTOR_STORES,
    "MAX_FILE_SIZE": 2 * GIB,
    "MAX_UPLOAD_SIZE": 2 * GIB,
}

# Where uploads stream to (None: the system's temporary directory, i.e. $TMPDIR), so the
# benchmark can check that the directory is empty once a request is over.
FILE_UPLOAD_TEMP_DIR = os.environ.get("BENCH_UPLOAD_DIR") or None

# `python -m bench --cpu-breakdown`: where the CPU of each API call goes (see bench/cpuprobe.py).
if os.environ.get("BENCH_CPU_PROBE_DIR"):
    MIDDLEWARE = ["bench.cpuprobe.CpuBreakdown", *MIDDLEWARE]

# Figure 1's floor: the API's GET without its database work (see bench/floor.py), beside the site.
ROOT_URLCONF = "bench.floor"
