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
	$(BIN)/upscway --profile demo run ingest
	$(BIN)/upscway --profile demo gold import deployments/demo/gold.csv
	$(BIN)/upscway --profile demo run annotate
	$(BIN)/upscway --profile demo status
	@echo
	@echo "Stored in $(UPSCWAY_DATA_DIR)/upscway.duckdb. Try:"
	@echo "  $(BIN)/upscway sql \"SELECT title, count(*) AS chunks FROM articles a JOIN chunks c ON c.article_id = a.id GROUP BY title\""
	@echo "  $(BIN)/upscway sql \"SELECT g.label AS gold, a.label AS teacher, count(*) AS n FROM gold_current g JOIN annotations a USING (text_hash) GROUP BY ALL ORDER BY 1, 3 DESC\""

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) data
