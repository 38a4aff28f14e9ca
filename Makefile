# The two commands: `make demo` and `make test`. Both set up what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARTIFACTS := test-artifacts

.PHONY: demo test bench lint format system-packages clean

demo: $(STAMP)
	$(BIN)/mingzhou demo

test: $(STAMP) system-packages
	@mkdir -p $(ARTIFACTS)
	@echo "screenshots and logs of this run: $(abspath $(ARTIFACTS))"
	MINGZHOU_ARTIFACTS=$(abspath $(ARTIFACTS)) $(BIN)/pytest -q --durations=25
	@echo "screenshots and logs of this run: $(abspath $(ARTIFACTS))"

bench: $(STAMP) system-packages
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

system-packages:
	@scripts/install-system-packages.sh

# The virtual environment is (re)built when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Mingzhou needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --config-settings editable_mode=compat -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) $(ARTIFACTS) .demo .pytest_cache .ruff_cache *.egg-info
