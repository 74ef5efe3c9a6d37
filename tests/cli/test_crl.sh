#!/bin/bash
# revd crl list|show|rebuild: a CA's partitioned CRLs built from the index,
# checked by real clients. openssl verify -crl_check accepts good
# certificates and refuses revoked ones with each partition's own CRL, and
# refuses a certificate checked against another partition's CRL (the IDP);
# -crl_check_all over root -> sub -> leaf; openssl crl -text shows the
# critical IDP, the number and reasons; Python's cryptography and GnuTLS
# certtool check signatures and fields; a held certificate leaves the next
# CRL after unhold; numbers only grow; the files are replaced whole.
. "$(dirname "$0")/lib.sh"

D=$REVD_DIR
create_root root
create_sub sub root --partition-size 3
make_csr ee "/CN=ee.example"
for i in 1 2 3 4 5 6 7; do issue_to "$T/c$i.pem" --ca sub --csr "$T/ee.csr"; done
# partitions: c1..c3 -> 0, c4..c6 -> 1, c7 -> 2
run_ok revd revoke --ca sub --serial "$(serial_of "$T/c1.pem")" --reason keyCompromise
run_ok revd revoke --ca sub --serial "$(serial_of "$T/c4.pem")" --reason superseded --invalidity-date 2026-01-02T03:04:05Z
run_ok revd revoke --ca sub --serial "$(serial_of "$T/c5.pem")" --reason certificateHold
run_ok revd revoke --ca sub --serial "$(serial_of "$T/c7.pem")"

step "crl list: every CRL URL, and the JSON array for CCADB"
run_ok revd crl list --ca sub --json
assert_eq "$OUT" '["http://127.0.0.1:8080/crl/sub/ca.crl","http://127.0.0.1:8080/crl/sub/0.crl","http://127.0.0.1:8080/crl/sub/1.crl","http://127.0.0.1:8080/crl/sub/2.crl"]' "crl list --json"
"$PY" -c 'import json,sys; assert len(json.loads(sys.argv[1])) == 4' "$OUT" || fail "crl list --json is not a JSON array of 4"
run_ok revd crl list --ca sub
assert_line "$OUT" "$(printf '1\thttp://127.0.0.1:8080/crl/sub/1.crl\tcrl/sub/1.crl')"
for i in 1 4 7; do
    assert_contains "$(openssl x509 -in "$T/c$i.pem" -noout -ext crlDistributionPoints)" \
        "$(printf '%s\n' "$OUT" | awk -v p=$(( (i - 1) / 3 )) '$1 == p {print $2}')" "c$i's CDP is its partition's URL"
done
run_fail 2 revd crl list
run_fail 1 revd crl list --ca nope

step "crl rebuild: files under DIR/crl, numbered"
run_ok revd crl rebuild --ca sub
assert_match "$OUT" "crl/sub/0.crl: number 1, 1 entries"
assert_match "$OUT" "crl/sub/1.crl: number 1, 2 entries"
assert_match "$OUT" "crl/sub/ca.crl: number 1, 0 entries"
run_ok revd crl rebuild --ca root
for f in sub/ca sub/0 sub/1 sub/2 root/ca; do
    [ -s "$D/crl/$f.crl" ] || fail "DIR/crl/$f.crl missing"
    openssl crl -inform DER -in "$D/crl/$f.crl" -out "$T/$(echo $f | tr / -).pem" 2>/dev/null || fail "$f.crl does not parse"
done
cat "$D/ca/sub.pem" "$D/ca/root.pem" >"$T/chain.pem"

step "openssl crl -text: critical IDP with the partition's URI, number, reasons"
o=$(openssl crl -inform DER -in "$D/crl/sub/1.crl" -noout -text)
assert_contains "$o" "Issuing Distribution Point: critical"
assert_contains "$o" "URI:http://127.0.0.1:8080/crl/sub/1.crl"
assert_contains "$o" "Only User Certificates"
assert_contains "$o" "CRL Number:"
assert_contains "$o" "Superseded"
assert_contains "$o" "Certificate Hold"
assert_contains "$o" "Invalidity Date"
assert_contains "$(openssl crl -inform DER -in "$D/crl/sub/ca.crl" -noout -text)" "Only CA Certificates"
o=$(openssl crl -inform DER -in "$D/crl/sub/2.crl" -noout -text)
assert_not_contains "$o" "CRL Reason Code" "an unspecified revocation carries no reason code"

step "openssl verify -crl_check: each partition's CRL; another partition's is refused"
v() { openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$1" "$2" 2>&1; }
o=$(v "$T/sub-0.pem" "$T/c2.pem"); assert_contains "$o" "$T/c2.pem: OK"
o=$(v "$T/sub-0.pem" "$T/c1.pem"); assert_contains "$o" "certificate revoked"
o=$(v "$T/sub-1.pem" "$T/c4.pem"); assert_contains "$o" "certificate revoked"
o=$(v "$T/sub-1.pem" "$T/c5.pem"); assert_contains "$o" "certificate revoked"
o=$(v "$T/sub-1.pem" "$T/c6.pem"); assert_contains "$o" "$T/c6.pem: OK"
o=$(v "$T/sub-2.pem" "$T/c7.pem"); assert_contains "$o" "certificate revoked"
o=$(v "$T/sub-1.pem" "$T/c1.pem"); assert_not_contains "$o" ": OK" "a revoked certificate with another partition's CRL"
assert_contains "$o" "different CRL scope"
o=$(v "$T/sub-0.pem" "$T/c6.pem"); assert_contains "$o" "different CRL scope"

step "openssl verify -crl_check_all: root -> sub -> leaf"
o=$(openssl verify -crl_check_all -CAfile "$T/chain.pem" -CRLfile "$T/sub-0.pem" -CRLfile "$T/root-ca.pem" "$T/c2.pem" 2>&1)
assert_contains "$o" "$T/c2.pem: OK"

step "Python's cryptography: signature, IDP, reasons, number"
"$PY" - "$D/crl/sub/1.crl" "$D/ca/sub.pem" "$T/c4.pem" "$T/c5.pem" <<'PY' || fail "cryptography rejected the CRL"
import sys, datetime
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
assert crl.is_signature_valid(ca.public_key())
assert crl.issuer == ca.subject
idp = crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT)
assert idp.critical
assert idp.value.full_name[0].value == "http://127.0.0.1:8080/crl/sub/1.crl", idp.value.full_name
assert idp.value.only_contains_user_certs and not idp.value.only_contains_ca_certs
assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number >= 1
aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
assert aki.key_identifier == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
c4 = x509.load_pem_x509_certificate(open(sys.argv[3], "rb").read())
c5 = x509.load_pem_x509_certificate(open(sys.argv[4], "rb").read())
r4 = crl.get_revoked_certificate_by_serial_number(c4.serial_number)
r5 = crl.get_revoked_certificate_by_serial_number(c5.serial_number)
assert r4.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.superseded
inv = r4.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date
assert inv == datetime.datetime(2026, 1, 2, 3, 4, 5), inv
assert r5.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.certificate_hold
serials = [r.serial_number for r in crl]
assert serials == sorted(serials) and len(serials) == 2
PY

step "GnuTLS certtool: the CRL verifies against its CA"
if command -v certtool >/dev/null; then
    o=$(certtool --verify-crl --load-ca-certificate "$D/ca/sub.pem" --infile "$T/sub-1.pem" 2>&1) ||
        fail "certtool --verify-crl failed: $o"
    assert_contains "$o" "Verified"
    o=$(certtool --crl-info --inder --infile "$D/crl/sub/1.crl" 2>&1) || fail "certtool --crl-info: $o"
    assert_contains "$o" "Revoked certificates (2)"
    o=$(certtool --verify-crl --load-ca-certificate "$D/ca/root.pem" --infile "$T/sub-1.pem" 2>&1)
    assert_not_contains "$o" "Verified." "certtool with the wrong CA"
fi

step "Go's crypto/x509: ParseRevocationList, CheckSignatureFrom"
if command -v go >/dev/null; then
    o=$(cd "$T" && HOME="$T" GOCACHE="$T/gocache" GOFLAGS= GO111MODULE=off timeout 120 go run "$REPO_ROOT/tests/go/crlcheck.go" \
        "$D/crl/sub/1.crl" "$D/ca/sub.pem" "$(serial_of "$T/c4.pem")" "$(serial_of "$T/c5.pem")" 2>&1) ||
        fail "Go rejected partition 1's CRL: $o"
    assert_contains "$o" "ok: number"
    o=$(cd "$T" && HOME="$T" GOCACHE="$T/gocache" GO111MODULE=off timeout 120 go run "$REPO_ROOT/tests/go/crlcheck.go" \
        "$D/crl/sub/1.crl" "$D/ca/root.pem" 2>&1) && fail "Go accepted the CRL with the wrong CA: $o"
    o=$(cd "$T" && HOME="$T" GOCACHE="$T/gocache" GO111MODULE=off timeout 120 go run "$REPO_ROOT/tests/go/crlcheck.go" \
        "$D/crl/root/ca.crl" "$D/ca/root.pem" 2>&1) || fail "Go rejected the root's CA-scope CRL: $o"
fi

step "unhold: the certificate leaves the next CRL; numbers only grow"
run_ok revd unhold --ca sub --serial "$(serial_of "$T/c5.pem")"
cp "$D/crl/sub/1.crl" "$T/before.crl"
run_ok revd crl rebuild --ca sub --partition 1
assert_match "$OUT" "crl/sub/1.crl: number 2, 1 entries"
o=$(openssl crl -inform DER -in "$D/crl/sub/1.crl" -noout -text)
assert_not_contains "$o" "$(serial_of "$T/c5.pem")" "the released certificate"
assert_contains "$o" "$(serial_of "$T/c4.pem")"
run_ok revd crl show --ca sub --partition 1
assert_contains "$OUT" "last-number: 2"
run_fail 1 revd crl rebuild --ca sub --partition 9
run_ok revd crl rebuild --ca sub --partition ca
assert_match "$OUT" "crl/sub/ca.crl: number 2"

step "imported certificates keep their CDP: a CRL for each such URL"
create_root legacy
cat >"$T/legacy.csv" <<'CSV'
0A0B0C,2031-01-01,revoked,2024-03-04T05:06:07Z,keyCompromise,http://legacy.example/crl/7.crl
0A0B0D,2031-01-01,good,,,http://legacy.example/crl/7.crl
0A0B0E,2031-01-01,revoked,2024-03-04T05:06:07Z,superseded,http://legacy.example/crl/8.crl
0A0B0F,2031-01-01,revoked,2024-03-04T05:06:07Z
CSV
run_ok revd import --ca legacy --file "$T/legacy.csv"
run_ok revd crl list --ca legacy --json
assert_contains "$OUT" '"http://legacy.example/crl/7.crl"'
assert_contains "$OUT" '"http://legacy.example/crl/8.crl"'
assert_contains "$OUT" '"http://127.0.0.1:8080/crl/legacy/0.crl"'
run_ok revd crl rebuild --ca legacy
f7=$(revd crl list --ca legacy | awk '$2 == "http://legacy.example/crl/7.crl" {print $3}')
[ -n "$f7" ] && [ -s "$D/$f7" ] || fail "no file for the imported CDP 7.crl ($f7)"
o=$(openssl crl -inform DER -in "$D/$f7" -noout -text)
assert_contains "$o" "URI:http://legacy.example/crl/7.crl"
assert_contains "$o" "0A0B0C"
assert_not_contains "$o" "0A0B0E" "a certificate of the other imported CDP"
assert_contains "$(openssl crl -inform DER -in "$D/crl/legacy/0.crl" -noout -text)" "0A0B0F"

step "a --complete-crl CA: one CRL at {base}/crl/NAME.crl"
create_root whole --complete-crl
issue_to "$T/w1.pem" --ca whole --csr "$T/ee.csr"
run_ok revd revoke --ca whole --serial "$(serial_of "$T/w1.pem")"
run_ok revd crl list --ca whole --json
assert_eq "$OUT" '["http://127.0.0.1:8080/crl/whole/ca.crl","http://127.0.0.1:8080/crl/whole.crl"]' "a complete CRL CA's CRLs"
run_ok revd crl rebuild --ca whole
[ -s "$D/crl/whole.crl" ] || fail "DIR/crl/whole.crl missing"
o=$(openssl crl -inform DER -in "$D/crl/whole.crl" -noout -text)
assert_contains "$o" "URI:http://127.0.0.1:8080/crl/whole.crl"
assert_not_contains "$o" "Only User Certificates" "a complete CRL has no scope flag"
openssl crl -inform DER -in "$D/crl/whole.crl" -out "$T/whole.pem"
o=$(openssl verify -crl_check -CAfile "$D/ca/whole.pem" -CRLfile "$T/whole.pem" "$T/w1.pem" 2>&1)
assert_contains "$o" "certificate revoked"

step "revoke --file: all of the serials or none"
for i in 1 2 3 4; do issue_to "$T/b$i.pem" --ca sub --csr "$T/ee.csr"; done
printf '# a comment\n%s\n\n %s \n' "$(serial_of "$T/b1.pem")" "$(serial_of "$T/b2.pem")" >"$T/bulk.txt"
cp "$T/bulk.txt" "$T/bulk-bad.txt"; echo "0BADC0DE" >>"$T/bulk-bad.txt"
before=$(snapshot sub)
run_fail 1 revd revoke --ca sub --file "$T/bulk-bad.txt"
assert_contains "$ERR" "0BADC0DE"
assert_unchanged "$before" sub
cp "$T/bulk.txt" "$T/bulk-dup.txt"; serial_of "$T/b1.pem" >>"$T/bulk-dup.txt"
run_fail 1 revd revoke --ca sub --file "$T/bulk-dup.txt"
assert_contains "$ERR" "listed twice"
cp "$T/bulk.txt" "$T/bulk-rev.txt"; serial_of "$T/c1.pem" >>"$T/bulk-rev.txt"
run_fail 1 revd revoke --ca sub --file "$T/bulk-rev.txt"
assert_contains "$ERR" "already revoked"
printf 'zz\n' >"$T/bulk-junk.txt"
run_fail 1 revd revoke --ca sub --file "$T/bulk-junk.txt"
assert_contains "$ERR" "line 1"
run_fail 2 revd revoke --ca sub --file "$T/bulk.txt" --serial "$(serial_of "$T/b3.pem")"
run_ok revd revoke --ca sub --file "$T/bulk.txt" --reason cessationOfOperation
assert_match "$OUT" "^revoked 2 certificates \(cessationOfOperation\)"
for i in 1 2; do
    run_ok revd status --ca sub --serial "$(serial_of "$T/b$i.pem")"
    assert_eq "$(printf '%s\n' "$OUT" | head -1)" revoked "status of b$i after the bulk revocation"
done
run_ok revd status --ca sub --serial "$(serial_of "$T/b3.pem")"
assert_eq "$(printf '%s\n' "$OUT" | head -1)" good "b3, not in the file"
run_ok revd log
assert_eq "$(printf '%s\n' "$OUT" | grep -c '"bulk":true')" 2 "one log record per certificate"

step "crl history: every CRL signed, from the zstd archive"
run_ok revd crl history --ca sub
assert_eq "$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)" 6 "archived CRLs of sub (4 + partition 1 + ca again)"
assert_match "$OUT" "$(printf '1\t2\t')"
run_ok revd crl history --ca sub --partition 1 --number 2 --out "$T/h.der"
cmp -s "$T/h.der" "$D/crl/sub/1.crl" || fail "the archived CRL 2 of partition 1 is not the one published"
run_ok revd crl history --ca sub --partition 1 --number 1 --out "$T/h1.der"
cmp -s "$T/h1.der" "$T/before.crl" || fail "the archived CRL 1 of partition 1 is not the one published then"
run_fail 1 revd crl history --ca sub --partition 1 --number 9 --out "$T/h9.der"
run_fail 2 revd crl history --ca sub --out "$T/hx.der"
printf 'garbage' >>"$D/crl-archive/sub.log"
run_fail 1 revd crl history --ca sub
assert_contains "$ERR" "damaged record"

step "a revoked certificate leaves the CRL once it has expired (last: it moves the clock a year on)"
if command -v faketime >/dev/null && FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1) && [ -n "$FT_LIB" ]; then
    assert_match "$(openssl crl -inform DER -in "$D/crl/sub/1.crl" -noout -text)" "$(serial_of "$T/c4.pem")"
    o=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" FAKETIME="+400d" LD_PRELOAD=$FT_LIB \
        "$REVD" crl rebuild --dir "$D" --ca sub --partition 1 2>&1) || fail "rebuild a year on: $o"
    assert_match "$o" "crl/sub/1.crl: number [0-9]+, 0 entries"
fi

pass
