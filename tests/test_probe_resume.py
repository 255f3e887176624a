"""probe(out=DIR): sharded, resumable, refused when settings differ, aligned with any sampler,
and split between torch.distributed ranks (2 gloo processes) with the same result."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _probe_helpers import (
    Images,
    Stream,
    assert_identical,
    dist_probe,
    net,
    other_net,
    probe_images,
)
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SubsetRandomSampler

from dataperf import _shards, probing
from dataperf.probing import probe, run_probe
from dataperf.signals import Signals


class Crash(RuntimeError):
    pass


def crash_at(monkeypatch, call: int | None) -> list[int]:
    """Make the model's per-batch forward raise at its ``call``-th call; list the batches run."""
    real, calls = probing.forward, []

    def forward(model, tap, x, batch, **kwargs):
        calls.append(batch)
        if len(calls) == call:
            raise Crash("power cut")
        return real(model, tap, x, batch, **kwargs)

    monkeypatch.setattr(probing, "forward", forward)
    return calls


@pytest.fixture(scope="module")
def reference():
    """One uninterrupted in-memory probe."""
    return probe_images(None)[0]


def test_out_equals_in_memory_and_is_memory_mapped(tmp_path, reference):
    signals, report = probe_images(tmp_path / "o")
    assert_identical(signals, reference)
    assert isinstance(signals.embeddings, np.memmap) and signals.ids[0] == "/data/cat/img_0000.png"
    assert signals.index.tolist() == list(range(37)) and signals.fingerprints.shape == (37, 35)
    assert report == probing.ProbeReport(batches=10, agreement=report.agreement)
    assert report.agreement.n == 37  # labelled data: the accuracy is measured
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert ".probe-run.json" in names and "meta.json" in names and "shards" not in names
    run = json.loads((tmp_path / "o" / ".probe-run.json").read_text())
    assert run["data"]["length"] == 37 and run["mc_samples"] == 2 and len(run["weights"]) == 32
    with pytest.warns(UserWarning, match="already holds this probe"):
        again = probe(net(), Images(37), batch_size=4, mc_samples=2, out=tmp_path / "o")
    assert_identical(again, reference)


@pytest.mark.parametrize("mc_samples", [0, 2])
def test_resume_after_a_crash_runs_only_the_missing_batches(tmp_path, monkeypatch, mc_samples):
    want = probe_images(None, mc_samples=mc_samples)[0]
    calls = crash_at(monkeypatch, 6)
    with pytest.raises(Crash):
        probe_images(tmp_path / "o", mc_samples=mc_samples)  # shards of 2 batches
    shards = sorted(p.name for p in (tmp_path / "o" / "shards").iterdir())
    assert shards == ["b000000000-000000002.npz", "b000000002-000000004.npz"] + [
        "b000000004-000000005.npz"  # the finished batch of the shard the crash interrupted
    ]
    calls = crash_at(monkeypatch, None)
    signals, report = probe_images(tmp_path / "o", mc_samples=mc_samples)
    assert calls == list(range(5, 10)) and report.resumed == 5 and report.batches == 10
    assert_identical(signals, want)


def test_a_crash_while_merging_or_cleaning_up_resumes_without_the_model(tmp_path, monkeypatch):
    want = probe_images(None)[0]
    real_publish, published = _shards._publish, []

    def publish(folder, name):
        published.append(name)
        if len(published) == 3:
            raise Crash("killed while merging")
        real_publish(folder, name)

    monkeypatch.setattr(_shards, "_publish", publish)
    with pytest.raises(Crash):
        probe_images(tmp_path / "o")
    monkeypatch.setattr(_shards, "_publish", real_publish)
    calls = crash_at(monkeypatch, None)
    signals, report = probe_images(tmp_path / "o")
    assert calls == [] and report.resumed == 10 and not report.complete
    assert_identical(signals, want)

    def rmtree(path, ignore_errors=False):
        raise Crash("killed while removing the shards")

    monkeypatch.setattr(_shards.shutil, "rmtree", rmtree)
    with pytest.raises(Crash):
        probe_images(tmp_path / "p")  # complete (meta.json written), shards still there
    assert (tmp_path / "p" / "shards").is_dir() and (tmp_path / "p" / "meta.json").is_file()
    monkeypatch.undo()
    calls = crash_at(monkeypatch, None)
    signals, report = probe_images(tmp_path / "p")
    assert calls == [] and report.complete and not (tmp_path / "p" / "shards").exists()
    assert_identical(signals, want)


def test_other_settings_are_refused_saying_what_differs(tmp_path, monkeypatch):
    crash_at(monkeypatch, 4)
    with pytest.raises(Crash):
        probe_images(tmp_path / "o")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"data\.batch_size: 5 now, 4 in the earlier run.*--out"):
        probe_images(tmp_path / "o", batch_size=5)
    with pytest.raises(ValueError, match=r"unfinished probe run .*mc_samples: 1 now, 2"):
        probe_images(tmp_path / "o", mc_samples=1)
    with pytest.raises(ValueError, match=r"weights: '[0-9a-f]+' now.* delete .* from scratch"):
        run_probe(other_net(), Images(37), batch_size=4, mc_samples=2, out=tmp_path / "o")
    with pytest.raises(ValueError, match=r"data\.length: 36 now, 37"):
        run_probe(net(), Images(36), batch_size=4, mc_samples=2, out=tmp_path / "o")
    finished = tmp_path / "done"
    probe_images(finished)
    with pytest.raises(ValueError, match=r"finished probe run .*embeddings_dtype: 'float16'"):
        probe_images(finished, embeddings_dtype="float16")
    saved = probe_images(None)[0].save(tmp_path / "saved")
    with pytest.raises(ValueError, match=r"no probe\(out=\.\.\.\) run wrote"):
        probe_images(saved)


def test_output_problems_are_found_before_the_model_runs(tmp_path, monkeypatch):
    calls = crash_at(monkeypatch, None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PermissionError, match="cannot write the output folder"):
        probe_images(tmp_path / "file" / "out")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("...")
    with pytest.raises(ValueError, match="holds no Signals"):
        probe_images(busy)
    assert calls == []


def test_float16_embeddings_are_an_opt_in_trade(tmp_path, reference):
    signals = probe_images(tmp_path / "h", embeddings_dtype="float16")[0]
    assert signals.embeddings.dtype == np.float16
    assert np.array_equal(signals.embeddings, reference.embeddings.astype(np.float16))
    assert np.array_equal(signals.probs, reference.probs)
    loud = nn.Sequential(nn.Flatten(), nn.Linear(192, 16), nn.Linear(16, 3))
    with torch.no_grad():
        loud[1].weight.fill_(1e4)
    with pytest.raises(ValueError, match="exceed the float16 range.*float32"):
        probe(loud, Images(8), embeddings_dtype="float16", progress=False)
    with pytest.raises(ValueError, match="embeddings_dtype must be one of"):
        probe(loud, Images(8), embeddings_dtype="bfloat16")
    with pytest.raises(TypeError, match="shard_size must be an int"):
        probe(loud, Images(8), shard_size=2.5)


# --------------------------------------------------------------------------- samplers
def test_dataset_index_follows_any_sampler():
    data = Images(37)
    labels = data.labels.numpy()
    rng = np.random.default_rng(0)
    subset = rng.permutation(37)[:20]
    loaders = {
        "subset": DataLoader(data, batch_size=3, sampler=SubsetRandomSampler(subset.tolist())),
        "batch sampler": DataLoader(
            data, batch_sampler=BatchSampler(RandomSampler(data), batch_size=5, drop_last=False)
        ),
    }
    for name, loader in loaders.items():
        s = probe(net(), loader, progress=False)
        assert np.array_equal(s.labels, labels[s.index]), name
        assert s.ids.tolist() == [data.samples[i][0] for i in s.index], name
        alone = probe(net(), torch.utils.data.Subset(data, s.index.tolist()), progress=False)
        np.testing.assert_allclose(s.probs, alone.probs, rtol=1e-6, err_msg=name)
    assert sorted(probe(net(), loaders["batch sampler"], progress=False).index) == list(range(37))
    with pytest.warns(UserWarning, match="drop_last=True: 2 of the 37 items"):
        s = probe(net(), DataLoader(data, batch_size=5, drop_last=True), progress=False)
    assert s.index.tolist() == list(range(35))


def test_a_shuffled_probe_resumes_keyed_by_dataset_index(tmp_path, monkeypatch):
    data = Images(37)

    def loader():  # a fresh random order each time it is built
        return DataLoader(data, batch_size=4, sampler=SubsetRandomSampler(range(3, 37)))

    want = probe(net(), loader(), progress=False)
    crash_at(monkeypatch, 4)
    with pytest.raises(Crash):
        probe(net(), loader(), out=tmp_path / "o", shard_size=4, progress=False)
    calls = crash_at(monkeypatch, None)
    signals, report = run_probe(net(), loader(), out=tmp_path / "o", shard_size=4, progress=False)
    assert report.resumed == 3 and calls == list(range(3, 9))
    assert_identical(signals, want)
    assert signals.index.tolist() == list(range(3, 37))
    assert np.array_equal(signals.labels, data.labels.numpy()[signals.index])


def test_a_stream_resumes_after_its_finished_prefix(tmp_path, monkeypatch):
    def stream():
        return DataLoader(Stream(37), batch_size=4)

    want = probe(net(), stream(), progress=False)
    assert want.index.tolist() == list(range(37))
    calls = crash_at(monkeypatch, 5)
    with pytest.raises(Crash):
        probe(net(), stream(), out=tmp_path / "o", shard_size=8, progress=False)
    calls = crash_at(monkeypatch, None)
    signals, report = run_probe(net(), stream(), out=tmp_path / "o", shard_size=8, progress=False)
    assert calls == list(range(4, 10)) and report.resumed == 4 and report.batches == 10
    assert_identical(signals, want)
    monkeypatch.setattr(_shards, "world", lambda: (0, 2))
    with pytest.raises(ValueError, match="under torch.distributed.*a stream"):
        probe(net(), stream(), out=tmp_path / "d", progress=False)


# --------------------------------------------------------------------------- torch.distributed
def test_two_gloo_processes_equal_one(tmp_path, monkeypatch):
    """37 items in batches of 4: ranks take batches [0, 5) and [5, 10) (20 and 17 items), and
    the merged folder equals one process bit for bit; a second run resumes a folder that one
    process left unfinished."""
    import torch.multiprocessing as mp

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        want = probe_images(tmp_path / "one")[0]
        crash_at(monkeypatch, 3)
        with pytest.raises(Crash):
            probe_images(tmp_path / "resumed")
        monkeypatch.undo()
    finally:
        torch.set_num_threads(threads)
    outs = [str(tmp_path / "fresh"), str(tmp_path / "resumed")]
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.start_processes(dist_probe, args=(2, init, outs), nprocs=2, start_method="spawn")
    for out in outs:
        got = Signals.load(out)
        assert_identical(got, want)
        assert len(set(got.ids.tolist())) == 37  # no duplicates, no gaps
