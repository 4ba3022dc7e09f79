# Hub — the two commands: `make run` and `make test` (see README).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
HUB_PORT ?= 8000
export HUB_PORT
export HUB_PUBLIC_URL ?= http://127.0.0.1:$(HUB_PORT)

.PHONY: run test setup migrate lint bench benchtools clean browser screenshots

$(STAMP):
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

# The cabinet's browser tests drive Debian's chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

migrate: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

run: migrate
	@$(BIN)/python manage.py demo_setup
	@echo "Hub admin: $(HUB_PUBLIC_URL)/admin/  (Ctrl-C stops web, worker, beat and emulators)"
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --no-prefix -f Procfile 2>&1 || true

lint: setup
	$(BIN)/ruff check .

test: lint browser
	$(BIN)/python -m pytest

# The browser tests save what they saw in var/screenshots/; the README shows docs/screenshots/.
screenshots: setup browser
	rm -rf var/screenshots
	$(BIN)/python -m pytest -q $$(find tests -name 'test_browser*.py' | sort)
	mkdir -p docs/screenshots && rm -f docs/screenshots/*.png && cp var/screenshots/*.png docs/screenshots/

# Load generator for the webhook intake benchmark (Debian's wrk), as `browser` installs chromium.
benchtools:
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)

bench: setup benchtools
	cd bench && ../$(BIN)/python run_all.py

clean:
	rm -rf $(VENV) var
