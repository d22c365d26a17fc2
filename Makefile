# The verbs: run, test, lint, fmt, migrate, bench. `make run` and `make test` set up a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PACKAGES := -e shared -e services/scheduling -e services/billing -e services/notifications -e services/web
PYTEST := $(BIN)/python -m pytest
# Tests that stop the shared broker or kill processes run alone, after the parallel suite.
XDIST  ?= -n 2

.PHONY: constraints install run test test-fast test-integration test-disruptive lint fmt migrate bench bench-compare clean

$(STAMP): constraints.txt requirements-dev.txt shared/pyproject.toml services/*/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python deploy/local/run.py

test: test-fast test-integration test-disruptive

test-fast: $(STAMP)
	$(PYTEST) -q -m "not integration and not e2e and not disruptive" $(XDIST) shared services tests

test-integration: $(STAMP)
	$(PYTEST) -q -m "(integration or e2e) and not disruptive" $(XDIST) shared services tests

test-disruptive: $(STAMP)
	$(PYTEST) -q -m "disruptive" shared services tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy shared/src $(foreach s,scheduling billing notifications web,services/$(s)/src/$(s)/domain services/$(s)/src/$(s)/service_layer)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(STAMP)
	$(BIN)/scheduling migrate
	$(BIN)/billing migrate
	$(BIN)/notifications migrate

# Every benchmark, one summary table kept under var/bench/ (BENCH_ARGS=--quick for smaller runs).
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

bench-compare: $(STAMP)
	$(BIN)/python bench/run_all.py --compare

clean:
	rm -rf var

constraints: $(STAMP)
	(echo "# Every third-party dependency pinned (pip install -c constraints.txt). Regenerate: make constraints"; \
	 $(BIN)/pip freeze --exclude-editable | grep -v -E "^(clinic-shared|ims-)") > constraints.txt
