# retour: two commands on a fresh Debian/Ubuntu machine with Python 3.11.
#   make demo   set everything up, run the whole pipeline on the example study mali-2018
#   make test   set up what the tests need, run the whole suite
PYTHON ?= python3
VENV := .venv
RETOUR := $(VENV)/bin/retour
DEMO_DIR ?= demo-study
# Let Python cache compiled modules even where the environment says not to.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test setup lint bench clean

setup:
	PYTHON=$(PYTHON) bash scripts/bootstrap.sh

demo: setup
	$(RETOUR) demo $(DEMO_DIR)

test: setup
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(VENV)/bin/python $$script; done

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
