#!/bin/bash
# An index restored from a backup is behind the CRLs already published: the
# next CRL goes on from the published number (a relying party keeps the
# CRL with the higher number, so a repeated or lower one would never be
# seen), and says so.
. "$(dirname "$0")/lib.sh"
D=$REVD_DIR
create_root r
make_csr ee /CN=ee
issue_to "$T/a.pem" --ca r --csr "$T/ee.csr"
run_ok revd crl rebuild --ca r --partition 0
num() { openssl crl -inform DER -in "$D/crl/r/0.crl" -noout -crlnumber | sed 's/^crlNumber=0x//; s/^crlNumber=//'; }
n1=$((16#$(num)))
cp -a "$D/index" "$T/index.backup"
run_ok revd revoke --ca r --serial "$(serial_of "$T/a.pem")"
run_ok revd crl rebuild --ca r --partition 0
run_ok revd crl rebuild --ca r --partition 0
n3=$((16#$(num)))
assert_eq "$n3" $((n1 + 2)) "the CRL number after two rebuilds"
step "the index restored from the backup"
rm -rf "$D/index"; cp -a "$T/index.backup" "$D/index"
run_ok revd crl rebuild --ca r --partition 0
assert_contains "$ERR" "the published file has number $n3, the index $n1"
n4=$((16#$(num)))
assert_eq "$n4" $((n3 + 1)) "the CRL number after the restore (never back)"
openssl crl -inform DER -in "$D/crl/r/0.crl" -noout -CAfile "$D/ca/r.pem" 2>&1 | grep -q "verify OK" || fail "the CRL does not verify"
run_ok revd audit verify
pass
