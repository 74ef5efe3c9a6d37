#!/bin/bash
# revd's ACME server under a hand-written client (test_acme_hostile.py): the
# happy path (EAB account, order, http-01, finalize, download, POST-as-GET,
# revocation by the certificate's key -> OCSP revoked), then hostile input,
# each answered by an RFC 8555 problem document with Replay-Nonce: JWS alg
# none / HS256, url mismatch, nonce reuse, made-up nonce, unknown kid, another
# key's signature, a body over 64 KiB, no EAB, a wrong EAB HMAC, a CSR with
# other names, a name outside --allow, a redirect loop and a hanging http-01
# target (invalid, server answering meanwhile), a flood of new-orders
# (rateLimited with --acme-orders-per-hour 50), a flood of new-accounts
# (rateLimited with --acme-accounts-per-hour 30); nothing issued for them.
. "$(dirname "$0")/acmelib.sh"

acme_ca_setup
dns_start
acme_serve --acme-orders-per-hour 50 --acme-accounts-per-hour 30

step "test_acme_hostile.py"
export DIR_URL CA_BUNDLE HTTP_PORT ROOT_PEM SUB_PEM OCSP_URL PEBBLE_KID PEBBLE_HMAC
export REVD REVD_DIR CHAIN_PEM=$T/chain.pem ACME_TMP=$T ACME_VS_PEBBLE=$PEBBLE
timeout -k 5 170 "$PY" "$CLI_DIR/test_acme_hostile.py" >"$T/py.out" 2>&1
rc=$?
cat "$T/py.out"
[ "$rc" -eq 0 ] || fail "test_acme_hostile.py failed (exit $rc)"
curl -sf --cacert "$CA_BUNDLE" -o /dev/null "$DIR_URL" || fail "the directory no longer answers"
[ "$PEBBLE" = 1 ] || kill -0 "$SRV" 2>/dev/null || fail "revd serve died: $(tail -20 "$T/serve.log")"
pass
