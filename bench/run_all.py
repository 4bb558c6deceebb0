"""Run every ``bench/bench_*.py`` in name order with this Python (``make bench``).

Each benchmark's output passes straight through; the exit status is non-zero
when any benchmark failed (the others still run).
"""

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def main() -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if not scripts:
        print("no bench/bench_*.py found")
        return 1
    failed = []
    for script in scripts:
        print(f"== {script.relative_to(ROOT)}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=ROOT, check=False)  # noqa: S603
        print(f"== {script.name}: exit {result.returncode} in {time.perf_counter() - start:.1f} s\n", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
