# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: demo test venv browser sysdeps clean bench

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP) sysdeps
	RAY_AUTH_MODE=disabled $(VENV)/bin/tailorcast run templates/payment-reminder \
	    --customers templates/payment-reminder/sample-customers.csv --out public/
	RAY_AUTH_MODE=disabled $(VENV)/bin/tailorcast run templates/bill-explainer \
	    --customers templates/bill-explainer/sample-customers.csv --out public/

# Browser tests need Debian's Chromium; install it when we can (root + apt).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; \
	else echo "WARNING: /usr/bin/chromium missing and cannot install it (not root or no apt): browser tests will be SKIPPED"; fi

# Pillow's raqm layout (Arabic, Hebrew) loads the system's libfribidi at run time.
sysdeps:
	@if ldconfig -p 2>/dev/null | grep -q libfribidi.so.0; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libfribidi0 for right-to-left text"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libfribidi0 >/dev/null; \
	else echo "WARNING: libfribidi.so.0 missing and cannot install it: install libfribidi0 for Arabic/Hebrew text"; fi

test: $(STAMP) sysdeps browser
	RAY_AUTH_MODE=disabled $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) bench/bench_render.py --customers 20

clean:
	rm -rf $(VENV) public .tailorcast build *.egg-info
