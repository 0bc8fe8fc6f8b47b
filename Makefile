# The two commands: `make book` and `make test`. Each sets everything up from a fresh clone.
# Override the interpreter with PYTHON=..., the venv folder with VENV=..., the book's profile with SPARSADV_PROFILE=...
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sparsadv-installed
SPARSADV_PROFILE ?= cpu
export SPARSADV_PROFILE
# OpenMP threads that spin while waiting make torch 2-5x slower on a small shared machine; this must be set
# before torch is imported, so it is set here for every process the targets start.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: book test install export clean bench help

help:
	@echo "make book     build the Jupyter Book (executes every chapter at SPARSADV_PROFILE=$(SPARSADV_PROFILE))"
	@echo "make test     run every notebook (nbdev_test, quick profile) and tests/ under pytest"
	@echo "make bench    print the benchmark table (python -m sparsadv.benchmarks)"
	@echo "make export   regenerate sparsadv/ from nbs/ (after editing a notebook)"

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	# torchattacks pins an old `requests` that conflicts with Jupyter Book; it needs nothing that is not installed already
	$(BIN)/python -m pip install --no-deps torchattacks==3.5.1
	$(BIN)/python -m pip install --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

export: $(STAMP)
	$(BIN)/nbdev_export

# The book executes every notebook on every build (--all: otherwise Sphinx keeps the pages whose source did not
# change, even from a build at another profile); warnings are errors (-W) and a failing cell fails the build.
book: export
	SPARSADV_PROGRESS=0 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter-book build --all -W -n --keep-going .
	@echo "The book is at $(abspath _build/html/index.html)"

# Tests run at the quick profile. They do not export first: one test checks that the committed package is
# exactly what nbdev_export makes from the notebooks.
test: $(STAMP)
	SPARSADV_PROFILE=quick SPARSADV_PROGRESS=0 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests -q

bench: $(STAMP)
	$(BIN)/python -m sparsadv.benchmarks

clean:
	rm -rf _build
