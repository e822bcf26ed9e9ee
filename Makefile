# From RNNs to LLMs: the two set-up commands (`make book`, `make test`) and their helpers.
# Everything installs into .venv; nothing is registered globally.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Progress bars are for people; executed and tested notebooks must not contain them.
export TUTORIAL_LIB_PROGRESS = 0
export PYTHONHASHSEED = 0

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: help venv vendor book test unit nbval execute student bench robust tolerances colab lab clean

help:
	@echo "make book     set up .venv and build the HTML book into _build/html"
	@echo "make test     set up .venv and run every test (unit, hygiene, nbval, book build)"
	@echo "make execute  re-execute every notebook in place, in fresh kernels"
	@echo "make student  write _build/student/: the notebooks without solutions or outputs"
	@echo "make bench    time every notebook (median of REPEATS=3), the matmul peak, the GPT step"
	@echo "make robust   execute every notebook with its seeds shifted (SHIFTS=\"1000 2000 3000\"): every claim must hold"
	@echo "make tolerances  write what nbval compares, from the runs of make robust"
	@echo "make colab    execute every notebook in Colab's runtime (Python 3.13, torch 2.11; downloads GBs)"
	@echo "make lab      open the notebooks in JupyterLab"
	@echo "make clean    remove _build and caches (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# Pinned MathJax, RequireJS and widget renderer from the npm registry (sha512-checked), so the
# built site opens with no network; _config.yml copies them into _build/html/_vendor.
vendor: $(STAMP)
	$(BIN)/python -m tutorial_lib.tools.book vendor

book: vendor
	$(BIN)/jupyter-book build --all -W -n --keep-going .
	@echo "The book is in _build/html/index.html"

# Unit tests, notebook hygiene, the book build, the browser tests of every page (when Chromium
# is installed; .ci/run installs it), nbval over every notebook and three chapters with their
# seeds shifted, in one run on WORKERS processes (pytest-xdist; --dist loadscope keeps each
# notebook's cells in one worker, as nbval runs a notebook in one kernel). Cells tagged
# nbval-approx compare each number within the tolerance recorded in the cell (tests/nbval_tolerance.py).
# One thread per worker: two workers each running two OpenMP threads on two cores slow each other
# down many times over (a notebook took 525 s beside another one instead of 60 s alone).
WORKERS ?= 2
THREADS ?= 1
test: vendor
	OMP_NUM_THREADS=$(THREADS) MKL_NUM_THREADS=$(THREADS) \
	$(BIN)/python -m pytest tests $(NOTEBOOKS) -n $(WORKERS) --dist loadscope --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300 \
		-p tests.nbval_tolerance -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests -p no:cacheprovider

nbval: $(STAMP)
	$(BIN)/python -m pytest $(NOTEBOOKS) --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300 \
		-p tests.nbval_tolerance -p no:cacheprovider

execute: $(STAMP)
	$(BIN)/python -m tutorial_lib.tools.book execute $(NOTEBOOKS)

# For instructors: the notebooks to hand out, solutions removed by their cell tag, outputs cleared.
student: $(STAMP)
	rm -rf _build/student
	$(BIN)/python -m tutorial_lib.tools.book student _build/student $(NOTEBOOKS)

# Not part of `make test`: about 3 x 8 minutes on 2 CPU cores. Writes _build/bench.json.
REPEATS ?= 3
bench: $(STAMP)
	$(BIN)/python -m tutorial_lib.tools.bench $(NOTEBOOKS) --repeats $(REPEATS)

# Not part of `make test`: the whole book once per shift (about 8 minutes each on 2 cores).
SHIFTS ?= 1000 2000 3000
robust: $(STAMP)
	$(BIN)/python -m tutorial_lib.tools.robust run $(NOTEBOOKS) --shifts $(SHIFTS)

tolerances: $(STAMP)
	$(BIN)/python -m tutorial_lib.tools.robust tolerances --write $(NOTEBOOKS)

# Not part of `make test`: a venv of Colab's versions under _build/colab (several GB of downloads).
colab: $(STAMP)
	$(BIN)/python -m tutorial_lib.tools.colab $(NOTEBOOKS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf _build .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
