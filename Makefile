# Two commands do all the set-up on a fresh machine: `make sweep` and `make test`.
# Both create .venv on first use. torch is pinned to the CPU build first, so that nothing
# downloads CUDA packages on a CPU machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: install train sweep tuned test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

sweep: install
	$(BIN)/rl-sweep --algos ppo a2c --seeds 5

tuned: install
	$(BIN)/rl-sweep --preset tuned --algos ppo a2c --seeds 5

train: install
	$(BIN)/rl-train --algo ppo

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) results/experiments results/sweeps
