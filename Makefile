# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv from the pinned set in constraints.txt when it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# Test processes: the CI machines have 2 cores. Idle workers steal queued tests (--dist worksteal),
# so a few long end-to-end tests do not leave one core idle at the end.
PYTEST_WORKERS ?= 2

.PHONY: demo test lint bench lock venv clean chart-rbac

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/evidence-agent demo --workdir demo

test: $(STAMP)
	$(BIN)/ruff check .
	@# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest ran no tests" >&2; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python bench/store_growth.py
	$(BIN)/python bench/aws_collect.py --scale 10
	$(BIN)/python bench/k8s_collect.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/prune.py
	$(BIN)/python bench/bundle.py
	$(BIN)/python bench/portal.py

# The Helm chart's ClusterRole rules are what `evidence-agent permissions kubernetes` prints;
# regenerate them after changing a Kubernetes kind's permissions (tests/deploy fails until you do).
chart-rbac: $(STAMP)
	$(BIN)/evidence-agent permissions kubernetes > deploy/helm/evidence-agent/files/clusterrole.yaml

# Re-resolve the dependency set from pyproject.toml and pin it (needs the package index).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q -e ".[dev]"
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache
