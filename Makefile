# Yuntong — the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV ?= $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN_PACKAGES := janus janus-tools coturn kamailio kamailio-extra-modules kamailio-utils-modules kamailio-tls-modules
TEST_WORKERS ?= 2
TEST_PACKAGES := $(RUN_PACKAGES) chromium fonts-noto-cjk redis-server haproxy sip-tester
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: help run test check bench bench-quick bench-sip uv env system-run system-test format clean

help:
	@echo "make run    - set up and start Yuntong (prints the URL and a first admin login)"
	@echo "make test   - install what the tests need and run the whole suite"
	@echo "make check  - ruff format --check, ruff check, mypy --strict src"
	@echo "make bench  - run the benchmarks (results in bench/RESULTS.md)"
	@echo "make bench-quick - the one-minute call set-up check before landing (exit 1: regression)"
	@echo "make bench-sip - SIP call set-ups/s through the edge (Kamailio + Yuntong) beside SIPp alone"

# uv: use the one on PATH, else install it into .tools/ with the system Python
uv:
	@if [ ! -x "$(UV)" ]; then \
		echo "installing uv into .tools/"; \
		python3 -m venv .tools 2>/dev/null || { \
			[ "$(IS_ROOT)" = yes ] && apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv .tools; }; \
		.tools/bin/pip install -q uv; \
	fi

env: uv
	@$(UV) sync --frozen --quiet

# Debian packages, installed only when missing and only when we are root
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$(IS_ROOT)" = yes ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "not root: please install$$missing (continuing without them)"; fi; \
	fi
endef

system-run:
	$(call apt_install,$(RUN_PACKAGES))

system-test:
	$(call apt_install,$(TEST_PACKAGES))

run: system-run env
	$(UV) run --frozen yuntong serve

# --dist loadfile: a module's tests stay on one worker, so its module fixtures (servers, Janus,
# databases) are made once. (--dist loadgroup never grouped anything here: pytest-xdist 3.8 sets
# item._nodeid, which pytest 9 no longer reads, so every test was sent on its own.)
# --durations=30: the slowest set-ups, tests and teardowns of each run, to keep the suite fast.
test: system-test env
	$(UV) run --frozen pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=30

check: env
	$(UV) run --frozen ruff format --check src tests bench
	$(UV) run --frozen ruff check src tests bench
	$(UV) run --frozen mypy --strict src

format: env
	$(UV) run --frozen ruff format src tests bench
	$(UV) run --frozen ruff check --fix src tests bench

bench: env
	$(UV) run --frozen python bench/signaling.py

bench-quick: env
	$(UV) run --frozen python bench/signaling.py --quick

bench-sip: env
	$(UV) run --frozen python bench/sip.py

clean:
	rm -rf .tools .venv .mypy_cache .ruff_cache
