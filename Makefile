# The two entry points the README promises: `make demo` and `make test`.
# Each installs only what it needs: the demo the runtime and the CJK fonts,
# the tests also the test tools and a headless Chromium.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test
BENCHING := $(VENV)/.installed-bench
DEMO := examples

.PHONY: setup setup-test fonts _fonts browser _browser office _office demo test lint bench clean

# Debian packages, only when missing, without recommends, never an upgrade of
# anything else. Without apt or without root (and no password-less sudo) it
# prints what to install and goes on: the charts then fall back to another
# font, and the browser tests fail with their own message.
define apt_need
	@if command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "请以管理员身份安装：apt-get install --no-install-recommends $(1)"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends --no-upgrade $(1); \
	else echo "这台机器没有 apt-get，请自行安装：$(2)"; fi
endef

# Noto Sans CJK (SIL OFL), so charts draw Chinese glyphs on a fresh machine
fonts:
	@fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || $(MAKE) --no-print-directory _fonts
_fonts:
	$(call apt_need,fonts-noto-cjk fontconfig,Noto Sans CJK 字体)

# LibreOffice (Writer, no GUI) and poppler's pdftotext: the tests convert the
# Word report to PDF and read it back
office:
	@command -v soffice >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 \
	  || $(MAKE) --no-print-directory _office
_office:
	$(call apt_need,libreoffice-writer-nogui poppler-utils,LibreOffice 和 pdftotext)

# Chromium for the browser tests only
browser:
	@command -v chromium >/dev/null 2>&1 || $(MAKE) --no-print-directory _browser
_browser:
	$(call apt_need,chromium,Chromium 浏览器)

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUNTIME): pyproject.toml setup.py | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(TESTING): pyproject.toml setup.py | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(RUNTIME)

$(BENCHING): pyproject.toml setup.py | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[bench]'
	touch $@ $(TESTING) $(RUNTIME)

setup: fonts $(RUNTIME)
setup-test: fonts browser office $(TESTING)

$(DEMO)/demo_town.xlsx: $(RUNTIME) $(DEMO)/generate_demo.py scripts/fengqiao/demo.py sheets_schema/*.yml
	$(BIN)/python $(DEMO)/generate_demo.py --out $@

# The main job on the bundled demo town, run inside its town folder
# (examples/, whose fengqiao.yml every command picks up): check the ledger,
# print the quarter's figures, build the site, then serve it on
# http://127.0.0.1:8000 .
demo: setup $(DEMO)/demo_town.xlsx
	-cd $(DEMO) && ../$(BIN)/fengqiao validate
	cd $(DEMO) && ../$(BIN)/fengqiao metrics --period 2024-Q4
	cd $(DEMO) && ../$(BIN)/fengqiao build --out ../public --zip
	cd $(DEMO) && ../$(BIN)/fengqiao serve --no-rebuild --dir ../public

lint: $(TESTING)
	$(BIN)/ruff check scripts tests bench examples
	$(BIN)/mypy

test: setup-test lint
	$(BIN)/pytest -n 2 -q

bench: fonts $(BENCHING)
	$(BIN)/python bench/run.py

clean:
	rm -rf build public test-output bench/out
