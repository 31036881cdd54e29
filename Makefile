# make serve: install, migrate, start web + worker on the embedded defaults.
# make test:  install, check, lint, run every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: serve test lint install install-dev sandbox system-deps format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

serve: install sandbox
	$(BIN)/python manage.py serve --port $(PORT)

# Debian packages: bubblewrap sandboxes Terraform runs; chromium drives the
# browser tests (Playwright cannot download a browser here).
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
sandbox:
	@command -v bwrap >/dev/null 2>&1 || ( apt-get update -qq && $(APT_INSTALL) bubblewrap >/dev/null ) \
	  || echo "warning: could not install bubblewrap; runs stay queued until 'bwrap' is installed" >&2

system-deps: sandbox
	@command -v chromium >/dev/null 2>&1 || ( apt-get update -qq && $(APT_INSTALL) chromium >/dev/null )

test: install-dev system-deps
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var
