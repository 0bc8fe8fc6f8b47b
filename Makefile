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

.PHONY: book test install export clean bench help screenshots check-book paper-synthetic paper-studies book-networks
# Notebooks the book build executes at once (book/execute.py); each gets cores / BOOK_JOBS threads.
BOOK_JOBS ?= 2
# e.g. BOOK_EXECUTE_FLAGS=--record: keep this build's times in book/timings.json (shown on the performance page)
BOOK_EXECUTE_FLAGS ?=

help:
	@echo "make book     build the Jupyter Book (executes every chapter at SPARSADV_PROFILE=$(SPARSADV_PROFILE))"
	@echo "make test     run every notebook (nbdev_test, quick profile) and tests/ under pytest"
	@echo "make bench    print the benchmark table (python -m sparsadv.benchmarks)"
	@echo "make export   regenerate sparsadv/ from nbs/ (after editing a notebook)"
	@echo "make paper-synthetic  Figs 1, 5, 6 at the paper's exact sizes on this machine (~1.5 h on 2 cores), recorded in book/recorded/paper"
	@echo "make paper-studies    Fig 5's readings and Fig 6's second network at the paper's sizes, recorded in book/recorded/studies"
	@echo "make book-networks    keep the book's trained LISTAs in book/networks (a fresh clone's build then skips training them)"
	@echo "make screenshots  full-page PNGs of the built book in _build/screenshots (needs Chromium)"

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

# The book executes every notebook on every build: book/execute.py runs them BOOK_JOBS at a time into an emptied
# jupyter-cache, then Jupyter Book renders every page from it (--all: otherwise Sphinx keeps the pages whose source
# did not change, even from a build at another profile). Warnings are errors (-W), a failing cell fails the build,
# and book/check_html.py fails it when a page does not read well (raw markdown tables, CDN math, noise in outputs).
book: export
	$(BIN)/python book/networks.py seed --profile $(SPARSADV_PROFILE)
	SPARSADV_PROGRESS=0 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python book/execute.py --jobs $(BOOK_JOBS) $(BOOK_EXECUTE_FLAGS)
	SPARSADV_PROGRESS=0 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter-book build --all -W -n --keep-going .
	$(BIN)/python book/check_html.py _build/html
	@echo "The book is at $(abspath _build/html/index.html)"

# The synthetic half of the paper at its exact sizes (the paper profile; no GPU needed), recorded with its provenance in
# book/recorded/paper/ for the book to read. Resumable: LISTA training checkpoints into the cache.
paper-synthetic: export
	$(BIN)/python book/paper_synthetic.py --profile paper

# Fig 5's readings and Fig 6's second network (sparsadv.experiments.studies), recorded in book/recorded/studies/.
# Resumable; STUDY_FLAGS e.g. --study fig5, or --variants independent --steps independent=28000
STUDY_FLAGS ?=
paper-studies: export
	$(BIN)/python book/paper_studies.py --profile paper $(STUDY_FLAGS)

# Keep the book's trained LISTAs (from the cache, after a build trained them) in book/networks/ for the next fresh clone
book-networks: $(STAMP)
	$(BIN)/python book/networks.py save --profile $(SPARSADV_PROFILE)

check-book: $(STAMP)
	$(BIN)/python book/check_html.py _build/html

# Look at the book as a reader does: one full-page PNG per page (headless Chromium; Debian: apt-get install chromium).
screenshots: $(STAMP)
	$(BIN)/python book/screenshots.py _build/html --out _build/screenshots

# Tests run at the quick profile. They do not export first: one test checks that the committed package is
# exactly what nbdev_export makes from the notebooks.
test: $(STAMP)
	SPARSADV_PROFILE=quick SPARSADV_PROGRESS=0 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests -q

bench: $(STAMP)
	$(BIN)/python -m sparsadv.benchmarks

clean:
	rm -rf _build
