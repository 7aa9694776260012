# Two entry points: `make demo` (index the demo corpus, serve API + chat page) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test check lint typecheck browser postgres bench clean

# torch first and pinned: a bare requirement pulls a multi-GB CUDA build.
# The `local` extra (the in-process reader model) brings llama-cpp-python, which has no wheel
# for this platform and compiles from source: ~5-8 min once on 2 cores, using every core
# (CMAKE_BUILD_PARALLEL_LEVEL); pip caches the built wheel, so later installs take seconds.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# llama.cpp compiles for the CPU it is built on (-march=native), but without AMX: these VMs'
# CPUs report AMX, yet a process may not use its tiles, and llama.cpp's AMX kernels then die on
# the first forward pass with SIGILL ("Illegal instruction"). AVX-512 and VNNI stay in use.
NO_AMX := $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
BUILD_ENV := CFLAGS='$(NO_AMX)' CXXFLAGS='$(NO_AMX)' CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BUILD_ENV) $(BIN)/pip install --quiet -e '.[dev,local]'
	@# A wheel pip cached from a build without these flags would still carry AMX: rebuild it.
	$(BIN)/python -c "import llama_cpp as l, sys; sys.exit(b'AMX' in l.llama_print_system_info())" \
	|| $(BUILD_ENV) $(BIN)/pip install --quiet --no-cache-dir --force-reinstall --no-deps \
		"llama-cpp-python==$$($(BIN)/python -c 'import llama_cpp as l; print(l.__version__)')"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/newsdesk ingest demo/articles
	$(BIN)/newsdesk serve --host 127.0.0.1 --port 8000

# Debian's Chromium for the chat-page tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL for the store tests on PostgreSQL: they start a cluster of their own
# in a temp dir on a loopback port (as the `postgres` user the package creates).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck

test: install browser postgres check
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/api.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/retrieval.py

clean:
	rm -rf $(VENV) newsdesk-data .pytest_cache .mypy_cache .ruff_cache test-artifacts
