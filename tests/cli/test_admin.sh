#!/bin/bash
# The HTTPS admin API (docs/admin.md), through Python's ssl and http.client
# with client certificates from revd admin issue-credential:
# - TLS: no client certificate, or one from another CA, is refused at the
#   handshake; TLS 1.1 is refused, 1.2 and 1.3 work;
# - every role boundary: each call outside a role or a scope (CA, template)
#   gets 403 with a JSON error, changes nothing and is audited with the
#   credential's name and address; each call inside it works (an issued
#   certificate verifies with openssl, a revocation shows over OCSP);
# - a revoked credential is refused from its next request;
# - bad input (not JSON, unknown field, wrong type, oversized, wrong
#   content type, a body on a GET, unknown path, wrong method) gets a 4xx
#   with a JSON error and changes nothing;
# - --require-approval: a second admin approves CA creation, deletion and
#   restore, a root's disable and enable, credential issuance and
#   revocation, never the first; a request whose asker's credential expired
#   is dropped, and an expired credential cannot approve (under
#   libfaketime); the audit log verifies at the end.
. "$(dirname "$0")/lib.sh"
D=$REVD_DIR
C=$T/creds

create_root r
create_sub s r
create_sub t r
run_ok revd admin init
assert_file_mode "$D/admin/ca.key" 600
cred() { run_ok revd admin issue-credential --out "$C" "$@"; }
cred --name alice --role admin
cred --name bob --role admin
cred --name ian --role issuer --ca s --template end-entity
cred --name rita --role revoker --ca s
cred --name aud --role auditor
cred --name eve --role issuer --ca "*" --template "*"
assert_file_mode "$C/alice.key" 600

step "credential refusals on the command line"
run_fail 1 revd admin issue-credential --out "$C" --name x --role issuer --ca s
assert_contains "$ERR" "needs --template"
run_fail 1 revd admin issue-credential --out "$C" --name x --role admin --ca s
run_fail 1 revd admin issue-credential --out "$C" --name alice --role auditor
assert_contains "$ERR" "exists already"
run_fail 1 revd admin issue-credential --out "$C" --name x --role revoker --ca 'S;rm'
run_fail 2 revd admin issue-credential --out "$C" --name x --role root

# A client certificate from some other CA, with a registered name.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=alice/OU=admin" \
    -keyout "$C/mallory.key" -out "$C/mallory.pem" -days 2 2>/dev/null || fail "openssl req -x509"

PORT=$(( 20000 + RANDOM % 12000 ))
APORT=$(( PORT + 1 ))
start() {
    serve_bg "$T/serve.log" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --admin-listen "127.0.0.1:$APORT" "$@"
    for _ in $(seq 50); do grep -q "admin API on" "$T/serve.log" && break; sleep 0.1; done
}
stop() { kill -TERM "$SRV"; wait "$SRV" 2>/dev/null; }
start
make_csr ee "/CN=ee.example"
make_csr cr "/CN=carol"
make_csr a2 "/CN=alice2"

step "the role matrix"
"$PY" "$CLI_DIR/admin_checks.py" "$APORT" "$C" "$T" "$D" "$PORT" "$REVD" || fail "admin API checks (see above)"
stop

step "--require-approval: a second admin approves"
start --require-approval
"$PY" "$CLI_DIR/admin_checks.py" --approval "$APORT" "$C" "$T" "$D" "$PORT" "$REVD" || fail "approval checks (see above)"
stop

step "--require-approval: an expired credential's request is dropped, and it cannot approve"
command -v faketime >/dev/null || skip "faketime (Debian package faketime) is not installed"
FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1)
[ -n "$FT_LIB" ] || skip "libfaketime.so.1 not found"
FT_ASAN="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
_run env FAKETIME="-21h" LD_PRELOAD="$FT_LIB" ASAN_OPTIONS="$FT_ASAN" \
    "$REVD" admin issue-credential --dir "$D" --out "$C" --name brief --role admin --days 1
[ "$RC" -eq 0 ] || fail "issue-credential under faketime: exit $RC"
export CLOCK=$T/clock
echo "+0" >"$CLOCK"
LD_PRELOAD=$FT_LIB FAKETIME_TIMESTAMP_FILE=$CLOCK FAKETIME_NO_CACHE=1 ASAN_OPTIONS="$FT_ASAN" \
    "$REVD" serve --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --admin-listen "127.0.0.1:$APORT" \
    --require-approval >"$T/serve.log" 2>&1 </dev/null &
SRV=$!
serve_wait "$T/serve.log"
for _ in $(seq 50); do grep -q "admin API on" "$T/serve.log" && break; sleep 0.1; done
assert_contains "$(cat "$T/serve.log")" "a second admin approves creating, deleting or restoring a CA, disabling or enabling a root CA, issuing or revoking a credential"
"$PY" "$CLI_DIR/admin_checks.py" --expired "$APORT" "$C" "$T" "$D" "$PORT" "$REVD" || fail "expiry checks (see above)"
stop

step "every refusal is in the audit log, which verifies"
run_ok revd log
log=$OUT
n=$(printf '%s\n' "$log" | grep -c '"op":"admin-forbidden"')
[ "$n" -ge 15 ] || fail "only $n admin-forbidden records"
assert_contains "$log" '"op":"admin-forbidden","ca":"t","serial":null,"params":{"method":"POST","path":"/v1/cas/t/certificates","operation":"issue"},"result":"error: credential ian may not act on CA t (its CAs: s)","principal":"cred:ian(issuer)","source":"https 127.0.0.1:'
assert_contains "$log" '"principal":"cred:eve(revoked)"'
assert_contains "$log" '"op":"ca-create-root","ca":"appr"'
assert_contains "$(printf '%s\n' "$log" | grep '"op":"ca-create-root","ca":"appr"')" '"principal":"cred:bob(admin)"'
run_ok revd audit verify
assert_contains "$OUT" "chain intact"
pass
