"""DataPerf-style tasks (dataperf.bench.tasks) on scikit-learn's digits, and `dataperf bench`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _paths import ROOT

from dataperf import cli
from dataperf.bench import TASKS, TaskResult, debugging_task, proposal_task, selection_task
from dataperf.bench.tasks import (
    DEBUGGING_METHODS,
    SELECTION_METHODS,
    builtin_methods,
    flip_labels,
    get_task,
    load_task_data,
)

BUDGETS = (40, 400)


@pytest.fixture(scope="module")
def selection() -> TaskResult:
    return selection_task(None, budgets=BUDGETS, seeds=(0, 1))


@pytest.fixture(scope="module")
def debugging() -> TaskResult:
    return debugging_task(None, seeds=(0, 1), fractions=(0.1, 0.2))


# ----------------------------------------------------------------------------- data


def test_task_data_splits_are_fixed_disjoint_and_standardised():
    data = load_task_data("digits")
    assert data.x_pool.shape == (1000, 64) and data.x_valid.shape == (297, 64)
    assert data.x_test.shape == (500, 64)
    assert len(data.y_pool) + len(data.y_valid) + len(data.y_test) == 1797
    np.testing.assert_allclose(data.x_pool.mean(0), 0, atol=1e-5)
    # no test row appears in the pool (digits has a few exact duplicates; allow them)
    pool_rows = {row.tobytes() for row in data.x_pool}
    assert sum(row.tobytes() in pool_rows for row in data.x_test) <= 5
    assert data.pool.meta["out_of_sample"] is True
    assert data.pool.probs.shape == (1000, 10)


def test_flip_labels_flips_the_rate_to_other_classes():
    y = np.arange(1000) % 10
    noisy = flip_labels(y, 0.1, 10, seed=3)
    assert (noisy != y).sum() == 100
    assert noisy.min() >= 0 and noisy.max() < 10
    np.testing.assert_array_equal(noisy, flip_labels(y, 0.1, 10, seed=3))
    assert not np.array_equal(noisy, flip_labels(y, 0.1, 10, seed=4))


# ----------------------------------------------------------------------------- selection


def test_selection_builtins_accuracy_grows_with_budget(selection):
    assert selection.methods == list(SELECTION_METHODS)
    assert selection.metrics == ("accuracy", "macro_f1")
    assert selection.xs("accuracy") == list(BUDGETS)
    full = selection.info["full_pool_accuracy"]
    assert full > 0.93
    for method in selection.methods:
        small = selection.mean(method, "accuracy", 40)
        large = selection.mean(method, "accuracy", 400)
        assert large > small, method
        assert large > 0.75, method
        for metric in selection.metrics:
            assert selection.values(method, metric, 40).shape == (2,)
    # random picks differ across seeds
    assert selection.values("random", "accuracy", 40).std() > 0


def test_selection_user_callable_and_determinism():
    def first_k(pool, budget, seed):
        assert pool.embeddings.shape == (1000, 64) and pool.labels is not None
        return np.arange(budget)

    a = selection_task(["random", first_k], budgets=(30,), seeds=(0,))
    b = selection_task({"random": "random", "mine": first_k}, budgets=(30,), seeds=(0,))
    assert a.methods == ["random", "first_k"] and b.methods == ["random", "mine"]
    assert a.values("random", "accuracy", 30) == b.values("random", "accuracy", 30)
    assert a.values("first_k", "macro_f1", 30) == b.values("mine", "macro_f1", 30)


@pytest.mark.parametrize(
    "picked",
    [np.arange(29), np.zeros(30, dtype=int), np.arange(30) + 990, np.arange(30.0)],
    ids=["short", "duplicates", "out-of-range", "floats"],
)
def test_selection_rejects_bad_indices(picked):
    with pytest.raises(ValueError, match="distinct int indices"):
        selection_task([lambda pool, budget, seed: picked], budgets=(30,), seeds=(0,))


# ----------------------------------------------------------------------------- debugging


def test_debugging_builtins_find_flips_and_fixing_helps(debugging):
    assert debugging.methods == [*DEBUGGING_METHODS, "(no fixing)", "(all flips fixed)"]
    assert debugging.info["n_flips"] == 100
    random_found = debugging.mean("random", "found", 0.1)
    assert random_found < 0.25
    for method in ("confident_learning", "ensemble", "self_confidence", "loss"):
        assert debugging.mean(method, "found", 0.1) > max(0.6, 3 * random_found), method
        assert debugging.mean(method, "found", 0.2) >= debugging.mean(method, "found", 0.1)
    none = debugging.mean("(no fixing)", "fixed_accuracy")
    perfect = debugging.mean("(all flips fixed)", "fixed_accuracy")
    assert perfect > none + 0.03
    for method in ("confident_learning", "ensemble"):
        assert debugging.mean(method, "fixed_accuracy") > none + 0.03, method
    assert debugging.values("(no fixing)", "fixed_accuracy").shape == (2,)


def test_debugging_user_callable_matches_builtin_and_is_deterministic(debugging):
    def low_confidence(signals):
        p = signals.probs[np.arange(len(signals)), signals.labels]
        return np.argsort(p, kind="stable")

    result = debugging_task(["loss", low_confidence], seeds=(0, 1), fractions=(0.1, 0.2))
    for f in (0.1, 0.2):
        np.testing.assert_allclose(
            result.values("low_confidence", "found", f), result.values("loss", "found", f)
        )
        np.testing.assert_array_equal(
            result.values("loss", "found", f), debugging.values("loss", "found", f)
        )


def test_optional_keywords_reach_the_methods_that_name_them():
    seen = []

    def by_seed(signals, seed):
        seen.append(seed)
        return np.random.default_rng([seed, 7]).permutation(len(signals))

    def by_kwargs(signals, **kwargs):
        seen.append(sorted(kwargs))
        return np.arange(len(signals))

    result = debugging_task(["random", by_seed, by_kwargs], seeds=(3, 4), fractions=(0.1,))
    assert seen == [3, ["seed"], 4, ["seed"]]
    # the built-in "random" is this same seeded order
    np.testing.assert_array_equal(
        result.values("by_seed", "found", 0.1), result.values("random", "found", 0.1)
    )

    def valued(pool, budget, seed, *, valid):
        seen.append(valid.meta["split"])
        return SELECTION_METHODS["knn_shapley"](pool, budget, seed, valid=valid)

    picked = selection_task(["knn_shapley", valued], budgets=(30,), seeds=(0,))
    assert seen[-1] == "valid"
    assert picked.values("valued", "accuracy", 30) == picked.values("knn_shapley", "accuracy", 30)


def test_reference_rows_are_marked_and_listed_last(debugging):
    assert debugging.references == ["(no fixing)", "(all flips fixed)"]
    assert all(row["reference"] == row["method"].startswith("(") for row in debugging.rows)
    flags = [row["reference"] for row in debugging.rows]
    assert flags == sorted(flags)
    assert "after fixing the top 100 ranked" in debugging.table("fixed_accuracy")


def test_debugging_rejects_a_partial_ranking():
    with pytest.raises(ValueError, match="ranking of all 1000 items"):
        debugging_task([lambda s: np.arange(10)], seeds=(0,))


# ----------------------------------------------------------------------------- proposal


def test_proposal_task_builtins_and_user_callable():
    def first(pool, test, train, k, seed):
        return np.arange(k)

    result = proposal_task(["dataperf", "random", "bald", first], k=20, seeds=(0,), epochs=3)
    assert result.methods == ["dataperf", "random", "bald", "first"]
    assert result.metrics == ("precision",) and result.xs("precision") == [20]
    for method in result.methods:
        assert 0 <= result.mean(method, "precision", 20) <= 1
    assert result.info["scenarios"][0]["pool_size"] > 20
    assert "± " in result.table()
    assert "skipped" not in result.info


def test_proposal_task_skips_a_builtin_whose_inputs_are_missing():
    result = proposal_task(["bald", "entropy"], k=10, seeds=(0,), epochs=1, mc_samples=0)
    assert result.methods == ["entropy"]
    assert result.info["skipped"] == {"bald": "the pool Signals have no mc_probs"}


# ----------------------------------------------------------------------------- results


def test_table_json_and_plot(selection, tmp_path):
    table = selection.table()
    assert "| method | budget 40 | budget 400 |" in table
    for method in selection.methods:
        assert f"| {method} |" in table
    assert table.count("**selection / digits") == 2
    path = selection.to_json(tmp_path / "sub" / "sel.json")
    data = json.loads(path.read_text())
    assert data["task"] == "selection" and len(data["rows"]) == len(selection.rows)
    mean = data["summary"]["accuracy"]["random"]["40"]["mean"]
    assert mean == pytest.approx(selection.mean("random", "accuracy", 40))
    pytest.importorskip("matplotlib")
    png = selection.plot(tmp_path / "sel.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: selection_task(["nope"]), ValueError, "valid names.*knn_shapley"),
        (lambda: debugging_task(["nope"]), ValueError, "valid names.*ensemble"),
        (lambda: proposal_task(["nope"]), ValueError, "valid names.*dataperf"),
        (lambda: selection_task(["random"], dataset="mnist"), ValueError, "dataset must be"),
        (lambda: selection_task(["random"], budgets=(0,)), ValueError, r"budgets must be"),
        (
            lambda: selection_task(["random"], budgets=(1001,)),
            ValueError,
            r"between 1 and the pool size of 'digits' \(1000\); got 1001",
        ),
        (lambda: selection_task(["random"], seeds=()), ValueError, "seeds"),
        (lambda: selection_task([3]), TypeError, "name in"),
        (lambda: selection_task(["random", "random"]), ValueError, "unique"),
        (lambda: debugging_task(["random"], flip_rate=0.0), ValueError, "flip_rate"),
        (lambda: debugging_task(["random"], fractions=(1.5,)), ValueError, "fractions"),
        (lambda: proposal_task(["random"], k=0), ValueError, "k must be"),
        (lambda: get_task("nope"), ValueError, r"task name must be one of \['selection'"),
    ],
)
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_tasks_registry():
    assert list(TASKS) == ["selection", "debugging", "proposal"]
    assert builtin_methods("debugging") == list(DEBUGGING_METHODS)
    assert "dataperf" in builtin_methods("proposal")


def test_the_registry_is_what_the_tasks_run():
    """dataperf.bench.registry (read by `dataperf bench --help` and the README, no numpy) names
    exactly the functions the tasks call, and proposal's built-ins are "dataperf" + BASELINES."""
    from dataperf.bench import BASELINES, registry
    from dataperf.bench.tasks import PROPOSAL_METHODS

    assert registry.TASK_NAMES == tuple(TASKS)
    assert all(TASKS[name] is entry.load() for name, entry in registry.REGISTRY.items())
    assert registry.BUILTIN_METHOD_NAMES["selection"] == tuple(SELECTION_METHODS)
    assert registry.BUILTIN_METHOD_NAMES["debugging"] == tuple(DEBUGGING_METHODS)
    assert PROPOSAL_METHODS == ("dataperf", *BASELINES)
    assert all(
        registry.REGISTRY["proposal"].builtin(name).load() is BASELINES[name] for name in BASELINES
    )


def test_cli_bench_help_lists_exactly_the_registry_names(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")  # argparse wraps no line (nor breaks "built-in")
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    listed = text.split("A built-in name (", 1)[1].split(") or module:function", 1)[0]
    shown = dict(part.split(": ", 1) for part in listed.split("; "))
    assert {task: names.split() for task, names in shown.items()} == {
        task: builtin_methods(task) for task in TASKS
    }


# ----------------------------------------------------------------------------- CLI


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_bench_help_mentions_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "selection", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("TASK", "--method", "--dataset", "--seeds", "--out", "module:function"):
        assert option in out, option


def test_cli_bench_writes_png_and_json(tmp_path, capsys):
    methods = tmp_path / "my_methods.py"
    methods.write_text(
        "import numpy as np\n\ndef by_index(signals):\n    return np.arange(len(signals))\n"
    )
    out = tmp_path / "runs"
    argv = ["bench", "debugging", "--method", "random", f"{methods}:by_index"]
    code, stdout, err = _run([*argv, "--method", "ensemble", "--seeds", 1, "--out", out], capsys)
    assert code == 0, err
    assert "| ensemble |" in stdout and "by_index" in stdout
    assert (out / "debugging.png").stat().st_size > 1000
    data = json.loads((out / "debugging.json").read_text())
    assert data["info"]["seeds"] == [0]
    assert {row["method"] for row in data["rows"]} >= {"random", "ensemble"}


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["bench", "selection", "--method", "nope"], "valid names"),
        (["bench", "selection", "--method", "no_such_module_xyz:f"], "cannot import"),
        (["bench", "debugging", "--method", "random", "random"], "twice"),
    ],
)
def test_cli_bench_bad_arguments_exit_2_with_one_line(argv, match, capsys, tmp_path):
    code, _, err = _run([*argv, "--out", tmp_path], capsys)
    assert code == 2
    assert match in err and len(err.strip().splitlines()) == 1


def test_cli_bench_rejects_zero_seeds(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "selection", "--seeds", "0"])
    assert exc.value.code == 2
    assert "--seeds" in capsys.readouterr().err


def test_readme_lists_the_registry():
    """The README's method tables are registry.markdown(), verbatim (regenerate with
    `python -c "from dataperf.bench.registry import markdown; print(markdown())"`)."""
    from dataperf.bench.registry import markdown

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- bench-methods:start -->\n", 1)[1].split("\n<!-- bench-methods:end")[
        0
    ]
    assert block == markdown()
