# ppmq - PROXY protocol conformance toolkit for MQTT brokers.
#
#   make            build bin/ppmq-broker, bin/proxygen, bin/ppmq-conform
#   make check      unit tests (cmocka, TAP) and integration tests, under prove
#   make demo       the conformance suite against the embedded broker, with its report
#   make check-brokers   the catalog against RabbitMQ, aedes, mosquitto and Netty's decoder (tests/brokers)
#   make brokers-report  all brokers side by side in reports/brokers/index.html
#   make bench      benchmarks (ratios against a peer measured in the same run)
#   make fuzz       libFuzzer harnesses (clang); fuzz-smoke runs each briefly
#   make install    honours PREFIX and DESTDIR
#   make SAN=1 ...  AddressSanitizer + UndefinedBehaviorSanitizer build
#   make WERROR=0|1 warnings as errors: on by default in a git checkout only
#   make CC=clang   clang builds it too (warning options are probed)
#
# How the programs are put together: lib/*.c is libppmq.a; each program is
# its folder's objects (main.c holds main) linked with libppmq.a.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/bin
MANDIR     := $(PREFIX)/share/man
DATADIR    := $(PREFIX)/share/ppmq
DOCDIR     := $(PREFIX)/share/doc/ppmq

CC         ?= cc
CFLAGS     ?= -O2 -g
# pkg-config name = the Debian package that provides it (named when missing)
PKG_DEBS   := openssl=libssl-dev yaml-0.1=libyaml-dev libcurl=libcurl4-openssl-dev \
              jansson=libjansson-dev libmicrohttpd=libmicrohttpd-dev
PKGS       := $(foreach p,$(PKG_DEBS),$(firstword $(subst =, ,$(p))))
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Warnings are errors in a git checkout (developers, CI) and not in a
# release tarball or a distribution build: WERROR=1 or WERROR=0 decides.
WERROR     ?= $(if $(wildcard .git),1,0)
# A warning option only where the compiler knows it (gcc has it, clang not).
cc_option   = $(shell $(CC) -Werror $(1) -x c -c -o /dev/null /dev/null 2>/dev/null && echo $(1))
WARN       := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
              $(call cc_option,-Wno-format-truncation) $(if $(filter 1,$(WERROR)),-Werror)
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DPPMQ_VERSION='"$(VERSION)"' \
              -DPPMQ_DATADIR='"$(DATADIR)"' $(WARN) -Ilib $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)
LIBS       := $(PKG_LIBS) -lpthread -lm

B := build
ifeq ($(SAN),1)
  B := build-san
  ALL_CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  ALL_LDFLAGS += -fsanitize=address,undefined
endif
BIN := bin
ifeq ($(SAN),1)
  BIN := $(B)/bin
endif

LIB_OBJ      := $(patsubst %.c,$(B)/%.o,$(wildcard lib/*.c))
BROKER_OBJ   := $(patsubst %.c,$(B)/%.o,$(wildcard broker/*.c))
PROXYGEN_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard proxygen/*.c))
CONFORM_OBJ  := $(patsubst %.c,$(B)/%.o,$(wildcard conformance/*.c reports/*.c))
# Program objects without main(), for unit tests.
BROKER_LIB   := $(B)/libbroker.a
PROXYGEN_LIB := $(B)/libproxygen.a
CONFORM_LIB  := $(B)/libconform.a

PROGRAMS   := $(BIN)/ppmq-broker $(BIN)/proxygen $(BIN)/ppmq-conform
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_PROGS := $(patsubst tests/progs/%.c,$(B)/tests/progs/%,$(wildcard tests/progs/*.c))
INTEG      := $(sort $(wildcard tests/integration/*.t))
MANPAGES   := $(wildcard docs/*.1)

.PHONY: all check check-unit check-integration check-brokers brokers-report demo bench soak fuzz fuzz-smoke fuzz-corpus install uninstall clean tests
all: $(PROGRAMS)

# Every library the build needs, checked one by one: a missing one is named
# with the Debian package that provides it, before the first compiler error.
.PHONY: build-deps
build-deps:
	@missing=; for pd in $(PKG_DEBS); do \
	  pkg-config --exists "$${pd%%=*}" || missing="$$missing $${pd#*=}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make: missing libraries (pkg-config cannot find them): install$$missing" \
	       "(scripts/install-deps --build installs everything the build needs)" >&2; exit 1; fi
# The tests' own libraries: cmocka (unit tests), paho.mqtt.c (test clients).
.PHONY: test-deps
test-deps:
	@missing=; pkg-config --exists cmocka || missing=" libcmocka-dev"; \
	echo '#include <MQTTAsync.h>' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libpaho-mqtt-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "make: missing test libraries: install$$missing (scripts/install-deps installs them)" >&2; exit 1; fi

$(B)/%.o: %.c | build-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Each archive and each program: its objects; one recipe for all of them.
$(B)/libppmq.a: $(LIB_OBJ)
$(BROKER_LIB): $(filter-out %/main.o,$(BROKER_OBJ))
$(PROXYGEN_LIB): $(filter-out %/main.o,$(PROXYGEN_OBJ))
$(CONFORM_LIB): $(filter-out %/main.o,$(CONFORM_OBJ))
$(B)/libppmq.a $(BROKER_LIB) $(PROXYGEN_LIB) $(CONFORM_LIB):
	@rm -f $@
	ar rcs $@ $^

$(BIN)/ppmq-broker: $(BROKER_OBJ) $(B)/libppmq.a
$(BIN)/proxygen: $(PROXYGEN_OBJ) $(B)/libppmq.a
$(BIN)/ppmq-conform: $(CONFORM_OBJ) $(B)/libppmq.a
$(PROGRAMS):
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Unit tests: one cmocka binary per tests/unit/test_*.c. test_broker_*,
# test_proxygen_* and test_conform_* also link that program's objects.
TEST_CC = $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Ibroker -Iproxygen -Iconformance -Ireports -o $@
$(UNIT_TESTS) $(TEST_PROGS): | test-deps
$(B)/tests/test_broker_%: tests/unit/test_broker_%.c $(BROKER_LIB) $(B)/libppmq.a
	@mkdir -p $(dir $@)
	$(TEST_CC) $< $(BROKER_LIB) $(B)/libppmq.a $(LIBS) -lcmocka
$(B)/tests/test_proxygen_%: tests/unit/test_proxygen_%.c $(PROXYGEN_LIB) $(B)/libppmq.a
	@mkdir -p $(dir $@)
	$(TEST_CC) $< $(PROXYGEN_LIB) $(B)/libppmq.a $(LIBS) -lcmocka
$(B)/tests/test_conform_%: tests/unit/test_conform_%.c $(CONFORM_LIB) $(B)/libppmq.a
	@mkdir -p $(dir $@)
	$(TEST_CC) $< $(CONFORM_LIB) $(B)/libppmq.a $(LIBS) -lcmocka
# The PROXY codec is a leaf: pp, pp_addr, pp_crc32c and pp_desc need nothing
# but libc. test_pp_desc links with them alone, so a new dependency breaks its build.
PP_LEAF_OBJ := $(B)/lib/pp.o $(B)/lib/pp_addr.o $(B)/lib/pp_crc32c.o $(B)/lib/pp_desc.o
$(B)/tests/test_pp_desc: tests/unit/test_pp_desc.c $(PP_LEAF_OBJ)
	@mkdir -p $(dir $@)
	$(TEST_CC) $< $(PP_LEAF_OBJ) -lcmocka
$(B)/tests/test_%: tests/unit/test_%.c $(B)/libppmq.a
	@mkdir -p $(dir $@)
	$(TEST_CC) $< $(B)/libppmq.a $(LIBS) -lcmocka

# Helper programs used by integration tests (paho.mqtt.c clients ...).
$(B)/tests/progs/%: tests/progs/%.c $(B)/libppmq.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(B)/libppmq.a $(LIBS) -lpaho-mqtt3as

tests: $(PROGRAMS) $(UNIT_TESTS) $(TEST_PROGS)

PROVE ?= prove
PROVE_FLAGS ?= --timer
export CMOCKA_MESSAGE_OUTPUT := TAP
export PPMQ_BIN := $(abspath $(BIN))
export PPMQ_BUILD := $(abspath $(B))

check: tests
	$(PROVE) $(PROVE_FLAGS) --exec '' $(UNIT_TESTS) $(INTEG)

check-unit: tests
	$(PROVE) $(PROVE_FLAGS) --exec '' $(UNIT_TESTS)

check-integration: tests
	$(PROVE) $(PROVE_FLAGS) --exec '' $(INTEG)

check-brokers: tests
	$(PROVE) $(PROVE_FLAGS) --exec '' $(sort $(wildcard tests/brokers/*.t))

demo:
	scripts/demo

brokers-report:
	scripts/brokers-report

bench: all
	scripts/bench

# The attacks of docs/robustness.md against ppmq-broker, one after the
# other, each bounded in count and time (a few minutes in all); the table
# in docs/robustness.md is replaced with what this machine measured.
soak: all
	scripts/gen-certs build/certs >/dev/null
	bench/soak.py --json bench/out/soak.json --markdown docs/robustness.md

# libFuzzer harnesses (clang, in build/fuzz/), with the project's warnings;
# undefined behaviour aborts like any other finding. The library and the
# broker's modules are compiled once, instrumented, into archives that
# every harness links (each takes what it uses), with fuzz/harness.c
# (what the harnesses share):
#   make fuzz && build/fuzz/fuzz_conn -max_total_time=60 NEW_DIR fuzz/corpus/fuzz_conn
#                       (what it finds goes to the first directory: fuzz/README.md)
#   make fuzz-smoke     every harness a few seconds over its seed corpus
#   make fuzz-corpus    the seed corpora again (fuzz/corpus/, from the catalog)
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Ilib -Ibroker $(PKG_CFLAGS) -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined
FZ := build/fuzz
FUZZ_BINS := $(patsubst fuzz/%.c,$(FZ)/%,$(wildcard fuzz/fuzz_*.c))
$(FZ)/obj/%.o: %.c | build-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(filter-out -Wno-format-truncation,$(WARN)) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(FZ)/libppmq.a: $(patsubst %.c,$(FZ)/obj/%.o,$(wildcard lib/*.c))
$(FZ)/libbroker.a: $(patsubst %.c,$(FZ)/obj/%.o,$(filter-out broker/main.c,$(wildcard broker/*.c)))
$(FZ)/libppmq.a $(FZ)/libbroker.a:
	@rm -f $@
	ar rcs $@ $^
$(FZ)/fuzz_%: $(FZ)/obj/fuzz/fuzz_%.o $(FZ)/obj/fuzz/harness.o $(FZ)/libbroker.a $(FZ)/libppmq.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)
fuzz: $(FUZZ_BINS)
fuzz-smoke: fuzz
	fuzz/smoke
fuzz-corpus: $(BIN)/proxygen
	fuzz/gen-corpus --proxygen $(BIN)/proxygen

# What an installed copy needs to run the shipped profiles with no variable
# set: the catalog, the profiles and their launchers, the certificate script
# (DATADIR), the guides and an example broker configuration (DOCDIR).
LAUNCH_FILES := $(wildcard conformance/targets/launch/*.sh)
AEDES_FILES  := $(addprefix conformance/targets/launch/aedes/,launcher.js package.json package-lock.json)
GUIDES       := README.md $(wildcard docs/*.md) scenarios/README.md
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/scenarios \
	  $(DESTDIR)$(DATADIR)/targets/launch/aedes $(DESTDIR)$(DATADIR)/targets/launch/netty \
	  $(DESTDIR)$(DATADIR)/targets/launch/tbmq \
	  $(DESTDIR)$(DATADIR)/scripts \
	  $(DESTDIR)$(DOCDIR)/findings
	install -m 755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 scenarios/*.yml $(DESTDIR)$(DATADIR)/scenarios/
	install -m 644 conformance/targets/*.yml conformance/targets/README.md $(DESTDIR)$(DATADIR)/targets/
	install -m 755 $(filter-out %/common.sh,$(LAUNCH_FILES)) $(DESTDIR)$(DATADIR)/targets/launch/
	install -m 644 conformance/targets/launch/common.sh $(DESTDIR)$(DATADIR)/targets/launch/
	install -m 644 conformance/targets/launch/ppmq-broker.acl $(DESTDIR)$(DATADIR)/targets/launch/
	install -m 644 $(AEDES_FILES) $(DESTDIR)$(DATADIR)/targets/launch/aedes/
	install -m 755 conformance/targets/launch/netty/netty.sh $(DESTDIR)$(DATADIR)/targets/launch/netty/
	install -m 644 conformance/targets/launch/netty/NettyTarget.java $(DESTDIR)$(DATADIR)/targets/launch/netty/
	install -m 644 conformance/targets/launch/tbmq/docker-compose.yml $(DESTDIR)$(DATADIR)/targets/launch/tbmq/
	install -m 755 scripts/gen-certs $(DESTDIR)$(DATADIR)/scripts/
	install -m 644 $(filter-out scenarios/README.md,$(GUIDES)) docs/ppmq-broker.example.yml \
	  $(DESTDIR)$(DOCDIR)/
	install -m 644 scenarios/README.md $(DESTDIR)$(DOCDIR)/scenarios.md
	install -m 644 $(wildcard docs/findings/*.md) $(DESTDIR)$(DOCDIR)/findings/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,ppmq-broker proxygen ppmq-conform)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANPAGES)))
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build build-san build-clang bin reports/out

-include $(shell find $(B) -name '*.d' 2>/dev/null)
