#!/bin/bash
# Name constraints (RFC 5280 4.2.1.10) on subordinate CAs:
# - ca create-sub --permit-dns/--exclude-dns/--permit-ip/--exclude-ip puts a
#   critical nameConstraints extension in the CA certificate; bad values,
#   too many, and any on a root are refused and create nothing;
# - ca_issue refuses, before signing, every certificate whose DNS or IP
#   subjectAltNames, or a CN that is a DNS name or an IP address, fall
#   outside the constraints of the issuing CA or of an ancestor in DIR
#   (PCA_NAME_CONSTRAINTS_VALIDATION: ...): nothing issued, the refusal in
#   the audit log; names inside are issued and verify with openssl;
# - the admin API's create-CA body takes the same constraints, and an
#   issuance it refuses answers 422 with "reason";
# - ca recertify: a new certificate for the same key (old certificates
#   still verify, CRLs verify under it), with new constraints or the old;
# - ca bundle: the CA's certificate and its parents', root last.
. "$(dirname "$0")/lib.sh"
D=$REVD_DIR
R=PCA_NAME_CONSTRAINTS_VALIDATION

create_root root

step "refusals at creation"
b=$(snapshot root)
run_fail 1 revd ca create-root --name r2 --subject /CN=r2 --permit-dns example.test
assert_contains "$ERR" "subordinate CA, not on a root"
for bad in "--permit-dns *.example.test" "--permit-dns exa_mple.test" "--exclude-dns -a.test" \
    "--permit-dns example..test" "--permit-ip 10.0.0.1" "--permit-ip 10.0.0.1/8" "--exclude-ip 10.0.0.0/33" \
    "--permit-ip 10.0.0.0/8,10.1.0.0/16" "--permit-ip any" "--exclude-ip nothing/8" "--permit-dns ."; do
    # shellcheck disable=SC2086
    run_fail 1 revd ca create-sub --name bad --parent root --subject /CN=bad $bad
done
many=()
for i in $(seq 65); do many+=(--permit-dns "d$i.example.test"); done
run_fail 1 revd ca create-sub --name bad --parent root --subject /CN=bad "${many[@]}"
assert_contains "$ERR" "at most 64"
assert_unchanged "$b" root

step "a constrained subordinate"
create_sub nc root --permit-dns example.test --permit-dns .corp.test --exclude-dns secret.example.test \
    --permit-ip 192.0.2.0/24 --permit-ip 2001:db8::/32 --exclude-ip 192.0.2.128/25 --path-len 1
t=$(openssl x509 -in "$D/ca/nc.pem" -noout -text)
assert_contains "$t" "X509v3 Name Constraints: critical"
assert_contains "$t" "DNS:example.test"
assert_contains "$t" "DNS:.corp.test"
assert_contains "$t" "DNS:secret.example.test"
assert_contains "$t" "IP:192.0.2.0/255.255.255.0"
assert_contains "$t" "IP:192.0.2.128/255.255.255.128"
assert_contains "$t" "IP:2001:DB8:0:0:0:0:0:0/FFFF:FFFF:0:0:0:0:0:0"
# A sub without options has none.
create_sub plain root
assert_not_contains "$(openssl x509 -in "$D/ca/plain.pem" -noout -text)" "Name Constraints"

step "names inside are issued and verify"
make_csr in "/CN=www.example.test"
issue_to "$T/in1.pem" --ca nc --csr "$T/in.csr" --san "DNS:www.example.test,DNS:example.test,DNS:*.corp.test,DNS:a.corp.test,IP:192.0.2.7,IP:2001:db8::1"
verify_chain "$D/ca/root.pem" "$D/ca/nc.pem" "$T/in1.pem"
make_csr nocn "/O=Example"
issue_to "$T/in2.pem" --ca nc --csr "$T/nocn.csr" --san "DNS:x.y.example.test"
verify_chain "$D/ca/root.pem" "$D/ca/nc.pem" "$T/in2.pem"
make_csr plaincn "/CN=Example Service/O=Example"
issue_to "$T/in3.pem" --ca nc --csr "$T/plaincn.csr" --san "DNS:example.test"

step "names outside are refused, and nothing is issued"
b=$(snapshot root nc)
nlog=$(revd log | grep -c .)
refuse() { # WHAT ISSUE-ARGS...: refused with the reason, index unchanged
    local what=$1; shift
    run_fail 1 revd issue --ca nc "$@"
    assert_contains "$ERR" "revd: $R: " "$what"
    assert_contains "$ERR" "CA nc" "$what"
    assert_unchanged "$b" root nc
}
refuse "outside the permitted DNS" --csr "$T/in.csr" --san "DNS:www.example.test,DNS:www.other.test"
assert_contains "$ERR" "'www.other.test' is outside every permitted DNS subtree"
refuse "the bare name of a leading-dot subtree" --csr "$T/nocn.csr" --san "DNS:corp.test"
refuse "a suffix that is not a label" --csr "$T/nocn.csr" --san "DNS:badexample.test"
refuse "inside the excluded DNS" --csr "$T/nocn.csr" --san "DNS:a.secret.example.test"
assert_contains "$ERR" "excluded DNS subtree 'secret.example.test'"
refuse "excluded, in another case" --csr "$T/nocn.csr" --san "DNS:SECRET.Example.Test"
refuse "a wildcard over an excluded name" --csr "$T/nocn.csr" --san "DNS:*.example.test,DNS:x.example.test" \
    --template server
make_csr wild "/O=x"
refuse "a wildcard over an excluded name (alone)" --csr "$T/wild.csr" --san "DNS:*.example.test" --template client
refuse "an IP outside" --csr "$T/nocn.csr" --san "DNS:example.test,IP:198.51.100.1"
assert_contains "$ERR" "'198.51.100.1' is outside every permitted IP subtree"
refuse "an IP inside the excluded" --csr "$T/nocn.csr" --san "IP:192.0.2.200"
assert_contains "$ERR" "excluded IP subtree '192.0.2.128/25'"
refuse "an IPv6 outside" --csr "$T/nocn.csr" --san "IP:2001:db9::1"
make_csr outcn "/CN=www.other.test"
refuse "a CN outside" --csr "$T/outcn.csr" --san "DNS:example.test"
assert_contains "$ERR" "subject CN 'www.other.test'"
make_csr ipcn "/CN=203.0.113.5"
refuse "an IP CN outside" --csr "$T/ipcn.csr" --san "DNS:example.test"
make_csr sancsr "/O=x" ec256 -addext "subjectAltName=DNS:evil.test"
refuse "the CSR's own SAN outside" --csr "$T/sancsr.csr"
# Every refusal is in the audit log.
n=$(revd log | grep -c "\"op\":\"issue\".*\"result\":\"error: $R: ")
[ "$n" -eq 13 ] || fail "expected 13 refused issue records with the reason, got $n"
assert_eq "$(revd log | grep -c .)" "$((nlog + 13))" "audit records"

step "a grandchild CA is bound by its ancestor's constraints"
# gc's own constraints would allow other.test: nc's do not.
create_sub gc nc --permit-dns other.test --permit-dns example.test
b=$(snapshot nc gc)
run_fail 1 revd issue --ca gc --csr "$T/nocn.csr" --san "DNS:www.other.test"
assert_contains "$ERR" "revd: $R: subjectAltName DNS name 'www.other.test' is outside every permitted DNS subtree of CA nc"
run_fail 1 revd issue --ca gc --csr "$T/nocn.csr" --san "DNS:a.secret.example.test"
assert_contains "$ERR" "CA nc's excluded DNS subtree"
run_fail 1 revd issue --ca gc --csr "$T/nocn.csr" --san "IP:198.51.100.1"
assert_contains "$ERR" "CA nc"
run_fail 1 revd issue --ca gc --csr "$T/nocn.csr" --san "DNS:a.corp.test"
assert_contains "$ERR" "CA gc"
assert_unchanged "$b" nc gc
issue_to "$T/gc1.pem" --ca gc --csr "$T/nocn.csr" --san "DNS:www.example.test" --chain
openssl x509 -in "$D/ca/gc.pem" >"$T/gcchain.pem"
openssl x509 -in "$D/ca/nc.pem" >>"$T/gcchain.pem"
verify_chain "$D/ca/root.pem" "$T/gcchain.pem" "$T/gc1.pem"

step "a CA issued through the sub-ca template and then imported keeps its constraints binding"
# (the ancestors' constraints also bind a sub-ca certificate's own names)
make_csr subca "/CN=sub.other.test"
run_fail 1 revd issue --ca nc --csr "$T/subca.csr" --template sub-ca
assert_contains "$ERR" "$R: subject CN 'sub.other.test'"

step "ca recertify: same key, new constraints; old certificates still verify"
before=$(openssl x509 -in "$D/ca/nc.pem" -noout -serial)
old_pub=$(openssl x509 -in "$D/ca/nc.pem" -noout -pubkey)
cp "$D/ca/nc.pem" "$T/nc-old.pem"
run_fail 1 revd issue --ca nc --csr "$T/nocn.csr" --san "DNS:www.other.test"
b=$(snapshot root nc)
run_fail 1 revd ca recertify --name nc --permit-dns "bad..name"
run_fail 1 revd ca recertify --name nc --days 40000
run_fail 1 revd ca recertify --name root --permit-dns example.test
assert_contains "$ERR" "not on a root"
run_fail 1 revd ca recertify --name nope
assert_unchanged "$b" root nc
run_ok revd ca recertify --name nc --days 400 --permit-dns example.test --permit-dns other.test \
    --exclude-ip 0.0.0.0/0 --exclude-ip ::/0
assert_contains "$OUT" "CA nc has a new certificate for the same key"
[ "$(openssl x509 -in "$D/ca/nc.pem" -noout -serial)" != "$before" ] || fail "the certificate did not change"
assert_eq "$(openssl x509 -in "$D/ca/nc.pem" -noout -pubkey)" "$old_pub" "the public key"
t=$(openssl x509 -in "$D/ca/nc.pem" -noout -text)
assert_contains "$t" "X509v3 Name Constraints: critical"
assert_contains "$t" "DNS:other.test"
assert_not_contains "$t" "DNS:.corp.test"
ls "$D"/ca/archive/nc-*.pem >/dev/null 2>&1 || fail "the old certificate was not archived"
cmp -s "$(ls "$D"/ca/archive/nc-*.pem | head -1)" "$T/nc-old.pem" || fail "the archived certificate is not the old one"
# A certificate issued before verifies under the new one; gc's chain file names the new one.
verify_chain "$D/ca/root.pem" "$D/ca/nc.pem" "$T/in2.pem"
assert_eq "$(openssl x509 -in "$D/ca/gc-chain.pem" -noout -serial)" "$(openssl x509 -in "$D/ca/nc.pem" -noout -serial)" \
    "gc's chain file's first certificate"
# The new constraints bind from now on: other.test in, IPs and corp.test out.
issue_to "$T/re1.pem" --ca nc --csr "$T/nocn.csr" --san "DNS:www.other.test"
verify_chain "$D/ca/root.pem" "$D/ca/nc.pem" "$T/re1.pem"
run_fail 1 revd issue --ca nc --csr "$T/nocn.csr" --san "DNS:a.corp.test"
assert_contains "$ERR" "$R: "
run_fail 1 revd issue --ca gc --csr "$T/nocn.csr" --san "DNS:example.test,IP:192.0.2.1"
assert_contains "$ERR" "CA nc's excluded IP subtree"
# Without constraint options the old ones are kept.
run_ok revd ca recertify --name nc --days 300
assert_contains "$(openssl x509 -in "$D/ca/nc.pem" -noout -text)" "DNS:other.test"
# A root renews itself; the CRL it signs verifies under the new certificate.
run_ok revd ca recertify --name root
verify_chain "$D/ca/root.pem" "$D/ca/nc.pem" "$T/re1.pem"
run_ok revd crl rebuild --ca nc
for f in "$D"/crl/nc/*.crl; do
    o=$(openssl crl -in "$f" -inform DER -CAfile "$D/ca/nc.pem" -noout 2>&1)
    assert_contains "$o" "verify OK" "$f under the new certificate"
done
assert_contains "$(revd log | tail -5)" '"op":"ca-recertify","ca":"root"'

step "ca bundle: the CA and its parents, root last; a warning past four levels"
run_ok revd ca bundle --name gc
assert_eq "$(printf '%s\n' "$OUT" | grep -c 'BEGIN CERTIFICATE')" 3 "certificates in gc's bundle"
printf '%s\n' "$OUT" >"$T/bundle.pem"
assert_eq "$(openssl x509 -in "$T/bundle.pem" -noout -subject)" "subject=CN = gc" "the bundle's first"
assert_eq "$ERR" "" "stderr of a three-level bundle"
run_ok revd ca bundle --name gc --out "$T/b2.pem"
cmp -s "$T/bundle.pem" "$T/b2.pem" || fail "--out wrote something else than stdout"
tail -n "$(openssl x509 -in "$D/ca/root.pem" | wc -l)" "$T/b2.pem" | cmp -s - <(openssl x509 -in "$D/ca/root.pem") ||
    fail "the root is not last"
create_root deep --path-len 4
create_sub d2 deep --path-len 3
create_sub d3 d2 --path-len 2
create_sub d4 d3 --path-len 1
create_sub d5 d4
run_ok revd ca bundle --name d4
assert_eq "$ERR" "" "stderr of a four-level bundle"
run_ok revd ca bundle --name d5
assert_eq "$(printf '%s\n' "$OUT" | grep -c 'BEGIN CERTIFICATE')" 5 "certificates in d5's bundle"
assert_contains "$ERR" "warning: the bundle of CA d5 has 5 levels"
run_fail 1 revd ca bundle --name nope

step "the admin API: create with constraints; a refusal carries the reason"
run_ok revd admin init
run_ok revd admin issue-credential --out "$T/creds" --name alice --role admin
run_ok revd admin issue-credential --out "$T/creds" --name ian --role issuer --ca "*" --template "*"
PORT=$(( 20000 + RANDOM % 12000 ))
APORT=$(( PORT + 1 ))
serve_bg "$T/serve.log" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --admin-listen "127.0.0.1:$APORT"
for _ in $(seq 50); do grep -q "admin API on" "$T/serve.log" && break; sleep 0.1; done
"$PY" - "$APORT" "$T/creds" "$T" <<'PYEOF' || fail "admin API name-constraint checks (see above)"
import http.client, json, ssl, sys
port, creds, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def context(name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(creds + "/ca.pem")
    ctx.load_cert_chain(creds + "/%s.pem" % name, creds + "/%s.key" % name)
    return ctx
ctxs = {"alice": context("alice"), "ian": context("ian")}
def call(method, path, body=None):
    who = "ian" if path.endswith("/certificates") else "alice"
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctxs[who], timeout=20)
    c.request(method, path, body=json.dumps(body).encode() if body is not None else None,
              headers={"Content-Type": "application/json"} if body is not None else {})
    r = c.getresponse()
    t = r.read()
    c.close()
    return r.status, json.loads(t) if t else None
bad = []
def check(cond, what):
    if not cond:
        bad.append(what); print("FAILED:", what)
s, j = call("POST", "/v1/cas", {"name": "api", "parent": "root", "subject": "/CN=api",
                                "permit_dns": ["api.test"], "exclude_ip": ["0.0.0.0/0", "::/0"]})
check(s == 201, "create with constraints: %s %s" % (s, j))
s, j = call("POST", "/v1/cas", {"name": "api2", "subject": "/CN=api2", "permit_dns": ["api.test"]})
check(s == 422 and "not on a root" in j.get("message", ""), "constraints on a root: %s %s" % (s, j))
s, j = call("POST", "/v1/cas", {"name": "api3", "parent": "root", "subject": "/CN=api3", "permit_dns": "api.test"})
check(s == 400 and "array" in j.get("message", ""), "not an array: %s %s" % (s, j))
s, j = call("POST", "/v1/cas", {"name": "api3", "parent": "root", "subject": "/CN=api3",
                                "permit_dns": ["d%d.test" % i for i in range(65)]})
check(s == 400, "65 subtrees: %s %s" % (s, j))
s, j = call("POST", "/v1/cas", {"name": "api3", "parent": "root", "subject": "/CN=api3", "permit_ip": ["10.0.0.1"]})
check(s == 422 and "ADDRESS/BITS" in j.get("message", ""), "bad prefix: %s %s" % (s, j))
csr = open(tmp + "/nocn.csr").read()
s, j = call("POST", "/v1/cas/api/certificates", {"csr": csr, "san": "DNS:www.api.test"})
check(s in (200, 201), "issue inside: %s %s" % (s, j))
s, j = call("POST", "/v1/cas/api/certificates", {"csr": csr, "san": "DNS:www.other.test"})
check(s == 422 and j.get("reason") == "PCA_NAME_CONSTRAINTS_VALIDATION" and
      j.get("message", "").startswith("PCA_NAME_CONSTRAINTS_VALIDATION: "), "issue outside: %s %s" % (s, j))
s, j = call("POST", "/v1/cas/api/certificates", {"csr": csr, "san": "DNS:www.api.test,IP:10.1.2.3"})
check(s == 422 and j.get("reason") == "PCA_NAME_CONSTRAINTS_VALIDATION", "an excluded IP: %s %s" % (s, j))
sys.exit(1 if bad else 0)
PYEOF
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
t=$(openssl x509 -in "$D/ca/api.pem" -noout -text)
assert_contains "$t" "X509v3 Name Constraints: critical"
assert_contains "$t" "IP:0.0.0.0/0.0.0.0"

step "the audit log verifies"
run_ok revd audit verify
pass
