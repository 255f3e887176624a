"""What does AugmentedDataset cost on top of calling the augmentation library directly?

Pipeline: RandomResizedCrop(224) + HorizontalFlip + ColorJitter(0.4, 0.4, 0.4, 0.1) + Normalize
on 256x256 RGB uint8 images, one thread. For albumentations and for torchvision v2, the
baseline calls the pipeline directly on each image; the candidate reads the same images through
``AugmentedDataset``. Blocks alternate (baseline first, then candidate first) and the printed
figure is the median over repeats of ``baseline time / wrapper time`` (1.0 = free; target >= 0.97).

Then the text ops' sentences/s against TextAttack's CharSwapAugmenter
(benchmarks/text_ops_speed.py).

Run: ``make bench`` (or ``.venv/bin/python benchmarks/augment_overhead.py``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dataperf import AugmentedDataset, item_rng, item_seed  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def pipelines():
    import albumentations as A
    from torchvision.transforms import v2

    alb = A.Compose(
        [
            A.RandomResizedCrop((224, 224)),
            A.HorizontalFlip(),
            A.ColorJitter(0.4, 0.4, 0.4, 0.1),
            A.Normalize(mean=MEAN, std=STD),
        ]
    )
    tv = v2.Compose(
        [
            v2.RandomResizedCrop(224, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(0.4, 0.4, 0.4, 0.1),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(MEAN, STD),
        ]
    )
    return alb, tv


def median_ratio(direct, wrapped, repeats: int) -> tuple[float, float, float]:
    """Interleaved blocks; returns (median ratio, median direct s, median wrapped s).

    ``direct(r)`` and ``wrapped(r)`` run block ``r``; the wrapper uses epoch ``r`` so every
    block draws fresh augmentation parameters, as the direct calls do (the parameters change
    the cost: a small crop resizes faster than a large one).
    """
    direct(repeats), wrapped(repeats)  # warm-up
    t_direct, t_wrapped, ratios = [], [], []
    for r in range(repeats):
        order = (direct, wrapped) if r % 2 == 0 else (wrapped, direct)
        times = {}
        for fn in order:
            start = time.perf_counter()
            fn(r)
            times[fn] = time.perf_counter() - start
        t_direct.append(times[direct])
        t_wrapped.append(times[wrapped])
        ratios.append(times[direct] / times[wrapped])
    return statistics.median(ratios), statistics.median(t_direct), statistics.median(t_wrapped)


def _through(dataset: AugmentedDataset, n: int):
    def run(epoch: int) -> None:
        dataset.set_epoch(epoch)
        for i in range(n):
            dataset[i]

    return run


def image_overhead(n_images: int, repeats: int) -> dict[str, tuple[float, float, float]]:
    """Per backend: unseeded direct calls vs AugmentedDataset, and hand-seeded direct calls
    (the same per-item seeding the wrapper does, written out) vs AugmentedDataset: the second
    pair draws identical parameters, so it isolates the wrapper's own plumbing."""
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(n_images)]
    tensors = [torch.from_numpy(a).permute(2, 0, 1).contiguous() for a in arrays]
    alb, tv = pipelines()
    alb_ds, tv_ds = AugmentedDataset(arrays, alb), AugmentedDataset(tensors, tv)
    n = range(n_images)

    # Every variant drops each output at once (as a training loop does after collation):
    # keeping large outputs alive turns the comparison into one of page faults.
    def alb_direct(epoch: int) -> None:
        for i in n:
            alb(image=arrays[i])["image"]

    def tv_direct(epoch: int) -> None:
        for i in n:
            tv(tensors[i])

    def alb_seeded(epoch: int) -> None:
        for i in n:
            alb.set_random_state(item_rng(0, epoch, i), random.Random(item_seed(0, epoch, i)))
            alb(image=arrays[i])["image"]

    def tv_seeded(epoch: int) -> None:
        gen = torch.default_generator
        for i in n:
            state = gen.get_state()
            gen.manual_seed(item_seed(0, epoch, i))
            tv(tensors[i])
            gen.set_state(state)

    return {
        "albumentations": median_ratio(alb_direct, _through(alb_ds, n_images), repeats),
        "torchvision v2": median_ratio(tv_direct, _through(tv_ds, n_images), repeats),
        "albumentations, hand-seeded": median_ratio(
            alb_seeded, _through(alb_ds, n_images), repeats
        ),
        "torchvision v2, hand-seeded": median_ratio(tv_seeded, _through(tv_ds, n_images), repeats),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="images per block (default 8)")
    parser.add_argument(
        "--repeats", type=int, default=201, help="interleaved repeats (default 201)"
    )
    parser.add_argument("--no-text", action="store_true", help="skip the text benchmark")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    import cv2

    cv2.setNumThreads(1)
    print(f"one thread; {args.images} images of 256x256x3 uint8 per block, {args.repeats} repeats")
    print(f"{'baseline':<28} {'direct img/s':>13} {'wrapped img/s':>14} {'median ratio':>13}")
    for name, (ratio, t_d, t_w) in image_overhead(args.images, args.repeats).items():
        flag = "ok" if ratio >= 0.97 else "BELOW TARGET 0.97"
        print(
            f"{name:<28} {args.images / t_d:>13.0f} {args.images / t_w:>14.0f} "
            f"{ratio:>13.3f}  {flag}"
        )
    if not args.no_text:
        sys.path.insert(0, str(Path(__file__).parent))
        import text_ops_speed

        text_ops_speed.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
