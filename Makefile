# fusionlabel — the two README commands (`make test`, `make demo`) do all set-up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A local wheel folder (CI machines) holds the CPU torch wheel; elsewhere use PyTorch's CPU index.
PIP_SOURCES := $(if $(wildcard /opt/wheels/torch-*),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu)
export NUMBA_THREADING_LAYER ?= omp
export OMP_NUM_THREADS ?= 2

.PHONY: test demo lint typecheck sysdeps venv clean bench

sysdeps:  ## Debian libraries Open3D needs (libusb); installed only when missing
	@if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then \
	  echo "installing libusb-1.0-0 (needed by open3d)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libusb-1.0-0 >/dev/null; \
	fi
	@if ! ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1'; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libgomp1 >/dev/null; \
	fi

$(STAMP): pyproject.toml constraints-cpu.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_SOURCES) -c constraints-cpu.txt -e ".[dev,io]"
	@$(PY) -c "import torch, sys; sys.exit('a CUDA torch build was installed on a CPU machine' if torch.version.cuda else 0)"
	@touch $(STAMP)

venv: sysdeps $(STAMP)

test: venv  ## install everything, lint, and run the whole suite
	$(VENV)/bin/ruff check engine kernels calibration tracking api benchmarks tests tools
	$(PY) -m pytest -q

demo: venv  ## the main job on the embedded default (bundled real data, CPU)
	$(VENV)/bin/fusionlabel demo

lint: venv
	$(VENV)/bin/ruff check engine kernels calibration tracking api benchmarks tests
	$(VENV)/bin/ruff format --check engine kernels calibration tracking api benchmarks tests

typecheck: venv
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
