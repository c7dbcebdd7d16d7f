# spectroset — `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
# The extras installed (docs/install.md): torch-free by default. `make gpu`, or EXTRAS=dev,ray,gpu
# on any target, adds torch (spectrogram.device cuda|auto and the GPU path's tests, run on the CPU).
EXTRAS ?= dev,ray
# With the gpu extra: the CPU build of torch (a local wheel here; any other torch pulls GBs of
# CUDA libraries); override e.g. TORCH_SPEC="torch>=2.4" for CUDA.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
COMMA := ,
STAMP := $(VENV)/.installed-$(subst $(COMMA),-,$(EXTRAS))

.PHONY: demo test bench bench-scale install gpu clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(filter gpu,$(subst $(COMMA), ,$(EXTRAS))),$(BIN)/python -m pip install -q "$(TORCH_SPEC)")
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

gpu:
	$(MAKE) install EXTRAS="$(EXTRAS),gpu"

demo: $(STAMP)
	$(BIN)/spectroset build examples/demo.yaml -o out/demo
	$(BIN)/python examples/show.py out/demo

test: $(STAMP)
	$(BIN)/lint-imports --no-cache  # imports only point down (pyproject.toml, docs/internals.md)
	$(BIN)/python -m pytest -q

# The peers need librosa (dev) and torch (gpu); spectroset's CPU path imports neither torch nor MKL.
bench:
	$(MAKE) install EXTRAS=dev,ray,gpu
	$(BIN)/python -m bench

bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale

clean:
	rm -rf out bench/work .pytest_cache
