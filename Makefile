# Two commands do all the set-up: `make demo` and `make test`. Both build .venv from nothing
# when it is missing (uv, pinned, from uv.lock) and reuse it on the next run.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: help demo test lint typecheck fmt bench venv lock clean

help:
	@echo "make demo   - build the environment and run the simulator + service with sample data"
	@echo "make test   - build the environment, then ruff, mypy --strict and the whole pytest suite"
	@echo "make lint | make fmt | make bench | make lock | make clean"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $(STAMP)

venv: $(STAMP)

lock: | $(UV)
	$(UV) lock --python $(PYTHON)

demo: $(STAMP)
	$(BIN)/jirabridge demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
