# One command each on a fresh clone: `make gallery` (sets up, then renders every figure),
# `make test` (sets up, then runs the tests). `make install` alone only sets up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU torch pin; GPU users install their own torch into the venv and pass TORCH_CONSTRAINTS=
TORCH_CONSTRAINTS ?= -c constraints-cpu.txt
STAMP := $(VENV)/.installed
GALLERY_ARGS ?=

.PHONY: install test gallery lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

gallery: $(STAMP)
	$(BIN)/ntkviz gallery --out gallery --explore $(GALLERY_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check ntkviz tests bench
	$(BIN)/ruff format --check ntkviz tests bench
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache bench/out
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
