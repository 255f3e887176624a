#!/usr/bin/env python
"""One labelling round of dataperf against a real Label Studio server, end to end, offline.

    .venv/bin/python scripts/label_studio_round_trip.py [--keep] [--work DIR]

1. Label Studio (label-studio==1.23.2) gets its own virtual environment, made once at
   $DATAPERF_LS_VENV (default <repo>/.ls-venv) with pip and reused later; it never enters
   dataperf's environment (its pins would downgrade numpy).
2. dataperf proposes 20 test examples on the planted digits scenario and exports them with
   ``export_label_studio`` (tasks.json, the labelling config, PNGs) under a document root.
3. A throw-away server (SQLite, temp data, free port, local file serving, nothing phoning home)
   gets a project with the exported config, a Local Files storage, and the tasks file as is.
   Two people (the admin and a second user who signs up with the invite link) answer every
   task with the planted truth, as ``dataperf.bench.simulate_answers`` would, except for one
   tie (no majority), one skip and one task nobody answers. The project is exported (JSON
   snapshot with every task) to export.json.
4. Label Studio's own SDK (in its venv) parses the config and validates the export and import.
5. dataperf reads the export back: counts, agreement, yield, the benchmark's precision@k and the
   identity between them, the grown test set, and a second round that excludes every answer.

Exit status: 0 when every check passed, 1 on any failure, 75 when pip cannot reach the package
index to make Label Studio's venv (nothing was tested), 130 on Ctrl-C. The server is stopped in
every case. Files: a temp folder, removed unless --keep; --work DIR puts them in DIR (kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the dataperf of this checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ls_helpers import (  # noqa: E402
    LS_VERSION,
    Http,
    IndexUnreachable,
    Server,
    ensure_venv,
    session_login,
)

EXIT_NO_INDEX = 75
K = 20
ADMIN = ("admin@example.com", "dataperf-admin-pw", "dataperf-round-trip-token")
PERSON = ("annotator@example.com", "dataperf-person-pw")
SKIP = "<skip>"  # a planned answer: the person presses Skip
T0 = time.monotonic()
CHECKS: list[tuple[str, bool]] = []


def log(*parts) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s]", *parts, flush=True)


def check(name: str, ok: bool, detail: str = "") -> bool:
    CHECKS.append((name, bool(ok)))
    print(f"  [{'PASS' if ok else 'FAIL'}] {name}" + (f" -- {detail}" if detail else ""))
    return bool(ok)


def choice(value: str) -> dict:
    return {
        "from_name": "label",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": [value]},
    }


# ---------------------------------------------------------------- dataperf: propose and export
def propose_and_export(doc_root: Path, work: Path) -> dict:
    from dataperf import HardnessSampler
    from dataperf.bench import planted_scenario, simulate_answers
    from dataperf.propose.label_studio import export_label_studio, proposal_choices

    sc = planted_scenario("digits", seed=0)
    proposal = HardnessSampler(K, seed=0).propose(
        sc.pool_signals, test=sc.test_signals, train=sc.train_signals
    )
    tasks_path, config_path = export_label_studio(
        proposal, doc_root / "round1" / "tasks.json", images=sc.pool.images, image_root=doc_root
    )
    choices = proposal_choices(proposal)
    # the planted truth of every task, exactly as one simulated annotator answers it
    truth_path = simulate_answers(sc.pool, choices, tasks_path, work / "truth.json", annotators=1)
    truth = {
        t["data"]["dataperf_id"]: t["annotations"][0]["result"][0]["value"]["choices"][0]
        for t in json.loads(truth_path.read_text())
    }
    tasks = json.loads(tasks_path.read_text())
    ids = [t["data"]["dataperf_id"] for t in tasks]
    return dict(sc=sc, proposal=proposal, choices=choices, tasks_path=tasks_path,
                config_path=config_path, tasks=tasks, truth=truth, tasks_ids=ids,
                shown={i: t["data"]["prediction"] for i, t in zip(ids, tasks)})  # fmt: skip


def plan_answers(tasks: list[dict], truth: dict, choices: list[str]) -> tuple[dict, dict]:
    """(admin answer, person answer) per dataperf_id (None: no annotation), and the ids of the
    deliberate exceptions: a tie on a task a person can label, a skip, an unanswered task.
    They go to would-be hits first (labelable, and the model is wrong), so they show up in the
    yield."""
    from dataperf.propose.label_studio import CANNOT_TELL

    order = sorted(tasks, key=lambda t: t["data"]["rank"])
    ids = [t["data"]["dataperf_id"] for t in order]
    shown = {t["data"]["dataperf_id"]: t["data"]["prediction"] for t in order}
    labelable = [i for i in ids if truth[i] != CANNOT_TELL]
    hits = [i for i in labelable if truth[i] != shown[i]]
    ranked = list(dict.fromkeys(hits + labelable + ids))
    tie, skip, unanswered = ranked[0], ranked[1], ranked[2]
    if truth[tie] == CANNOT_TELL:
        raise RuntimeError("no proposed task has a class a person can tell; cannot plan a tie")
    plan = {i: (truth[i], truth[i]) for i in ids}
    other = (
        shown[tie]
        if shown[tie] != truth[tie]
        else choices[(choices.index(truth[tie]) + 1) % len(choices)]
    )
    plan[tie] = (truth[tie], other)
    plan[skip] = (truth[skip], SKIP)
    plan[unanswered] = (None, None)
    return plan, {"tie": tie, "skip": skip, "unanswered": unanswered}


# ---------------------------------------------------------------- Label Studio: the round itself
def label_studio_round(server: Server, doc_root: Path, work: Path, r: dict, plan: dict) -> Path:
    """Project, storage, import, checks, two people annotating, export; returns export.json."""
    admin = Http(server.base, auth="Token " + ADMIN[2])
    exported = r["tasks"]
    project = admin.json("POST", "/api/projects/", body={
        "title": "dataperf round 1", "label_config": r["config_path"].read_text(),
        "show_skip_button": True, "maximum_annotations": 2,
    })  # fmt: skip
    pid = project["id"]
    # local files are served only from a Local Files storage, a SUBfolder of the document root
    admin.json("POST", "/api/storages/localfiles/", body={
        "project": pid, "title": "dataperf round 1", "path": str(r["tasks_path"].parent),
        "use_blob_urls": True,
    })  # fmt: skip
    imported = admin.json("POST", f"/api/projects/{pid}/import", body=r["tasks_path"].read_bytes())
    check(
        f"import of tasks.json as is: {K} tasks, {K} predictions",
        imported.get("task_count") == K and imported.get("prediction_count") == K,
        json.dumps({k: imported.get(k) for k in ("task_count", "prediction_count")}),
    )
    listed = admin.json("GET", f"/api/tasks/?project={pid}&page_size=1000&fields=all")["tasks"]
    task_of = {t["data"]["dataperf_id"]: t["id"] for t in listed}
    check("every dataperf_id came back once", sorted(task_of) == sorted(plan) and len(listed) == K)
    first = exported[0]
    task = admin.json("GET", f"/api/tasks/{task_of[first['data']['dataperf_id']]}/")
    check(
        "a task keeps its data (dataperf_id, explanation, rank, bucket, prediction, image)",
        task["data"] == first["data"],
        f"dataperf_id {task['data'].get('dataperf_id')!r}",
    )
    sent, got = first["predictions"][0], (task.get("predictions") or [{}])[0]
    check(
        "its prediction is a pre-annotation (result, model_version, score)",
        got.get("result") == sent["result"] and got.get("model_version") == "dataperf"
        and abs(float(got.get("score", -1)) - sent["score"]) < 1e-6,
        f"{sent['result'][0]['value']['choices']} at {sent['score']:.2f}",
    )  # fmt: skip

    # people work through the browser UI: cookie sessions with Django's CSRF token
    admin_ui = session_login(server.base, ADMIN[0], ADMIN[1])
    ref = first["data"]["image"]
    accept = {"Accept": "image/avif,image/webp,image/*,*/*;q=0.8"}  # as Chromium's <img> asks
    status, headers, png = admin_ui.request("GET", ref, headers=accept)
    file = doc_root / unquote(ref.split("?d=", 1)[1])
    check(
        "the image is served to a logged-in session (HTTP 200, the PNG's bytes)",
        status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n" and png == file.read_bytes(),
        f"{ref}: HTTP {status}, {headers.get('Content-Type')}, {len(png)} bytes",
    )
    check("... and refused to anonymous requests", Http(server.base).request("GET", ref)[0] != 200)
    invite = admin.json("GET", "/api/invite")["invite_url"]
    person = session_login(server.base, *PERSON, invite_url=invite)
    log(f"second user signed up with the invite link {invite.split('?')[0]}?token=...")

    posted = 0
    for pool_id, answers in plan.items():
        for who, answer in zip((admin_ui, person), answers):
            if answer is None:
                continue
            body = (
                {"result": [], "was_cancelled": True}
                if answer == SKIP
                else {"result": [choice(answer)], "lead_time": 3.5, "was_cancelled": False}
            )
            who.json("POST", f"/api/tasks/{task_of[pool_id]}/annotations/", body=body)
            posted += 1
    log(f"{posted} annotations submitted by 2 people ({K} tasks)")

    # snapshot export: every task (unanswered ones too), full predictions, annotators' e-mails
    snap = admin.json("POST", f"/api/projects/{pid}/exports/", body={
        "title": "dataperf round 1",
        "serialization_options": {
            "predictions": {"only_id": False}, "annotations__completed_by": {"only_id": False},
        },
        "task_filter_options": {"only_with_annotations": False},
    })  # fmt: skip
    for _ in range(300):  # synchronous without Redis; poll in case a queue is configured
        if snap.get("status") in ("completed", "failed"):
            break
        time.sleep(0.2)
        snap = admin.json("GET", f"/api/projects/{pid}/exports/{snap['id']}")
    check("snapshot export completed", snap.get("status") == "completed", str(snap.get("status")))
    status, _, data = admin.request(
        "GET", f"/api/projects/{pid}/exports/{snap['id']}/download?exportType=JSON"
    )
    export = work / "export.json"
    export.write_bytes(data)
    rows = json.loads(data)
    by_id = {t["data"]["dataperf_id"]: t for t in rows}
    check(f"export.json holds all {K} tasks", status == 200 and sorted(by_id) == sorted(plan))
    mails = {a["completed_by"]["email"] for t in rows for a in t["annotations"]}
    check("both people's annotations are in it", mails == {ADMIN[0], PERSON[0]}, str(sorted(mails)))
    # quick exports: of every task, and what the Export dialog's button downloads (answered
    # tasks only, skipped ones included)
    for name, query in (("export_quick.json", "&download_all_tasks=true"), ("export_ui.json", "")):
        status, _, data = admin.request("GET", f"/api/projects/{pid}/export?exportType=JSON{query}")
        (work / name).write_bytes(data)
        what = "of every task" if query else "as the Export dialog downloads it"
        check(f"quick export ({what}) answered", status == 200, f"HTTP {status}")
    return export


# ---------------------------------------------------------------- Label Studio's SDK
def sdk_check(venv: Path, r: dict, export: Path, expected_annotations: int) -> None:
    from dataperf.propose.label_studio import CANNOT_TELL

    program = Path(__file__).resolve().with_name("_ls_sdk_check.py")
    args = [str(venv / "bin" / "python"), str(program), str(r["config_path"])]
    args += [str(r["tasks_path"]), str(export)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        check("the SDK opened the files", False, done.stderr[-2000:])
        return
    said = json.loads(done.stdout.splitlines()[-1])
    log(f"label-studio-sdk {said['sdk']} says:", json.dumps(said))
    check("SDK: LabelInterface parses and validates the exported config", True)
    check(
        "SDK: the choices are exactly the class names + 'cannot tell'",
        said["choices"] == [*r["choices"], CANNOT_TELL],
        str(said["choices"]),
    )
    check("SDK: every imported prediction validates", said["prediction_errors"] == [])
    check(
        f"SDK: all {expected_annotations} exported annotations validate",
        said["annotations"] == expected_annotations and said["invalid_annotations"] == [],
        f"{said['annotations']} annotations, invalid: {said['invalid_annotations']}",
    )
    check("SDK: every exported task has the data the config needs",
          said["tasks_without_config_data"] == [])  # fmt: skip
    check("SDK: a choice outside the config is rejected", said["rejects_unknown_choice"])


# ---------------------------------------------------------------- dataperf: read the answers back
def read_back(r: dict, export: Path, quick: Path, plan: dict, special: dict) -> list[str]:
    """Checks on what dataperf reads back; returns the summary lines to print."""
    import numpy as np

    from dataperf import HardnessSampler
    from dataperf.bench import precision_at_k, slipped_copies
    from dataperf.propose.label_studio import CANNOT_TELL
    from dataperf.propose.labels import answered_ids, grow_test_set, read_labels, yield_summary

    sc, proposal, choices, truth = r["sc"], r["proposal"], r["choices"], r["truth"]
    labels = read_labels(export)
    summary = yield_summary(labels, proposal)
    same = read_labels(quick)
    check(
        "the quick export reads back the same labels",
        sorted(zip(same.ids, same.status, same.answers)) == sorted(
            zip(labels.ids, labels.status, labels.answers)
        ),
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ui = yield_summary(read_labels(quick.with_name("export_ui.json")), proposal)
    check(
        "the Export dialog's file (no unanswered task) warns, and gives the same summary",
        ui == summary and any(f"1 of the {K} proposals" in str(w.message) for w in caught),
        f"counts {ui['counts']}; warnings: {[str(w.message)[:60] for w in caught]}",
    )
    want = {
        i: "unlabelled" if i == special["unanswered"] else "no_majority" if i == special["tie"]
        else "cannot_tell" if truth[i] == CANNOT_TELL else "labelled"
        for i in plan
    }  # fmt: skip
    row = labels.by_id()
    got = {i: labels.status[row[i]] for i in plan}
    check("every task ended as planned (labelled / cannot tell / tie / unanswered)", got == want,
          str({i: (got[i], want[i]) for i in plan if got[i] != want[i]}))  # fmt: skip
    check(
        "a skip is no vote (the skipped task has 1 vote)", labels.votes[row[special["skip"]]] == 1
    )
    counts = summary["counts"]

    # the yield against the benchmark's precision, from the hidden planted truth
    k = len(proposal.indices)
    useful = int(np.asarray(sc.useful)[proposal.indices].sum())
    precision = precision_at_k(proposal.indices, sc.useful)
    slipped = slipped_copies(sc.pool, sc.predictions, proposal)
    position = {pid: int(i) for pid, i in zip(r["tasks_ids"], proposal.indices)}

    def would_hit(pid) -> bool:  # useful, or a misclassified near-copy the novelty let through
        i = position[pid]
        wrong = sc.predictions[i] != sc.pool.labels[i]
        covered = proposal.buckets[i] == "already_covered"
        return bool(sc.useful[i] or (sc.pool.kind[i] == "copy" and wrong and not covered))

    lost = sum(would_hit(special[s]) for s in ("tie", "unanswered"))
    y = summary["yield"]
    check(
        "yield hits == round(precision@k * k) + slipped copies - hits lost to the tie/unanswered",
        y["hits"] == round(precision * k) + slipped - lost and useful == round(precision * k),
        f"{y['hits']} == {round(precision * k)} + {slipped} - {lost}",
    )
    labelled = [i for i in plan if got[i] == "labelled"]
    check(
        "yield hits == the labelled tasks whose planted class differs from the prediction",
        y["hits"] == sum(truth[i] != r["shown"][i] for i in labelled) and y["n"] == k - 1,
    )

    grown = grow_test_set(
        sc.test_signals, sc.pool_signals, labels, choices, prefixes=("test:", "pool:")
    )
    new = grown.labels[len(sc.test_signals) :]
    check(
        f"grow_test_set adds the {counts['labelled']} labelled items with their planted class",
        len(grown) == len(sc.test_signals) + counts["labelled"]
        and [choices[c] for c in new] == [truth[i] for i in labels.ids if got[i] == "labelled"],
    )  # fmt: skip
    answered = answered_ids(labels)
    again = HardnessSampler(K, seed=0).propose(
        sc.pool_signals, test=grown, train=sc.train_signals, exclude=answered
    )
    repeated = set(again.ids.tolist()) & set(answered)
    check(f"round 2 proposes none of the {len(answered)} answered ids", not repeated,
          str(sorted(repeated)))  # fmt: skip
    a = summary["agreement"]
    return [
        f"proposals: {k} (planted digits scenario, seed 0); tasks: {K}, answered: {y['n']}",
        "outcome: labelled {labelled}, cannot tell {cannot_tell}, no majority {no_majority}, "
        "unlabelled {unlabelled}".format(**counts),
        f"agreement: mean {a['mean']:.3f}, {a['items_with_disagreement']} item(s) with "
        f"disagreement, {a['annotations']} annotations",
        f"yield: {y['value']:.3f} (95% {y['low']:.3f}-{y['high']:.3f}), {y['hits']} hits of "
        f"{y['n']} answered",
        f"benchmark: precision@{k} {precision:.3f} ({useful} useful), slipped copies {slipped}, "
        f"would-be hits lost to the tie/unanswered task {lost}: {useful} + {slipped} - {lost} = "
        f"{useful + slipped - lost} == {y['hits']} hits",
        f"next round: {len(again.ids)} proposals, none of the {len(answered)} answered ids; "
        f"test set {len(sc.test_signals)} -> {len(grown)}",
    ]


# ---------------------------------------------------------------- main
def interrupted(signum, frame):
    """SIGINT (also when started in the background, which ignores it), SIGTERM and SIGHUP end
    the run as Ctrl-C does: the server is stopped on the way out."""
    raise KeyboardInterrupt


def main(args: argparse.Namespace) -> int:
    timings: dict[str, str] = {}
    venv = Path(os.environ.get("DATAPERF_LS_VENV") or REPO / ".ls-venv")
    try:
        took = ensure_venv(venv, log)
    except IndexUnreachable as err:
        print(f"UNAVAILABLE: {err}\nSKIP: Label Studio's venv cannot be made without the index.")
        return EXIT_NO_INDEX
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        print(f"FAIL: could not make Label Studio's venv at {venv}: {err}")
        return 1
    timings["Label Studio venv"] = "reused" if took is None else f"{took:.1f} s (created)"
    log(f"Label Studio {LS_VERSION} venv: {venv} ({timings['Label Studio venv']})")

    work = Path(args.work).absolute() if args.work else Path(tempfile.mkdtemp(prefix="dp-ls-"))
    if args.work and work.exists() and any(work.iterdir()):
        print(f"FAIL: --work {work} is not empty; pass an empty or new folder.")
        return 1
    doc_root = work / "docroot"
    doc_root.mkdir(parents=True, exist_ok=True)
    server = Server(venv, work / "ls-data", doc_root, ADMIN)
    lines: list[str] = []
    try:
        server.launch()  # migrations take ~30-50 s: propose meanwhile
        log(f"Label Studio starting on {server.base} (log {server.log_path})")
        t = time.monotonic()
        r = propose_and_export(doc_root, work)
        plan, special = plan_answers(r["tasks"], r["truth"], r["choices"])
        timings["dataperf propose + export"] = f"{time.monotonic() - t:.1f} s"
        log(f"exported {K} tasks to {r['tasks_path']}; planned exceptions: {special}")
        took = server.wait_ready()
        timings["first server start (migrations)"] = f"{took:.1f} s"
        log(f"server ready after {took:.1f} s")
        t = time.monotonic()
        export = label_studio_round(server, doc_root, work, r, plan)
        annotations = sum(a not in (None, SKIP) for pair in plan.values() for a in pair)
        sdk_check(venv, r, export, annotations)
        lines = read_back(r, export, work / "export_quick.json", plan, special)
        timings["round trip (project -> export -> SDK -> read back)"] = (
            f"{time.monotonic() - t:.1f} s"
        )
    except KeyboardInterrupt:
        check("not interrupted (Ctrl-C)", False)
        return 130
    except Exception as err:  # any failure is reported, then the server is stopped
        import traceback

        traceback.print_exc()
        check("the round trip ran to the end", False, repr(err))
        if server.log_path.exists():
            print("---- server.log ends ----\n" + server.log_path.read_text()[-3000:])
    finally:
        server.stop()
        timings["total"] = f"{time.monotonic() - T0:.1f} s"
        if args.keep or args.work:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        print("\n".join(["", "==== result ====", *lines, "==== timings ===="]))
        print("\n".join(f"{name}: {value}" for name, value in timings.items()))
        failed = [name for name, ok in CHECKS if not ok]
        verdict = "FAIL" if failed or not CHECKS else "PASS"
        print(f"{verdict}: {len(CHECKS) - len(failed)}/{len(CHECKS)} checks passed"
              + (f"; failed: {failed}" if failed else ""))  # fmt: skip
    return 1 if failed or not CHECKS else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (data, exports)")
    parser.add_argument("--work", metavar="DIR", help="an empty folder for every file (kept)")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    sys.exit(main(parser.parse_args()))
