# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: demo test test-fast lint venv browser postgres sysdeps webtools studio-assets clean bench bench-compare

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

# --api: the pages report views and show the paid status through `tailorcast serve public/ --demo-checkout` (the demo's server).
demo: $(STAMP) sysdeps
	RAY_AUTH_MODE=disabled $(VENV)/bin/tailorcast run templates/payment-reminder \
	    --customers templates/payment-reminder/sample-customers.csv --out public/ --api
	RAY_AUTH_MODE=disabled $(VENV)/bin/tailorcast run templates/bill-explainer \
	    --customers templates/bill-explainer/sample-customers.csv --out public/ --api

# Browser tests need Debian's Chromium; install it when we can (root + apt).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; \
	else echo "WARNING: /usr/bin/chromium missing and cannot install it (not root or no apt): browser tests will be SKIPPED"; fi

# The store's tests start a throw-away PostgreSQL (initdb + pg_ctl from Debian's postgresql); install it when we can.
postgres:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian postgresql for the store's tests"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; \
	else echo "WARNING: initdb missing and cannot install postgresql (not root or no apt): the store's PostgreSQL tests will be SKIPPED (they fail under CI=true)"; fi

# Pillow's raqm layout (Arabic, Hebrew) loads the system's libfribidi at run time.
sysdeps:
	@if ldconfig -p 2>/dev/null | grep -q libfribidi.so.0; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libfribidi0 for right-to-left text"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libfribidi0 >/dev/null; \
	else echo "WARNING: libfribidi.so.0 missing and cannot install it: install libfribidi0 for Arabic/Hebrew text"; fi

# Web quality judges (tests/test_page_quality.py): npm lighthouse 12, axe-core, vnu-jar (run with Java),
# pinned by tools/package-lock.json. Install scripts are off: vnu-jar's would download a JDK; we use the system Java.
# Without node/npm or java the quality tests skip loudly; under CI=true this target fails instead.
WEBTOOLS_STAMP := tools/node_modules/.installed-$(shell cat tools/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
webtools:
	@ci=0; case "$${CI:-}" in 1|true|TRUE|True|yes) ci=1;; esac; \
	if command -v node >/dev/null && command -v npm >/dev/null; then \
	    if [ ! -f $(WEBTOOLS_STAMP) ]; then \
	        echo "installing web judges (lighthouse, axe-core, vnu-jar) into tools/node_modules"; \
	        npm ci --prefix tools --ignore-scripts --no-audit --no-fund --loglevel=error && touch $(WEBTOOLS_STAMP) || exit 1; \
	    fi; \
	elif [ $$ci = 1 ]; then echo "ERROR: CI=true but node/npm are missing: the page quality tests (Lighthouse, axe, vnu) must run in CI" >&2; exit 1; \
	else echo "WARNING: node/npm missing: Lighthouse/axe/vnu page quality tests will be SKIPPED (install nodejs + npm, then make webtools)"; fi; \
	if command -v java >/dev/null && java -version >/dev/null 2>&1; then :; \
	elif [ $$ci = 1 ]; then echo "ERROR: CI=true but java is missing: the Nu HTML Checker (vnu-jar) test must run in CI" >&2; exit 1; \
	else echo "WARNING: java missing: the Nu HTML Checker test will be SKIPPED (install a JRE, e.g. default-jre-headless)"; fi

# ruff with the rule set in pyproject.toml: zero findings, or the test run stops here.
lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The studio's code editor: CodeMirror 6 (npm, tools/package.json) bundled by esbuild into the git-ignored
# studio/static/vendor/. Without node the studio still works, with a plain text area instead of the editor.
STUDIO_BUNDLE := studio/static/vendor/editor.js
studio-assets: webtools
	@if [ -x tools/node_modules/.bin/esbuild ]; then \
	    NODE_PATH=tools/node_modules tools/node_modules/.bin/esbuild studio/editor/editor.js --bundle --minify --format=iife \
	        --outfile=$(STUDIO_BUNDLE) --log-level=warning || exit 1; \
	else echo "WARNING: tools/node_modules/.bin/esbuild missing (make webtools needs node/npm): the studio's editor is a plain text area"; fi

# Two lanes at once (tests/lanes.py): the browser tests beside the rest; with PYTEST_ARGS, one plain pytest.
test: $(STAMP) sysdeps browser postgres webtools studio-assets lint
	RAY_AUTH_MODE=disabled $(PY) tests/lanes.py $(PYTEST_ARGS)

# The fast loop (under a minute): unit tests only, no Ray, no Chromium, no real-size video; its files in two
# lanes at once (tests/lanes.py --fast); with PYTEST_ARGS, one plain pytest of the unit tier with them.
test-fast: $(STAMP) sysdeps lint
	@if [ -n "$(PYTEST_ARGS)" ]; then $(PY) -m pytest -m "not e2e and not browser" $(PYTEST_ARGS); else $(PY) tests/lanes.py --fast; fi

bench: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) bench/bench_render.py --customers 20

# naive MoviePy vs the x264 floor vs Tailorcast, same 20 customers (~20 min on 2 cores): bench/README.md
bench-compare: $(STAMP)
	$(PY) bench/bench_compare.py --customers 20

clean:
	rm -rf $(VENV) public .tailorcast build *.egg-info tools/node_modules
