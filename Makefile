# The two commands of the README: `make demo` and `make test`. Both build .venv first.
# TensorFlow 1.15 needs CPython 3.6 or 3.7; we look for a 3.7 that runs: PYTHON=... wins,
# then a working python3.7 on PATH, then pyenv's installed 3.7.x (even when not selected).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYENV_DIR := $(or $(PYENV_ROOT),$(HOME)/.pyenv)

define find_python37
for p in "$(PYTHON)" python3.7 $$(ls -d $(PYENV_DIR)/versions/3.7*/bin/python3.7 2>/dev/null | sort -V | tail -n 1); do \
  [ -n "$$p" ] || continue; \
  if "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 7)' >/dev/null 2>&1; then \
    command -v "$$p"; exit 0; \
  fi; \
done; exit 1
endef

.PHONY: demo test venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt requirements-cpu.txt requirements-common.txt setup.py
	@py="$$($(find_python37))" || { \
	  echo "error: no working Python 3.7 found (TensorFlow 1.15 needs 3.6 or 3.7)." >&2; \
	  echo "Install one, e.g. 'pyenv install 3.7.16' or your distribution's python3.7 with venv, or run 'make PYTHON=/path/to/python3.7'." >&2; \
	  exit 1; }; \
	echo "Using $$py"; \
	rm -rf $(VENV) && "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==23.3.2"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

demo: venv
	$(PY) scripts/demo.py --work_dir demo_run

test: venv
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) demo_run .pytest_cache *.egg-info
