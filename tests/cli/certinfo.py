#!/usr/bin/python3
"""certinfo.py FILE: prints the facts of the first certificate in FILE (PEM or
DER) as `key=value` lines, in a fixed form, so the shell tests can compare
exact strings instead of grepping `openssl x509 -text` prose.

Run with /usr/bin/python3 (Debian's python3-cryptography), not a pyenv python.

Lines:
  serial=HEX           the DER INTEGER content octets, upper case (as openssl
                       x509 -serial prints them); serial_len=N their count;
                       serial_positive=yes|no
  version=3
  subject=/CN=.../O=.. issuer=... (RDNs in certificate order)
  not_before=, not_after=        YYYY-MM-DDTHH:MM:SSZ; *_epoch= seconds
  key=ec-p256|ec-p384|ec-p521|rsa-N|dsa-N|ed25519|other
  bc=none | [critical,]CA:TRUE[,pathlen:N] | [critical,]CA:FALSE
  ku=none | [critical,]name,name...  (openssl's names, in openssl's order)
  eku=none | name,name... (sorted; openssl short names or dotted OIDs)
  ski=none|HEX, aki=none|HEX (key identifier only)
  cdp=none|URI;URI   ocsp=none|URI;..   ca_issuers=none|URI;..
  san=none|DNS:x;IP:y;email:z (certificate order)
  ocsp_nocheck=yes|no
  ext_oids=OID[!],... every extension, `!` when critical, sorted
"""
import datetime
import sys

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID


def der_items(buf, pos):
    """Yields (tag, content_start, content_end) of the DER items in buf[pos:]."""
    while pos < len(buf):
        tag = buf[pos]
        ln = buf[pos + 1]
        pos += 2
        if ln & 0x80:
            n = ln & 0x7F
            ln = int.from_bytes(buf[pos:pos + n], "big")
            pos += n
        yield tag, pos, pos + ln
        pos += ln


def serial_octets(tbs):
    # TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER, ... }
    _, start, end = next(der_items(tbs, 0))
    for tag, s, e in der_items(tbs[:end], start):
        if tag == 0xA0:
            continue
        if tag != 0x02:
            raise SystemExit("certinfo: TBSCertificate has no serial INTEGER")
        return tbs[s:e]
    raise SystemExit("certinfo: empty TBSCertificate")


def utc(dt):
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def tstr(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def name_str(name):
    parts = []
    for rdn in name.rdns:
        for attr in rdn:
            parts.append("/%s=%s" % (attr.rfc4514_attribute_name, attr.value))
    return "".join(parts)


def key_str(pub):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384",
                "secp521r1": "ec-p521"}.get(pub.curve.name, "ec-" + pub.curve.name)
    if isinstance(pub, rsa.RSAPublicKey):
        return "rsa-%d" % pub.key_size
    if isinstance(pub, dsa.DSAPublicKey):
        return "dsa-%d" % pub.key_size
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "ed25519"
    return "other"


KU_ORDER = [
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
]
EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}


def general_name(gn):
    if isinstance(gn, x509.DNSName):
        return "DNS:" + gn.value
    if isinstance(gn, x509.IPAddress):
        return "IP:" + str(gn.value)
    if isinstance(gn, x509.RFC822Name):
        return "email:" + gn.value
    if isinstance(gn, x509.UniformResourceIdentifier):
        return "URI:" + gn.value
    return "other:" + repr(gn)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: certinfo.py CERTFILE")
    data = open(sys.argv[1], "rb").read()
    if b"-----BEGIN" in data:
        cert = x509.load_pem_x509_certificate(data)
    else:
        cert = x509.load_der_x509_certificate(data)
    out = []
    so = serial_octets(cert.tbs_certificate_bytes)
    out.append("serial=" + so.hex().upper())
    out.append("serial_len=%d" % len(so))
    out.append("serial_positive=" + ("yes" if cert.serial_number > 0 else "no"))
    out.append("version=%d" % (cert.version.value + 1))
    out.append("subject=" + name_str(cert.subject))
    out.append("issuer=" + name_str(cert.issuer))
    nb = utc(getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before)
    na = utc(getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after)
    out.append("not_before=" + tstr(nb))
    out.append("not_after=" + tstr(na))
    out.append("not_before_epoch=%d" % int(nb.timestamp()))
    out.append("not_after_epoch=%d" % int(na.timestamp()))
    out.append("key=" + key_str(cert.public_key()))

    exts = cert.extensions

    def get(oid):
        try:
            return exts.get_extension_for_oid(oid)
        except x509.ExtensionNotFound:
            return None

    e = get(ExtensionOID.BASIC_CONSTRAINTS)
    if e is None:
        out.append("bc=none")
    else:
        s = "CA:TRUE" if e.value.ca else "CA:FALSE"
        if e.value.path_length is not None:
            s += ",pathlen:%d" % e.value.path_length
        out.append("bc=" + ("critical," if e.critical else "") + s)

    e = get(ExtensionOID.KEY_USAGE)
    if e is None:
        out.append("ku=none")
    else:
        names = [n for attr, n in KU_ORDER if getattr(e.value, attr)]
        if e.value.key_agreement:
            if e.value.encipher_only:
                names.append("encipherOnly")
            if e.value.decipher_only:
                names.append("decipherOnly")
        out.append("ku=" + ("critical," if e.critical else "") + ",".join(names))

    e = get(ExtensionOID.EXTENDED_KEY_USAGE)
    if e is None:
        out.append("eku=none")
    else:
        out.append("eku=" + ",".join(sorted(EKU_NAMES.get(o.dotted_string, o.dotted_string)
                                            for o in e.value)))

    e = get(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    out.append("ski=" + ("none" if e is None else e.value.digest.hex().upper()))
    e = get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    out.append("aki=" + ("none" if e is None or e.value.key_identifier is None
                         else e.value.key_identifier.hex().upper()))

    e = get(ExtensionOID.CRL_DISTRIBUTION_POINTS)
    if e is None:
        out.append("cdp=none")
    else:
        uris = []
        for dp in e.value:
            for gn in dp.full_name or []:
                if isinstance(gn, x509.UniformResourceIdentifier):
                    uris.append(gn.value)
        out.append("cdp=" + (";".join(uris) or "none"))

    e = get(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    ocsp, cai = [], []
    if e is not None:
        for ad in e.value:
            if not isinstance(ad.access_location, x509.UniformResourceIdentifier):
                continue
            if ad.access_method == AuthorityInformationAccessOID.OCSP:
                ocsp.append(ad.access_location.value)
            elif ad.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                cai.append(ad.access_location.value)
    out.append("ocsp=" + (";".join(ocsp) or "none"))
    out.append("ca_issuers=" + (";".join(cai) or "none"))

    e = get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    out.append("san=" + ("none" if e is None else ";".join(general_name(g) for g in e.value)))

    out.append("ocsp_nocheck=" + ("no" if get(ExtensionOID.OCSP_NO_CHECK) is None else "yes"))
    out.append("ext_oids=" + ",".join(sorted(x.oid.dotted_string + ("!" if x.critical else "")
                                             for x in exts)))
    print("\n".join(out))


if __name__ == "__main__":
    main()
