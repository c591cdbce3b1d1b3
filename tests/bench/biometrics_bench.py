"""Benchmark of the photo checks: time per image at 600x750 and 2000x2500, and peak memory.
Prints a table; asserts nothing (target: under 300 ms per 2000x2500 photo).
Run: PYTHONPATH=.:libs:gen/python .venv/bin/python -m tests.bench.biometrics_bench"""
from __future__ import annotations

import statistics
import time
import tracemalloc

from services.biometrics_capture import config, imaging
from tests.unit import biometrics_samples as samples


def bench(label: str, data: bytes, thresholds: dict, runs: int = 15) -> None:
    imaging.photo_checks(data, thresholds)  # warm up: cascades loaded
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        imaging.photo_checks(data, thresholds)
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    imaging.photo_checks(data, thresholds)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<22} {len(data) / 1024:>8.0f} KiB  median {statistics.median(times):7.1f} ms  "
          f"p95 {sorted(times)[int(len(times) * 0.95) - 1]:7.1f} ms  peak(py) {peak / 2**20:6.1f} MiB")


def main() -> None:
    photo = config.load().photo
    print("biometrics photo checks (tracemalloc sees numpy buffers, not OpenCV's own allocations)")
    bench("photo 600x750 JPEG", samples.good_photo_jpeg(600, 750), photo)
    bench("photo 2000x2500 JPEG", samples.good_photo_jpeg(2000, 2500), photo)
    bench("photo 600x750 PNG", samples.good_photo_png(), photo)
    fp = config.load().fingerprint
    data = samples.good_print_png()
    started = time.perf_counter()
    for _ in range(20):
        imaging.fingerprint_checks(data, fp)
    print(f"{'fingerprint 400x500':<22} {len(data) / 1024:>8.0f} KiB  mean   "
          f"{(time.perf_counter() - started) / 20 * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
