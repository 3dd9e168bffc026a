# lamina — the two set-up commands are `make run` and `make test` (README.md).
BUILD      ?= build
TEST_BUILD ?= build-test
LISTEN     ?= 127.0.0.1:9001
DATA_DIR   ?= ./.lamina
PYTEST     := /usr/bin/python3 -m pytest
CMAKE_GEN  := -G Ninja
export CCACHE_DIR ?= $(CURDIR)/.ccache

.PHONY: all deps build run test unit integration bench clean format format-check

all: build

deps:
	@scripts/install-deps

# Release build: build/lamina.
build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAMINA_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) --target lamina bench_invoke bench_noop_bootstrap bench_keepalive bench_async

run: build
	$(BUILD)/lamina server --listen $(LISTEN) --data-dir $(DATA_DIR)

# Tests run against an AddressSanitizer + UndefinedBehaviorSanitizer build (build-test/).
$(TEST_BUILD)/build.ninja: CMakeLists.txt
	@cmake -S . -B $(TEST_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DLAMINA_SANITIZE=ON -DLAMINA_TESTS=ON >/dev/null

test: deps $(TEST_BUILD)/build.ninja
	@cmake -S . -B $(TEST_BUILD) >/dev/null
	@start=$$(date +%s); cmake --build $(TEST_BUILD) || exit 1; echo "build: $$(( $$(date +%s) - start )) s"
	@$(MAKE) --no-print-directory format-check unit integration

unit:
	cd $(TEST_BUILD) && ctest --output-on-failure --timeout 120

# npm packages the integration tests use (AWS's own Node.js runtime client, built from source by
# its install scripts: needs autoconf, automake, libtool), from the committed lock file.
NODE_DEPS := tests/integration/node/node_modules/.installed
$(NODE_DEPS): tests/integration/node/package.json tests/integration/node/package-lock.json
	@echo "npm: installing tests/integration/node (aws-lambda-ric builds its native client: ~2 min)"
	@cd tests/integration/node && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed

integration: $(NODE_DEPS)
	LAMINA_BINARY=$(CURDIR)/$(TEST_BUILD)/lamina $(PYTEST) -q -p no:cacheprovider tests/integration runtimes/python runtimes/nodejs runtimes/cpp

SOURCES = $(shell git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'bench/*.h' 2>/dev/null)

format:
	clang-format -i $(SOURCES)

# Formatting drift is an error, like a compiler warning: run `make format`.
format-check:
	@clang-format --dry-run --Werror $(SOURCES) || { echo "format-check: run 'make format'"; exit 1; }

bench: build
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
