# The two commands a new user types: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export UPSCWAY_DATA_DIR ?= data

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/upscway --profile demo gold import deployments/demo/gold.csv
	$(BIN)/upscway --profile demo run nightly
	$(BIN)/upscway --profile demo status
	@echo
	@echo "Evaluation report: $$(ls -t $(UPSCWAY_DATA_DIR)/reports/*/report.html 2>/dev/null | head -1)"
	@echo "Stored in $(UPSCWAY_DATA_DIR)/upscway.duckdb. Two queries to try:"
	@echo "  $(BIN)/upscway sql \"SELECT decided_by, label, count(*) AS chunks FROM tags GROUP BY ALL ORDER BY 1, 3 DESC\""
	@echo "  $(BIN)/upscway sql \"SELECT g.label AS gold, a.label AS teacher, count(*) AS n FROM gold_current g JOIN annotations a USING (text_hash) GROUP BY ALL ORDER BY 1, 3 DESC\""

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) data
