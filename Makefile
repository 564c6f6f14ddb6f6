# The two entry points the README promises: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system demo test lint bench clean

# Debian packages: Chromium for the browser tests, Noto Sans CJK (SIL OFL) so
# charts draw Chinese glyphs on a fresh machine.
system:
	@if command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  need=""; \
	  command -v chromium >/dev/null 2>&1 || need="$$need chromium"; \
	  fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need="$$need fonts-noto-cjk"; \
	  if [ -n "$$need" ]; then \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

setup: system $(STAMP)

examples/demo_town.xlsx: $(STAMP) examples/generate_demo.py scripts/fengqiao/demo.py sheets_schema/*.yml
	$(BIN)/python examples/generate_demo.py --out $@

# The main job on the bundled demo town: check the ledger, print the quarter's
# figures, build the site, then serve it on http://127.0.0.1:8000 .
demo: setup examples/demo_town.xlsx
	-$(BIN)/fengqiao validate examples/demo_town.xlsx
	$(BIN)/fengqiao metrics examples/demo_town.xlsx --config examples/fengqiao.yml --period 2024-Q4
	$(BIN)/fengqiao build --config examples/fengqiao.yml --out public --zip
	$(BIN)/fengqiao serve --config examples/fengqiao.yml --no-rebuild --dir public

lint: $(STAMP)
	$(BIN)/ruff check scripts tests bench examples
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest -n 2 -q

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf build public test-output bench/out
