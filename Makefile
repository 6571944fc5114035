# ops-console: build without cargo-leptos (see README "How the build works").
#   make run    install what is missing, build, serve on http://127.0.0.1:3000 (embedded defaults)
#   make check  the fast inner loop: cargo check of app (ssr) and server with their tests, the wasm
#   make test   every test: system packages, fmt, clippy, unit and integration tests on SQLite and
#               Postgres, browser tests
SHELL := /bin/bash
.DEFAULT_GOAL := run

# The same LEPTOS_* compile-time environment for the wasm and the server build (the
# LEPTOS_OUTPUT_NAME trap in shared/DESIGN.md), and at run time.
export LEPTOS_OUTPUT_NAME := ops-console
export LEPTOS_SITE_ROOT := target/site
export LEPTOS_SITE_PKG_DIR := pkg

WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3}' Cargo.lock)
# debug (default) or release; release builds the wasm with the size-first wasm-release profile.
PROFILE ?= debug
ifeq ($(PROFILE),release)
  SERVER_FLAGS := --release
  WASM_FLAGS := --profile wasm-release
  WASM_DIR := wasm-release
else
  SERVER_FLAGS :=
  WASM_FLAGS :=
  WASM_DIR := debug
endif
PKG := $(LEPTOS_SITE_ROOT)/$(LEPTOS_SITE_PKG_DIR)
BIN := target/$(PROFILE)/ops-console

.PHONY: run check test build site wasm css server tools wasm-target clippy fmt system-deps e2e-deps py-deps bench

## Toolchain pieces the build needs, installed when missing.
wasm-target:
	@rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

tools: wasm-target
	@if ! wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$"; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (matches Cargo.lock; a few minutes, once)"; \
	  env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi

wasm: tools
	cargo build -p frontend --lib --target wasm32-unknown-unknown $(WASM_FLAGS)
	@mkdir -p $(PKG)
	wasm-bindgen --target web --no-typescript --out-dir $(PKG) --out-name ops-console \
	  target/wasm32-unknown-unknown/$(WASM_DIR)/frontend.wasm
	mv -f $(PKG)/ops-console_bg.wasm $(PKG)/ops-console.wasm
ifeq ($(PROFILE),release)
	@if command -v wasm-opt >/dev/null; then \
	  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
	    -o $(PKG)/ops-console.wasm $(PKG)/ops-console.wasm; \
	else echo "wasm-opt not found (apt-get install binaryen): the wasm is left as wasm-bindgen wrote it"; fi
endif

css:
	@mkdir -p $(PKG)
	cp style/main.css $(PKG)/ops-console.css
	cp -r public/. $(LEPTOS_SITE_ROOT)/

site: wasm css
	bash scripts/assets.sh $(PKG) $(PROFILE)

server:
	cargo build -p server $(SERVER_FLAGS)

build: site server

run: build
	$(BIN) serve

## Type-check everything the build and the tests compile, without building: the inner loop.
## The same package/feature sets as `clippy`, so the two share the checked dependencies.
check: wasm-target
	cargo check -p app -p server --features app/ssr --tests
	LEPTOS_OUTPUT_NAME=ops-console cargo check -p frontend --target wasm32-unknown-unknown

## Debian packages the tests need (chromium, postgresql, curl, npm): installed as root, else named.
system-deps:
	@bash scripts/system-deps.sh

## playwright-core for the browser tests (never downloads a browser: Debian's chromium is used).
e2e-deps:
	@cd end2end && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund; }

fmt:
	cargo fmt --all

# One invocation for app and server: the shared dependencies are checked once.
clippy: wasm-target
	cargo clippy -p app -p server --features app/ssr --all-targets -- -D warnings
	LEPTOS_OUTPUT_NAME=ops-console cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

## Python test peers (moto) in a venv under target/.
py-deps:
	@bash scripts/py-deps.sh

# `make test` lints while it builds: clippy-driver as the workspace's rustc wrapper (what `cargo
# clippy` itself sets) runs the same lints as `make clippy` on every workspace crate it compiles,
# and -D warnings fails the build. Without it clippy type-checks every dependency a second time
# apart from the build, the largest part of a clean CI run (docs/PERFORMANCE.md, "Build and CI").
LINT := RUSTC_WORKSPACE_WRAPPER="$(shell rustc --print sysroot)/bin/clippy-driver" \
  CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# In this order: missing system packages stop it at once, fmt before the long build.
test: system-deps
	cargo fmt --all --check
	@$(MAKE) --no-print-directory tools e2e-deps py-deps
	$(LINT) $(MAKE) --no-print-directory site
	@# The tests and the binary the browser tests start, in one build with the tests' features: a
	@# separate `cargo build -p server` compiles the AWS SDK crates again without their test-util
	@# dev features (docs/PERFORMANCE.md, "Build and CI").
	$(LINT) cargo test --no-run -p app -p server --features app/ssr
	$(LINT) bash scripts/test.sh

## The benchmarks (figures for docs/PERFORMANCE.md); not part of make test: the AWS fan-out and
## access (scripts/bench.sh), then the load on a release build (scripts/load.sh).
bench:
	bash scripts/bench.sh
	bash scripts/load.sh
