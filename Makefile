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

.PHONY: test demo lint typecheck sysdeps venv sfs-sdk nuscenes-devkit nuscenes-crosscheck clean bench

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
	@if ! ldconfig -p 2>/dev/null | grep -q 'libturbojpeg.so.0'; then \
	  echo "installing libturbojpeg0 (needed by Scale's SFS SDK in the interoperability test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libturbojpeg0 >/dev/null || true; \
	fi

$(STAMP): pyproject.toml constraints-cpu.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_SOURCES) -c constraints-cpu.txt -e ".[dev,io,ray,viz]"
	@$(PY) -c "import torch, sys; sys.exit('a CUDA torch build was installed on a CPU machine' if torch.version.cuda else 0)"
	@touch $(STAMP)

venv: sysdeps $(STAMP)

# Scale's reference SDK for the SFS interoperability test lives in its own venv: it needs Python < 3.12
# and pins older pandas/opencv. If it cannot be installed the test skips and names what is missing.
SFS_VENV := .venv-sfs
SFS_SDK := scale-sensor-fusion-io==0.5.4
$(SFS_VENV)/.installed:
	@test -x $(SFS_VENV)/bin/python || $(PYTHON) -m venv $(SFS_VENV)
	@$(SFS_VENV)/bin/python -m pip install -q "$(SFS_SDK)" && touch $@ \
	  || echo "warning: could not install $(SFS_SDK); the SFS interoperability test will skip"

sfs-sdk: sysdeps $(SFS_VENV)/.installed

test: venv sfs-sdk nuscenes-devkit  ## install everything, lint, type-check, and run the whole suite
	$(VENV)/bin/ruff check engine kernels calibration tracking api benchmarks tests tools
	$(VENV)/bin/ruff format --check engine kernels calibration tracking api benchmarks tests tools
	$(VENV)/bin/mypy
	FUSIONLABEL_SFS_SDK_PYTHON=$${FUSIONLABEL_SFS_SDK_PYTHON:-$(CURDIR)/$(SFS_VENV)/bin/python} $(PY) -m pytest -q

demo: venv  ## the main job on the embedded default (bundled real data, CPU)
	$(VENV)/bin/fusionlabel demo

# The nuScenes devkit pins numpy<2, so it gets its own venv too; tools/nuscenes_crosscheck.py runs it as a
# subprocess and compares its boxes with engine.io.nuscenes (tests/engine/io/test_io_nuscenes_devkit.py
# does the same when the install succeeded, and skips naming this target otherwise).
NUSCENES_VENV := .venv-nuscenes
NUSCENES_DEVKIT := nuscenes-devkit==1.2.0
$(NUSCENES_VENV)/.installed:
	@test -x $(NUSCENES_VENV)/bin/python || $(PYTHON) -m venv $(NUSCENES_VENV)
	@$(NUSCENES_VENV)/bin/python -m pip install -q "$(NUSCENES_DEVKIT)" "numpy<2" && touch $@ \
	  || echo "warning: could not install $(NUSCENES_DEVKIT); the nuScenes devkit cross-check will skip"

nuscenes-devkit: $(NUSCENES_VENV)/.installed

nuscenes-crosscheck: venv nuscenes-devkit  ## our nuScenes reader against the official devkit
	$(PY) tools/nuscenes_crosscheck.py --devkit-python $(NUSCENES_VENV)/bin/python

lint: venv
	$(VENV)/bin/ruff check engine kernels calibration tracking api benchmarks tests tools
	$(VENV)/bin/ruff format --check engine kernels calibration tracking api benchmarks tests tools

typecheck: venv
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(SFS_VENV) $(NUSCENES_VENV) .pytest_cache .mypy_cache .ruff_cache
