# Two entry points: `make sweep` runs the default sweep locally, `make test` runs the tests.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: sweep test report dry-run lint clean-results study reproduce

$(STAMP): envs/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

sweep: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores $(CORES) --keep-going --rerun-incomplete $(SNAKEMAKE_ARGS)

# A study preset (config/<PRESET>.yaml, e.g. universality_small), then its claims.
study: $(STAMP)
	@test -n "$(PRESET)" || (echo "name a preset: make study PRESET=universality_small" && false)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores $(CORES) --keep-going --rerun-incomplete \
		--configfile config/$(PRESET).yaml $(SNAKEMAKE_ARGS)

reproduce: $(STAMP)
	@test -n "$(PRESET)" || (echo "name a preset: make reproduce PRESET=universality_small" && false)
	$(BIN)/python -m rnn_analysis reproduce $(PRESET) results/$(PRESET)

report: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --report report.html $(SNAKEMAKE_ARGS)

dry-run: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --dry-run --quiet $(SNAKEMAKE_ARGS)

# The science tests (marker "science") train populations and test the known results as
# rates. They run a second time on another numeric path -- ATen's non-vectorised kernels
# and MKL's compatible code path -- alongside the main run, so that no verdict rests on
# one CPU's rounding; both runs must pass.
SECOND_PATH := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE

test: $(STAMP)
	bash scripts/install_slurm.sh
	@rm -rf .pytest-second-path; \
	PATH=$(CURDIR)/$(BIN):$$PATH $(SECOND_PATH) $(BIN)/python -m pytest -m science -q \
		-p no:cacheprovider --basetemp=.pytest-second-path $(PYTEST_ARGS) \
		> .pytest-second-path.log 2>&1 & second=$$!; \
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest $(PYTEST_ARGS); main=$$?; \
	wait $$second; status=$$?; \
	echo "== science tests again on a second numeric path: $(SECOND_PATH)"; \
	cat .pytest-second-path.log; \
	test $$main -eq 0 && test $$status -eq 0

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/snakemake --lint
