# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The hot path compiled with mypyc (issue 6; the module list is in detector/native.py). Built
# again whenever one of its sources changes; S3AD_PURE_PYTHON=1 skips it (same behaviour, slower).
NATIVE := detector/native.lock
NATIVE_SOURCES := $(shell $(PYTHON) detector/native.py)
REQUIRE_NATIVE := $(if $(filter-out 0,$(S3AD_PURE_PYTHON)),0,1)

.PHONY: demo test lint typecheck unit venv native bench clean

venv: $(STAMP)

# Dependencies first, as source; then the compile, which type-checks against them.
$(STAMP): setup.cfg setup.py pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	S3AD_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark,bench]'
	$(BIN)/python -m pip check
	touch $(STAMP)

native: $(NATIVE)

$(NATIVE): $(STAMP) detector/native.py $(NATIVE_SOURCES)
	S3AD_REQUIRE_NATIVE=$(REQUIRE_NATIVE) $(BIN)/python setup.py --quiet build_ext --inplace

demo: $(NATIVE)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check detector tests scripts
	$(BIN)/ruff format --check detector tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(NATIVE)
	$(BIN)/pytest

test: lint typecheck unit

bench: $(NATIVE)
	scripts/bench

clean:
	rm -rf $(VENV) out build .pytest_cache .mypy_cache .ruff_cache $(NATIVE)
	find detector -name '*.so' -delete
