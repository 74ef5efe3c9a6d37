#!/usr/bin/env bash
# The whole suite, as the README's test command runs it (make test):
#   1. release build (-Werror), unit tests (cmocka), integration tests
#      (tests/cli/test_*.sh against the real binary with real openssl);
#   2. the same under ASan+UBSan;
#   3. every fuzz target's corpus replayed under ASan+UBSan (the seeds in
#      tests/fuzz/corpus/ and the third-party corpora in ../shared/corpora/);
#   4. the threaded integration tests under ThreadSanitizer;
#   and, after the release build, the layering check (tests/layering.py)
#   and the function-length check (tests/funclen.py).
# Ends with the line "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
pass=0; fail=0; skip=0; failed_names=()

note() { printf '\n== %s\n' "$*"; }
record() { # name rc
  case "$2" in
    0) pass=$((pass+1)); printf 'PASS %s\n' "$1" ;;
    77) skip=$((skip+1)); printf 'SKIP %s\n' "$1" ;;
    *) fail=$((fail+1)); failed_names+=("$1"); printf 'FAIL %s (exit %s)\n' "$1" "$2" ;;
  esac
}

build() { # variant args...
  local log; log=$(mktemp)
  if ! make -j"$JOBS" ERR=1 "$@" all unit fuzz-replay >"$log" 2>&1; then
    cat "$log"; rm -f "$log"; return 1
  fi
  rm -f "$log"
}

run_tier() { # label build-dir
  local label=$1 dir=$2
  note "$label: unit tests"
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    "$t"; record "$label unit $(basename "$t")" $?
  done
  note "$label: integration tests"
  for t in tests/cli/test_*.sh; do
    [ -f "$t" ] || continue
    local out; out=$(mktemp)
    REVD_BIN="$ROOT/$dir/revd" timeout 600 bash "$t" >"$out" 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then sed 's/^/    /' "$out" | tail -40; fi
    rm -f "$out"
    record "$label cli $(basename "$t" .sh)" $rc
  done
}

replay_corpora() { # build-dir
  local dir=$1
  note "fuzz corpora replayed under ASan+UBSan"
  for bin in "$dir"/replay/fuzz_*; do
    [ -x "$bin" ] || continue
    local name; name=$(basename "$bin")
    local dirs=()
    [ -d "tests/fuzz/corpus/$name" ] && dirs+=("tests/fuzz/corpus/$name")
    # Third-party corpora each target also eats (tests/fuzz/shared-corpora.txt).
    if [ -f tests/fuzz/shared-corpora.txt ]; then
      while read -r target path; do
        [ "$target" = "$name" ] || continue
        [ -d "../shared/corpora/$path" ] && dirs+=("../shared/corpora/$path")
      done < <(grep -v '^#' tests/fuzz/shared-corpora.txt)
    fi
    if [ ${#dirs[@]} -eq 0 ]; then record "replay $name (no corpus)" 1; continue; fi
    local files; files=$(find "${dirs[@]}" -type f | wc -l)
    find "${dirs[@]}" -type f -print0 | xargs -0 "$bin" >/dev/null 2>"$dir/replay/$name.log"
    local rc=$?
    [ $rc -ne 0 ] && tail -30 "$dir/replay/$name.log"
    record "replay $name ($files inputs)" $rc
  done
}

# env_pass LABEL VAR=VALUE BUILD-DIR TESTS...: the CLI tests again with
# one variable of tests/cli/lib.sh set, each recorded as "LABEL cli TEST".
env_pass() {
  local label=$1 var=$2 dir=$3; shift 3
  for t in "$@"; do
    local out; out=$(mktemp)
    env "$var" REVD_BIN="$ROOT/$dir/revd" timeout 600 bash "tests/cli/$t.sh" >"$out" 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then sed 's/^/    /' "$out" | tail -40; fi
    rm -f "$out"
    record "$label cli $t" $rc
  done
}

# The tests that serve over HTTP, again on the libevent loop (the default
# run above uses io_uring where the kernel allows it): both backends pass
# the same tests.
HTTP_TESTS="test_edge_basic test_cpus test_serve_ocsp test_serve_lane test_serve_refresh test_serve_timeouts test_serve_crl test_crl_parallel test_stapling test_ocsptool test_metrics test_config test_ca_delete test_events test_admin test_admin_hostile test_pkcs11"
libevent_pass() { # build-dir
  note "release: the HTTP tests on the libevent loop"
  env_pass libevent REVD_IO=libevent "$1" $HTTP_TESTS
}

# The same HTTP tests with every io_uring feature left out (the plain
# receive, single accepts, no deferred task work: what an older kernel
# gets); tests/cli/test_uring_fallback.sh leaves out each on its own.
URING_FALLBACK_TESTS="test_serve_ocsp test_serve_timeouts test_hostile_clients test_serve_crl test_serve_lane"
uring_fallback_pass() { # build-dir
  note "release: the HTTP tests on io_uring without its optional features"
  env_pass uring-fallback REVD_URING_OFF=all "$1" $URING_FALLBACK_TESTS
}

note "release build"
if build; then
  # The shape of the tree (docs/architecture.md): no folder edge against
  # common <- ca <- {ocsp, crl} -> shard <- node <- cmd, no cycle between
  # files, in the include graph and in the built objects' link graph; and
  # the check itself catches a back edge and a cycle; no function over 100
  # lines without a reason (tests/funclen.py).
  note "layering"
  python3 tests/layering.py --build build/rel; record "layering" $?
  python3 tests/funclen.py; record "function length" $?
  bash tests/layering_selftest.sh; record "layering selftest" $?
  run_tier release build/rel
  libevent_pass build/rel
  uring_fallback_pass build/rel
else
  record "release build" 1
fi

note "sanitizer build (address,undefined)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if build SANITIZER=address,undefined; then
  run_tier asan+ubsan build/san
  replay_corpora build/san
else
  record "sanitizer build" 1
fi

# ThreadSanitizer over the tests where threads meet: the shards serving
# while the CA-core thread publishes new generations, the control socket
# under a storm and kill -9, the store readers and the shards' caches, the
# feed's thread and an edge's applier beside nats.c's delivery threads.
note "thread sanitizer build"
if make -j"$JOBS" ERR=1 SANITIZER=thread BUILD=build/tsan all >/dev/null 2>&1; then
  for t in test_serve_ocsp test_serve_lane test_serve_crl test_crl_parallel test_serve test_crash test_metrics \
    test_config test_webhook test_store test_edge_basic test_edge_restart test_acme_hostile; do
    out=$(mktemp)
    TSAN_OPTIONS="halt_on_error=1 suppressions=$ROOT/tests/tsan.supp" ASAN_OPTIONS= UBSAN_OPTIONS= \
      REVD_BIN="$ROOT/build/tsan/revd" REVD_TIMEOUT=180 timeout 600 bash "tests/cli/$t.sh" >"$out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then sed 's/^/    /' "$out" | tail -40; fi
    rm -f "$out"
    record "tsan cli $t" $rc
  done
else
  record "thread sanitizer build" 1
fi

echo
if [ $fail -gt 0 ]; then printf 'failed: %s\n' "${failed_names[@]}"; fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
