# The two commands of the README: `make demo` and `make test` (and `make test-fast`, the unit tests
# without the slow ones). Each builds its venvs first.
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

# .venv: the stock tensorflow==1.15.5 (the CPU kernels tensorflow-gpu and NVIDIA's builds
# have too), for the whole test suite. .venv-mkl: intel-tensorflow==1.15.2, the MKL-DNN build
# that trains about 1.5x faster here, for `make demo` and the suite's second pass.
MKL_VENV := .venv-mkl
MKL_PY := $(MKL_VENV)/bin/python
# What runs again on the MKL build: what MKL-DNN replaces (convolutions, pools, LRN and its
# per-build implementation, dense layers: the network against NumPy), its thread defaults,
# mirrored training on it, synchronous training across processes (its all-reduce meets MKL's
# tensors), and the export and serving that run that graph. The rest (files, flags,
# preprocessing's image kernels, parameter-server clusters, plots, packaging, the recipes end to end)
# runs the same code on both builds.
MKL_TESTS := tests/model_fn_test.py tests/fused_lrn_test.py::OpTest tests/export_test.py tests/predictor_test.py \
	tests/distribution_test.py::CpuThreadingTest tests/distribution_test.py::MirroredEstimatorTest \
	tests/distribution_test.py::MultiWorkerDevicesTest tests/cluster_test.py::MultiWorkerClusterTest

.PHONY: demo test test-fast venv mkl-venv clean

# Both venvs install the package (editable) with the extra of their TensorFlow build, the plots and the
# test tools, at the versions of constraints.txt: the same files a user's `pip install` reads.
# $(1): the venv's folder; $(2): its TensorFlow extra.
define build_venv
	@py="$$($(find_python37))" || { \
	  echo "error: no working Python 3.7 found (TensorFlow 1.15 needs 3.6 or 3.7)." >&2; \
	  echo "Install one, e.g. 'pyenv install 3.7.16' or your distribution's python3.7 with venv, or run 'make PYTHON=/path/to/python3.7'." >&2; \
	  exit 1; }; \
	echo "Using $$py for $(1)"; \
	rm -rf $(1) && "$$py" -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade "pip==23.3.2"
	$(1)/bin/python -m pip install --quiet -c constraints.txt -e ".[$(2),plots,test]"
	@touch $(1)/.installed
endef

venv: $(VENV)/.installed
mkl-venv: $(MKL_VENV)/.installed

$(VENV)/.installed: setup.py constraints.txt
	$(call build_venv,$(VENV),cpu-stock)

$(MKL_VENV)/.installed: setup.py constraints.txt
	$(call build_venv,$(MKL_VENV),cpu)

demo: mkl-venv
	$(MKL_PY) scripts/demo.py --work_dir demo_run

test: venv mkl-venv
	$(PY) -m pytest -q tests
	$(MKL_PY) -m pytest -q $(MKL_TESTS)

# The quick loop: the stock venv, without the tests marked slow (the recipes end to end, fresh venvs).
test-fast: venv
	$(PY) -m pytest -q -m "not slow" tests

clean:
	rm -rf $(VENV) $(MKL_VENV) demo_run .pytest_cache *.egg-info build dist
