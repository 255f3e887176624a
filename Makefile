# Quick start: `make demo` (set up + run the main job), `make test` (set up + lint + tests).
# albumentations contacts the package index at import unless this is set.
export NO_ALBUMENTATIONS_UPDATE := 1
# Model hubs are unreachable offline; fail fast instead of retrying.
export HF_HUB_OFFLINE := 1
VENV ?= .venv
export DATAPERF_VENV := $(VENV)

.PHONY: setup demo test lint bench

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/dataperf demo $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/python -m pytest $(ARGS)

bench: setup
	$(VENV)/bin/python benchmarks/augment_overhead.py
