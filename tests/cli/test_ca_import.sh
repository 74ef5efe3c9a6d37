#!/bin/bash
# revd ca csr / ca import: a CA whose parent is outside revd. The CSR (key
# type, subject, self-signature), the pending state, an outside hierarchy made
# with openssl signing it, the refusals (wrong key, not a CA, a chain that
# does not verify or does not end in a root), and issuing from the imported CA.
. "$(dirname "$0")/lib.sh"

fp() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }

# ------------------------------------------------------------------ an outside PKI
step "outside hierarchy (openssl)"
cat >"$T/ext.cnf" <<'EOF'
[ca_pl1]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca_pl2]
basicConstraints = critical, CA:TRUE, pathlen:2
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Outside Root" -days 3650 \
    -keyout "$T/xroot.key" -out "$T/xroot.pem" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || fail "openssl: outside root"
make_csr xmid "/CN=Outside Intermediate"
openssl x509 -req -in "$T/xmid.csr" -CA "$T/xroot.pem" -CAkey "$T/xroot.key" -set_serial 0x1001 -days 3000 \
    -extfile "$T/ext.cnf" -extensions ca_pl2 -out "$T/xmid.pem" 2>/dev/null || fail "openssl: outside intermediate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Unrelated Root" -days 3650 \
    -keyout "$T/other.key" -out "$T/other.pem" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || fail "openssl: unrelated root"
cat "$T/xmid.pem" "$T/xroot.pem" >"$T/xchain.pem"

# sign CSR OUT SECTION [SERIAL]: the outside intermediate signs CSR.
sign() {
    openssl x509 -req -in "$1" -CA "$T/xmid.pem" -CAkey "$T/xmid.key" -set_serial "${4:-0x2002}" -days 2000 \
        -extfile "$T/ext.cnf" -extensions "$3" -out "$2" 2>/dev/null || fail "openssl could not sign $1"
}

# ------------------------------------------------------------------ ca csr
step "ca csr"
create_root own
run_ok revd ca csr --name ext --subject "/CN=ext/O=Example" --base-url http://ext.example.test
printf '%s\n' "$OUT" >"$T/ext.csr"
assert_contains "$OUT" "-----BEGIN CERTIFICATE REQUEST-----" "ca csr stdout"
assert_not_contains "$OUT$ERR" "PRIVATE KEY" "ca csr output"
csr_sig_ok "$T/ext.csr" || fail "the CSR's self-signature does not verify"
assert_eq "$(openssl req -in "$T/ext.csr" -noout -subject -nameopt compat)" "subject=/CN=ext/O=Example" "CSR subject"
assert_contains "$(openssl req -in "$T/ext.csr" -noout -text)" "prime256v1" "CSR key (default ec-p256)"
assert_file_mode "$REVD_DIR/keys/ext.key" 600
run_ok revd ca show ext
assert_kv state pending
assert_kv name ext
run_ok revd ca list
assert_eq "$(printf '%s\n' "$OUT" | awk '$1 == "ext" { print $2 }')" pending "list STATE of ext"

run_ok revd ca csr --name ext-rsa --subject /CN=ext-rsa --key rsa-2048 --complete-crl
printf '%s\n' "$OUT" >"$T/ext-rsa.csr"
assert_contains "$(openssl req -in "$T/ext-rsa.csr" -noout -text)" "Public-Key: (2048 bit)" "CSR with --key rsa-2048"
csr_sig_ok "$T/ext-rsa.csr" || fail "rsa CSR self-signature does not verify"
run_ok revd ca show ext-rsa
assert_kv state pending
assert_kv key rsa-2048
assert_kv crl-mode complete

step "a pending CA issues nothing"
make_csr ee "/CN=ee.example"
before=$(snapshot own ext)
run_fail 1 revd issue --ca ext --csr "$T/ee.csr"
assert_unchanged "$before" own ext
run_fail 1 revd ca create-sub --name under-pending --parent ext --subject /CN=x
assert_unchanged "$before" own ext
run_fail 1 revd ca csr --name own --subject /CN=own-again
assert_unchanged "$before" own ext
run_fail 1 revd ca csr --name ext --subject /CN=ext-again
assert_unchanged "$before" own ext

# ------------------------------------------------------------------ refused imports
step "refused imports"
make_csr stranger "/CN=ext/O=Example"
sign "$T/stranger.csr" "$T/wrong-key.pem" ca_pl1 0x3003
sign "$T/ext.csr" "$T/not-ca.pem" leaf 0x3004
sign "$T/ext.csr" "$T/ext.pem" ca_pl1 0x3005
printf 'not a certificate\n' >"$T/garbage.pem"
# The wrong key.
run_fail 1 revd ca import --name ext --cert "$T/wrong-key.pem" --chain "$T/xchain.pem"
assert_unchanged "$before" own ext
# Not a CA certificate.
run_fail 1 revd ca import --name ext --cert "$T/not-ca.pem" --chain "$T/xchain.pem"
assert_unchanged "$before" own ext
# A chain it does not verify against.
run_fail 1 revd ca import --name ext --cert "$T/ext.pem" --chain "$T/other.pem"
assert_unchanged "$before" own ext
# A chain that does not end in a root.
run_fail 1 revd ca import --name ext --cert "$T/ext.pem" --chain "$T/xmid.pem"
assert_unchanged "$before" own ext
# Garbage.
run_fail 1 revd ca import --name ext --cert "$T/garbage.pem" --chain "$T/xchain.pem"
assert_unchanged "$before" own ext
run_fail 1 revd ca import --name ext --cert "$T/ext.pem" --chain "$T/garbage.pem"
assert_unchanged "$before" own ext
run_fail 1 revd ca import --name ext --cert "$T/no-such.pem" --chain "$T/xchain.pem"
assert_unchanged "$before" own ext
# Not a pending CA.
run_fail 1 revd ca import --name own --cert "$T/ext.pem" --chain "$T/xchain.pem"
assert_unchanged "$before" own ext
run_fail 1 revd ca import --name nope --cert "$T/ext.pem" --chain "$T/xchain.pem"
assert_unchanged "$before" own ext
[ -e "$REVD_DIR/ca/ext.pem" ] && fail "refused imports left DIR/ca/ext.pem"

# ------------------------------------------------------------------ the import
step "import"
# docs/cli.md: ca import takes no base URL or CRL options (ca csr fixed them).
run_fail 2 revd ca import --name ext --cert "$T/ext.pem" --chain "$T/xchain.pem" --base-url http://other.example.test
assert_unchanged "$before" own ext
run_ok revd ca import --name ext --cert "$T/ext.pem" --chain "$T/xchain.pem"
assert_eq "$(fp "$REVD_DIR/ca/ext.pem")" "$(fp "$T/ext.pem")" "DIR/ca/ext.pem"
assert_eq "$(count_certs "$REVD_DIR/ca/ext-chain.pem")" 2 "certificates in DIR/ca/ext-chain.pem (intermediate, root)"
awk -v d="$T" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (d "/xc-" n ".pem") }' "$REVD_DIR/ca/ext-chain.pem"
got=$( (fp "$T/xc-1.pem"; fp "$T/xc-2.pem") | sort)
assert_eq "$got" "$( (fp "$T/xmid.pem"; fp "$T/xroot.pem") | sort)" "DIR/ca/ext-chain.pem contents"
run_ok revd ca show ext
[ "$(kv state)" != pending ] || fail "ext is still pending after its import"
assert_kv base-url http://ext.example.test
assert_kv not-after "$(ci not_after "$(certinfo "$T/ext.pem")")"
before=$(snapshot own ext)
run_fail 1 revd ca import --name ext --cert "$T/ext.pem" --chain "$T/xchain.pem"
assert_unchanged "$before" own ext

step "issue from the imported CA"
issue_to "$T/leaf.pem" --ca ext --csr "$T/ee.csr" --chain
assert_eq "$(count_certs "$T/leaf.pem")" 3 "certificates printed by --chain (cert, ext, outside intermediate)"
awk -v d="$T" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (d "/lp-" n ".pem") }' "$T/leaf.pem"
assert_eq "$(fp "$T/lp-2.pem")" "$(fp "$T/ext.pem")" "second certificate of --chain"
assert_eq "$(fp "$T/lp-3.pem")" "$(fp "$T/xmid.pem")" "third certificate of --chain"
cat "$T/ext.pem" "$T/xmid.pem" >"$T/untrusted.pem"
verify_chain "$T/xroot.pem" "$T/untrusted.pem" "$T/lp-1.pem"
i=$(certinfo "$T/lp-1.pem")
assert_ci "$i" aki "$(ci ski "$(certinfo "$T/ext.pem")")"
assert_match "$(ci cdp "$i")" '^http://ext\.example\.test/crl/ext/[0-9]+\.crl$' "CRL distribution point"
assert_ci "$i" ocsp http://ext.example.test/ocsp
assert_ci "$i" ca_issuers http://ext.example.test/ca/ext.der
S=$(serial_of "$T/lp-1.pem")
run_ok revd revoke --ca ext --serial "$S" --reason keyCompromise
assert_eq "$OUT" "revoked $S (keyCompromise)" "revoke from the imported CA"

step "a sub under the imported CA"
create_sub ext-child ext
verify_chain "$T/xroot.pem" "$REVD_DIR/ca/ext-child-chain.pem" "$REVD_DIR/ca/ext-child.pem"
assert_eq "$(count_certs "$REVD_DIR/ca/ext-child-chain.pem")" 3 "certificates in ext-child-chain.pem (ext, intermediate, root)"
ext_na=$(ci not_after_epoch "$(certinfo "$T/ext.pem")")
[ "$(ci not_after_epoch "$(certinfo "$REVD_DIR/ca/ext-child.pem")")" -le "$ext_na" ] ||
    fail "the sub outlives the imported CA"
issue_to "$T/leaf2.pem" --ca ext-child --csr "$T/ee.csr"
cat "$REVD_DIR/ca/ext-child.pem" "$REVD_DIR/ca/ext-child-chain.pem" >"$T/untrusted2.pem"
verify_chain "$T/xroot.pem" "$T/untrusted2.pem" "$T/leaf2.pem"
# ext has pathlen 1, ext-child the default 0: nothing below it.
before=$(snapshot ext ext-child)
run_fail 1 revd ca create-sub --name too-deep --parent ext-child --subject /CN=too-deep
assert_unchanged "$before" ext ext-child

pass
