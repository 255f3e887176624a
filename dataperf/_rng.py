"""Randomness keyed by item: ``(seed, epoch, index)`` -> the same draws in any process.

Every augmentation draw in dataperf derives from one 64-bit hash of ``(seed, epoch, index)``
(SplitMix64's mixing function applied along the three values). Two views of it are public:

- :func:`item_seed` -- the hash as a 63-bit integer; it seeds torch's CPU generator, Python's
  ``random`` and NumPy's legacy global generator for libraries that draw from those;
- :func:`item_rng` -- a :class:`numpy.random.Generator` (PCG64) whose 128-bit state is expanded
  from the hash (dataperf text ops, albumentations, callables that take an ``rng`` argument).

The hash costs about a microsecond, where NumPy's ``SeedSequence`` costs tens: this runs once
per augmented item, on the data-loading hot path.
"""

from __future__ import annotations

import numbers
import random
import threading

import numpy as np

from dataperf._errors import InputTypeError, InputValueError

__all__ = ["item_rng", "item_seed", "check_seed", "check_epoch"]

_MASK64 = (1 << 64) - 1
_SEED_MASK = (1 << 63) - 1  # item seeds are 63-bit: every RNG API accepts them
_GOLDEN = 0x9E3779B97F4A7C15
_PCG_INC = (0xDA3E39CB94B95BDB << 64 | 0x5851F42D4C957F2D) | 1


def check_seed(seed: object, name: str = "seed") -> int:
    """Return ``seed`` as an int, or raise a clear error if it is not an integer in [0, 2**64)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InputTypeError(
            f"{name} must be a non-negative int; got {type(seed).__name__} {seed!r}. "
            f"Pass an integer such as {name}=0."
        )
    seed = int(seed)
    if not 0 <= seed <= _MASK64:
        raise InputValueError(
            f"{name} must be in [0, 2**64); got {seed}. Pass a non-negative integer."
        )
    return seed


def check_epoch(epoch: object) -> int:
    """Return ``epoch`` as an int in [0, 2**63) (it is stored in an int64), or raise."""
    epoch = check_seed(epoch, "epoch")
    if epoch >= 2**63:
        raise InputValueError(f"epoch must be < 2**63; got {epoch}.")
    return epoch


def _mix(z: int) -> int:
    """SplitMix64's finaliser: a bijection on 64-bit integers with good avalanche."""
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & _MASK64
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _MASK64
    return z ^ (z >> 31)


def _prefix(seed: int, epoch: int) -> int:
    return _mix((_mix((seed + _GOLDEN) & _MASK64) + epoch + _GOLDEN) & _MASK64)


def _extend(prefix: int, index: int) -> int:
    return _mix((prefix + index + _GOLDEN) & _MASK64)


def _hash(seed: int, epoch: int, index: int) -> int:
    return _extend(_prefix(seed, epoch), index)


def _pcg_word(h: int) -> int:
    """The 128-bit PCG64 state expanded from the 64-bit hash ``h``."""
    return (h << 64) | _mix(h ^ _GOLDEN)


def _pcg_state(h: int) -> dict:
    return {
        "bit_generator": "PCG64",
        "state": {"state": _pcg_word(h), "inc": _PCG_INC},
        "has_uint32": 0,
        "uinteger": 0,
    }


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The 63-bit integer seed of one item (the key's hash with its top bit cleared)."""
    return _hash(seed, epoch, index) & _SEED_MASK


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """A new NumPy generator for one item (PCG64, state expanded from the key's hash)."""
    bit_generator = np.random.PCG64(0)
    bit_generator.state = _pcg_state(_hash(seed, epoch, index))
    return np.random.Generator(bit_generator)


# random.Random.seed without the pure-Python wrapper (same result for a non-negative int)
_seed_mersenne = random.Random.__mro__[1].seed


class _Cache(threading.local):
    """Per-thread generators that :func:`shared_key` re-seeds in place."""

    def __init__(self) -> None:
        self.bit_generator = np.random.PCG64(0)
        self.generator = np.random.Generator(self.bit_generator)
        self.py_random = random.Random()
        self.state = _pcg_state(0)
        self.prefix_key: tuple[int, int] | None = None
        self.prefix = 0


_cache = _Cache()


def shared_key(seed: int, epoch: int, index: int) -> tuple[np.random.Generator, random.Random, int]:
    """``(item_rng, random.Random(item_seed), item_seed)`` for one item, without allocating.

    The generators are per-thread objects re-seeded in place on every call (microseconds
    instead of tens: this runs once per augmented item): they are valid until the next call in
    the same thread, so use them only inside one item's augmentation.
    """
    cache = _cache
    if cache.prefix_key != (seed, epoch):
        cache.prefix_key, cache.prefix = (seed, epoch), _prefix(seed, epoch)
    h = _extend(cache.prefix, index)
    cache.state["state"]["state"] = _pcg_word(h)
    cache.bit_generator.state = cache.state
    int_seed = h & _SEED_MASK
    _seed_mersenne(cache.py_random, int_seed)
    return cache.generator, cache.py_random, int_seed
