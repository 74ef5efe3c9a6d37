#!/bin/bash
# revd ocsp respond: responses signed by each CA's delegated responder, built
# in DER by revd, checked by three clients: openssl ocsp (signature, chain,
# status, reason, times), Python's cryptography (fields and the ECDSA/RSA
# signature against the responder's key) and GnuTLS ocsptool. For good,
# revoked (with and without a reason), never-issued serials; every CertID
# hash; ECDSA P-256, P-384 and RSA CAs.
. "$(dirname "$0")/lib.sh"

make_csr ee "/CN=ee.example"

# check_ocsp CA-NAME ROOT KEY-TYPE
check_ca() {
    local root=$1 sub=$2 key=$3
    create_root "$root" --key "$key"
    create_sub "$sub" "$root" --key "$key"
    cat "$REVD_DIR/ca/$sub.pem" "$REVD_DIR/ca/$root.pem" > "$T/$sub-chain.pem"
    issue_to "$T/$sub-good.pem" --ca "$sub" --csr "$T/ee.csr"
    issue_to "$T/$sub-rev.pem" --ca "$sub" --csr "$T/ee.csr"
    issue_to "$T/$sub-unspec.pem" --ca "$sub" --csr "$T/ee.csr"
    good=$(serial_of "$T/$sub-good.pem"); rev=$(serial_of "$T/$sub-rev.pem"); unspec=$(serial_of "$T/$sub-unspec.pem")
    run_ok revd revoke --ca "$sub" --serial "$rev" --reason keyCompromise
    run_ok revd revoke --ca "$sub" --serial "$unspec"

    for h in sha1 sha256 sha384 sha512; do
        step "$key: good, $h CertID"
        run_ok revd ocsp respond --ca "$sub" --serial "$good" --hash "$h" --out "$T/g.der"
        assert_contains "$OUT" "good"
        o=$(openssl ocsp -respin "$T/g.der" -issuer "$REVD_DIR/ca/$sub.pem" -"$h" -cert "$T/$sub-good.pem" \
            -CAfile "$T/$sub-chain.pem" 2>&1) || fail "openssl ocsp failed: $o"
        assert_contains "$o" "Response verify OK"
        assert_line "$o" "$T/$sub-good.pem: good"

        step "$key: revoked keyCompromise, $h CertID"
        run_ok revd ocsp respond --ca "$sub" --serial "$rev" --hash "$h" --out "$T/r.der"
        o=$(openssl ocsp -respin "$T/r.der" -issuer "$REVD_DIR/ca/$sub.pem" -"$h" -cert "$T/$sub-rev.pem" \
            -CAfile "$T/$sub-chain.pem" 2>&1) || fail "openssl ocsp failed: $o"
        assert_contains "$o" "Response verify OK"
        assert_line "$o" "$T/$sub-rev.pem: revoked"
        assert_contains "$o" "Reason: keyCompromise"
    done

    step "$key: unspecified is sent without a reason"
    run_ok revd ocsp respond --ca "$sub" --serial "$unspec" --out "$T/u.der"
    o=$(openssl ocsp -respin "$T/u.der" -issuer "$REVD_DIR/ca/$sub.pem" -cert "$T/$sub-unspec.pem" \
        -CAfile "$T/$sub-chain.pem" 2>&1) || fail "openssl ocsp failed: $o"
    assert_line "$o" "$T/$sub-unspec.pem: revoked"
    case "$o" in *Reason:*) fail "a reason was sent for unspecified" ;; esac

    step "$key: Python's cryptography checks fields and signature"
    /usr/bin/python3 - "$T/r.der" "$T/$sub-rev.pem" "$REVD_DIR/ca/$sub.pem" <<'PY' || fail "cryptography rejected the response"
import sys, datetime
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, padding
resp = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
leaf = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
issuer = x509.load_pem_x509_certificate(open(sys.argv[3], "rb").read())
assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
assert resp.revocation_reason == x509.ReasonFlags.key_compromise
assert resp.serial_number == leaf.serial_number
assert isinstance(resp.hash_algorithm, hashes.SHA512)
assert resp.next_update > resp.this_update
assert (resp.next_update - resp.this_update) == datetime.timedelta(days=4, seconds=60)  # thisUpdate a minute back
assert len(resp.certificates) == 1
signer = resp.certificates[0]
assert signer.issuer == issuer.subject
eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
signer.extensions.get_extension_for_class(x509.OCSPNoCheck)
ski = signer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
assert resp.responder_key_hash == ski, "responderID byKey is the SHA-1 of the responder key"
assert resp.responder_name is None
pub = signer.public_key()
if isinstance(pub, ec.EllipticCurvePublicKey):
    pub.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
else:
    pub.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), resp.signature_hash_algorithm)
# The responder certificate is signed by the CA.
ipub = issuer.public_key()
if isinstance(ipub, ec.EllipticCurvePublicKey):
    ipub.verify(signer.signature, signer.tbs_certificate_bytes, ec.ECDSA(signer.signature_hash_algorithm))
else:
    ipub.verify(signer.signature, signer.tbs_certificate_bytes, padding.PKCS1v15(), signer.signature_hash_algorithm)
PY

    step "$key: GnuTLS ocsptool reads it"
    if command -v ocsptool >/dev/null; then
        o=$(ocsptool --response-info --load-response="$T/r.der" --inder 2>&1) || fail "ocsptool failed: $o"
        assert_contains "$o" "Certificate Status: revoked"
        assert_contains "$o" "Serial Number: $(printf '%s' "$rev" | tr 'A-F' 'a-f')"
    fi

    step "$key: never-issued serial: unauthorized, never good"
    run_ok revd ocsp respond --ca "$sub" --serial 0badc0de --out "$T/n.der"
    o=$(openssl ocsp -respin "$T/n.der" -resp_text -noverify 2>&1)
    assert_contains "$o" "unauthorized (6)"
}

check_ca r256 s256 ec-p256
check_ca r384 s384 ec-p384
check_ca rrsa srsa rsa-2048

step "the responder is created once, kept, and recorded"
run_ok revd log
n=$(printf '%s\n' "$OUT" | grep -c '"op":"ocsp-responder","ca":"s256"')
assert_eq "$n" 1 "responders created for s256"
assert_file_mode "$REVD_DIR/keys/s256.ocsp.key" 600
run_ok revd report --ca s256 --format csv
assert_contains "$OUT" ",none,ocsp-responder"

step "precompute: two responses (SHA-1, SHA-256) per unexpired certificate"
# s256 holds three end-entity certificates and its responder's certificate.
run_ok revd ocsp precompute --ca s256
assert_contains "$OUT" "precomputed 8 responses for 4 certificates of CA s256 (0 expired skipped)"
bytes=$(printf '%s\n' "$OUT" | sed -n 's/.* \([0-9]*\) bytes of memory per response/\1/p')
[ -n "$bytes" ] && [ "$bytes" -gt 300 ] && [ "$bytes" -lt 1024 ] || fail "memory per response: '$bytes'"
run_fail 1 revd ocsp precompute --ca nope

step "the responder is renewed when fewer than 10 of its 30 days are left"
command -v faketime >/dev/null || skip "faketime (Debian package faketime) is not installed"
leaf=$T/s256-good.pem
ls=$(serial_of "$leaf")
first_rsp=$(openssl ocsp -respin "$T/g.der" -resp_text -noverify 2>/dev/null | grep -c "OCSP Signing")
for days in 15 21; do
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" FAKETIME="+${days}d" LD_PRELOAD=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1) \
        "$REVD" ocsp respond --dir "$REVD_DIR" --ca s256 --serial "$ls" --out "$T/f$days.der" >/dev/null 2>&1 ||
        fail "respond at +$days days failed"
done
run_ok revd log
assert_eq "$(printf '%s\n' "$OUT" | grep -c '"op":"ocsp-responder","ca":"s256"')" 2 \
    "responders of s256 after +15 days (kept) and +21 days (renewed)"
at=$(( $(date +%s) + 21 * 86400 + 60 ))
o=$(openssl ocsp -respin "$T/f21.der" -issuer "$REVD_DIR/ca/s256.pem" -cert "$leaf" \
    -CAfile "$T/s256-chain.pem" -attime "$at" 2>&1) || fail "openssl ocsp at +21 days: $o"
assert_contains "$o" "Response verify OK"
# openssl checks the status times against the real clock even with
# -attime: the response from +21 days is "not yet valid" today, and its
# status follows that warning on a line of its own.
assert_line "$o" "good"
# The renewed responder's certificate is not the first one.
a=$(openssl ocsp -respin "$T/g.der" -resp_text -noverify 2>/dev/null | grep -A1 "Serial Number" | tail -1)
b=$(openssl ocsp -respin "$T/f21.der" -resp_text -noverify 2>/dev/null | grep -A1 "Serial Number" | tail -1)
[ -n "$a" ] && [ "$a" != "$b" ] || fail "the responder certificate did not change ('$a' / '$b')"

step "usage"
run_fail 2 revd ocsp respond --ca s256 --serial 01 --out "$T/x.der" --hash md5
run_fail 2 revd ocsp respond --ca s256 --serial 01
run_fail 1 revd ocsp respond --ca nope --serial 01 --out "$T/x.der"

pass
