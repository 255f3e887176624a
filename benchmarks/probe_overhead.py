"""What does probe() cost on top of a bare inference loop over the same DataLoader?

Baseline: ``with torch.inference_mode(): for x, y in loader: model(x)`` (outputs dropped).
Candidate: ``dataperf.probe(model, loader, progress=False)``, which also applies softmax,
captures the embeddings at the last linear layer, copies everything to host memory and builds
``Signals``. A small CNN on 28x28 single-channel images (Fashion-MNIST-sized), CPU, one thread;
blocks alternate and the printed figure is the median of baseline time / probe time
(target >= 0.95).

Run: ``.venv/bin/python benchmarks/probe_overhead.py``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dataperf import probe


def small_cnn(k: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, k),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1024, help="items per pass (default 1024)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=31, help="interleaved repeats (default 31)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = small_cnn().eval()
    data = TensorDataset(torch.rand(args.items, 1, 28, 28), torch.randint(0, 10, (args.items,)))
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=False)

    def bare() -> None:
        with torch.inference_mode():
            for x, _ in loader:
                model(x)

    def probed() -> None:
        probe(model, loader, progress=False, device="cpu")

    bare(), probed()  # warm-up
    ratios, t_bare, t_probe = [], [], []
    for r in range(args.repeats):
        times = {}
        for fn in (bare, probed) if r % 2 == 0 else (probed, bare):
            start = time.perf_counter()
            fn()
            times[fn] = time.perf_counter() - start
        t_bare.append(times[bare])
        t_probe.append(times[probed])
        ratios.append(times[bare] / times[probed])
    ratio = statistics.median(ratios)
    print(f"CPU, one thread, {args.items} items of 1x28x28, batch {args.batch_size}")
    print(f"bare model(x) loop: {args.items / statistics.median(t_bare):,.0f} items/s")
    print(f"probe():            {args.items / statistics.median(t_probe):,.0f} items/s")
    print(f"median ratio bare/probe: {ratio:.3f}  {'ok' if ratio >= 0.95 else 'BELOW TARGET 0.95'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
