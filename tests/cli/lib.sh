# tests/cli/lib.sh: sourced by every tests/cli/test_*.sh.
#
# Drives the real revd binary against a throwaway data directory and checks
# what it prints against docs/cli.md, with openssl and /usr/bin/python3
# (python3-cryptography) as the independent readers of what it writes.
#
# Environment:
#   REVD_BIN      the binary to test (default: build/rel/revd under the repo root)
#   REVD_TIMEOUT  seconds one revd command may take (default 60)
#   KEEP_TMP=1    keep the temporary directory (its path is printed) for debugging
#   REVD_IO       uring or libevent: the shards' event loop for the tests that
#                 serve over HTTP (they pass "${IO_ARGS[@]}" to revd serve)
#   KEEP_GOING=1  report every failed check instead of stopping at the first
#                 (for triage; later failures may follow from earlier ones)
#
# A test exits 0 on pass, 1 on fail (one `FAIL: test: [step] message` line on
# stdout, then the failing command's output), 77 on skip with the reason.

set -u

TEST_NAME=$(basename "$0" .sh)
CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLI_DIR/../.." && pwd)
REVD=${REVD_BIN:-$REPO_ROOT/build/rel/revd}
case "$REVD" in /*) ;; *) REVD=$PWD/$REVD ;; esac
REVD_TIMEOUT=${REVD_TIMEOUT:-60}
PY=/usr/bin/python3
IO_ARGS=()
[ -n "${REVD_IO:-}" ] && IO_ARGS=(--io "$REVD_IO")
# REVD_URING_OFF: io_uring features the shards leave out (--io-uring-off),
# to run the same tests on the fallbacks an older kernel gets.
[ -n "${REVD_URING_OFF:-}" ] && IO_ARGS+=(--io-uring-off "$REVD_URING_OFF")
STEP=""

skip() { echo "SKIP: $TEST_NAME: $*"; exit 77; }

[ -x "$REVD" ] || skip "revd binary not found at $REVD (build it, or set REVD_BIN)"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed (scripts/deps.sh test)"
"$PY" -c 'import cryptography' >/dev/null 2>&1 ||
    skip "$PY cannot import cryptography (apt-get install python3-cryptography)"

T=$(mktemp -d "${TMPDIR:-/tmp}/revd-$TEST_NAME.XXXXXX") || { echo "FAIL: $TEST_NAME: mktemp"; exit 1; }
BG_PIDS=""
_cleanup() {
    local p
    for p in $BG_PIDS; do kill -9 "$p" 2>/dev/null; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap _cleanup EXIT
# The data directory exists (empty) before the first command; whether revd
# creates a missing one is checked separately in test_usage.sh.
export REVD_DIR="$T/data"
mkdir -p "$REVD_DIR"
# revd must not depend on the caller's working directory; run from a scratch one.
mkdir -p "$T/cwd" && cd "$T/cwd" || exit 1

# ---------------------------------------------------------------- reporting
step() { STEP="$*"; }

LAST_CMD="" RC=0 OUT="" ERR=""

fail() {
    echo "FAIL: $TEST_NAME: ${STEP:+[$STEP] }$*"
    if [ -n "$LAST_CMD" ]; then
        echo "  last command: $LAST_CMD"
        echo "  exit status: $RC"
        echo "  stdout (first 20 lines):"; printf '%s\n' "$OUT" | head -20 | sed 's/^/    /'
        echo "  stderr (first 20 lines):"; printf '%s\n' "$ERR" | head -20 | sed 's/^/    /'
    fi
    if [ "${KEEP_GOING:-0}" = 1 ]; then FAILED=1; return 1; fi
    exit 1
}
FAILED=0

pass() {
    [ "$FAILED" = 0 ] || { echo "FAIL: $TEST_NAME (KEEP_GOING: see above)"; exit 1; }
    echo "PASS: $TEST_NAME"; exit 0
}

# ---------------------------------------------------------------- running
# `revd ARGS...` runs the binary under test (a function, so run_ok revd ... works).
revd() { timeout -k 5 "$REVD_TIMEOUT" "$REVD" "$@"; }

# _run CMD...: runs CMD with stdin from /dev/null; sets RC, OUT, ERR.
_run() {
    LAST_CMD="$*"
    "$@" >"$T/.out" 2>"$T/.err" </dev/null
    RC=$?
    OUT=$(cat "$T/.out")
    ERR=$(cat "$T/.err")
}

# run_ok CMD...: expects exit 0; stdout in $OUT, stderr in $ERR.
run_ok() {
    _run "$@"
    [ "$RC" -eq 0 ] || fail "expected exit 0, got $RC"
}

# The failure contract of docs/cli.md: exit 1 with exactly one line
# `revd: ...` on stderr; exit 2 with a usage line on stderr.
_check_fail_output() {
    case "$RC" in
    1)
        local n
        n=$(printf '%s\n' "$ERR" | grep -c .)
        [ "$n" -eq 1 ] || fail "exit 1 should come with exactly one line on stderr, got $n"
        [[ "$ERR" =~ ^revd:\ .{8,} ]] || fail "stderr should be one line 'revd: <what went wrong>'"
        ;;
    2)
        [ -n "$ERR" ] || fail "exit 2 should come with a usage line on stderr, stderr is empty"
        printf '%s\n' "$ERR" | grep -qi 'usage' || fail "exit 2 should print a usage line on stderr"
        ;;
    esac
    case "$OUT" in *"BEGIN CERTIFICATE"*) fail "a failed command printed a certificate" ;; esac
}

# run_fail CODE CMD...: expects exactly exit CODE and the matching stderr.
run_fail() {
    local want=$1; shift
    _run "$@"
    [ "$RC" -eq "$want" ] || fail "expected exit $want, got $RC"
    _check_fail_output
}

# run_fail_arg CMD...: a malformed or out-of-range argument value, which
# docs/cli.md does not classify as usage (2) or failure (1): either is
# accepted, with the stderr that goes with the code.
run_fail_arg() {
    _run "$@"
    [ "$RC" -eq 1 ] || [ "$RC" -eq 2 ] || fail "expected exit 1 or 2, got $RC"
    _check_fail_output
}

# serve_wait LOG: the revd serve started in the background as $SRV (added to
# BG_PIDS here) says it serves, within 30 s; fails otherwise.
serve_wait() {
    BG_PIDS="$BG_PIDS $SRV"
    for _ in $(seq 300); do
        grep -Eq '^revd: serving|event=serve\.ready|"event":"serve\.ready"' "$1" && return 0
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.1
    done
    fail "revd serve did not start: $(cat "$1")"
}

# serve_bg LOG ARGS...: `revd serve ARGS` in the background, output in LOG,
# pid in SRV, until it says it serves.
serve_bg() {
    local log=$1; shift
    "$REVD" serve "$@" >"$log" 2>&1 </dev/null &
    SRV=$!
    serve_wait "$log"
}

# ---------------------------------------------------------------- asserts
assert_eq() { # ACTUAL EXPECTED WHAT
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}
assert_contains() { # HAYSTACK NEEDLE [WHAT]
    case "$1" in *"$2"*) ;; *) fail "${3:-output} should contain '$2'" ;; esac
}
assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
    case "$1" in *"$2"*) fail "${3:-output} should not contain '$2'" ;; esac
}
assert_match() { # STRING ERE [WHAT]
    [[ "$1" =~ $2 ]] || fail "${3:-value} '$1' should match /$2/"
}
assert_line() { # TEXT LINE [WHAT]: TEXT has LINE as a whole line
    printf '%s\n' "$1" | grep -qxF -- "$2" || fail "${3:-output} should have the line '$2'"
}
assert_file_mode() { # FILE MODE
    [ -e "$1" ] || fail "$1 should exist"
    local m; m=$(stat -c %a "$1")
    [ "$m" = "$2" ] || fail "$1 should have mode $2, has $m"
}

TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
HEX_RE='^[0-9A-F]+$'

# epoch TIME: seconds of an ISO-8601 UTC time.
epoch() { date -u -d "$1" +%s; }
now() { date -u +%s; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# assert_near ACTUAL EXPECTED TOLERANCE WHAT (integers)
assert_near() {
    local d=$(($1 - $2)); [ $d -lt 0 ] && d=$((-d))
    [ $d -le "$3" ] || fail "$4: $1 is $d away from $2 (tolerance $3)"
}

# kv KEY [TEXT]: the value of the first `KEY: value` line of TEXT (default $OUT).
kv() {
    printf '%s\n' "${2-$OUT}" | awk -v k="$1: " 'index($0, k) == 1 { print substr($0, length(k) + 1); exit }'
}
# assert_kv KEY VALUE [TEXT]
assert_kv() {
    local text=${3-$OUT}
    printf '%s\n' "$text" | grep -q "^$1: " || fail "no '$1: ' line in output"
    assert_eq "$(kv "$1" "$text")" "$2" "'$1:'"
}

# ---------------------------------------------------------------- certificates
# certinfo FILE: `key=value` facts of a certificate (see certinfo.py).
# (Usually called inside $(...), where fail could not stop the test: it says
# so on stderr and prints nothing, so the caller's assertion fails.)
certinfo() {
    "$PY" "$CLI_DIR/certinfo.py" "$1" || echo "certinfo.py could not read $1" >&2
}
# ci KEY INFO: one value from certinfo output.
ci() { printf '%s\n' "$2" | sed -n "s/^$1=//p" | head -1; }
assert_ci() { # INFO KEY VALUE [WHAT]
    assert_eq "$(ci "$2" "$1")" "$3" "${4:-certificate} $2"
}

# serial_of CERTFILE: the serial as `openssl x509 -noout -serial` prints it.
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }

# count_certs FILE: number of PEM certificates in FILE.
count_certs() { grep -c -- '-----BEGIN CERTIFICATE-----' "$1"; }

# make_csr PREFIX SUBJECT [KEY] [openssl req options...]
# KEY: ec256 (default), ec384, rsa1024, rsa2048, dsa. Writes $T/PREFIX.csr, $T/PREFIX.key.
make_csr() {
    local p=$1 subj=$2 k=${3:-ec256}
    shift 2; [ $# -gt 0 ] && shift
    local nk
    case "$k" in
    ec256) nk=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    ec384) nk=(-newkey ec -pkeyopt ec_paramgen_curve:P-384) ;;
    rsa1024) nk=(-newkey rsa:1024) ;;
    rsa2048) nk=(-newkey rsa:2048) ;;
    dsa)
        [ -f "$T/dsaparam.pem" ] || openssl genpkey -genparam -algorithm DSA \
            -pkeyopt dsa_paramgen_bits:2048 -out "$T/dsaparam.pem" 2>/dev/null ||
            fail "openssl could not make DSA parameters"
        nk=(-newkey "dsa:$T/dsaparam.pem") ;;
    *) fail "make_csr: unknown key type $k" ;;
    esac
    openssl req -new "${nk[@]}" -nodes -subj "$subj" -keyout "$T/$p.key" -out "$T/$p.csr" "$@" \
        >/dev/null 2>"$T/.openssl.err" || { cat "$T/.openssl.err"; fail "openssl req could not make $p.csr"; }
}

# issue_to FILE REVD-ISSUE-ARGS...: issues a certificate, saves stdout to FILE.
issue_to() {
    local f=$1; shift
    run_ok revd issue "$@"
    printf '%s\n' "$OUT" >"$f"
    assert_contains "$OUT" "-----BEGIN CERTIFICATE-----" "issue stdout"
    openssl x509 -in "$f" -noout 2>/dev/null || fail "issue printed something openssl x509 cannot read"
}

# create_root NAME [create-root options...]: a root with subject /CN=NAME.
create_root() {
    local n=$1; shift
    run_ok revd ca create-root --name "$n" --subject "/CN=$n" "$@"
}
# create_sub NAME PARENT [create-sub options...]
create_sub() {
    local n=$1 p=$2; shift 2
    run_ok revd ca create-sub --name "$n" --parent "$p" --subject "/CN=$n" "$@"
}

# verify ROOT UNTRUSTED CERT: the issue's acceptance check, exactly.
verify_chain() {
    local o
    if [ -n "$2" ]; then
        o=$(openssl verify -CAfile "$1" -untrusted "$2" "$3" 2>&1) ||
            fail "openssl verify -CAfile $1 -untrusted $2 $3 failed: $o"
    else
        o=$(openssl verify -CAfile "$1" "$3" 2>&1) || fail "openssl verify -CAfile $1 $3 failed: $o"
    fi
}

# ---------------------------------------------------------------- index state
# snapshot CA...: everything the CLI says about the index: the CA list, and for
# each CA its show output and full CSV report. Used to prove that a refused
# command changed nothing.
snapshot() {
    local c
    revd ca list 2>&1 || echo "ca list failed: $?"
    for c in "$@"; do
        echo "== $c"
        revd ca show "$c" 2>&1 || echo "ca show failed: $?"
        revd report --ca "$c" --format csv 2>&1 || echo "report failed: $?"
    done
}
# assert_unchanged BEFORE CA...: the index is as snapshot said it was.
assert_unchanged() {
    local before=$1; shift
    local after
    after=$(snapshot "$@")
    if [ "$before" != "$after" ]; then
        printf '%s\n' "$before" >"$T/.snap.before"
        printf '%s\n' "$after" >"$T/.snap.after"
        local d; d=$(diff "$T/.snap.before" "$T/.snap.after" | head -20)
        fail "index changed by a refused command ($LAST_CMD):
$d"
    fi
}

# json_ok TEXT PYTHON-EXPR: parses TEXT as JSON into `j` and asserts EXPR.
json_ok() {
    local r
    r=$(printf '%s' "$1" | "$PY" -c '
import json, sys
try:
    j = json.load(sys.stdin)
except Exception as e:
    print("not JSON: %s" % e); sys.exit(1)
def names(x):
    """every value of a \"name\" key anywhere in x"""
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "name": yield v
            yield from names(v)
    elif isinstance(x, list):
        for v in x: yield from names(v)
ok = eval(sys.argv[1])
if not ok:
    print("JSON check failed: " + sys.argv[1]); sys.exit(1)
' "$2" 2>&1) || fail "$r"
}

# csv_get CSV-TEXT SERIAL COLUMN: one field of a report row (parsed with
# Python's csv module, so quoted subjects with commas are handled).
csv_get() {
    printf '%s\n' "$1" | "$PY" -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
for r in rows:
    if r.get("serial") == sys.argv[1]:
        print(r.get(sys.argv[2], "<no column %s>" % sys.argv[2])); break
else:
    print("<no row %s>" % sys.argv[1])
' "$2" "$3"
}

# csr_sig_ok FILE: the CSR's self-signature verifies (python3-cryptography;
# `openssl req -verify` exits 0 even when it does not).
csr_sig_ok() {
    "$PY" -c '
import sys
from cryptography import x509
d = open(sys.argv[1], "rb").read()
c = x509.load_pem_x509_csr(d) if b"-----BEGIN" in d else x509.load_der_x509_csr(d)
sys.exit(0 if c.is_signature_valid else 1)' "$1" 2>/dev/null
}
