"""Benchmark of the photo checks: time per image at 600x750 and 2000x2500 (JPEG and PNG), and the
peak memory of one check. Prints a table; asserts nothing (target: under 300 ms per 2000x2500 photo).
Run: PYTHONPATH=.:libs:gen/python .venv/bin/python -m tests.bench.biometrics_bench

Memory: tracemalloc cannot see OpenCV's own buffers, so each image is also checked once in a fresh
child process (Linux /proc): the peak RSS it reaches during the check above its RSS just before is
what one check of that image costs (decoded pixels, resized copies, detector pyramids)."""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

from services.biometrics_capture import config
from services.biometrics_capture.domain import imaging
from tests.unit import biometrics_samples as samples


def peak_rss_mib(data: bytes) -> float:
    """Peak RSS added by one photo check of `data`, measured in a fresh process."""
    with tempfile.NamedTemporaryFile(suffix=".img") as f:
        f.write(data)
        f.flush()
        done = subprocess.run([sys.executable, "-m", "tests.bench.biometrics_bench", "--peak-of", f.name],
                              capture_output=True, text=True, timeout=120, check=True)
    return float(done.stdout.strip())


def _peak_of(path: str) -> None:
    with open(path, "rb") as f:
        data = f.read()
    thresholds = config.load().photo
    imaging._cascade("haarcascade_frontalface_default.xml")  # loaded at start-up in the service too
    imaging._cascade("haarcascade_eye.xml")
    # Start-up has a higher high-water mark than one check: reset it (Linux: clear_refs 5).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    imaging.photo_checks(data, thresholds)
    print(f"{(_status_kib('VmHWM') - before) / 1024:.1f}")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def bench(label: str, data: bytes, thresholds: dict, runs: int = 15) -> None:
    imaging.photo_checks(data, thresholds)  # warm up: cascades loaded
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        imaging.photo_checks(data, thresholds)
        times.append((time.perf_counter() - started) * 1000)
    print(f"{label:<22} {len(data) / 1024:>8.0f} KiB  median {statistics.median(times):7.1f} ms  "
          f"p95 {sorted(times)[int(len(times) * 0.95) - 1]:7.1f} ms  peak RSS +{peak_rss_mib(data):6.1f} MiB")


def main() -> None:
    photo = config.load().photo
    print("biometrics photo checks (peak RSS: added by one check, in a fresh process)")
    bench("photo 600x750 JPEG", samples.good_photo_jpeg(600, 750), photo)
    bench("photo 2000x2500 JPEG", samples.good_photo_jpeg(2000, 2500), photo)
    bench("photo 600x750 PNG", samples.good_photo_png(), photo)
    bench("photo 2000x2500 PNG", samples.encode(samples.passport_photo(2000, 2500), ".png"), photo)
    fp = config.load().fingerprint
    data = samples.good_print_png()
    started = time.perf_counter()
    for _ in range(20):
        imaging.fingerprint_checks(data, fp)
    print(f"{'fingerprint 400x500':<22} {len(data) / 1024:>8.0f} KiB  mean   "
          f"{(time.perf_counter() - started) / 20 * 1000:7.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peak-of":
        _peak_of(sys.argv[2])
    else:
        main()
