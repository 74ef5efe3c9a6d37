#!/bin/bash
# revd issue: the issued certificate verifies (openssl verify -CAfile root.pem
# -untrusted sub.pem cert.pem), carries AKI/SKI/CDP/AIA, a 16-octet positive
# serial, each template's key usages, --san/--days/--hours/--chain,
# idempotency keys; and every bad request is refused with one `revd:` line
# and leaves the index unchanged.
. "$(dirname "$0")/lib.sh"

B=http://pki.example.test
create_root root
create_sub sub root --base-url "$B"
ROOT_PEM=$REVD_DIR/ca/root.pem
SUB_PEM=$REVD_DIR/ca/sub.pem
root_ski=$(ci ski "$(certinfo "$ROOT_PEM")")
sub_ski=$(ci ski "$(certinfo "$SUB_PEM")")

# check_leaf FILE CA BASE-URL: what every end-entity certificate carries.
check_leaf() {
    local f=$1 ca=$2 base=$3 info
    info=$(certinfo "$f")
    assert_ci "$info" version 3
    case "$(ci bc "$info")" in *CA:TRUE*) fail "$f: an end-entity certificate with CA:TRUE" ;; esac
    case "$(ci ku "$info")" in *keyCertSign* | *cRLSign*) fail "$f: end-entity keyUsage $(ci ku "$info")" ;; esac
    [ "$(ci ski "$info")" != none ] || fail "$f: no subjectKeyIdentifier"
    assert_ci "$info" aki "$(ci ski "$(certinfo "$REVD_DIR/ca/$ca.pem")")" "$f authorityKeyIdentifier = $ca's SKI:"
    assert_match "$(ci cdp "$info")" "^${base//./\\.}/crl/$ca/[0-9]+\\.crl\$" "$f CRL distribution point"
    assert_ci "$info" ocsp "$base/ocsp" "$f AIA OCSP"
    assert_ci "$info" ca_issuers "$base/ca/$ca.der" "$f AIA caIssuers"
    assert_ci "$info" serial_len 16 "$f serial length in octets:"
    assert_ci "$info" serial_positive yes
    local s; s=$(serial_of "$f")
    assert_eq "$s" "$(ci serial "$info")" "openssl's serial vs the DER serial"
    assert_match "$s" '^[0-7][0-9A-F]{31}$' "$f serial (16 octets, positive)"
}

# ------------------------------------------------------------------ default issue
step "issue from sub (end-entity)"
make_csr ee "/CN=ee.example/O=Example"
t0=$(now)
issue_to "$T/ee.pem" --ca sub --csr "$T/ee.csr"
assert_eq "$(count_certs "$T/ee.pem")" 1 "certificates printed without --chain"
# The acceptance check of the issue, exactly.
o=$(openssl verify -CAfile "$ROOT_PEM" -untrusted "$SUB_PEM" "$T/ee.pem" 2>&1) ||
    fail "openssl verify -CAfile root.pem -untrusted sub.pem cert.pem: $o"
check_leaf "$T/ee.pem" sub "$B"
info=$(certinfo "$T/ee.pem")
assert_ci "$info" subject "/CN=ee.example/O=Example"
assert_ci "$info" issuer "/CN=sub"
assert_ci "$info" key ec-p256
assert_ci "$info" ku "critical,digitalSignature" "end-entity (EC key)"
assert_ci "$info" eku "clientAuth,serverAuth" "end-entity"
assert_near "$(ci not_after_epoch "$info")" $((t0 + 90 * 86400)) 3700 "default validity (90 days)"
# The certificate's public key is the CSR's.
assert_eq "$(openssl x509 -in "$T/ee.pem" -noout -pubkey)" "$(openssl req -in "$T/ee.csr" -noout -pubkey)" "public key"
txt=$(openssl x509 -in "$T/ee.pem" -noout -text)
assert_contains "$txt" "TLS Web Server Authentication" "x509 -text"
assert_contains "$txt" "TLS Web Client Authentication" "x509 -text"
assert_contains "$txt" "OCSP - URI:$B/ocsp" "x509 -text"
assert_contains "$txt" "CA Issuers - URI:$B/ca/sub.der" "x509 -text"
assert_contains "$txt" "URI:$B/crl/sub/" "x509 -text"

step "status of an issued certificate"
ee_serial=$(serial_of "$T/ee.pem")
ee_cdp=$(ci cdp "$info")
run_ok revd status --ca sub --serial "$ee_serial"
assert_eq "$(printf '%s\n' "$OUT" | head -1)" good "status first line"
assert_kv serial "$ee_serial"
assert_kv not-after "$(ci not_after "$info")"
assert_kv crl "$ee_cdp"
part=$(kv partition)
assert_match "$part" '^[0-9]+$' "partition"
assert_eq "$ee_cdp" "$B/crl/sub/$part.crl" "CRL distribution point vs status partition"
for k in revocation-time reason invalidity-date; do
    printf '%s\n' "$OUT" | grep -q "^$k: " && fail "status of a good certificate has a '$k:' line"
done
run_ok revd ca show sub
assert_kv issued 1

step "RSA CSR gets keyEncipherment"
make_csr rsa "/CN=rsa.example" rsa2048
issue_to "$T/rsa.pem" --ca sub --csr "$T/rsa.csr"
verify_chain "$ROOT_PEM" "$SUB_PEM" "$T/rsa.pem"
check_leaf "$T/rsa.pem" sub "$B"
i=$(certinfo "$T/rsa.pem")
assert_ci "$i" key rsa-2048
assert_ci "$i" ku "critical,digitalSignature,keyEncipherment" "end-entity (RSA key)"
assert_ci "$i" eku "clientAuth,serverAuth" "end-entity"

step "issue from the root, default base URL"
make_csr er "/CN=from-root.example"
issue_to "$T/er.pem" --ca root --csr "$T/er.csr"
verify_chain "$ROOT_PEM" "" "$T/er.pem"
check_leaf "$T/er.pem" root "http://127.0.0.1:8080"

# ------------------------------------------------------------------ templates
step "templates"
# template  required-EKU  (the EKU the template's name stands for)
for spec in server:serverAuth client:clientAuth code-signing:codeSigning \
    email:emailProtection; do
    tpl=${spec%%:*} eku=${spec#*:}
    make_csr "t-$tpl" "/CN=t-$tpl"
    extra=()
    [ "$tpl" = email ] && extra=(--san email:someone@example.com)
    issue_to "$T/t-$tpl.pem" --ca sub --csr "$T/t-$tpl.csr" --template "$tpl" "${extra[@]}"
    verify_chain "$ROOT_PEM" "$SUB_PEM" "$T/t-$tpl.pem"
    check_leaf "$T/t-$tpl.pem" sub "$B"
    i=$(certinfo "$T/t-$tpl.pem")
    case ",$(ci eku "$i")," in *",$eku,"*) ;; *) fail "template $tpl: EKU $(ci eku "$i") lacks $eku" ;; esac
    assert_match "$(ci ku "$i")" '^critical,.*digitalSignature' "template $tpl keyUsage"
    case "$tpl" in
    code-signing | email | ocsp-signing)
        case "$(ci eku "$i")" in *serverAuth*) fail "template $tpl: EKU includes serverAuth" ;; esac ;;
    esac
done
assert_ci "$(certinfo "$T/t-server.pem")" ocsp_nocheck no "server id-pkix-ocsp-nocheck:"

step "template ocsp-signing: the RFC 5019 2.2.2 profile, short-lived, in no CRL"
make_csr t-ocsp-signing "/CN=t-ocsp-signing"
t0=$(now)
issue_to "$T/t-ocsp-signing.pem" --ca sub --csr "$T/t-ocsp-signing.csr" --template ocsp-signing
verify_chain "$ROOT_PEM" "$SUB_PEM" "$T/t-ocsp-signing.pem"
i=$(certinfo "$T/t-ocsp-signing.pem")
assert_ci "$i" eku OCSPSigning "ocsp-signing"
assert_ci "$i" ocsp_nocheck yes "ocsp-signing id-pkix-ocsp-nocheck:"
assert_ci "$i" cdp none "ocsp-signing CRL distribution point"
assert_ci "$i" ocsp none "ocsp-signing AIA OCSP"
assert_ci "$i" ca_issuers none "ocsp-signing AIA caIssuers"
assert_near "$(ci not_after_epoch "$i")" $((t0 + 7 * 86400)) 120 "ocsp-signing default notAfter (7 days)"
run_ok revd status --ca sub --serial "$(serial_of "$T/t-ocsp-signing.pem")"
assert_contains "$OUT" "partition: none"
before=$(snapshot sub)
run_fail 1 revd issue --ca sub --csr "$T/t-ocsp-signing.csr" --template ocsp-signing --days 31
assert_contains "$ERR" "at most 30 days"
assert_unchanged "$before" sub
assert_ci "$(certinfo "$T/t-email.pem")" san "email:someone@example.com" "email"

step "template sub-ca"
make_csr t-subca "/CN=t-subca"
issue_to "$T/t-subca.pem" --ca root --csr "$T/t-subca.csr" --template sub-ca --path-len 1
verify_chain "$ROOT_PEM" "" "$T/t-subca.pem"
i=$(certinfo "$T/t-subca.pem")
assert_ci "$i" bc "critical,CA:TRUE,pathlen:1" "sub-ca --path-len 1"
assert_contains "$(ci ku "$i")" keyCertSign "sub-ca keyUsage"
assert_ci "$i" aki "$root_ski" "sub-ca AKI"
# It really is a CA: a leaf it signs verifies through it.
openssl x509 -req -in "$T/ee.csr" -CA "$T/t-subca.pem" -CAkey "$T/t-subca.key" -set_serial 7 \
    -days 1 -out "$T/under-subca.pem" 2>/dev/null || fail "openssl could not sign with the sub-ca certificate"
verify_chain "$ROOT_PEM" "$T/t-subca.pem" "$T/under-subca.pem"

step "template passthrough"
make_csr pt "/CN=pt.example" ec256 \
    -addext "subjectAltName=DNS:pt.example,DNS:www.pt.example" \
    -addext "keyUsage=critical,digitalSignature,keyAgreement" \
    -addext "extendedKeyUsage=codeSigning,emailProtection"
issue_to "$T/pt.pem" --ca sub --csr "$T/pt.csr" --template passthrough
verify_chain "$ROOT_PEM" "$SUB_PEM" "$T/pt.pem"
i=$(certinfo "$T/pt.pem")
assert_ci "$i" san "DNS:pt.example;DNS:www.pt.example" "passthrough"
assert_ci "$i" ku "critical,digitalSignature,keyAgreement" "passthrough"
assert_ci "$i" eku "codeSigning,emailProtection" "passthrough"

step "unknown template"
before=$(snapshot root sub)
run_fail_arg revd issue --ca sub --csr "$T/ee.csr" --template no-such-template
assert_unchanged "$before" root sub

# ------------------------------------------------------------------ --san
step "--san"
make_csr san "/CN=san.example" ec256 -addext "subjectAltName=DNS:from-csr.example"
issue_to "$T/san.pem" --ca sub --csr "$T/san.csr" \
    --san "DNS:a.example,IP:192.0.2.1,email:x@example.com,IP:2001:db8::1"
verify_chain "$ROOT_PEM" "$SUB_PEM" "$T/san.pem"
assert_ci "$(certinfo "$T/san.pem")" san "DNS:a.example;IP:192.0.2.1;email:x@example.com;IP:2001:db8::1" "--san"
before=$(snapshot root sub)
for bad in "FOO:bar" "IP:300.1.1.1" "DNS:"; do
    run_fail_arg revd issue --ca sub --csr "$T/san.csr" --san "$bad"
    assert_unchanged "$before" root sub
done

# ------------------------------------------------------------------ validity
step "--days / --hours"
make_csr v "/CN=v.example"
issue_to "$T/v10.pem" --ca sub --csr "$T/v.csr" --days 10
assert_near "$(ci not_after_epoch "$(certinfo "$T/v10.pem")")" $(($(now) + 10 * 86400)) 3700 "--days 10"
issue_to "$T/v5h.pem" --ca sub --csr "$T/v.csr" --hours 5
assert_near "$(ci not_after_epoch "$(certinfo "$T/v5h.pem")")" $(($(now) + 5 * 3600)) 3700 "--hours 5"
verify_chain "$ROOT_PEM" "$SUB_PEM" "$T/v5h.pem"
before=$(snapshot root sub)
run_fail_arg revd issue --ca sub --csr "$T/v.csr" --days 10 --hours 5
assert_unchanged "$before" root sub

# ------------------------------------------------------------------ --chain
step "--chain"
issue_to "$T/chain-sub.pem" --ca sub --csr "$T/v.csr" --chain
assert_eq "$(count_certs "$T/chain-sub.pem")" 2 "certificates printed by --chain from sub (cert, sub)"
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
# Split the output into one file per certificate.
awk -v d="$T" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (d "/chain-part-" n ".pem") }' "$T/chain-sub.pem"
assert_eq "$(fp "$T/chain-part-2.pem")" "$(fp "$SUB_PEM")" "second certificate of --chain"
assert_eq "$(ci issuer "$(certinfo "$T/chain-part-1.pem")")" /CN=sub "first certificate of --chain is the new one:"
verify_chain "$ROOT_PEM" "$T/chain-sub.pem" "$T/chain-part-1.pem"
issue_to "$T/chain-root.pem" --ca root --csr "$T/v.csr" --chain
assert_eq "$(count_certs "$T/chain-root.pem")" 1 "certificates printed by --chain from the root (no self-signed root)"
create_sub mid root --path-len 1
create_sub iss mid
issue_to "$T/chain-iss.pem" --ca iss --csr "$T/v.csr" --chain
assert_eq "$(count_certs "$T/chain-iss.pem")" 3 "certificates printed by --chain from iss (cert, iss, mid)"
rm -f "$T"/chain-part-*.pem
awk -v d="$T" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (d "/chain-part-" n ".pem") }' "$T/chain-iss.pem"
assert_eq "$(fp "$T/chain-part-2.pem")" "$(fp "$REVD_DIR/ca/iss.pem")" "second certificate of --chain from iss"
assert_eq "$(fp "$T/chain-part-3.pem")" "$(fp "$REVD_DIR/ca/mid.pem")" "third certificate of --chain from iss"
verify_chain "$ROOT_PEM" "$T/chain-iss.pem" "$T/chain-part-1.pem"
check_leaf "$T/chain-part-1.pem" iss "http://127.0.0.1:8080"

# ------------------------------------------------------------------ idempotency
step "idempotency key"
make_csr idem "/CN=idem.example"
make_csr idem2 "/CN=idem2.example"
issue_to "$T/idem-a.pem" --ca sub --csr "$T/idem.csr" --idempotency-key order-42
first=$OUT
run_ok revd ca show sub
issued=$(kv issued)
before=$(snapshot root sub)
issue_to "$T/idem-b.pem" --ca sub --csr "$T/idem.csr" --idempotency-key order-42
assert_eq "$OUT" "$first" "second issue with the same idempotency key and request"
assert_unchanged "$before" root sub
run_fail 1 revd issue --ca sub --csr "$T/idem2.csr" --idempotency-key order-42
assert_unchanged "$before" root sub
run_fail 1 revd issue --ca sub --csr "$T/idem.csr" --idempotency-key order-42 --template client
assert_unchanged "$before" root sub
issue_to "$T/idem-c.pem" --ca sub --csr "$T/idem.csr" --idempotency-key order-43
[ "$(serial_of "$T/idem-c.pem")" != "$(serial_of "$T/idem-a.pem")" ] ||
    fail "a different idempotency key returned the same certificate"
run_ok revd ca show sub
assert_kv issued $((issued + 1))
# Without a key, the same CSR gives a new certificate each time.
issue_to "$T/again-1.pem" --ca sub --csr "$T/idem.csr"
issue_to "$T/again-2.pem" --ca sub --csr "$T/idem.csr"
[ "$(serial_of "$T/again-1.pem")" != "$(serial_of "$T/again-2.pem")" ] || fail "two issues share a serial"

# ------------------------------------------------------------------ bad requests
step "bad CSRs"
before=$(snapshot root sub)
printf 'this is not a certificate request\n' >"$T/garbage.csr"
run_fail 1 revd issue --ca sub --csr "$T/garbage.csr"
assert_unchanged "$before" root sub
head -c 600 /dev/urandom >"$T/random.csr"
run_fail 1 revd issue --ca sub --csr "$T/random.csr"
assert_unchanged "$before" root sub
: >"$T/empty.csr"
run_fail 1 revd issue --ca sub --csr "$T/empty.csr"
assert_unchanged "$before" root sub
run_fail 1 revd issue --ca sub --csr "$T/no-such-file.csr"
assert_unchanged "$before" root sub
# A certificate is not a CSR.
run_fail 1 revd issue --ca sub --csr "$T/ee.pem"
assert_unchanged "$before" root sub
# A truncated PEM.
head -c 200 "$T/ee.csr" >"$T/trunc.csr"
run_fail 1 revd issue --ca sub --csr "$T/trunc.csr"
assert_unchanged "$before" root sub

step "CSR with a bad self-signature"
make_csr tamper "/CN=tamper.example"
openssl req -in "$T/tamper.csr" -outform DER -out "$T/tamper.der" 2>/dev/null || fail "openssl req -outform DER"
# The last octet of the DER is the last octet of the ECDSA signature's s.
"$PY" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 0x5a; open(sys.argv[1], "wb").write(b)' "$T/tamper.der"
openssl req -inform DER -in "$T/tamper.der" -out "$T/tampered.csr" 2>/dev/null || fail "tampered CSR no longer parses"
csr_sig_ok "$T/tamper.csr" || fail "test setup: the CSR before tampering does not verify"
csr_sig_ok "$T/tampered.csr" && fail "test setup: tampered CSR still verifies"
run_fail 1 revd issue --ca sub --csr "$T/tampered.csr"
assert_unchanged "$before" root sub

step "weak and unsupported keys"
make_csr weak "/CN=weak.example" rsa1024
run_fail 1 revd issue --ca sub --csr "$T/weak.csr"
assert_unchanged "$before" root sub
make_csr dsa "/CN=dsa.example" dsa
run_fail 1 revd issue --ca sub --csr "$T/dsa.csr"
assert_unchanged "$before" root sub

step "unknown CA"
run_fail 1 revd issue --ca no-such-ca --csr "$T/ee.csr"
assert_unchanged "$before" root sub

step "disabled CA"
issue_to "$T/before-disable.pem" --ca sub --csr "$T/ee.csr"
good_serial=$(serial_of "$T/before-disable.pem")
run_ok revd ca disable sub
before=$(snapshot root sub)
run_fail 1 revd issue --ca sub --csr "$T/ee.csr"
assert_unchanged "$before" root sub
run_fail 1 revd issue --ca sub --csr "$T/idem.csr" --idempotency-key order-99
assert_unchanged "$before" root sub
# A disabled CA still publishes status.
run_ok revd status --ca sub --serial "$good_serial"
assert_eq "$(printf '%s\n' "$OUT" | head -1)" good "status from a disabled CA"
run_ok revd ca enable sub
issue_to "$T/after-enable.pem" --ca sub --csr "$T/ee.csr"
verify_chain "$ROOT_PEM" "$SUB_PEM" "$T/after-enable.pem"

step "serials are unique"
run_ok revd report --ca sub --format csv
n_rows=$(printf '%s\n' "$OUT" | tail -n +2 | grep -c .)
n_uniq=$(printf '%s\n' "$OUT" | tail -n +2 | cut -d, -f1 | sort -u | grep -c .)
assert_eq "$n_uniq" "$n_rows" "distinct serials in the report"
run_ok revd ca show sub
assert_kv issued "$n_rows"

pass
