# reins — build, test, demo, bench. `make check` and `make demo` install the
# Debian packages they need when they are missing (see scripts/deps.sh).

CC       ?= cc
BUILD    ?= build
PKGS     := libseccomp libsodium yaml-0.1 libcap jansson libcares nettle zlib openssl libnghttp2
# libmicrohttpd (reins serve): its headers at build time; the library itself
# is opened with dlopen by `reins serve` only (serve/mhd.c). Linked in, its
# constructor initializes GnuTLS in every process: 6-14 ms (quiet to loaded) more for each
# `reins run`, whose start-up is a budget. GnuTLS likewise (headers only): the
# daemon's TLS syslog client opens libgnutls.so.30 itself (serve/tls_client.c).
SERVE_PKGS := libmicrohttpd gnutls
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wconversion -Wno-sign-conversion \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-format-truncation
CFLAGS   ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Isrc -DREINS_VERSION=\"$(VERSION)\" $(EXTRA_CPPFLAGS)
ALL_CFLAGS = -std=c11 $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE $(CFLAGS) \
             $(shell pkg-config --cflags $(PKGS) $(SERVE_PKGS) 2>/dev/null)
# The libraries are linked statically: start-up (no relocation of eight
# shared objects per sandbox) and supervisor memory (PSS) are budgets.
# nettle's static archive is its fat build: SHA-NI is still chosen at run time.
# OpenSSL (libssl, libcrypto): the proxy's TLS termination for credential
# injection (net/terminate.c), static like the others. libnghttp2: HTTP/2 on
# those terminated connections (net/h2relay.c), static too.
LDLIBS   += -Wl,-Bstatic -lseccomp -lsodium -lyaml -lcap -ljansson -lcares -lnettle -lz -lssl -lcrypto -lnghttp2 \
            -Wl,-Bdynamic -ldl -pthread
LDFLAGS  += -pie -Wl,-z,relro,-z,now
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

# src/wasm/engine is not part of reins: it is the Wasm engine's own code,
# built into an archive that reins carries (ENGINE_* below)
SRC      := $(shell find src -name '*.c' -not -path 'src/wasm/engine/*' | sort)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
# the dashboard's files, compiled in (scripts/embed_web.sh)
WEB_OBJ  := $(BUILD)/gen/web_assets.o
# the Wasm engine's archive, compiled in (src/wasm/engine_blob.S)
WASM_BLOB_OBJ := $(BUILD)/gen/wasm_engine_blob.o
OBJ      := $(SRC:%.c=$(BUILD)/%.o) $(WEB_OBJ) $(WASM_BLOB_OBJ)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(WEB_OBJ) $(WASM_BLOB_OBJ)
# The Wasm engine (isolation: wasm): reins' WASI preview 1 layer, the path
# globs it shares with reins, and the runtime Debian's wabt ships for
# wasm2c's output. Built with its own flags (never a sanitizer: every
# module is linked with it statically) and embedded in reins.
WASM_RT_DIR    := /usr/share/wabt/wasm2c
ENGINE_SRC     := $(sort $(wildcard src/wasm/engine/*.c)) src/util/glob.c
ENGINE_OBJ     := $(ENGINE_SRC:%.c=$(BUILD)/engine/%.o) $(BUILD)/engine/wasm-rt-impl.o
ENGINE_CFLAGS  := -std=gnu11 -O2 -g -fPIE -D_GNU_SOURCE -Isrc -I$(WASM_RT_DIR) $(EXTRA_CPPFLAGS) \
                  -DWASM_RT_TRAP_HANDLER=engine_on_trap
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
PYTEST   := /usr/bin/python3 -m pytest

.PHONY: man completion install uninstall deb vm-kernel vm-check weak escape-weak all deps check unit integration env-long escape escape-env asan-check asan fuzz fuzz-check fuzz-build fuzz-bins demo bench format format-check lint clean

all: $(BUILD)/reins

$(BUILD)/reins: $(OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# A libFuzzer target: the library objects (built with coverage
# instrumentation by the fuzz build below) and libFuzzer's main.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "$(CC) ... -fsanitize=fuzzer -o $@ $< (library objects) $(LDLIBS)"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/engine/%.o: %.c src/wasm/engine/engine.h
	@mkdir -p $(dir $@)
	$(CC) $(ENGINE_CFLAGS) $(WARN) $(filter -W%,$(CFLAGS)) -c -o $@ $<

# wabt's file, not ours: its own warnings are not errors here
$(BUILD)/engine/wasm-rt-impl.o: $(WASM_RT_DIR)/wasm-rt-impl.c src/wasm/engine/engine.h
	@mkdir -p $(dir $@)
	$(CC) $(ENGINE_CFLAGS) -include src/wasm/engine/engine.h -w -c -o $@ $<

$(BUILD)/wasm/engine.a: $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcsD $@ $^

$(WASM_BLOB_OBJ): src/wasm/engine_blob.S $(BUILD)/wasm/engine.a
	@mkdir -p $(dir $@)
	$(CC) -DREINS_WASM_ENGINE_ARCHIVE='"$(BUILD)/wasm/engine.a"' -c -o $@ $<

# the directory too: a file removed from it changes its time
$(BUILD)/gen/web_assets.c: $(wildcard src/serve/web src/serve/web/*) scripts/embed_web.sh
	@mkdir -p $(dir $@)
	scripts/embed_web.sh src/serve/web $@

# the directory is a prerequisite by its time only: without this empty rule,
# make's built-in "%: %.c" would try to link src/serve/web.c into it
src/serve/web: ;

$(WEB_OBJ): $(BUILD)/gen/web_assets.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(OBJ:.o=.d)

# Man pages (scdoc): the overview and the policy language are written in
# docs/man; each command's page is generated from the binary's own --help
# (scripts/man.sh), so the pages follow the code.
MAN_SRC := $(wildcard docs/man/*.scd)
$(BUILD)/man/reins.1: $(BUILD)/reins $(MAN_SRC) scripts/man.sh
	@rm -rf $(BUILD)/man
	scripts/man.sh $(BUILD)/reins $(BUILD)/man
man: $(BUILD)/man/reins.1

# Shell completion: `reins completion SHELL` prints the shell's side, which
# asks `reins __complete` (the option tables the parsers use) at each TAB.
$(BUILD)/completion/reins.bash: $(BUILD)/reins
	@mkdir -p $(dir $@)
	$(BUILD)/reins completion bash >$(BUILD)/completion/reins.bash
	$(BUILD)/reins completion zsh >$(BUILD)/completion/_reins
	$(BUILD)/reins completion fish >$(BUILD)/completion/reins.fish
completion: $(BUILD)/completion/reins.bash

# make install PREFIX=/usr/local DESTDIR=: the binary (and the reins-oci name
# engines call it by), man pages, completion for bash, zsh and fish, the
# example policies and recipes, and a systemd unit for `reins serve` (not
# enabled). `make uninstall` with the same PREFIX and DESTDIR removes them.
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/reins
BASHCOMPDIR   ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR    ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR   ?= $(PREFIX)/share/fish/vendor_completions.d
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_BIN   ?= install -m 0755
EXAMPLES      := $(shell git ls-files examples 2>/dev/null || find examples -type f)
install: all man completion
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL_BIN) $(BUILD)/reins $(DESTDIR)$(BINDIR)/reins
	ln -sf reins $(DESTDIR)$(BINDIR)/reins-oci
	install -m 0644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/completion/reins.bash $(DESTDIR)$(BASHCOMPDIR)/reins
	install -m 0644 $(BUILD)/completion/_reins $(DESTDIR)$(ZSHCOMPDIR)/_reins
	install -m 0644 $(BUILD)/completion/reins.fish $(DESTDIR)$(FISHCOMPDIR)/reins.fish
	sed 's|@BINDIR@|$(BINDIR)|g' dist/reins-serve.service.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/reins-serve.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/reins-serve.service
	for f in $(EXAMPLES); do \
		install -D -m $$(test -x $$f && echo 0755 || echo 0644) $$f $(DESTDIR)$(DOCDIR)/$$f; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/reins $(DESTDIR)$(BINDIR)/reins-oci \
		$(DESTDIR)$(MANDIR)/man1/reins.1 $(DESTDIR)$(MANDIR)/man1/reins-*.1 \
		$(DESTDIR)$(MANDIR)/man5/reins-policy.5 $(DESTDIR)$(BASHCOMPDIR)/reins \
		$(DESTDIR)$(ZSHCOMPDIR)/_reins $(DESTDIR)$(FISHCOMPDIR)/reins.fish \
		$(DESTDIR)$(SYSTEMDUNITDIR)/reins-serve.service
	rm -rf $(DESTDIR)$(DOCDIR)

# make deb: a Debian binary package built with dpkg-deb from `make install
# PREFIX=/usr` into a staging root (stripped binary, gzipped man pages,
# Depends from dpkg-shlibdeps), then checked by lintian.
DEB_VERSION := 0.1~git$(shell git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null).$(shell git rev-parse --short HEAD 2>/dev/null)
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB_ROOT    := $(BUILD)/deb/root
DEB_FILE    := $(BUILD)/reins_$(DEB_VERSION)_$(DEB_ARCH).deb
deb: all man completion
	rm -rf $(BUILD)/deb
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr \
		SYSTEMDUNITDIR=/lib/systemd/system ZSHCOMPDIR=/usr/share/zsh/vendor-completions \
		INSTALL_BIN="install -m 0755 -s"
	scripts/deb.sh $(DEB_ROOT) $(DEB_VERSION) $(DEB_ARCH) $(DEB_FILE)

deps:
	@scripts/deps.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

INTEGRATION_TESTS ?= tests/integration
# Test files run in PYTEST_JOBS parallel workers (python3-pytest-xdist), each
# file whole in one worker (its module fixtures: servers, daemons, images);
# most tests wait on sandboxes, timers and servers, not on the CPU: the
# integration suite takes about a third of its sequential time on 2 cores.
# PYTEST_JOBS=0 runs it in one process.
PYTEST_JOBS ?= 2
PYTEST_PARALLEL = $(if $(filter 0,$(PYTEST_JOBS)),,-n $(PYTEST_JOBS) --dist loadfile)
integration: $(BUILD)/reins
	REINS_BIN=$(abspath $(BUILD)/reins) $(PYTEST) -q $(PYTEST_PARALLEL) $(INTEGRATION_TESTS)

# The Debian environment test builds a root with mmdebstrap (a minute or
# more): here, into build/env-state, whose cache later make check runs reuse.
env-long: $(BUILD)/reins
	REINS_ENV_LONG=1 REINS_BIN=$(abspath $(BUILD)/reins) $(PYTEST) -q \
		tests/integration/test_environment.py -k debian

escape: $(BUILD)/reins
	REINS_BIN=$(abspath $(BUILD)/reins) $(PYTEST) -q $(PYTEST_PARALLEL) tests/escape

# The escape probes again with a declared environment (the busybox OCI image)
# as the sandbox's root instead of the host's /usr.
escape-env: $(BUILD)/reins
	REINS_ESCAPE_ENV_POLICY=$$(python3 tests/escape/make_env_policy.py /tmp/reins-escape-env) \
		REINS_BIN=$(abspath $(BUILD)/reins) $(PYTEST) -q tests/escape

# The sanitizer build (ASan + UBSan, any report is fatal). `make check` runs
# the unit tests and the integration tests of the host-side code that reads
# what the agent controls or owns the session (escaping, review and
# apply, the control socket, the trail, protected renames, the deny cache,
# exit and signals, the audit commands), to stay within CI's time (test_bounds
# measures peak RSS, which ASan inflates, so it runs without it); `make
# asan` runs every integration test.
ASAN_FLAGS := BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	LDFLAGS="-fsanitize=address,undefined"
# The subset in `make check` (kept under its 30-minute budget): the code
# that reads what an agent or another user wrote. `make asan` runs them all;
# the daemon's other files (test_serve_cli, _roles_api, _pool) are in it.
ASAN_INTEGRATION := test_escaping.py test_overlay_review.py test_control.py \
	test_trail_bounds.py test_protect_rename.py test_deny_cache.py test_exit_status.py \
	test_signals.py test_audit.py test_serve.py test_serve_notify.py \
	test_serve_workspace.py test_serve_events.py
# (test_serve_forward and the idle event stream's 17 s wait for its keepalive,
# which the plain run covers, run under ASan in `make asan`: 31.5 min was over
# the budget once the dashboard and OCI tests came)
ASAN_DESELECT := --deselect tests/integration/test_serve.py::test_a_quiet_event_stream_stays_open
asan-check:
	$(MAKE) $(ASAN_FLAGS) INTEGRATION_TESTS="$(ASAN_DESELECT) $(ASAN_INTEGRATION:%=tests/integration/%)" unit integration

asan:
	$(MAKE) $(ASAN_FLAGS) unit integration

check: deps
	$(MAKE) all
	$(MAKE) vm-kernel
	$(MAKE) format-check
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) fuzz-check
	$(MAKE) integration
	$(MAKE) escape
	$(MAKE) escape-weak
	$(MAKE) asan-check

# Fuzzing (libFuzzer, clang from Debian): every parser of bytes the agent
# or a file controls, one target per parser in tests/fuzz. `fuzz-check`
# replays the committed corpora and fuzzes each target FUZZ_CHECK_TIME
# seconds; `fuzz` runs each FUZZ_TIME seconds (one after the other) and
# reports executions per target. FUZZ_TARGETS="http sni" picks some.
FUZZ_CFLAGS     := -O1 -g -fno-omit-frame-pointer -Wno-unknown-warning-option -Wno-error -fsanitize=fuzzer-no-link,address,undefined \
                   -fno-sanitize-recover=all
FUZZ_CHECK_TIME ?= 8
FUZZ_TIME       ?= 600

fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" fuzz-bins

fuzz-bins: $(FUZZ_BIN)

fuzz-check: fuzz-build
	@tests/fuzz/run.sh build-fuzz $(FUZZ_CHECK_TIME) $(FUZZ_TARGETS)

fuzz: deps fuzz-build
	@tests/fuzz/run.sh build-fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)

demo: deps $(BUILD)/reins
	@examples/rogue-agent/run-demo.sh $(abspath $(BUILD)/reins)

# The warm pool's bench also runs a build whose command process stamps the
# clock just before execve (bench/serve/pool_bench.py: time to the exec).
bench: deps $(BUILD)/reins
	@$(MAKE) --no-print-directory BUILD=build-stamp EXTRA_CPPFLAGS=-DREINS_BENCH_EXEC_STAMP \
		build-stamp/reins >/dev/null
	@REINS_BENCH_STAMPED=$(abspath build-stamp/reins) bench/run.sh $(abspath $(BUILD)/reins)

# isolation: vm. The guest kernel (vm/kernel.config on Debian's
# linux-source-6.1), built once and cached outside the tree
# ($$XDG_CACHE_HOME/reins/vm, keyed by the options' hash): a clean clone
# reuses it. vm-check: the vm-mode integration and escape tests (TCG is slow;
# make check runs a marked subset of them).
vm-kernel: deps
	@scripts/vm-kernel.sh >/dev/null

VM_TESTS := tests/integration/test_vm.py
VM_ESCAPES := tests/escape/test_vm_guest_kernel.py
vm-check: vm-kernel $(BUILD)/reins
	REINS_BIN=$(abspath $(BUILD)/reins) REINS_VM_LONG=1 $(PYTEST) -q $(VM_TESTS)
	REINS_BIN=$(abspath $(BUILD)/reins) REINS_VM_LONG=1 $(PYTEST) -q $(VM_ESCAPES)

format:
	clang-format -i $(SRC) $(wildcard src/wasm/engine/*.c) $(shell find src tests/unit tests/fuzz -name '*.h' -o -name '*.c' | grep -v '^src/.*\.c$$' | sort)

# no module includes one that comes after it (README "Layout")
lint:
	@scripts/layers.sh

format-check:
	@clang-format --dry-run --Werror $(SRC) $(wildcard src/wasm/engine/*.c) $(shell find src tests/unit tests/fuzz -name '*.h' -o -name '*.c' | grep -v '^src/.*\.c$$' | sort)

clean:
	rm -rf build build-asan build-fuzz

# A deliberately weakened build (REINS_WEAKEN=...) used only to prove that
# escape probes fail when a protection is off: `make escape-weak`.
weak:
	$(MAKE) BUILD=build-weak EXTRA_CPPFLAGS=-DREINS_WEAKEN_BUILD all

escape-weak: weak
	REINS_BIN=$(abspath build-weak/reins) REINS_WEAK_MODE=1 $(PYTEST) -q $(PYTEST_PARALLEL) tests/escape
