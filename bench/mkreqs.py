#!/usr/bin/python3
"""bench/mkreqs.py ISSUER.pem SERIALS-FILE OUT [--nonce] [--sha256]

Writes OUT: one OCSP request per line, base64 of its DER (the format
bench/loadgen reads), for each serial (hex, one per line) of SERIALS-FILE,
with the CertID of ISSUER.pem (SHA-1 by default). --nonce adds a random
16-octet nonce (RFC 9654) to each. DER encoded by hand: Debian's
cryptography has no add_certificate_by_hash."""
import base64
import hashlib
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def tlv(tag, body):
    n = len(body)
    if n < 128:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def integer(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # a leading 0 when the top bit is set
    return tlv(0x02, b)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    nonce = "--nonce" in sys.argv
    sha256 = "--sha256" in sys.argv
    issuer = x509.load_pem_x509_certificate(open(args[0], "rb").read())
    # The subjectPublicKey BIT STRING's contents: the EC point, or the
    # RSAPublicKey DER.
    pub = issuer.public_key()
    from cryptography.hazmat.primitives.asymmetric import ec
    if isinstance(pub, ec.EllipticCurvePublicKey):
        key_bits = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    else:
        key_bits = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    h = hashlib.sha256 if sha256 else hashlib.sha1
    name_hash = h(issuer.subject.public_bytes()).digest()
    key_hash = h(key_bits).digest()
    alg = tlv(0x30, tlv(0x06, bytes.fromhex("608648016503040201" if sha256 else "2b0e03021a")) + b"\x05\x00")
    with open(args[2], "w") as out:
        for line in open(args[1]):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            certid = tlv(0x30, alg + tlv(0x04, name_hash) + tlv(0x04, key_hash) + integer(int(s, 16)))
            body = tlv(0x30, tlv(0x30, certid))  # requestList { Request { reqCert } }
            if nonce:
                ext = tlv(0x30, tlv(0x06, bytes.fromhex("2b0601050507300102")) + tlv(0x04, tlv(0x04, os.urandom(16))))
                body += tlv(0xa2, tlv(0x30, ext))
            out.write(base64.b64encode(tlv(0x30, tlv(0x30, body))).decode() + "\n")


if __name__ == "__main__":
    main()
