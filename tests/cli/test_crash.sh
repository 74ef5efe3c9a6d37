#!/bin/bash
# kill -9 of `revd serve` in the middle of a storm of issuances and
# revocations sent through its socket: after a restart, every acknowledged
# certificate is in the index and every acknowledged revocation answers
# revoked; the operations log is gap-free. Repeated at random kill points.
# (A SIGKILL keeps the page cache: this checks that nothing is acknowledged
# before it is written; power loss, which needs the synced WAL, is not
# simulated here.)
. "$(dirname "$0")/lib.sh"

D=$T/d
SOCK=$D/revd.sock
ROUNDS=${CRASH_ROUNDS:-5}

run_ok revd ca create-root --dir "$D" --name r --subject /CN=r
run_ok revd ca create-sub --dir "$D" --name s --parent r --subject /CN=s
make_csr ee "/CN=ee.example"

# start_server waits for the server's "serving" line (a probe command could
# open DIR itself before the server does, and take the index's lock).
start_server() {
    local before
    before=$(grep -c '^revd: serving' "$T/serve.log" 2>/dev/null)
    "$REVD" serve --dir "$D" >>"$T/serve.log" 2>&1 </dev/null &
    SRV=$!
    BG_PIDS="$BG_PIDS $SRV"
    for _ in $(seq 100); do
        kill -0 "$SRV" 2>/dev/null || fail "revd serve exited: $(tail -3 "$T/serve.log")"
        [ "$(grep -c '^revd: serving' "$T/serve.log")" -gt "${before:-0}" ] && return 0
        sleep 0.1
    done
    fail "revd serve did not come up: $(tail -3 "$T/serve.log")"
}

# storm: issue, and revoke every other certificate, recording what was
# acknowledged (exit 0 and the output) in $T/acked. It stops when the
# server is gone (the commands would then open DIR themselves).
storm() {
    local i=0 pem serial
    while kill -0 "$SRV" 2>/dev/null; do
        i=$((i + 1))
        pem=$("$REVD" issue --dir "$D" --ca s --csr "$T/ee.csr" 2>/dev/null) || return 0
        serial=$(printf '%s\n' "$pem" | openssl x509 -noout -serial | sed 's/^serial=//')
        echo "issued $serial" >>"$T/acked"
        if [ $((i % 2)) -eq 0 ]; then
            "$REVD" revoke --dir "$D" --ca s --serial "$serial" --reason keyCompromise >/dev/null 2>&1 || return 0
            echo "revoked $serial" >>"$T/acked"
        fi
    done
}

: >"$T/acked"
for round in $(seq "$ROUNDS"); do
    step "round $round: kill -9 during the storm"
    start_server
    storm &
    STORM=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -0 "$SRV" 2>/dev/null || fail "revd serve died before the kill: $(tail -3 "$T/serve.log")"
    kill -9 "$SRV"
    wait "$SRV" 2>/dev/null
    timeout 60 tail --pid="$STORM" -f /dev/null || fail "the storm did not stop after the server died"
    wait "$STORM" 2>/dev/null
    # No server now: the commands open DIR themselves.
    while read -r what serial; do
        run_ok revd status --dir "$D" --ca s --serial "$serial"
        st=$(printf '%s\n' "$OUT" | head -1)
        if [ "$what" = revoked ]; then
            assert_eq "$st" revoked "acknowledged revocation of $serial after kill -9"
        else
            [ "$st" = good ] || [ "$st" = revoked ] || fail "acknowledged certificate $serial is $st after kill -9"
        fi
    done <"$T/acked"
done

step "totals and the operations log"
issued=$(grep -c '^issued' "$T/acked")
[ "$issued" -ge "$ROUNDS" ] || fail "the storm issued only $issued certificates"
run_ok revd log --dir "$D"
printf '%s\n' "$OUT" | /usr/bin/python3 -c '
import json, sys
seqs = [json.loads(l)["seq"] for l in sys.stdin if l.strip()]
assert seqs == list(range(1, len(seqs) + 1)), "gap or repeat in the operations log"
' || fail "operations log is not gap-free"
echo "acknowledged: $issued issuances, $(grep -c '^revoked' "$T/acked") revocations over $ROUNDS kills"
pass
