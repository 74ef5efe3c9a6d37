#!/bin/bash
# revd's ACME server: a name outside the issuing CA's name constraints
# refused at new-order (rejectedIdentifier, PCA_NAME_CONSTRAINTS_VALIDATION);
# profiles (meta.profiles, an EAB key's list, invalidProfile, short-lived
# without CRL/OCSP pointers); renewal information (RFC 9773) computed from revd's
# state (a fresh certificate, one marked by `revd acme renew-early`, a
# revoked one), new-order's replaces, key rollover, account deactivation;
# then revd restarts and a nonce minted before works once, a spent one is
# refused, the order and the renewal mark are still there
# (test_acme_renewal.py, with test_acme_hostile.py's client).
. "$(dirname "$0")/acmelib.sh"
[ "$PEBBLE" = 1 ] && skip "revd only (renewal information, restarts)"

acme_ca_setup
# A CA constrained to example.test and 127.0.0.0/8 (its names checked at new-order).
create_sub narrow root --base-url "$OCSP_URL" --permit-dns example.test --permit-ip 127.0.0.0/8
dns_start
acme_serve

export DIR_URL CA_BUNDLE HTTP_PORT ROOT_PEM SUB_PEM OCSP_URL PEBBLE_KID PEBBLE_HMAC
export REVD REVD_DIR CHAIN_PEM=$T/chain.pem ACME_TMP=$T ACME_VS_PEBBLE=$PEBBLE
step "before the restart"
timeout -k 5 120 "$PY" "$CLI_DIR/test_acme_renewal.py" before >"$T/py1.out" 2>&1
rc=$?
cat "$T/py1.out"
[ "$rc" -eq 0 ] || fail "test_acme_renewal.py before failed (exit $rc)"

step "the ACME steps are events and audit records"
for ev in acme.account_new acme.eab_create acme.order_new acme.challenge_start acme.challenge_result \
    acme.order_finalize acme.order_valid acme.account_key_change acme.account_deactivate acme.renew_early; do
    grep -q "\"type\":\"$ev\"" "$D/events.jsonl" || fail "no $ev event in $D/events.jsonl"
done
grep '"type":"acme.eab_create"' "$D/events.jsonl" | grep -q '"hmac"' && fail "an acme.eab_create event shows the HMAC key"
run_ok revd audit verify
run_ok revd log
assert_contains "$OUT" '"op":"acme-order-valid"' "the audit log's ACME issuance record"

step "SIGHUP: the ACME server reads its renewed certificate"
old=$(echo | openssl s_client -connect "127.0.0.1:$ACME_PORT" -servername localhost 2>/dev/null | openssl x509 -noout -serial)
issue_to "$T/acme.pem.new" --ca sub --csr "$T/acme.csr" --template server --san DNS:localhost,IP:127.0.0.1 --chain
mv "$T/acme.pem.new" "$T/acme.pem"
kill -HUP "$SRV"
for _ in $(seq 50); do grep -q "reloaded the configuration" "$T/serve.log" && break; sleep 0.1; done
new=$(echo | openssl s_client -connect "127.0.0.1:$ACME_PORT" -servername localhost 2>/dev/null | openssl x509 -noout -serial)
[ -n "$old" ] && [ -n "$new" ] && [ "$old" != "$new" ] || fail "after SIGHUP the ACME server still shows $old (now $new)"

step "restart"
kill -TERM "$SRV"
wait "$SRV" 2>/dev/null
acme_serve

step "after the restart"
timeout -k 5 60 "$PY" "$CLI_DIR/test_acme_renewal.py" after >"$T/py2.out" 2>&1
rc=$?
cat "$T/py2.out"
[ "$rc" -eq 0 ] || fail "test_acme_renewal.py after failed (exit $rc)"
pass
