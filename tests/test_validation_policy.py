"""One validation policy: no silent wrong output, TypeError for types, ValueError for values,
clear errors naming the file for damaged or hostile files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from dataperf import HardnessSampler, Signals
from dataperf._errors import InputError, InputTypeError, InputValueError
from dataperf._files import check_output_file
from dataperf._store import load_npz
from dataperf._validate import check_float, check_int, check_weights, resolve_device
from dataperf.curate import cross_val_probs
from dataperf.curate.valuation import data_values, knn_shapley
from dataperf.select import kcenter_greedy, kmeans_pp, top_k
from dataperf.signals import check_output_dir


def _signals(n=40, k=3, d=4, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    p = rng.random((n, k)) + 0.1
    return Signals(
        probs=p / p.sum(1, keepdims=True),
        embeddings=rng.normal(size=(n, d)),
        labels=np.arange(n) % k,
        **kwargs,
    )


# --------------------------------------------------------------------------- scalars
def test_a_non_integer_k_is_a_type_error_everywhere():
    pool = _signals()
    for call in (
        lambda: HardnessSampler(2.5),
        lambda: HardnessSampler(2.0),
        lambda: top_k(np.arange(5.0), 2.5),
        lambda: kcenter_greedy(np.eye(5), 2.5, device="cpu"),
    ):
        with pytest.raises(InputTypeError, match="k must be"):
            call()
    with pytest.raises(InputTypeError, match="k must be"):
        HardnessSampler(True).propose(pool)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0])
def test_infinite_or_nan_settings_are_refused(value):
    with pytest.raises(InputValueError, match="diversity must be a finite number"):
        HardnessSampler(5, diversity=value)
    with pytest.raises(InputValueError, match=r"weights\['hard'\] must be a finite number"):
        HardnessSampler(5, weights={"hard": value})


@pytest.mark.parametrize("value", [True, np.bool_(False), "1.0", None])
def test_bools_and_strings_are_not_numbers(value):
    with pytest.raises(InputTypeError, match="weights"):
        HardnessSampler(5, weights={"hard": value})
    with pytest.raises(InputTypeError, match="diversity"):
        HardnessSampler(5, diversity=value)
    with pytest.raises(InputTypeError):
        check_int(value, "n")
    with pytest.raises(InputTypeError, match="bools are not numbers"):
        check_float(True, "x")


def test_shared_validators_accept_good_values():
    assert check_int(np.int64(3), "k", low=1) == 3
    assert check_float(2, "x", low=0) == 2.0
    assert check_float(float("inf"), "x", finite=False) == float("inf")
    assert check_weights({"hard": 2}, "weights", ("hard", "novel")) == {"hard": 2.0, "novel": 1.0}
    with pytest.raises(InputValueError, match="unknown component"):
        check_weights({"hardness": 2}, "weights", ("hard", "novel"))


# --------------------------------------------------------------------------- distances
@pytest.mark.parametrize("magnitude", [1e25, 1e-25])
def test_selections_do_not_depend_on_the_magnitude_of_embeddings(magnitude):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 12)).astype(np.float32)
    ref = rng.normal(size=(15, 12)).astype(np.float32)
    big = (x.astype(np.float64) * magnitude).astype(np.float32)
    big_ref = (ref.astype(np.float64) * magnitude).astype(np.float32)
    np.testing.assert_array_equal(
        kcenter_greedy(big, 15, device="cpu"), kcenter_greedy(x, 15, device="cpu")
    )
    np.testing.assert_array_equal(
        kcenter_greedy(big, 15, reference=big_ref, device="cpu"),
        kcenter_greedy(x, 15, reference=ref, device="cpu"),
    )
    np.testing.assert_array_equal(kmeans_pp(big, 10, seed=3), kmeans_pp(x, 10, seed=3))
    y, yv = np.arange(200) % 3, np.arange(15) % 3
    x64, ref64 = x.astype(np.float64), ref.astype(np.float64)
    np.testing.assert_allclose(
        knn_shapley(x64 * magnitude, y, ref64 * magnitude, yv, 5, device="cpu"),
        knn_shapley(x64, y, ref64, yv, 5, device="cpu"),
    )


@pytest.mark.parametrize("scale", [2.0**530, 2.0**-530, 1e160, 1e-160])
@pytest.mark.parametrize("search", ["exact", "kd"])
def test_neighbours_and_proposals_at_float64_extremes(scale, search, monkeypatch):
    """Squares of 1e160 overflow float64 and of 1e-160 underflow it: the search scales rows
    by a power of two first, so neighbours, distances and proposals do not change."""
    import dataperf.neighbors as neighbors_module
    from dataperf import HardnessSampler, Signals
    from dataperf.neighbors import nearest_neighbors

    if search == "kd":  # low dimension on the CPU: the k-d tree path
        monkeypatch.setattr(neighbors_module, "KD_TREE_MAX_DIM", 64)
    else:
        monkeypatch.setattr(neighbors_module, "KD_TREE_MAX_DIM", 0)
    rng = np.random.default_rng(0)
    sets = [rng.normal(size=(n, 16)) for n in (300, 50, 200)]
    probs = [rng.dirichlet(np.ones(5), len(e)) for e in sets]
    d1, i1 = nearest_neighbors(sets[0], sets[2], 5, device="cpu")
    d2, i2 = nearest_neighbors(sets[0] * scale, sets[2] * scale, 5, device="cpu")
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d2 / scale, d1, rtol=1e-12)

    def propose(s):
        pool, test, train = (
            Signals(probs=p, embeddings=e * s, labels=None if i == 0 else p.argmax(1))
            for i, (e, p) in enumerate(zip(sets, probs, strict=True))
        )
        return HardnessSampler(20, metric="euclidean", device="cpu").propose(
            pool, test=test, train=train
        )

    np.testing.assert_array_equal(propose(scale).indices, propose(1.0).indices)


# --------------------------------------------------------------------------- cross_val_probs
class _NanOnSome(LogisticRegression):
    def predict_proba(self, x):
        p = super().predict_proba(x)
        p[x[:, 0] > 1.0] = np.nan
        return p


def test_cross_val_probs_refuses_nan_probabilities_instead_of_making_them_up():
    s = _signals(60)
    with pytest.raises(InputValueError, match=r"not probabilities .* in fold \d+, for item"):
        cross_val_probs(_NanOnSome(), s.embeddings, s.labels)


def test_cross_val_probs_with_one_class_is_a_clear_error():
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(InputValueError, match="at least 2 classes"):
        cross_val_probs(LogisticRegression(), x, np.zeros(20, dtype=int), folds=2)


# --------------------------------------------------------------------------- ids and classes
@pytest.mark.parametrize("ids", [[0, 1, 2, 1], ["a/x.png", "b/x.png", "a/x.png", "c"]])
def test_duplicate_ids_are_refused_naming_the_value(ids):
    with pytest.raises(InputValueError, match=r"unique.*(1|'a/x.png') appears 2 times"):
        _signals(4, ids=ids)


def test_duplicate_ids_in_a_saved_folder_are_refused(tmp_path):
    _signals(3, ids=["a/x", "b/x", "a/y"]).save(tmp_path / "s")
    np.save(tmp_path / "s" / "ids_name.npy", np.array([b"x", b"x", b"x"]))
    with pytest.raises(InputValueError, match="'a/x' appears 2 times"):
        Signals.load(tmp_path / "s")


def test_mismatched_class_counts_name_both_shapes():
    pool, test = _signals(30, k=4), _signals(20, k=3)
    with pytest.raises(InputValueError, match=r"test has K=3 .* pool has K=4 .*\(20, 3\)"):
        HardnessSampler(5).propose(pool, test=test)
    with pytest.raises(InputValueError, match=r"train has K=4 .* valid has K=3"):
        data_values(pool, test)


# --------------------------------------------------------------------------- devices
def test_asking_for_cuda_without_it_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputValueError, match="no usable CUDA GPU.*device='cpu'"):
        resolve_device("cuda")
    with pytest.raises(InputValueError, match="no usable CUDA GPU"):
        kcenter_greedy(np.eye(4), 2, device="cuda")
    with pytest.raises(InputValueError, match="no usable CUDA GPU"):
        HardnessSampler(2, device="cuda:0")
    with pytest.raises(InputTypeError, match="device must be"):
        resolve_device(3)
    assert resolve_device(None).type == "cpu"


# --------------------------------------------------------------------------- files
def test_truncated_or_empty_npy_files_name_the_file(tmp_path):
    folder = _signals(500).save(tmp_path / "s")
    raw = (folder / "probs.npy").read_bytes()
    for cut in (len(raw) // 2, 50, 0):
        (folder / "probs.npy").write_bytes(raw[:cut])
        for mmap in (True, False):
            with pytest.raises(InputValueError, match=r"probs\.npy.*damaged or truncated"):
                Signals.load(folder, mmap=mmap)


def test_bad_meta_json_names_the_file(tmp_path):
    folder = _signals().save(tmp_path / "s")
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(InputValueError, match=r"meta\.json is not valid JSON"):
        Signals.load(folder)
    (folder / "meta.json").write_bytes(b"\xff\xfe")
    with pytest.raises(InputValueError, match=r"meta\.json"):
        Signals.load(folder)


def _v1(folder, write):
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps({"format": "dataperf-signals", "version": 1}))
    write(folder / "signals.npz")
    return folder


def test_damaged_npz_is_a_clear_error(tmp_path):
    p = np.full((100, 2), 0.5)
    folder = _v1(tmp_path / "v1", lambda f: np.savez_compressed(f, probs=p))
    assert len(Signals.load(folder)) == 100
    raw = (folder / "signals.npz").read_bytes()
    (folder / "signals.npz").write_bytes(raw[: len(raw) - 40])
    with pytest.raises(InputValueError, match=r"signals\.npz.*damaged"):
        Signals.load(folder)


def test_decompression_bomb_is_refused_before_inflating(tmp_path):
    def bomb(path):  # 64 MiB of zeros, compressed to ~64 KB
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            with z.open("probs.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": "<f8", "fortran_order": False, "shape": (1 << 23, 1)}
                )
                for _ in range(64):
                    f.write(bytes(1 << 20))

    folder = _v1(tmp_path / "bomb", bomb)
    with pytest.raises(InputValueError, match="would inflate"):
        Signals.load(folder)


def test_memory_cap_on_arrays_read_from_files(tmp_path, monkeypatch):
    p = np.full((1000, 4), 0.25)
    folder = _v1(tmp_path / "v1", lambda f: np.savez(f, probs=p))
    v2 = Signals(probs=p).save(tmp_path / "v2")
    monkeypatch.setenv("DATAPERF_MAX_ARRAY_BYTES", "10000")
    with pytest.raises(InputValueError, match="DATAPERF_MAX_ARRAY_BYTES"):
        Signals.load(folder)
    with pytest.raises(InputValueError, match="DATAPERF_MAX_ARRAY_BYTES"):
        Signals.load(v2, mmap=False)
    assert len(Signals.load(v2, mmap=True)) == 1000  # mapped: not read into memory
    monkeypatch.setenv("DATAPERF_MAX_ARRAY_BYTES", "lots")
    with pytest.raises(InputValueError, match="positive number of bytes"):
        Signals.load(folder)


def test_object_arrays_in_npz_are_refused(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, ids=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputValueError, match="Python objects"):
        load_npz(path)


def test_an_output_under_a_file_says_the_path_is_not_a_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for call in (
        lambda: check_output_dir(blocker / "out"),
        lambda: _signals().save(blocker / "out"),
        lambda: check_output_file(blocker / "sub" / "p.jsonl"),
    ):
        with pytest.raises(PermissionError, match="is a file, not a folder") as info:
            call()
        assert isinstance(info.value, InputError)
    proposal = HardnessSampler(2).propose(_signals())
    with pytest.raises(InputError, match="not a folder"):
        proposal.to_jsonl(blocker / "p.jsonl")
