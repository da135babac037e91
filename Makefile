# ungp-assistant: `make serve` and `make test` set everything up on a fresh machine (Python 3.11).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
UNGP_HOST ?= 127.0.0.1
UNGP_PORT ?= 8000

.PHONY: install index serve test check lint format eval bench browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel this machine keeps on disk (any other version pulls a CUDA build)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## venv + dependencies

index: install ## build or update the index of ./corpus
	$(BIN)/ungp ingest

serve: install ## index the corpus if needed, then serve on http://$(UNGP_HOST):$(UNGP_PORT)
	$(BIN)/ungp serve --host $(UNGP_HOST) --port $(UNGP_PORT)

browser: ## Chromium from Debian for the browser tests (CI fails without it; elsewhere they are skipped)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		{ [ -z "$$CI" ] && echo "chromium not installed: browser tests will be skipped"; }

check: install ## lint, types, import layers
	$(BIN)/ruff check assistant tests eval bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install browser check ## everything CI runs
	$(BIN)/python eval/check_questions.py
	$(BIN)/pytest

eval: install ## score the assistant and the baselines on eval/questions.jsonl
	$(BIN)/ungp eval

bench: install ## benchmarks -> bench/RESULTS.md (synthetic corpora in /tmp/ungp-bench; ~1 h on 2 cores)
	$(BIN)/python -m bench.run bench --sizes 1 100 1000 --work /tmp/ungp-bench

format: install
	$(BIN)/ruff format assistant tests eval bench
	$(BIN)/ruff check --fix assistant tests eval bench

clean:
	rm -rf $(VENV) indexes .pytest_cache .mypy_cache .ruff_cache
