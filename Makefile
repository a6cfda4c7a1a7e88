# make demo: run the action end to end against the built-in Northflank API simulator.
# make test: everything CI runs (tests, ruff, mypy --strict, action linters, image build).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEV := PYTHONPATH=devtools
CONTAINER_CHECK := ../shared/tools/container-check

.PHONY: setup demo sim test lint typecheck actionlint unit container lock bench bench-image bench-image-pull release-action clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(DEV) $(BIN)/python -m demo

# The Northflank simulator on http://127.0.0.1:8080 (PORT=...), with its catalogue printed:
# point the action (api-url) or the CLI (--api-url) at it. Ctrl-C stops it.
PORT ?= 8080
sim: setup
	$(DEV) $(BIN)/python -m nfsim --port $(PORT)

test: setup lint typecheck actionlint unit container

lint: setup
	$(BIN)/ruff check src devtools tests bench
	$(BIN)/ruff format --check src devtools tests bench

typecheck: setup
	$(BIN)/mypy src devtools tests bench

actionlint: setup
	$(BIN)/actionlint .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/hadolint Dockerfile
	$(BIN)/zizmor --offline --min-severity low .github/workflows action.yml

# On every core (pytest-xdist); a single test file or -k runs as usual with .venv/bin/pytest.
unit: setup
	$(BIN)/pytest -n auto --dist worksteal

# Builds the real Dockerfile and runs the image as the runner does, against the simulator;
# then runs the action under act (devtools/act_check.py) on the layers just built.
# Needs root and apt (it installs buildah/podman once); skipped with a reason elsewhere.
container: setup
	@if [ ! -x $(CONTAINER_CHECK) ]; then echo "container: skipped ($(CONTAINER_CHECK) not found)"; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then echo "container: skipped (needs root and apt-get)"; \
	else $(DEV) $(BIN)/python -m container_smoke $(CONTAINER_CHECK) && $(DEV) $(BIN)/python -m act_check; fi

# Figures, not pass/fail: each harness prints what it measured.
bench: setup
	PYTHONPATH=src:devtools $(BIN)/python bench/log_requests.py
	$(BIN)/python bench/startup_memory.py
	PYTHONPATH=src:devtools $(BIN)/python bench/detection_latency.py
	PYTHONPATH=src:bench:devtools $(BIN)/python bench/shared_budget.py
	PYTHONPATH=src $(BIN)/python bench/detection_realtime.py
	PYTHONPATH=src:devtools $(BIN)/python bench/targets.py
	PYTHONPATH=src:devtools $(BIN)/python bench/template_runs.py
	PYTHONPATH=src:devtools $(BIN)/python bench/previews.py

# Image size, build time (cold and cached) and in-container start-up of install variants.
# Needs root and apt, like make container.
bench-image: setup
	PYTHONPATH=src $(BIN)/python bench/image.py

# What a user pulls: compressed (gzip layers) and uncompressed size, base and own layers,
# on the bases container-check can build here. Needs root and apt, like make container.
bench-image-pull: setup
	$(BIN)/python bench/image_pull.py

# Point action.yml (working tree) at a prebuilt image; the release workflow runs this with
# the pushed image's digest on a release commit. Main keeps `image: Dockerfile`.
release-action: setup
	@test -n "$(IMAGE)" || { echo "usage: make release-action IMAGE=registry/name@sha256:<digest>" >&2; exit 2; }
	$(DEV) $(BIN)/python -m release_action "$(IMAGE)"

lock: setup
	$(BIN)/uv pip compile requirements.in --generate-hashes --python-version 3.12 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-output
