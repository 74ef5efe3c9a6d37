#!/bin/bash
# ACME with Caddy 2.6 against revd (RFC 8555): global acme_ca (revd's
# directory), acme_ca_root (the root), acme_eab (a key from revd acme
# eab-create); Caddy gets a certificate for a site on loopback ports (its
# http_port/https_port are the ports revd validates http-01/tls-alpn-01 on)
# and serves it: curl trusting only the root gets the page, and the served
# certificate was issued by revd's CA (sub) with the site's name, OCSP good.
. "$(dirname "$0")/acmelib.sh"
command -v caddy >/dev/null 2>&1 || skip "caddy is not installed (Debian package caddy)"

acme_ca_setup
dns_start
acme_serve
eab_create --template server --allow example.test

step "start caddy"
read -r ADMIN_PORT <<<"$(free_ports 1)"
SITE=site.example.test
mkdir -p "$T/caddyhome"
cat >"$T/Caddyfile" <<EOC
{
	admin 127.0.0.1:$ADMIN_PORT
	acme_ca $DIR_URL
	acme_ca_root $CA_BUNDLE
	acme_eab {
		key_id $EAB_KID
		mac_key $EAB_HMAC
	}
	email ops@example.test
	http_port $HTTP_PORT
	https_port $TLS_PORT
	storage file_system {
		root $T/caddy-data
	}
	skip_install_trust
}
$SITE {
	bind 127.0.0.1
	respond "hello from a revd certificate" 200
}
EOC
HOME=$T/caddyhome XDG_DATA_HOME=$T/caddyhome XDG_CONFIG_HOME=$T/caddyhome \
    caddy run --config "$T/Caddyfile" --adapter caddyfile >"$T/caddy.log" 2>&1 </dev/null &
CADDY=$!
BG_PIDS="$BG_PIDS $CADDY"

step "curl trusting only the root gets the page"
SITE_TRUST=$CA_BUNDLE
[ "$PEBBLE" = 1 ] && SITE_TRUST=$T/pebble-root.pem   # pebble issues from its own root
page=""
for _ in $(seq 100); do
    page=$(curl -s --max-time 3 --cacert "$SITE_TRUST" --resolve "$SITE:$TLS_PORT:127.0.0.1" \
        "https://$SITE:$TLS_PORT/" 2>/dev/null) && [ -n "$page" ] && break
    kill -0 "$CADDY" 2>/dev/null || fail "caddy exited: $(tail -20 "$T/caddy.log")"
    sleep 0.5
done
[ "$page" = "hello from a revd certificate" ] ||
    fail "no page over HTTPS within 50 s (got '$page'): $(grep -i -E 'error|obtain' "$T/caddy.log" | tail -10)"

step "the served certificate"
openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$SITE" </dev/null 2>/dev/null |
    openssl x509 -out "$T/served.pem" 2>/dev/null || fail "could not read the served certificate"
issued_ok "$T/served.pem" "DNS:$SITE"
ocsp_good "$T/served.pem"

pass
