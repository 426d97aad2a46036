# The two commands: `make run` and `make test`. Everything else is a step they take.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# Debian packages: WeasyPrint's libraries and the CJK font, Chromium for browser tests,
# poppler-utils for reading PDFs in tests.
DEB_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk chromium poppler-utils

.PHONY: run test setup system-packages python assets translations lint wheel bench clean

run: setup
	@mkdir -p instance
	PORTAL_ENVIRONMENT=development PORTAL_MAIL_BACKEND=mailbox $(BIN)/portal db upgrade
	PORTAL_ENVIRONMENT=development PORTAL_MAIL_BACKEND=mailbox $(BIN)/portal demo
	@echo ""
	@echo "  The portal is at http://127.0.0.1:$(PORT)  (development mailbox: http://127.0.0.1:$(PORT)/dev/mailbox)"
	@echo "  Staff accounts ask for a security code: the demo TOTP secret is JBSWY3DPEHPK3PXP"
	@echo ""
	PORTAL_ENVIRONMENT=development PORTAL_MAIL_BACKEND=mailbox $(BIN)/portal run --host 127.0.0.1 --port $(PORT)

test: setup
	$(BIN)/python tools/run_tests.py

setup: system-packages python assets

system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "Some Debian packages are missing. Run:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	  fi; \
	fi

python: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

assets: portal/static/portal.css

portal/static/portal.css: package.json package-lock.json portal/assets/portal.scss portal/assets/portal.js portal/assets/build.mjs
	npm ci --no-audit --no-fund --loglevel=error
	node portal/assets/build.mjs

# Extract, update and compile the message catalogues.
translations: python
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o portal/translations/messages.pot --no-location --sort-output --omit-header .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d portal/translations --statistics
	@# Each built-in service has its own domain (services/<name>/babel.cfg) and catalogues.
	@set -e; for config in services/*/babel.cfg; do \
	  name=$$(basename $$(dirname $$config)); dir=services/$$name; \
	  echo "service $$name"; \
	  $(BIN)/pybabel extract -F $$config -k _l -k lazy_gettext -o $$dir/translations/$$name.pot --no-location --sort-output --omit-header $$dir; \
	  $(BIN)/pybabel update -D $$name -i $$dir/translations/$$name.pot -d $$dir/translations --no-fuzzy-matching --ignore-obsolete; \
	  $(BIN)/pybabel compile -D $$name -d $$dir/translations --statistics; \
	done

lint: python
	$(BIN)/ruff check portal services tests bench tools

wheel: setup
	$(BIN)/pip wheel --no-deps -w dist .

bench: setup
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) node_modules portal/static/portal.css portal/static/govuk dist build *.egg-info
