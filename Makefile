# Two commands (README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench bench-synth bench-lists bench-healthcode clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-*; touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fangkong demo

lint: $(STAMP)
	$(BIN)/ruff check src tests tools
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 --dist loadfile

bench-synth: $(STAMP)
	$(BIN)/python -m epicore.synth.bench --people 1000000 --days 14 --repeat 3

bench-lists: $(STAMP)
	$(BIN)/fangkong bench-lists --people 1000000

bench-healthcode: $(STAMP)
	$(BIN)/python -m epicore.healthcode.bench

bench: bench-synth bench-lists bench-healthcode

clean:
	rm -rf $(VENV) var
