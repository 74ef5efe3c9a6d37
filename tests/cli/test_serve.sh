#!/bin/bash
# revd serve: the socket DIR/revd.sock (mode 0600); every command works
# unchanged while the server holds DIR (relative paths resolved from the
# client's directory, failures and usage errors reported the same way,
# concurrent clients); after TERM, and after kill -9, the commands find the
# same facts without it.
. "$(dirname "$0")/lib.sh"

D=$T/served
mkdir -p "$D"
SOCK=$D/revd.sock
SRV=""

# listening PATH: a listening Unix socket is bound at PATH (from /proc/net/unix,
# without connecting to it).
listening() {
    awk -v p="$1" '$NF == p && $4 == "00010000"' /proc/net/unix 2>/dev/null | grep -q .
}

# start_server: starts revd serve --dir D, waits (10 s) until it listens.
start_server() {
    "$REVD" serve --dir "$D" >>"$T/serve.out" 2>>"$T/serve.err" </dev/null &
    SRV=$!
    BG_PIDS="$BG_PIDS $SRV"
    local i
    for i in $(seq 100); do
        kill -0 "$SRV" 2>/dev/null || { LAST_CMD=""; fail "revd serve exited at start: $(tail -5 "$T/serve.err")"; return 1; }
        if [ -S "$SOCK" ] && listening "$SOCK"; then return 0; fi
        sleep 0.1
    done
    # The socket may be bound by a path /proc/net/unix shows differently.
    [ -S "$SOCK" ] || { LAST_CMD=""; fail "DIR/revd.sock did not appear within 10 s"; }
    sleep 1
}

# stop_server SIGNAL: signals the server and waits (10 s) for it to exit.
stop_server() {
    kill -"$1" "$SRV" 2>/dev/null || fail "revd serve died before it was signalled"
    local i
    for i in $(seq 100); do
        kill -0 "$SRV" 2>/dev/null || { { wait "$SRV"; } 2>/dev/null; BG_PIDS=${BG_PIDS/ $SRV/}; SRV=""; return 0; }
        sleep 0.1
    done
    LAST_CMD=""
    fail "revd serve did not exit within 10 s of SIG$1"
}

# ------------------------------------------------------------------ serving
# serve holds an existing index (docs/cli.md: "holds DIR open"); the first
# root is made without it.
step "start"
run_ok revd ca create-root --dir "$D" --name sr --subject /CN=sr
start_server || exit 1
assert_file_mode "$SOCK" 600

step "commands go through the socket"
# Seen from outside: the client connects to DIR/revd.sock (when strace is here).
if command -v strace >/dev/null 2>&1; then
    tr=$(strace -f -e trace=connect -o /dev/stdout "$REVD" ca list --dir "$D" 2>/dev/null)
    printf '%s\n' "$tr" | grep -q "connect(.*\"$SOCK\".*) = 0" ||
        fail "revd ca list did not connect to DIR/revd.sock while the server runs"
else
    echo "# strace not installed: not checking that commands connect to the socket"
fi

step "create through the server"
run_ok revd ca create-root --dir "$D" --name sr2 --subject /CN=sr2
assert_contains "$OUT" "created CA sr2" "create-root via the socket"
[ -s "$D/ca/sr2.pem" ] || fail "DIR/ca/sr2.pem missing"
run_ok revd ca create-sub --dir "$D" --name ss --parent sr --subject /CN=ss
assert_contains "$OUT" "created CA ss" "create-sub via the socket"
[ -s "$D/ca/sr.pem" ] && [ -s "$D/ca/ss.pem" ] || fail "CA certificates missing under DIR/ca"
assert_file_mode "$D/keys/ss.key" 600
kill -0 "$SRV" 2>/dev/null || fail "revd serve exited while serving"

step "issue through the server, relative CSR path"
mkdir -p "$T/client" && cd "$T/client" || fail "cd"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=served.example \
    -keyout ee.key -out ee.csr 2>/dev/null || fail "openssl req"
run_ok revd issue --dir "$D" --ca ss --csr ee.csr
printf '%s\n' "$OUT" >"$T/ee.pem"
assert_eq "$(count_certs "$T/ee.pem")" 1 "certificates printed"
verify_chain "$D/ca/sr.pem" "$D/ca/ss.pem" "$T/ee.pem"
assert_eq "$(openssl x509 -in "$T/ee.pem" -noout -pubkey)" "$(openssl req -in ee.csr -noout -pubkey)" "public key"
S=$(serial_of "$T/ee.pem")
# REVD_DIR instead of --dir, and --chain.
REVD_DIR=$D run_ok revd issue --ca ss --csr ee.csr --chain
printf '%s\n' "$OUT" >"$T/ee2.pem"
assert_eq "$(count_certs "$T/ee2.pem")" 2 "certificates printed with --chain"
S2=$(serial_of "$T/ee2.pem")

step "concurrent clients"
pids=""
for i in 1 2 3 4; do
    ( revd issue --dir "$D" --ca ss --csr ee.csr >"$T/par-$i.pem" 2>"$T/par-$i.err" ) &
    pids="$pids $!"
done
i=0
for p in $pids; do
    i=$((i + 1))
    wait "$p" || { LAST_CMD=""; fail "concurrent issue $i failed: $(cat "$T/par-$i.err")"; }
done
assert_eq "$(for i in 1 2 3 4; do serial_of "$T/par-$i.pem"; done | sort -u | wc -l)" 4 "distinct serials of 4 concurrent issues"

step "revoke / status / unhold through the server"
run_ok revd revoke --dir "$D" --ca ss --serial "$S" --reason keyCompromise --invalidity-date 2025-01-02
assert_eq "$OUT" "revoked $S (keyCompromise)" "revoke via the socket"
run_ok revd status --dir "$D" --ca ss --serial "$S"
assert_eq "$(printf '%s\n' "$OUT" | head -1)" revoked "status via the socket"
assert_kv reason keyCompromise
assert_kv invalidity-date 2025-01-02T00:00:00Z
run_ok revd revoke --dir "$D" --ca ss --serial "$S2" --reason certificateHold
run_ok revd unhold --dir "$D" --ca ss --serial "$S2"
assert_eq "$OUT" "released $S2" "unhold via the socket"

step "failures through the server"
before=$(REVD_DIR=$D snapshot sr ss)
run_fail 1 revd revoke --dir "$D" --ca ss --serial "$S" --reason superseded
run_fail 1 revd unhold --dir "$D" --ca ss --serial "$S"
printf 'garbage\n' >garbage.csr
run_fail 1 revd issue --dir "$D" --ca ss --csr garbage.csr
run_fail 1 revd issue --dir "$D" --ca nope --csr ee.csr
run_fail 1 revd ca create-root --dir "$D" --name sr --subject /CN=again
run_fail 2 revd status --dir "$D" --ca ss --serial "$S" --bogus
run_fail 2 revd issue --dir "$D" --ca ss
REVD_DIR=$D assert_unchanged "$before" sr ss
run_ok revd --help
[ -n "$OUT" ] || fail "revd --help printed nothing while a server runs"

step "import and report through the server, relative file"
printf '%s\n' "serial,not_after,status,revocation_time,reason" "0A01,2030-01-01,good" \
    "0A02,2030-01-01,revoked,2024-01-01,superseded" >rel.csv
run_ok revd import --dir "$D" --ca sr --file rel.csv
printf '%s\n' "$OUT" | grep -qw 2 || fail "import via the socket should print the count (2)"
run_ok revd status --dir "$D" --ca sr --serial 0A02
assert_kv reason superseded

step "what the server knew"
run_ok revd ca list --dir "$D"; L1=$OUT
run_ok revd ca show --dir "$D" ss; SH1=$OUT
run_ok revd ca show --dir "$D" ss --json; SJ1=$OUT
run_ok revd report --dir "$D" --ca ss --format csv; R1=$OUT
run_ok revd report --dir "$D" --ca sr --format json; RJ1=$OUT
run_ok revd status --dir "$D" --ca ss --serial "$S"; ST1=$OUT
run_ok revd log --dir "$D"; LG1=$OUT
assert_contains "$(printf '%s\n' "$LG1" | grep '"op" *: *"issue"' | head -1)" "\"ca\"" "an issue record in the log via the socket"
[ "$(printf '%s\n' "$LG1" | grep -c '"op" *: *"issue"')" -ge 6 ] || fail "the log via the socket lacks the 6 issues"
assert_kv issued 6 "$SH1"
assert_kv imported 2 "$(revd ca show --dir "$D" sr)"
cd "$T/cwd" || fail "cd"

# ------------------------------------------------------------------ after TERM
step "stop with TERM"
stop_server TERM
run_ok revd ca list --dir "$D"; assert_eq "$OUT" "$L1" "ca list after the server stopped"
run_ok revd ca show --dir "$D" ss; assert_eq "$OUT" "$SH1" "ca show after the server stopped"
run_ok revd ca show --dir "$D" ss --json; assert_eq "$OUT" "$SJ1" "ca show --json after the server stopped"
run_ok revd report --dir "$D" --ca ss --format csv; assert_eq "$OUT" "$R1" "report after the server stopped"
run_ok revd report --dir "$D" --ca sr --format json; assert_eq "$OUT" "$RJ1" "JSON report after the server stopped"
run_ok revd status --dir "$D" --ca ss --serial "$S"; assert_eq "$OUT" "$ST1" "status after the server stopped"
run_ok revd log --dir "$D"; assert_eq "$OUT" "$LG1" "log after the server stopped"
issue_to "$T/direct.pem" --dir "$D" --ca ss --csr "$T/client/ee.csr"
verify_chain "$D/ca/sr.pem" "$D/ca/ss.pem" "$T/direct.pem"

# ------------------------------------------------------------------ after kill -9
step "restart, then kill -9"
start_server || exit 1
assert_file_mode "$SOCK" 600
issue_to "$T/last.pem" --dir "$D" --ca ss --csr "$T/client/ee.csr"
LS=$(serial_of "$T/last.pem")
run_ok revd revoke --dir "$D" --ca ss --serial "$LS" --reason superseded
stop_server KILL
run_ok revd status --dir "$D" --ca ss --serial "$LS"
assert_eq "$(printf '%s\n' "$OUT" | head -1)" revoked "status after the server was killed"
assert_kv reason superseded
run_ok revd ca show --dir "$D" ss
assert_kv issued 8
issue_to "$T/after-kill.pem" --dir "$D" --ca ss --csr "$T/client/ee.csr"
verify_chain "$D/ca/sr.pem" "$D/ca/ss.pem" "$T/after-kill.pem"

pass
