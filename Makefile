# Two front doors: `make run` (set up, build the index, open the web chat) and `make test`.
# Everything installs into .venv; torch is pinned to the CPU build first, since an unpinned
# torch pulls a multi-GB CUDA build.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
TORCH  := torch==2.13.0

.PHONY: setup dev run test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(TORCH)
	$(PIP) install -e .
	@touch $@

dev: $(VENV)/.dev-installed

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install -e '.[dev]'
	@touch $@

run: setup
	$(VENV)/bin/qa serve

lint: dev
	$(VENV)/bin/ruff check qa ui tests bench
	$(VENV)/bin/ruff format --check qa ui tests bench
	$(VENV)/bin/mypy

test: dev lint
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) index/CURRENT index/gen-* .pytest_cache .mypy_cache .ruff_cache
