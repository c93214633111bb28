"""Times the reference SALN selection (NumPy/SciPy) for bench/select.ts, on the same .npy batches.

Usage: python3 select_reference.py REFERENCE_DIR FILTER_RATIO REPS WARMUP FILE.npy [FILE.npy ...]
REFERENCE_DIR holds reference.py (../shared/fixtures/saln). Prints one JSON line:
{"numpy": "...", "scipy": "...", "results": {FILE: {"median_ms", "times_ms", "selected"}}}.
"""
import json
import sys
import time

ref_dir, ratio, reps, warmup, files = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
sys.path.insert(0, ref_dir)

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from reference import saln_select  # noqa: E402

results = {}
for f in files:
    x = np.load(f)
    for _ in range(warmup):
        saln_select(x, ratio)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sel, _, _, _ = saln_select(x, ratio)
        times.append((time.perf_counter() - t0) * 1000)
    results[f] = {"median_ms": float(np.median(times)), "times_ms": times, "selected": sorted(int(i) for i in sel)}
print(json.dumps({"numpy": np.__version__, "scipy": scipy.__version__, "results": results}))
