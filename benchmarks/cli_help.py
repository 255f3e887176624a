"""How long does ``dataperf --help`` take, next to a bare interpreter and to importing torch?

Baselines: ``python -c pass`` (interpreter start-up) and ``python -c "import torch"`` (what
``--help`` cost before the parser stopped importing torch: the old ``dataperf --help`` imported
torch through ``dataperf.bench``). Candidates: ``python -m dataperf --help`` and
``python -m dataperf propose --help``. Each command runs in a fresh process; runs alternate and
the printed figures are medians of wall-clock seconds and the ratio to ``python -c pass``.

Run: ``.venv/bin/python benchmarks/cli_help.py``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import torch'": ["-c", "import torch"],
    "dataperf --help": ["-m", "dataperf", "--help"],
    "dataperf propose --help": ["-m", "dataperf", "propose", "--help"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each (default 7)")
    args = parser.parse_args(argv)
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, *command], env=env, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c pass"])
    print("| command | median s | x python -c pass |\n|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.2f} | {median / base:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
