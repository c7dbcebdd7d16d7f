# spectroset — `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
# The CPU build of torch (a local wheel here); override e.g. TORCH_SPEC="torch>=2.4" for CUDA.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-scale install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev,ray]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/spectroset build examples/demo.yaml -o out/demo
	$(BIN)/python examples/show.py out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale

clean:
	rm -rf out bench/work .pytest_cache
