"""Regenerate docs/report.png: the proposal report of a real planted scenario, in Chromium.

Trains the small digits model of ``dataperf.bench.planted_scenario("digits", seed=0)`` (about
half a minute on two CPU cores), proposes 30 test examples from its pool of 900 candidates,
writes the HTML report with the pool's images and takes a 1280x1600 screenshot of it with
headless Chromium (Debian: ``apt-get install chromium``). Offline.

    python scripts/report_screenshot.py [--out docs/report.png] [--html report.html]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 400_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--html", type=Path, help="also keep the HTML report here")
    parser.add_argument("--k", type=int, default=30, help="proposals (default 30)")
    args = parser.parse_args()

    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    if browser is None:
        sys.exit("report_screenshot: no chromium on PATH. Fix: apt-get install chromium")

    from PIL import Image

    from dataperf.bench import planted_scenario
    from dataperf.propose.sampler import HardnessSampler

    sc = planted_scenario("digits", seed=0)
    proposal = HardnessSampler(args.k).propose(
        sc.pool_signals, test=sc.test_signals, train=sc.train_signals
    )
    proposal = replace(proposal, class_names=[str(d) for d in range(10)])
    with tempfile.TemporaryDirectory() as tmp:
        html = args.html or Path(tmp) / "report.html"
        proposal.to_html(html, images=sc.pool.images)
        shot = Path(tmp) / "shot.png"
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,1600",
            html.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not shot.exists():
            sys.exit(f"report_screenshot: chromium failed:\n{done.stderr[-2000:]}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(shot) as img:  # a 256-colour palette keeps the PNG small and sharp
            img.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(args.out, optimize=True)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size / 1000:.0f} kB): {len(proposal)} proposals from a pool of "
        f"{len(proposal.scores['total'])}; buckets {proposal.bucket_counts()}"
    )
    if size > MAX_BYTES:
        print(f"warning: {args.out} is over {MAX_BYTES // 1000} kB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
