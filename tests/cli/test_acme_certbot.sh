#!/bin/bash
# ACME with certbot 2.1 against revd (RFC 8555): an account with EAB
# (--eab-kid/--eab-hmac-key); http-01 with certbot's standalone server on the
# port revd validates; dns-01 for a wildcard through --manual-auth-hook
# setting the TXT record in pebble-challtestsrv (revd's resolver); each
# certificate chains to root through sub with the requested SAN and answers
# good over OCSP; `certbot revoke --reason keycompromise` -> OCSP revoked
# (keyCompromise) and the serial in the CRL.
. "$(dirname "$0")/acmelib.sh"
command -v certbot >/dev/null 2>&1 || skip "certbot is not installed (Debian package certbot)"

acme_ca_setup
dns_start
acme_serve
eab_create --template server --allow example.test

export REQUESTS_CA_BUNDLE=$CA_BUNDLE
CB=$T/certbot
cb() { # certbot SUBCOMMAND args...
    local sub=$1; shift
    _run timeout -k 5 90 certbot "$sub" -n --server "$DIR_URL" \
        --config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" "$@"
}

step "http-01 (standalone): cb.example.test"
cb certonly --agree-tos -m ops@example.test --eab-kid "$EAB_KID" --eab-hmac-key "$EAB_HMAC" \
    --standalone --preferred-challenges http-01 --http-01-address 127.0.0.1 --http-01-port "$HTTP_PORT" \
    --cert-name cb -d cb.example.test
[ "$RC" -eq 0 ] || fail "certbot certonly (http-01) failed: $(tail -30 "$CB/logs/letsencrypt.log" 2>/dev/null)"
L=$CB/config/live
issued_ok "$L/cb/cert.pem" "DNS:cb.example.test"
[ "$PEBBLE" = 1 ] || cmp -s <(openssl x509 -in "$L/cb/chain.pem") <(openssl x509 -in "$SUB_PEM") ||
    fail "certbot's chain.pem does not start with sub's certificate"
ocsp_good "$L/cb/cert.pem"

step "dns-01 (--manual-auth-hook): *.wild.example.test"
cat >"$T/auth-hook.sh" <<SH
#!/bin/sh
curl -sf -X POST -d "{\"host\":\"_acme-challenge.\$CERTBOT_DOMAIN.\",\"value\":\"\$CERTBOT_VALIDATION\"}" http://127.0.0.1:$MGMT_PORT/set-txt
echo "auth \$CERTBOT_DOMAIN" >>"$T/hook.calls"
SH
cat >"$T/cleanup-hook.sh" <<SH
#!/bin/sh
curl -sf -X POST -d "{\"host\":\"_acme-challenge.\$CERTBOT_DOMAIN.\"}" http://127.0.0.1:$MGMT_PORT/clear-txt
echo "cleanup \$CERTBOT_DOMAIN" >>"$T/hook.calls"
SH
chmod +x "$T/auth-hook.sh" "$T/cleanup-hook.sh"
cb certonly --agree-tos -m ops@example.test --manual --preferred-challenges dns-01 \
    --manual-auth-hook "$T/auth-hook.sh" --manual-cleanup-hook "$T/cleanup-hook.sh" \
    --cert-name wild -d '*.wild.example.test'
[ "$RC" -eq 0 ] || fail "certbot certonly (dns-01) failed: $(tail -30 "$CB/logs/letsencrypt.log" 2>/dev/null)"
assert_contains "$(cat "$T/hook.calls" 2>/dev/null)" "auth wild.example.test" "auth hook calls"
issued_ok "$L/wild/cert.pem" "DNS:*.wild.example.test"
ocsp_good "$L/wild/cert.pem"

step "revoke --reason keycompromise (the account's key)"
cp "$L/cb/cert.pem" "$T/cb.pem"
cb revoke --cert-path "$L/cb/cert.pem" --reason keycompromise --no-delete-after-revoke
[ "$RC" -eq 0 ] || fail "certbot revoke failed: $(tail -30 "$CB/logs/letsencrypt.log" 2>/dev/null)"
ocsp_revoked "$T/cb.pem" keyCompromise
ocsp_good "$L/wild/cert.pem"

pass
