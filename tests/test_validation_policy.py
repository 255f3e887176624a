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


# --------------------------------------------------------------------------- one policy, everywhere
# The same bad settings, given to every public entry point that takes one: a non-integer count
# is a TypeError (never truncated, never a ValueError), a count out of range a ValueError; a NaN
# or infinite float setting a ValueError, a bool where a number is meant a TypeError.


def _counts():
    """name -> call(value) for public entry points taking an integer count >= 1."""
    from dataperf.bench.models import SmallCNN, SmallMLP
    from dataperf.curate import find_weak_slices, select_subset
    from dataperf.select import random as random_select

    pool, x = _signals(), np.random.default_rng(0).normal(size=(40, 4))
    xy = (x[:30], np.arange(30) % 3)
    return {
        "top_k": lambda v: top_k(np.arange(40.0), v),
        "kcenter_greedy": lambda v: kcenter_greedy(x, v, device="cpu"),
        "kmeans_pp": lambda v: kmeans_pp(x, v),
        "select.random": lambda v: random_select(40, v),
        "HardnessSampler": lambda v: HardnessSampler(k=v, device="cpu").propose(pool),
        "select_subset": lambda v: select_subset(pool, v, method="random"),
        "find_weak_slices": lambda v: find_weak_slices(pool, n_slices=v, min_size=2),
        "data_values": lambda v: data_values(pool, xy, k=v, device="cpu"),
        "cross_val_probs": lambda v: cross_val_probs(LogisticRegression(), x, pool.labels, folds=v),
        "SmallCNN": lambda v: SmallCNN(width=v),
        "SmallMLP": lambda v: SmallMLP(hidden=v),
    }


def _non_negative_counts():
    """name -> call(value) for public entry points taking an integer count >= 0 (0 is valid)."""
    from dataperf._wordnet import wordnet_sentences
    from dataperf.bench.planted import make_planted_pool
    from dataperf.curate import find_label_issues

    imgs = np.zeros((6, 8, 8), np.uint8)
    return {
        "find_label_issues": lambda v: find_label_issues(_signals(), num_issues=v),
        "wordnet_sentences": lambda v: wordnet_sentences(v),
        "make_planted_pool": lambda v: make_planted_pool(imgs, np.arange(6) % 2, imgs, n_clean=v),
    }


def _floats():
    """name -> call(value) for public entry points taking a finite float setting."""
    from dataperf.bench.models import ImageArray, SmallCNN, SmallMLP, train_classifier
    from dataperf.bench.tasks import debugging_task
    from dataperf.curate import find_weak_slices

    imgs, labels = np.zeros((4, 8, 8), np.uint8), np.arange(4) % 2
    return {
        "HardnessSampler(diversity)": lambda v: HardnessSampler(5, diversity=v),
        "find_weak_slices(confidence)": lambda v: find_weak_slices(_signals(), confidence=v),
        "SmallCNN(dropout)": lambda v: SmallCNN(dropout=v),
        "SmallMLP(dropout)": lambda v: SmallMLP(dropout=v),
        "ImageArray(scale)": lambda v: ImageArray(imgs, labels, scale=v),
        "train_classifier(lr)": lambda v: train_classifier(
            SmallMLP(2, image_size=8), imgs, labels, lr=v, device="cpu"
        ),
        "debugging_task(flip_rate)": lambda v: debugging_task(["loss"], flip_rate=v),
    }


_COUNTS, _NON_NEGATIVE, _FLOATS = (
    sorted(_counts()),
    sorted(_non_negative_counts()),
    sorted(_floats()),
)


@pytest.mark.parametrize("value", [2.5, 3.0, "3", True, np.float64(3.0), None])
@pytest.mark.parametrize("entry", _COUNTS + _NON_NEGATIVE)
def test_a_non_integer_count_is_a_type_error(entry, value):
    call = {**_counts(), **_non_negative_counts()}[entry]
    if value is None and entry in ("find_label_issues", "wordnet_sentences"):
        return  # None means "the method's own rule" / "all of them" there
    with pytest.raises(InputTypeError, match="must be .*int"):
        call(value)


@pytest.mark.parametrize("value", [0, -1, -5])
@pytest.mark.parametrize("entry", _COUNTS)
def test_a_zero_or_negative_count_is_a_value_error(entry, value):
    with pytest.raises(InputValueError):
        _counts()[entry](value)


@pytest.mark.parametrize("entry", _NON_NEGATIVE)
def test_a_negative_count_is_a_value_error(entry):
    with pytest.raises(InputValueError, match="non-negative int|between 0 and"):
        _non_negative_counts()[entry](-1)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("entry", _FLOATS)
def test_nan_or_infinite_float_settings_are_value_errors(entry, value):
    with pytest.raises(InputValueError, match="finite number"):
        _floats()[entry](value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), "0.5"])
@pytest.mark.parametrize("entry", _FLOATS)
def test_a_bool_or_str_float_setting_is_a_type_error(entry, value):
    with pytest.raises(InputTypeError, match="must be a finite number"):
        _floats()[entry](value)


def _choices():
    from dataperf.bench.proposal import planted_scenario
    from dataperf.bench.tasks import get_task, selection_task
    from dataperf.curate import find_label_issues, find_weak_slices, select_subset
    from dataperf.scores import get_score
    from dataperf.select import get_selector

    pool = _signals()
    return {
        "get_score": get_score,
        "get_selector": get_selector,
        "get_task": get_task,
        "select_subset": lambda v: select_subset(pool, 5, method=v),
        "find_label_issues": lambda v: find_label_issues(pool, method=v),
        "data_values": lambda v: data_values(pool, pool, method=v),
        "find_weak_slices": lambda v: find_weak_slices(pool, metric=v),
        "selection_task": lambda v: selection_task(["random"], dataset=v),
        "planted_scenario": lambda v: planted_scenario("digits", model=v),
    }


@pytest.mark.parametrize("entry", sorted(_choices()))
def test_names_by_choice_type_error_for_a_non_str_value_error_for_unknown(entry):
    call = _choices()[entry]
    for value in (3, None, ["random"]):
        with pytest.raises(InputTypeError, match=r"must be one of \[.*\] \(a str\)"):
            call(value)
    with pytest.raises(InputValueError, match=r"must be one of \[.*\]; got 'nope'"):
        call("nope")


def test_positions_type_error_for_a_non_integer_index_error_outside():
    from dataperf.curate import find_label_issues

    issues = find_label_issues(_signals(meta={"out_of_sample": True}), num_issues=3)
    proposal = HardnessSampler(3, device="cpu").propose(_signals())
    for explain in (issues.explain, proposal.explain):
        for bad in (1.0, "1", True):
            with pytest.raises(InputTypeError, match="must be an int"):
                explain(bad)
        with pytest.raises(IndexError, match=r"in \[0, \d+\)"):
            explain(40)

    assert issues.explain(-1) == issues.explain(39) and proposal.explain(-1) == proposal.explain(2)


def test_array_dtypes_are_type_errors_shapes_value_errors():
    from dataperf.bench.planted import make_planted_pool, precision_at_k, upscale

    imgs = np.zeros((6, 8, 8), np.uint8)
    with pytest.raises(InputTypeError, match="uint8"):
        make_planted_pool(imgs / 255.0, np.arange(6) % 2, imgs)
    with pytest.raises(InputValueError, match="uint8 array of shape"):
        make_planted_pool(imgs[0], np.arange(8) % 2, imgs)
    with pytest.raises(InputTypeError, match="bool array"):
        precision_at_k([0, 1], np.ones(4))
    with pytest.raises(InputTypeError, match="int array"):
        precision_at_k([0.0, 1.0], np.ones(4, bool))
    with pytest.raises(InputTypeError, match="real"):
        upscale(np.array([["a"]]), 4)
