#!/bin/sh
# Regenerates the OCSP requests that tests/unit/test_ocsp_request.c reads,
# with the real client: `openssl ocsp -reqout`. A throwaway CA (issuer.pem,
# kept: the tests recompute the CertID hashes from it) issues a leaf and a
# request signer; their keys are thrown away.
#
#   sh tests/unit/data/ocsp/make.sh      (from anywhere; writes next to itself)
#
# Serials used below are the tests' expectations: change both together.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ec ca.key
openssl req -x509 -new -key ca.key -subj "/O=revd test/CN=revd test OCSP issuer" \
    -days 36500 -sha256 -out issuer.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign

ec leaf.key
openssl req -new -key leaf.key -subj "/CN=leaf.example" -out leaf.csr
openssl x509 -req -in leaf.csr -CA issuer.pem -CAkey ca.key -set_serial 0x1234 \
    -days 36500 -sha256 -out leaf.pem 2>/dev/null

ec signer.key
openssl req -new -key signer.key -subj "/O=revd test/CN=OCSP requester" -out signer.csr
openssl x509 -req -in signer.csr -CA issuer.pem -CAkey ca.key -set_serial 0x77 \
    -days 36500 -sha256 -out signer.pem 2>/dev/null

req() { # name, then openssl ocsp arguments
    n=$1; shift
    openssl ocsp -issuer issuer.pem "$@" -reqout "$here/$n.der" >/dev/null
}

req sha1_no_nonce -no_nonce -serial 0x01
req sha1_nonce -serial 0x01
req sha1_cert -no_nonce -cert leaf.pem
req sha256 -no_nonce -sha256 -serial 0x0102
req sha384 -nonce -sha384 -serial 0x0102
req sha512 -no_nonce -sha512 -serial 0x0102
# Three requests; the first is answered. The digest applies to what follows it.
req multi -serial 0x05 -sha256 -serial 0x06 -serial 0x07
# 20 octets with the top bit set: 21 content octets (a leading 0x00).
req serial_20 -no_nonce -serial 0xFFEEDDCCBBAA99887766554433221100FFEEDDCC
# 128 and 255 (lengths of the serial around the sign bit).
req serial_80 -no_nonce -serial 0x80
req serial_7f -no_nonce -serial 0x7f
# Signed: requestorName (the signer's subject) and optionalSignature, with
# and without the signer's certificate.
req signed -cert leaf.pem -signer signer.pem -signkey signer.key
req signed_no_certs -no_nonce -cert leaf.pem -signer signer.pem -signkey signer.key -no_certs

cp issuer.pem "$here/issuer.pem"
ls -l "$here"
