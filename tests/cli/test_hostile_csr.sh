#!/bin/bash
# CSRs that ask for what a CA must not sign: names a verifier would read
# differently (a NUL inside a DNS name, empty labels, misplaced wildcards,
# otherName), and passthrough extensions an end-entity certificate must not
# carry. Each is refused with a message and leaves the index unchanged.
. "$(dirname "$0")/lib.sh"

create_root root
create_sub sub root

# py_csr OUT SAN-PYTHON-EXPR: a P-256 CSR whose SAN is built by Python's
# cryptography (openssl req cannot put a NUL into a dNSName).
py_csr() {
    /usr/bin/python3 - "$1" "$2" <<'PY' || fail "could not build the CSR $1"
import sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
out, expr = sys.argv[1], sys.argv[2]
names = eval(expr, {"x509": x509, "ObjectIdentifier": ObjectIdentifier})
k = ec.generate_private_key(ec.SECP256R1())
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile")]))
       .add_extension(x509.SubjectAlternativeName(names), critical=False)
       .sign(k, hashes.SHA256()))
open(out, "wb").write(csr.public_bytes(serialization.Encoding.PEM))
PY
}

before=$(snapshot sub)
step "SANs from the CSR are checked like --san"
py_csr "$T/nul.csr" '[x509.DNSName("www.bank.com\x00.evil.com")]'
run_fail 1 revd issue --ca sub --csr "$T/nul.csr"
assert_contains "$ERR" "not a DNS name"
py_csr "$T/empty-label.csr" '[x509.DNSName("ok.example"), x509.DNSName("a..example")]'
run_fail 1 revd issue --ca sub --csr "$T/empty-label.csr"
assert_contains "$ERR" "subjectAltName 2"
py_csr "$T/wild.csr" '[x509.DNSName("www.*.example.com")]'
run_fail 1 revd issue --ca sub --csr "$T/wild.csr"
py_csr "$T/bare-wild.csr" '[x509.DNSName("*.com")]'
run_fail 1 revd issue --ca sub --csr "$T/bare-wild.csr"
py_csr "$T/other.csr" '[x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03a@b")]'
run_fail 1 revd issue --ca sub --csr "$T/other.csr"
assert_contains "$ERR" "type revd does not issue"
py_csr "$T/mail.csr" '[x509.RFC822Name._init_without_validation("a@@b.example")]'
run_fail 1 revd issue --ca sub --csr "$T/mail.csr"
assert_contains "$ERR" "not an email address"
assert_unchanged "$before" sub

step "--san replaces a CSR's unusable SAN"
run_ok revd issue --ca sub --csr "$T/other.csr" --san DNS:fine.example
printf '%s\n' "$OUT" > "$T/fine.pem"
openssl x509 -in "$T/fine.pem" -noout -ext subjectAltName | grep -q 'DNS:fine.example' || fail "--san not used"
py_csr "$T/wild-ok.csr" '[x509.DNSName("*.svc.example")]'
run_ok revd issue --ca sub --csr "$T/wild-ok.csr"

step "passthrough copies only an allowlist"
before=$(snapshot sub)
csr_ext() { # OUT EXTENSION-LINES
    printf '[req]\ndistinguished_name=dn\nreq_extensions=ext\n[dn]\n[ext]\n%s\n' "$2" > "$T/ext.cnf"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
        -subj /CN=pt -config "$T/ext.cnf" -out "$1" 2>/dev/null || fail "openssl req failed for $1"
}
csr_ext "$T/ku-ca.csr" "keyUsage=critical,digitalSignature,keyCertSign"
run_fail 1 revd issue --ca sub --csr "$T/ku-ca.csr" --template passthrough
assert_contains "$ERR" "keyCertSign"
csr_ext "$T/nc.csr" "nameConstraints=permitted;DNS:x.example"
run_fail 1 revd issue --ca sub --csr "$T/nc.csr" --template passthrough
assert_contains "$ERR" "Name Constraints"
csr_ext "$T/bc.csr" "basicConstraints=critical,CA:TRUE"
run_fail 1 revd issue --ca sub --csr "$T/bc.csr" --template passthrough
assert_contains "$ERR" "sub-ca"
# What would make the holder an OCSP responder for the CA, or claim what a
# private CA never validated: the review's CSR first, then each alone.
csr_ext "$T/resp.csr" "extendedKeyUsage=OCSPSigning,2.5.29.37.0
1.3.6.1.5.5.7.48.1.5=ASN1:NULL
certificatePolicies=2.23.140.1.2.1"
run_fail 1 revd issue --ca sub --csr "$T/resp.csr" --template passthrough
for spec in "extendedKeyUsage=OCSPSigning|OCSPSigning" \
    "extendedKeyUsage=serverAuth,2.5.29.37.0|anyExtendedKeyUsage" \
    "extendedKeyUsage=clientAuth,1.3.6.1.4.1.311.20.2.2|1.3.6.1.4.1.311.20.2.2" \
    "1.3.6.1.5.5.7.48.1.5=ASN1:NULL|ocsp-nocheck" \
    "certificatePolicies=2.23.140.1.2.1|CA/Browser Forum" \
    "certificatePolicies=2.5.29.32.0|anyPolicy"; do
    csr_ext "$T/x.csr" "${spec%%|*}"
    run_fail 1 revd issue --ca sub --csr "$T/x.csr" --template passthrough
    assert_contains "$ERR" "${spec#*|}" "passthrough refusing ${spec%%|*}"
done
csr_ext "$T/x.csr" "certificatePolicies=@pol
[pol]
policyIdentifier=1.3.6.1.4.1.99999.2
CPS.1=http://cps.example/"
run_fail 1 revd issue --ca sub --csr "$T/x.csr" --template passthrough
assert_contains "$ERR" "qualifiers" "passthrough refusing a policy with a CPS qualifier"
assert_unchanged "$before" sub
csr_ext "$T/pol.csr" "certificatePolicies=1.3.6.1.4.1.99999.1"
run_ok revd issue --ca sub --csr "$T/pol.csr" --template passthrough
printf '%s\n' "$OUT" | openssl x509 -noout -ext certificatePolicies | grep -q 1.3.6.1.4.1.99999.1 ||
    fail "a bare private policy was not copied"
before=$(snapshot sub)
csr_ext "$T/ok.csr" "keyUsage=critical,digitalSignature
extendedKeyUsage=codeSigning
tlsfeature=status_request"
run_ok revd issue --ca sub --csr "$T/ok.csr" --template passthrough
printf '%s\n' "$OUT" > "$T/pt.pem"
exts=$(openssl x509 -in "$T/pt.pem" -noout -ext keyUsage,extendedKeyUsage,tlsfeature,basicConstraints)
assert_contains "$exts" "Code Signing"
assert_contains "$exts" "status_request"
assert_contains "$exts" "CA:FALSE"

step "RSA keys with a bad public exponent"
/usr/bin/python3 - "$T/rsa-e1.csr" <<'PY' || skip "cannot build an RSA CSR with e=1 here"
import sys
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography import x509
from cryptography.x509.oid import NameOID
# A CSR's signature is made with the private key; e is only in the public
# half, so a key with e=65537 signs, and the public key sent claims e=1.
k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e")]))
       .sign(k, hashes.SHA256()))
der = bytearray(csr.public_bytes(serialization.Encoding.DER))
e65537 = bytes([0x02, 0x03, 0x01, 0x00, 0x01])
i = der.find(e65537)
assert i > 0
der[i:i + 5] = bytes([0x02, 0x03, 0x00, 0x00, 0x01])  # e = 1 (non-minimal, still refused)
open(sys.argv[1], "wb").write(bytes(der))
PY
run_fail 1 revd issue --ca sub --csr "$T/rsa-e1.csr"

pass
