# Two commands on a fresh Linux machine with python3 >= 3.10:
#   make lab    open JupyterLab on the tour notebook (bundled sample model)
#   make test   install dev extras and run the whole suite (pytest, ruff, mypy)
# Another Python, in its own venv:  make test PYTHON=python3.13 VENV=.venv-3.13
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
DEVSTAMP = $(VENV)/.installed-dev
# The checking toolchain (mypy, ruff, the packages whose types mypy reads), per Python.
# Only the dev install applies it; `make lab` and `pip install .` keep pyproject's bounds.
CONSTRAINTS = constraints/dev.txt
LINTED  = workbench tests bench sample_models constraints

.PHONY: lab test lint typecheck pytest samples fixtures bench scale fuzz clean constraints \
        venv-matches docs

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP) $@

# PYTHON given on the command line must be the Python the venv was made with: otherwise
# `make test PYTHON=python3.13` would quietly test an old .venv's Python.
venv-matches: | $(PY)
ifeq ($(origin PYTHON),command line)
	@want=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])') && \
	have=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])') && \
	if [ "$$want" != "$$have" ]; then \
	    echo "$(VENV) is Python $$have, but PYTHON=$(PYTHON) is $$want:" \
	         "use VENV=.venv-$$want (or remove $(VENV))"; exit 1; fi
endif

# As root (NVIDIA's containers, where TensorRT users live) JupyterLab refuses to start
# without --allow-root; nothing else changes.
ROOT_ARGS = $(if $(filter 0,$(shell id -u)),--allow-root)

lab: venv-matches $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_ARGS) $(LAB_ARGS) notebooks/01_tour.ipynb

test: venv-matches $(DEVSTAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/mypy workbench
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv-matches $(DEVSTAMP)
	$(VENV)/bin/ruff check $(LINTED)

typecheck: venv-matches $(DEVSTAMP)
	$(VENV)/bin/mypy workbench

# The manual (docs/, mkdocs.yml) as a site in site/, warnings as errors; `make test` builds it
# too (tests/test_docs_site.py). Open site/index.html.
docs: venv-matches $(DEVSTAMP)
	$(PY) -m mkdocs build --strict

# Re-resolve the checking toolchain on every supported Python (pyproject's classifiers),
# from scratch, and rewrite $(CONSTRAINTS). Then run `make test` on each Python.
constraints:
	@pythons=$$(sed -n 's/.*"Programming Language :: Python :: \(3\.[0-9]*\)".*/\1/p' \
	    pyproject.toml) && set -- && for v in $$pythons; do \
	    p=$$(.ci/python-for $$v) || exit 1; set -- "$$@" "$$p"; done && \
	$(PYTHON) constraints/update.py "$$@"

samples: $(STAMP)
	$(PY) sample_models/make_samples.py

# Real exporter output committed for the tests (sample_models/exports/): tiny transformers
# configs with random weights (no downloads) through both torch exporters (dynamo and
# TorchScript), plus skl2onnx and onnxmltools. Needs torch, so it has its own venv and is
# NOT run by CI: CI and the tests only read the committed .onnx files. It installs
#   pip install torch==2.13.0 transformers==5.25.0 onnxscript==0.7.2 onnx onnxruntime \
#       scikit-learn skl2onnx lightgbm onnxmltools   (exact pins in FIXTURES_PKGS)
# torch==2.13.0 is the CPU wheel (Python 3.11 here, a local wheel; PyPI's elsewhere).
# `make fixtures FIXTURES_ARGS="OUT_DIR llama"` writes only some models elsewhere.
FIXTURES_PYTHON ?= python3
FIXTURES_VENV   ?= .venv-fixtures
FIXTURES_PKGS    = torch==2.13.0 transformers==5.25.0 onnxscript==0.7.2 onnx==1.23.2 \
                   onnxruntime==1.32.0 scikit-learn==1.9.1 skl2onnx==1.20.0 lightgbm==4.7.0 \
                   onnxmltools==1.16.0

fixtures:
	test -x $(FIXTURES_VENV)/bin/python || $(FIXTURES_PYTHON) -m venv $(FIXTURES_VENV)
	@if [ "$$(cat $(FIXTURES_VENV)/.installed 2>/dev/null)" != "$(strip $(FIXTURES_PKGS))" ]; \
	then $(FIXTURES_VENV)/bin/python -m pip install -q $(FIXTURES_PKGS) && \
	     echo "$(strip $(FIXTURES_PKGS))" > $(FIXTURES_VENV)/.installed; fi
	$(FIXTURES_VENV)/bin/python sample_models/exports/make_exports.py $(FIXTURES_ARGS)

bench: $(DEVSTAMP)
	for b in bench/*_bench.py; do $(PY) $$b || exit 1; done

# every step on GPT-2-shaped models up to 770M parameters (3.1 GB, over 2 GiB)
scale: $(DEVSTAMP)
	$(PY) bench/scale_bench.py

fuzz: $(DEVSTAMP)
	WORKBENCH_FUZZ=long $(PY) -m pytest tests -m fuzz -p no:cacheprovider
	WORKBENCH_FUZZ=long $(PY) bench/reliability.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
