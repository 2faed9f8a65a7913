# Two commands on a fresh Linux machine with python3 >= 3.10:
#   make lab    open JupyterLab on the tour notebook (bundled sample model)
#   make test   install dev extras and run the whole suite (pytest, ruff, mypy)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
DEVSTAMP = $(VENV)/.installed-dev

.PHONY: lab test lint typecheck pytest samples bench scale fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP) $@

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/01_tour.ipynb

test: $(DEVSTAMP)
	$(VENV)/bin/ruff check workbench tests bench sample_models
	$(VENV)/bin/mypy workbench
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check workbench tests bench sample_models

typecheck: $(DEVSTAMP)
	$(VENV)/bin/mypy workbench

samples: $(STAMP)
	$(PY) sample_models/make_samples.py

bench: $(DEVSTAMP)
	for b in bench/*_bench.py; do $(PY) $$b || exit 1; done

# every step on GPT-2-shaped models up to 770M parameters (3.1 GB, over 2 GiB)
scale: $(DEVSTAMP)
	$(PY) bench/scale_bench.py

fuzz: $(DEVSTAMP)
	WORKBENCH_FUZZ=long $(PY) -m pytest tests -m fuzz -p no:cacheprovider
	WORKBENCH_FUZZ=long $(PY) bench/reliability.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
