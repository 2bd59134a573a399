# The template's own workflows: `make demo` shows a baked project's life, `make test` checks
# the template. `make help` lists every target.
PYTHON ?= python3
VENV ?= .venv
DEMO ?= build/demo
PYTEST_WORKERS ?= 2
UV ?= $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)

# Recipes use the template's environment without activating it; baked projects reuse uv.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export UV

.DEFAULT_GOAL := help
.PHONY: help install test test-fast lint format docs demo lock clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	@echo "uv not found: installing it into .tools/ with pip"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

NODE_TOOLS := tests/tools/node_modules/.bin

install: $(UV) $(NODE_TOOLS) ## Create .venv with the template's test tools (uv.lock, package-lock.json)
	$(UV) sync --locked

# Azurite and gitlab-ci-local, for the slow tests; skipped (with a note) without npm.
$(NODE_TOOLS): tests/tools/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/tools --no-audit --no-fund; \
	else echo "NOTE: npm not found - the Azure remote and GitLab CI tests will be skipped"; fi

test: install ## Run every test: fast bakes and slow bake-install-run tests
	pytest -n $(PYTEST_WORKERS) --dist loadscope --durations=12

test-fast: install ## Run the fast tier only (bake, render, lint; about two minutes)
	pytest -m "not slow"

lint: install ## Lint the template's own Python code
	ruff check hooks scripts tests benchmarks
	ruff format --check hooks scripts tests benchmarks

format: install ## Format the template's own Python code
	ruff check --fix hooks scripts tests benchmarks
	ruff format hooks scripts tests benchmarks

demo: install ## Bake build/demo, run its make ci, then deploy, serve and swap models live
	rm -rf $(DEMO)
	cookiecutter --no-input --output-dir $(dir $(DEMO)) . project_name="$(notdir $(DEMO))"
	$(MAKE) -C $(DEMO) install
	$(MAKE) -C $(DEMO) ci
	@# Commit the first run as a user would, so its version names a commit (not -dirty).
	git -C $(DEMO) add --all
	git -C $(DEMO) -c user.name="$$(git config user.name || echo demo)" \
		-c user.email="$$(git config user.email || echo demo@example.com)" \
		commit --quiet -m "Train the first model"
	$(MAKE) -C $(DEMO) metrics
	python scripts/demo_serve.py $(DEMO)

docs: install ## Build the template's documentation (docs/, mkdocs.yml) into site/ with --strict
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lock: install ## Refresh the generated project's uv.lock (UPGRADE=1 for newest versions)
	python scripts/lock_project.py $(if $(UPGRADE),--upgrade)

clean: ## Remove build/ and caches
	rm -rf build site .pytest_cache .ruff_cache .tools
