# Sidecar: `make run` builds and starts the daemon, `make test` runs every test.
# Both install the Debian packages they need first (apt-get only when something is missing).

SWIFT       ?= swift
# Release binaries carry the Swift runtime inside (no shared Swift libraries to map and relocate):
# a smaller resident size and a faster cold start for a daemon that socket activation starts often.
RELEASE     := -c release --static-swift-stdlib
BUILD_DEPS  := libsqlite3-dev libhiredis-dev libsystemd-dev pkg-config
TEST_DEPS   := $(BUILD_DEPS) redis-server systemd
PREFIX      ?= $(HOME)/.local
UNIT_DIR    ?= $(HOME)/.config/systemd/user

.PHONY: run test bench build release deps test-deps install-user openrpc check-openrpc clean

## Install the build dependencies that are missing (apt-get update first).
deps:
	@scripts/install-deps.sh $(BUILD_DEPS)

test-deps:
	@scripts/install-deps.sh $(TEST_DEPS)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE) --product sidecard
	$(SWIFT) build $(RELEASE) --product sidecarctl

## Build a release and run sidecard in the foreground on the default socket.
run: release
	@echo "Starting sidecard (Ctrl-C stops it). Try: .build/release/sidecarctl ping"
	.build/release/sidecard $(ARGS)

## Tests that assert how long something takes (a dead or hung Redis must cost a caller at most
## its timeout), or whose own process must keep a worker's lease alive with heartbeats, run on
## their own after the rest: in one process with ~400 tests, many of which
## block a thread while they wait on a daemon, a task can wait seconds for a free thread, and
## that wait is the test process's, not the code's under test.
## Each runs in its own process, since they also block threads while they wait.
TIMING_TESTS = SidecarRedisTests CacheFailoverTests ProcessRunnerTests TaskWorkerClientTests

## Build everything and run the whole test suite against real daemons.
test: test-deps check-openrpc
	$(SWIFT) build --build-tests
	SIDECARD_BIN="$(CURDIR)/.build/debug/sidecard" $(SWIFT) test --skip-build $(foreach suite,$(TIMING_TESTS),--skip $(suite))
	for suite in $(TIMING_TESTS); do \
		SIDECARD_BIN="$(CURDIR)/.build/debug/sidecard" $(SWIFT) test --skip-build --filter "$$suite" || exit 1; \
	done

## Benchmarks: sidecar vs redis-server on the same machine (release builds).
bench: test-deps
	$(SWIFT) build $(RELEASE) --product sidecard
	$(SWIFT) build $(RELEASE) --product sidecar-loadgen
	$(SWIFT) build $(RELEASE) --product nio-floor
	scripts/bench.sh

## Install binaries to ~/.local/bin and the user units to ~/.config/systemd/user.
install-user: release
	install -d "$(PREFIX)/bin" "$(UNIT_DIR)"
	install -m 0755 .build/release/sidecard .build/release/sidecarctl "$(PREFIX)/bin/"
	install -m 0644 systemd/sidecar.socket systemd/sidecar.service "$(UNIT_DIR)/"
	@if systemctl --user is-system-running >/dev/null 2>&1 || systemctl --user show-environment >/dev/null 2>&1; then \
		systemctl --user daemon-reload && \
		echo "Installed. Enable with: systemctl --user enable --now sidecar.socket"; \
	else \
		echo "Installed, but no systemd user manager is running for $$(id -un): run 'systemctl --user daemon-reload' and 'systemctl --user enable --now sidecar.socket' in a login session."; \
	fi

## Regenerate the OpenRPC document the daemon serves from protocol/openrpc.json.
openrpc:
	scripts/gen-openrpc.sh

check-openrpc:
	@scripts/gen-openrpc.sh --check

clean:
	$(SWIFT) package clean
