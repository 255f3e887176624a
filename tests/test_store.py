"""Signals folders: format v2 (memory-mapped, compact ids), v1 still loads, atomic replacement
(killed at every step), output checks, typed fingerprints and dataset indices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
from _paths import ROOT
from _probe_helpers import FIELDS, assert_identical

from dataperf import signals as signals_module
from dataperf._store import PathIds, check_output_dir, load_npz
from dataperf.signals import Signals


def make(n: int = 6, k: int = 3, seed: int = 0, **kwargs) -> Signals:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k))
    return Signals(
        probs=np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
        embeddings=rng.normal(size=(n, 4)).astype(np.float32),
        labels=rng.integers(0, k, n),
        mc_probs=rng.dirichlet(np.ones(k), size=(n, 2)),
        fingerprints=rng.random((n, 5)),
        **kwargs,
    )


PATHS = np.array(["/data/cat/a.png", "/data/dog/b.png", "c", "/data/cat/ü.png", "x/", "/d/e"])


# --------------------------------------------------------------------------- format v2
def test_v2_round_trip_is_memory_mapped_and_compact(tmp_path):
    s = make(
        ids=PATHS, index=np.arange(10, 16), meta={"model": "m", "columns": {"w": np.arange(6)}}
    )
    folder = s.save(tmp_path / "s")
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [f"{n}.npy" for n in FIELDS if n != "ids"]
        + ["ids_folder.npy", "ids_folders.npy", "ids_name.npy", "column_0.npy", "meta.json"]
    )
    assert np.load(folder / "ids_folders.npy").tolist() == [
        "/data/cat/",
        "/data/dog/",
        "",
        "x/",
        "/d/",
    ]
    loaded = Signals.load(folder)
    assert_identical(loaded, s)
    for name in ("probs", "embeddings", "mc_probs", "fingerprints", "labels", "index"):
        assert isinstance(getattr(loaded, name), np.memmap), name
    assert loaded.embeddings.dtype == np.float32  # kept, not converted to float64
    sub = loaded[np.array([3, 0])]
    assert sub.ids.tolist() == [PATHS[3], PATHS[0]] and not isinstance(sub.probs, np.memmap)
    assert sub.index.tolist() == [13, 10]
    in_ram = Signals.load(folder, mmap=False)
    assert not isinstance(in_ram.embeddings, np.memmap)
    assert_identical(in_ram, s)
    assert_identical(Signals.load(loaded.save(tmp_path / "again")), s)  # PathIds saved as they are


def test_path_ids_encode_decode_take_and_concat():
    ids = PathIds.encode(PATHS)
    assert ids.decode().tolist() == PATHS.tolist() and ids.name.dtype.kind == "S"
    assert ids.take(np.array([5, 1])).decode().tolist() == ["/d/e", "/data/dog/b.png"]
    joined = PathIds.concat([ids.take(np.arange(3)), PathIds.encode(["/d/f", "/data/cat/z"])])
    assert joined.decode().tolist() == [*PATHS[:3], "/d/f", "/data/cat/z"]


def test_concat_and_indexing_keep_index_and_fingerprints(tmp_path):
    s = make(ids=PATHS, index=np.arange(6)[::-1])
    loaded = Signals.load(s.save(tmp_path / "s"))
    both = Signals.concat([loaded[np.arange(2)], s[np.arange(2, 6)]])
    assert_identical(both, s)
    assert both.index.tolist() == [5, 4, 3, 2, 1, 0] and both.fingerprints.shape == (6, 5)
    with pytest.raises(ValueError, match="integer ids with string ids"):
        Signals.concat([loaded, make()])


def test_defaults_index_ids_and_bad_index():
    s = Signals(probs=np.full((3, 2), 0.5))
    assert s.index.tolist() == [0, 1, 2] and s.ids.tolist() == [0, 1, 2]
    assert Signals(probs=np.full((2, 2), 0.5), index=[7, 3]).ids.tolist() == [7, 3]
    with pytest.raises(TypeError, match="index must be an"):
        Signals(probs=np.full((2, 2), 0.5), index=[0.5, 1.0])
    with pytest.raises(ValueError, match="index must have shape"):
        Signals(probs=np.full((2, 2), 0.5), index=[1, 2, 3])
    with pytest.raises(ValueError, match=">= 0"):
        Signals(probs=np.full((2, 2), 0.5), index=[-1, 2])
    with pytest.raises(ValueError, match="fingerprints must have one row"):
        Signals(probs=np.full((2, 2), 0.5), fingerprints=np.zeros((3, 4)))


def test_fingerprint_column_moves_to_the_typed_field():
    prints = np.random.default_rng(0).random((4, 3))
    s = Signals(probs=np.full((4, 2), 0.5), meta={"columns": {"fingerprint": prints}})
    assert np.array_equal(s.fingerprints, prints) and "columns" not in s.meta
    kept = Signals(
        probs=np.full((4, 2), 0.5), meta={"columns": {"fingerprint": prints, "g": np.arange(4)}}
    )
    assert list(kept.meta["columns"]) == ["g"] and kept.fingerprints is not None


# --------------------------------------------------------------------------- format v1
def test_v1_folder_written_by_the_old_code_still_loads(tmp_path):
    s = make(ids=np.array(["a/x.png", "a/y.png", "b", "c", "d", "e"]))
    folder = tmp_path / "v1"
    folder.mkdir()
    prints = np.random.default_rng(1).random((6, 35))
    np.savez(
        folder / "signals.npz",
        probs=s.probs,
        embeddings=s.embeddings,
        labels=s.labels,
        mc_probs=s.mc_probs,
        ids=s.ids,
        **{"column:fingerprint": prints, "column:group": np.array(list("aabbcc"))},
    )
    header = {"format": "dataperf-signals", "version": 1, "meta": {"model": "Net"}}
    header["columns"] = ["fingerprint", "group"]
    (folder / "meta.json").write_text(json.dumps(header, indent=2))
    loaded = Signals.load(folder)
    assert np.array_equal(loaded.probs, s.probs) and np.array_equal(loaded.ids, s.ids)
    assert np.array_equal(loaded.fingerprints, prints)  # the old column, now typed
    assert loaded.meta["columns"]["group"].tolist() == list("aabbcc")
    assert loaded.index.tolist() == list(range(6)) and loaded.meta["model"] == "Net"
    resaved = Signals.load(loaded.save(folder))  # v1 folder replaced by v2
    assert json.loads((folder / "meta.json").read_text())["version"] == 2
    assert np.array_equal(resaved.fingerprints, prints)


def test_npz_members_that_would_inflate_are_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("probs.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros((4000, 1000)))
    with pytest.raises(ValueError, match="would inflate"):
        load_npz(path)


# --------------------------------------------------------------------------- validation
def test_memory_mapped_arrays_are_checked_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(signals_module, "_CHUNK_BYTES", 64)  # 2 rows of embeddings a chunk
    s = make(n=9)
    folder = s.save(tmp_path / "s")
    assert isinstance(Signals.load(folder).embeddings, np.memmap)
    embeddings = np.load(folder / "embeddings.npy")
    embeddings[8, 1] = np.nan  # in the last chunk
    np.save(folder / "embeddings.npy", embeddings)
    with pytest.raises(ValueError, match=r"embeddings must be finite; got nan at index \(0, 1\)"):
        Signals.load(folder)
    float16 = Signals(probs=s.probs, embeddings=s.embeddings.astype(np.float16))
    assert Signals.load(float16.save(tmp_path / "h")).embeddings.dtype == np.float16


def test_loading_a_large_memory_mapped_folder_keeps_memory_bounded(tmp_path):
    """320 MB of embeddings: loading (and validating) them grows the peak RSS by < 100 MB."""
    script = textwrap.dedent(
        f"""
        import resource, numpy as np
        from dataperf.signals import Signals
        n, d = 160_000, 512
        folder = {str(tmp_path / "big")!r}
        Signals(probs=np.full((4, 2), 0.5), embeddings=np.ones((4, d), np.float32)).save(folder)
        with open(folder + "/embeddings.npy", "wb") as f:  # rewrite it large, chunk by chunk
            np.lib.format.write_array_header_1_0(
                f, {{"descr": "<f4", "fortran_order": False, "shape": (n, d)}})
            for _ in range(n // 10_000):
                f.write(np.ones((10_000, d), np.float32).tobytes())
        for name in ("probs", "index", "ids"):
            values = {{"probs": np.full((n, 2), 0.5), "index": np.arange(n), "ids": np.arange(n)}}
            np.save(folder + f"/{{name}}.npy", values[name])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        s = Signals.load(folder)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert len(s) == n and isinstance(s.embeddings, np.memmap)
        print((after - before) // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) < 100, done.stdout


# --------------------------------------------------------------------------- atomic writes
_KILL_SCRIPT = """
import os, shutil, sys
import numpy as np
from dataperf import _store
from dataperf.signals import Signals

step, folder = int(sys.argv[1]), sys.argv[2]
calls = 0

def dying(real):
    def call(*args, **kwargs):
        global calls
        calls += 1
        if calls == step:
            os._exit(9)  # no cleanup: like kill -9
        return real(*args, **kwargs)
    return call

for name in ("rename", "replace"):
    setattr(_store.os, name, dying(getattr(os, name)))
_store.shutil.rmtree = dying(shutil.rmtree)
_store.write_array = dying(_store.write_array)
new = Signals(probs=np.full((3, 2), 0.25) + [[0.5, 0.0]] * 3, ids=np.array(["n/a", "n/b", "c"]))
new.save(folder)
print("calls", calls)
"""


def test_save_killed_at_every_step_leaves_old_or_new_complete(tmp_path):
    old = make(ids=PATHS, meta={"model": "old"})
    new_probs = np.full((3, 2), 0.25) + [[0.5, 0.0]] * 3
    script = tmp_path / "kill.py"
    script.write_text(_KILL_SCRIPT)
    seen, step = set(), 1
    while True:
        folder = tmp_path / f"run{step}"
        old.save(folder)
        done = subprocess.run(
            [sys.executable, str(script), str(step), str(folder)],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
        missing = not folder.exists()  # killed between the two renames
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = Signals.load(folder)
        assert missing == any("renamed back" in str(w.message) for w in caught)
        seen.add("window" if missing else "")
        if np.array_equal(loaded.probs, new_probs):
            seen.add("new")
            assert loaded.ids.tolist() == ["n/a", "n/b", "c"]
        else:
            seen.add("old")
            assert_identical(loaded, old)
        if done.returncode == 0:
            break
        assert done.returncode == 9, done.stderr
        step += 1
    # 9 kill points: probs, index, 3 id files, meta.json, 2 renames, the old folder's removal
    assert seen == {"old", "new", "window", ""} and step == 10


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    from dataperf import _store

    folder = make(meta={"model": "old"}).save(tmp_path / "s")
    real, calls = os.rename, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the new folder -> folder
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(_store.os, "rename", failing)
    with pytest.raises(OSError, match="No space"):
        make(meta={"model": "new"}).save(folder)
    assert Signals.load(folder).meta["model"] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no leftovers


def test_window_between_renames_is_recovered_by_load(tmp_path):
    folder = make(meta={"model": "old"}).save(tmp_path / "s")
    os.rename(folder, tmp_path / ".s.old-123-abcd")  # as a kill right after the first rename
    with pytest.warns(UserWarning, match="renamed back"):
        assert Signals.load(folder).meta["model"] == "old"
    assert folder.is_dir() and not (tmp_path / ".s.old-123-abcd").exists()


# --------------------------------------------------------------------------- output checks
def test_output_checks(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b" / "new") == tmp_path / "a" / "b" / "new"
    assert (tmp_path / "a" / "b").is_dir() and not (tmp_path / "a" / "b" / "new").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds no Signals .*notes.txt.* new or empty folder"):
        make().save(other)
    assert (other / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(PermissionError, match="cannot write the output folder"):
        check_output_dir(tmp_path / "file" / "below")
    with pytest.raises(TypeError, match="str or Path"):
        check_output_dir(3)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="cannot write"):
            check_output_dir(locked / "out")


def test_load_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved Signals folder"):
        Signals.load(tmp_path / "nothing")
    folder = make().save(tmp_path / "s")
    (folder / "probs.npy").unlink()
    with pytest.raises(FileNotFoundError, match="damaged: meta.json lists probs.npy"):
        Signals.load(folder)
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Signals.load(folder)


def test_a_folder_holding_only_another_process_s_atomic_write_is_empty(tmp_path):
    """Another torchrun rank may be writing ``.probe-run.json`` (aside, then renamed) while
    this rank checks the folder: the file in progress does not make the folder foreign."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "..probe-run.json.tmp-4242-0a1b2c3d").write_text("{")
    assert check_output_dir(folder, probe_run=True) == folder
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no Signals"):
        check_output_dir(folder, probe_run=True)
