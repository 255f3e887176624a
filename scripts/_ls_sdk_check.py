"""What Label Studio's own SDK says about a round's files; run by label_studio_round_trip.py
with the Python of Label Studio's venv (label-studio-sdk is not in dataperf's environment):

    <ls venv>/bin/python scripts/_ls_sdk_check.py CONFIG.xml TASKS.json EXPORT.json

Parses the labelling config with ``LabelInterface`` (and validates it: raises if invalid), then
validates every imported prediction and every exported (not skipped) annotation against it.
Prints one JSON line.
"""

import json
import sys
from importlib.metadata import version

from label_studio_sdk.label_interface import LabelInterface

config, tasks, export = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
li = LabelInterface(config)
li.validate()  # raises on an invalid config
imported, exported = json.loads(tasks), json.loads(export)
annotations = [a for t in exported for a in t["annotations"] if not a["was_cancelled"]]
choice = {"from_name": "label", "to_name": "image", "type": "choices"}
unknown = {"result": [{**choice, "value": {"choices": ["not a class"]}}]}
said = {
    "sdk": version("label-studio-sdk"),
    "controls": sorted(c.name for c in li.controls),
    "objects": sorted(o.name for o in li.objects),
    "choices": list(li.get_control("label").labels),
    "prediction_errors": [
        error
        for task in imported
        for prediction in task.get("predictions", [])
        for error in li.validate_prediction(prediction, return_errors=True)
    ],
    "annotations": len(annotations),
    "invalid_annotations": [a["id"] for a in annotations if not li.validate_annotation(a)],
    # validate_task() with annotations calls validate_annotation() without one (SDK 2.1.2 bug)
    "tasks_without_config_data": [
        t["id"] for t in exported if not li.validate_task({"data": t["data"]})
    ],
    "rejects_unknown_choice": not li.validate_annotation(unknown),
}
print(json.dumps(said))
