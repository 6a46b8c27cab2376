# kiemdich: `make run` serves the app with demo data (gunicorn + the job queue's consumer, bin/serve); `make test` runs the whole suite.
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3
export FLASK_APP := app.py

.PHONY: run test install install-dev assets test-assets lighthouse translations db clean mutants

run: install assets translations db
	@$(BIN)/flask kiemdich demo
	@echo "kiemdich: http://127.0.0.1:8000"
	KIEMDICH_INSECURE_COOKIES=1 bin/serve --bind 127.0.0.1:8000 --workers 2 --threads 4 --access-logfile -

test: install-dev assets test-assets translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# One-line mutations of the critical conditions, each alone in a scratch copy, running the tests that
# should catch it (bin/mutants.py; 15-30 minutes on two shared cores, so not part of CI).
mutants: install-dev translations
	$(BIN)/python bin/mutants.py $(MUTANTS)

install: $(VENV)/.installed
install-dev: $(VENV)/.dev-installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Front-end libraries come from npm and are copied into static/vendor/ (git-ignored).
# The app needs only the "dependencies"; "devDependencies" (axe-core) are for the browser tests.
assets: static/vendor/.installed
static/vendor/.installed: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/
	cp node_modules/qr-scanner/qr-scanner.umd.min.js static/vendor/
	node bin/qr-worker.mjs node_modules/qr-scanner/qr-scanner-worker.min.js static/vendor/qr-scanner-worker.js
	touch $@

# Test-only front-end packages (axe-core), on top of the app's; static/vendor/ is not touched.
test-assets: node_modules/.dev-installed
node_modules/.dev-installed: package.json package-lock.json static/vendor/.installed
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Lighthouse for bench/lighthouse.py: its own package.json + lock, never part of the app's install.
lighthouse: bench/lighthouse/node_modules/.installed
bench/lighthouse/node_modules/.installed: bench/lighthouse/package.json bench/lighthouse/package-lock.json
	npm ci --prefix bench/lighthouse --no-audit --no-fund --loglevel=error
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d translations 2>&1 | grep -v "^compiling" || true

# Schema, administrative units and reference data; all idempotent.
db: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask kiemdich load-areas
	$(BIN)/flask kiemdich seed

# Refresh the message catalogues after changing UI text.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) node_modules static/vendor bench/lighthouse/node_modules
