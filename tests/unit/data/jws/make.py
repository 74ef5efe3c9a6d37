#!/usr/bin/python3
"""Writes josepy.json: ACME request bodies signed by certbot's client code
(python3-acme's acme.jws.JWS and acme.messages.ExternalAccountBinding, over
python3-josepy), with fresh keys, for tests/unit/test_jws.c to parse and
verify: a cross-check of acme/jws.c against an independent implementation.
Regenerate with /usr/bin/python3 tests/unit/data/jws/make.py (Debian's
python3-acme and python3-josepy); the keys differ each run."""
import base64
import json
import os

import josepy as jose
from acme import jws as acme_jws
from acme import messages
from cryptography.hazmat.primitives.asymmetric import ec, rsa

URL = "https://acme.example/acme/new-account"


def case(name, key, alg, payload, kid=None):
    body = acme_jws.JWS.sign(payload, key=key, alg=alg, nonce=b"nonce-" + name.encode(), url=URL, kid=kid)
    pub = key.public_key()
    return {
        "name": name,
        "body": body.json_dumps(),
        "jwk": pub.to_partial_json(),
        "thumbprint": jose.b64.b64encode(pub.thumbprint()).decode(),
    }


def main():
    rsa_key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    p256 = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    p384 = jose.JWKEC(key=ec.generate_private_key(ec.SECP384R1()))
    new_acct = json.dumps({"termsOfServiceAgreed": True, "contact": ["mailto:a@example.org"]}).encode()
    cases = [
        case("rs256-jwk", rsa_key, jose.RS256, new_acct),
        case("es256-jwk", p256, jose.ES256, new_acct),
        case("es384-jwk", p384, jose.ES384, new_acct),
        case("es256-kid-post-as-get", p256, jose.ES256, b"", kid="https://acme.example/acme/acct/1"),
        case("rs256-kid", rsa_key, jose.RS256, b"{}", kid="https://acme.example/acme/acct/2"),
    ]
    hmac_key = jose.b64.b64encode(os.urandom(32)).decode()
    eab = messages.ExternalAccountBinding.from_data(p256.public_key(), "eab-kid-1", hmac_key, {"newAccount": URL})
    out = {
        "cases": cases,
        "eab": {"eab": eab, "hmac_key": hmac_key, "url": URL, "jwk": p256.public_key().to_partial_json()},
    }
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "josepy.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
