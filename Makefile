# revd: one Makefile. `make` builds ./revd; `make test` runs the whole suite;
# `make SANITIZER=address,undefined` builds with sanitizers into build/san/;
# `make ERR=1` adds -Werror. Flag changes rebuild (the flags are a dependency).

CC       ?= cc
PKGS     := openssl rocksdb libevent libevent_openssl liburing libzstd jansson libnats libcurl
TESTPKGS := cmocka

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wvla -Wwrite-strings \
        -Wimplicit-fallthrough -Wmissing-prototypes -Wstrict-prototypes \
        -Wno-unused-parameter
OPT  ?= -O2 -g
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -I. \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS_BASE := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lresolv -lpthread

ifeq ($(ERR),1)
CFLAGS_BASE += -Werror
endif

ifneq ($(SANITIZER),)
BUILD ?= build/san
CFLAGS_BASE += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZER)
else
BUILD ?= build/rel
endif

LIB_DIRS := common ca acme ocsp shard crl feed
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# node/: the serving process (linked into revd; the unit tests take LIB_OBJ).
NODE_SRC := $(wildcard node/*.c)
NODE_OBJ := $(NODE_SRC:%.c=$(BUILD)/%.o)
CMD_SRC  := $(wildcard cmd/*.c)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all run edge-demo test unit fuzz-replay fuzz bench-issue clean deps test-deps
all: revd

# ./revd is a copy of the release build, so the README's commands work from the top.
revd: $(BUILD)/revd
	@if [ "$(BUILD)" = "build/rel" ]; then cp -f $< $@; fi

$(BUILD)/revd: $(CMD_OBJ) $(NODE_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -MMD -MP -c -o $@ $<

# Rebuild everything when the flags change.
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS_BASE) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS_BASE) $(LDFLAGS)' > $@
FORCE:

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(shell pkg-config --cflags $(TESTPKGS)) $(LDFLAGS) -o $@ $< $(LIB_OBJ) \
	    $(filter $(BUILD)/node/%.o,$^) $(LDLIBS_BASE) $(shell pkg-config --libs $(TESTPKGS))
# The few units of node/ that a unit test takes (self-contained ones).
$(BUILD)/tests/test_cpus: $(BUILD)/node/cpus.o
$(BUILD)/tests/test_tlshttp: $(BUILD)/node/tlshttp.o

# Replay drivers: each libFuzzer target linked with a main() that feeds it
# every file named on the command line (works with gcc, under sanitizers).
$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB_OBJ) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIB_OBJ) $(LDLIBS_BASE)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS_BASE)

# The HTTP load generator: standalone (libc and libm only), so no LIB_OBJ.
# `make loadgen` builds $(BUILD)/bench/loadgen.
.PHONY: loadgen
loadgen: $(BUILD)/bench/loadgen
$(BUILD)/bench/loadgen: bench/loadgen.c bench/scale.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LDFLAGS) -o $@ $< -lm -pthread

# bench/scalegen: bench/scale.sh's inventories (libc and libm only).
$(BUILD)/bench/scalegen: bench/scalegen.c bench/scale.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LDFLAGS) -o $@ $< -lm

# bench/trivial: the HTTP floor that shows loadgen is not the limit.
$(BUILD)/bench/trivial: bench/trivial.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LDFLAGS) -o $@ $<

# bench/natsread: the NATS floor of an edge's bootstrap (libnats only).
$(BUILD)/bench/natsread: bench/natsread.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LDFLAGS) -o $@ $< -lnats -pthread

# issue #5's scenarios, revd beside its peers (bench/README.md): bench-quick
# at a small scale in under two minutes; bench at 10^6 certificates
# (BENCH_CERTS=10000000 for 10^7) with charts.
BENCH_CERTS ?= 1000000
.PHONY: bench-quick bench
bench-quick: $(BUILD)/bench/loadgen $(BUILD)/bench/trivial
	@scripts/deps.sh bench
	$(MAKE) revd
	bash bench/run.sh --quick
bench: $(BUILD)/bench/loadgen $(BUILD)/bench/trivial
	@scripts/deps.sh bench
	$(MAKE) revd
	bash bench/run.sh --certs $(BENCH_CERTS)

# issue 15's scale scenario (bench/scale.sh; not part of `make test`):
# SCALE_N="10000000 30000000" by default; any list, e.g.
# make bench-scale SCALE_N="1000000 3000000". bench/README.md, "Scale".
SCALE_N ?= 10000000 30000000
.PHONY: bench-scale
bench-scale: $(BUILD)/bench/loadgen $(BUILD)/bench/scalegen
	$(MAKE) revd
	SCALE_N="$(SCALE_N)" bash bench/scale.sh

# tests/tools/natsping: the NATS topology checked end to end (hub stream,
# leaf mirror), used by tests/cli/test_natslib.sh and docs/edge.md; libnats only.
NATSPING := $(BUILD)/tests/tools/natsping
.PHONY: natsping
natsping: $(NATSPING)
$(NATSPING): tests/tools/natsping.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libnats)

unit: $(UNIT_BIN) $(NATSPING)

# issue 16's edge targets (bench/edge.sh; not part of `make test`): a
# primary, nats-server and edges on loopback, BENCH_EDGE_CERTS certificates
# (100000 by default). bench/README.md, "Edge responders (issue 16)".
BENCH_EDGE_CERTS ?= 100000
.PHONY: bench-edge
bench-edge: $(BUILD)/bench/loadgen $(BUILD)/bench/natsread
	$(MAKE) revd
	BENCH_EDGE_CERTS=$(BENCH_EDGE_CERTS) bash bench/edge.sh

fuzz-replay: $(REPLAY_BIN)
bench-bins: $(BENCH_BIN)

# libFuzzer builds (clang): make fuzz FUZZ_SECONDS=60 [FUZZ_TARGETS="fuzz_http fuzz_csr"]
# Each target starts from its seeds in tests/fuzz/corpus/, its third-party
# corpora (tests/fuzz/shared-corpora.txt, read in place) and what earlier runs
# found (build/fuzz/work/, where new inputs go); a finding stops the run with
# the crashing input saved as build/fuzz/crash-*. Logs: build/fuzz/log/.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= $(FUZZ_SRC:tests/fuzz/%.c=%)
fuzz:
	@scripts/deps.sh fuzz
	$(MAKE) CC=clang BUILD=build/fuzz OPT='-O1 -g' \
	    SANITIZER=address,undefined,fuzzer-no-link $(LIB_OBJ:$(BUILD)/%=build/fuzz/%)
	@mkdir -p build/fuzz/bin build/fuzz/log
	@set -e; for n in $(FUZZ_TARGETS); do t=tests/fuzz/$$n.c; \
	  test -f $$t || { echo "revd: no fuzz target $$t" >&2; exit 2; }; \
	  clang -std=c11 -D_GNU_SOURCE -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	    $(shell pkg-config --cflags $(PKGS)) -o build/fuzz/bin/$$n $$t \
	    $(LIB_OBJ:$(BUILD)/%=build/fuzz/%) $(LDLIBS_BASE); \
	  mkdir -p build/fuzz/work/$$n; \
	  extra=$$(awk -v n=$$n '$$1 == n && NF == 2 { print "../shared/corpora/" $$2 }' \
	    tests/fuzz/shared-corpora.txt | while read -r d; do test -d "$$d" && echo "$$d"; done); \
	  echo "revd: fuzzing $$n for $(FUZZ_SECONDS) s (log build/fuzz/log/$$n.log)"; \
	  build/fuzz/bin/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/ \
	    build/fuzz/work/$$n tests/fuzz/corpus/$$n $$extra > build/fuzz/log/$$n.log 2>&1 \
	    || { tail -40 build/fuzz/log/$$n.log >&2; exit 1; }; \
	  grep -E '^stat::number_of_executed_units' build/fuzz/log/$$n.log | sed "s/^/$$n: /"; \
	done

deps:
	@scripts/deps.sh run

test-deps:
	@scripts/deps.sh test

run: deps
	$(MAKE) revd
	./revd demo

# The edge topology on loopback (docs/edge.md): the demo CA, a primary, a
# 3-node NATS cluster, two leaf servers and an edge on each; Ctrl-C stops all.
edge-demo: deps
	$(MAKE) revd
	scripts/edge-demo.sh

# The whole suite: release build + unit + integration, then the sanitizer build
# of the same, then every fuzz corpus replayed under ASan+UBSan.
test: test-deps
	@tests/run.sh

clean:
	rm -rf build revd

-include $(shell find build -name '*.d' 2>/dev/null)
