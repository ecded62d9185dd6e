# oomprof — build, test, install.
#
#   make               build/oomprof (one binary; subcommands)
#   make run           install missing packages, build, run `oomprof watch` in the foreground
#   make check         install what tests need, build, run every test tier
#   make SAN=1 check   the same with ASan+UBSan (objects under build/san)
#   make bench         benchmarks that print figures
#   make soak          1,000 OOM kills in a row: lost captures, fds, map entries, RSS
#   make fuzz          libFuzzer targets, FUZZ_TIME seconds each (default 60)
#   make install       PREFIX=/usr/local DESTDIR=
#   make vmlinux       regenerate bpf/vmlinux.h from the running kernel's BTF
#   V=1                show the commands

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDEXPANSION:
.SECONDARY:

PREFIX ?= /usr/local
DESTDIR ?=
BUILDROOT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c
FUZZ_TIME ?= 60

ifeq ($(SAN),1)
BUILD := $(BUILDROOT)/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
BUILD := $(BUILDROOT)
endif

ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg = @printf '  %-6s %s\n'
endif

PKGS := libbpf libelf libdw libprotobuf-c zlib libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Werror -Wno-missing-field-initializers
BASE_CFLAGS = $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -I. -I$(BUILD)/gen -I$(BUILD)/bpf \
	$(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
OUR_CFLAGS = $(BASE_CFLAGS) $(WARNINGS)
LDLIBS = $(PKG_LIBS) -lm
LDFLAGS += $(SANFLAGS)

# Sources are found by folder, so a new file needs no Makefile change.
PROTOS := $(wildcard pprof/*.proto)
GEN_SRCS := $(patsubst pprof/%.proto,$(BUILD)/gen/pprof/%.pb-c.c,$(PROTOS))
GEN_HDRS := $(GEN_SRCS:.c=.h)
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
LIB_SRCS := $(wildcard gosym/*.c pprof/*.c) $(filter-out oomprof/cmd/main.c,$(wildcard oomprof/*/*.c))
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(GEN_SRCS:.c=.o)
LIB := $(BUILD)/liboomprof.a
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))

.PHONY: all run check deps test-deps tests testdata bench soak fuzz fuzz-replay install \
	uninstall vmlinux clean format format-check
all: $(BUILD)/oomprof

deps:
	$(Q)scripts/deps.sh

test-deps:
	$(Q)scripts/deps.sh --test

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(BUILD)/oomprof

# Everything the test runner needs: the binary, unit tests, helper tools, the
# sanitized fuzz-corpus replayers, and the Go test programs for every toolchain.
tests: all $(BUILD)/tests/unit $(TOOLS)
	$(Q)$(MAKE) --no-print-directory SAN=1 fuzz-replay
	$(Q)tests/build-testdata.sh $(BUILDROOT)/testdata
	$(Q)tests/tools/build-go-tools.sh $(BUILDROOT)/testdata

check: test-deps
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)BUILD=$(BUILD) SAN_BUILD=$(BUILDROOT)/san TESTDATA=$(BUILDROOT)/testdata tests/run.sh

testdata:
	$(Q)tests/build-testdata.sh $(BUILDROOT)/testdata

bench: all $(TOOLS)
	$(Q)tests/build-testdata.sh $(BUILDROOT)/testdata
	$(Q)tests/tools/build-go-tools.sh $(BUILDROOT)/testdata
	$(Q)BUILD=$(BUILD) TESTDATA=$(BUILDROOT)/testdata tests/bench/run.sh

soak: all $(TOOLS)
	$(Q)tests/build-testdata.sh $(BUILDROOT)/testdata
	$(Q)BUILD=$(BUILD) TESTDATA=$(BUILDROOT)/testdata tests/soak.sh

$(BUILD)/oomprof: $(BUILD)/obj/oomprof/cmd/main.o $(LIB)
	$(msg) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJS)
	$(msg) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/unit: $(UNIT_OBJS) $(LIB)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Our code: every warning is an error. Generated protobuf-c code is not ours.
$(BUILD)/obj/%.o: %.c | $(SKELS) $(GEN_HDRS)
	$(msg) CC $<
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(OUR_CFLAGS) -c -o $@ $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(msg) CC $<
	$(Q)$(CC) $(BASE_CFLAGS) -w -c -o $@ $<

$(BUILD)/gen/pprof/%.pb-c.c $(BUILD)/gen/pprof/%.pb-c.h: pprof/%.proto
	$(msg) PROTOC $<
	$(Q)mkdir -p $(BUILD)/gen
	$(Q)$(PROTOC_C) --c_out=$(BUILD)/gen $<

# BPF: .bpf.c → .bpf.o → .skel.h. -mcpu=v3 for atomics whose result is used.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror -Ibpf

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $$(wildcard bpf/*.h)
	$(msg) BPF $<
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(msg) SKEL $@
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h

# Fuzz targets: libFuzzer (clang) for `make fuzz`; a plain replay driver for the
# test run, which feeds every corpus file once under ASan+UBSan.
fuzz-replay: $(patsubst %,$(BUILD)/fuzz/replay-%,$(FUZZ_NAMES))

$(BUILD)/fuzz/replay-%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(LIB)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -I. \
	-Ibuild/fuzz-lf/gen -Ibuild/fuzz-lf/bpf $(PKG_CFLAGS)

fuzz:
	$(Q)$(MAKE) --no-print-directory BUILDROOT=build/fuzz-lf SAN= CC=$(CLANG) \
		SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
		$(patsubst %,build/fuzz-lf/fuzz-%,$(FUZZ_NAMES))
	$(Q)for t in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz-work/$$t; \
		echo "fuzz: $$t for $(FUZZ_TIME)s"; \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		build/fuzz-lf/fuzz-$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			build/fuzz-work/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

build/fuzz-lf/fuzz-%: tests/fuzz/fuzz_%.c build/fuzz-lf/liboomprof.a
	$(msg) FUZZ $@
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The unit goes where systemd looks for local units; an existing configuration file is
# never overwritten (the default one is installed beside it as oomprof.conf.default).
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
SYSCONFDIR ?= /etc

install: all
	install -D -m 0755 $(BUILD)/oomprof $(DESTDIR)$(PREFIX)/bin/oomprof
	install -d -m 0755 $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(SYSCONFDIR)/oomprof
	sed -e 's#@BINDIR@#$(PREFIX)/bin#g' -e 's#@SYSCONFDIR@#$(SYSCONFDIR)#g' deploy/systemd/oomprof.service \
		>$(DESTDIR)$(SYSTEMD_UNIT_DIR)/oomprof.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/oomprof.service
	install -m 0644 deploy/systemd/oomprof.conf $(DESTDIR)$(SYSCONFDIR)/oomprof/oomprof.conf.default
	[ -e $(DESTDIR)$(SYSCONFDIR)/oomprof/oomprof.conf ] || \
		install -m 0644 deploy/systemd/oomprof.conf $(DESTDIR)$(SYSCONFDIR)/oomprof/oomprof.conf

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/oomprof $(DESTDIR)$(SYSTEMD_UNIT_DIR)/oomprof.service \
		$(DESTDIR)$(SYSCONFDIR)/oomprof/oomprof.conf.default

format:
	clang-format -i $(filter-out bpf/vmlinux.h build/%,$(wildcard */*.c */*.h */*/*.c */*/*.h))

format-check:
	clang-format --dry-run -Werror $(filter-out bpf/vmlinux.h build/%,$(wildcard */*.c */*.h */*/*.c */*/*.h))

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
