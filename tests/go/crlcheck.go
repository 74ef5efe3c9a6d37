// crlcheck CRL.der CA.pem [SERIAL-HEX...]: Go's crypto/x509 reads a CRL revd
// wrote (x509.ParseRevocationList), checks its signature against the CA
// (CheckSignatureFrom), that it carries a CRL number and an issuer equal to
// the CA's subject, and that exactly the given serials are listed.
// Exits 1 with a message otherwise. Used by tests/cli/test_crl.sh.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
)

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "crlcheck: "+f+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: crlcheck CRL.der CA.pem [SERIAL-HEX...]")
	}
	der, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		fail("ParseRevocationList: %v", err)
	}
	p, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	block, _ := pem.Decode(p)
	if block == nil {
		fail("no PEM in %s", os.Args[2])
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		fail("ParseCertificate: %v", err)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		fail("CheckSignatureFrom: %v", err)
	}
	if crl.Number == nil || crl.Number.Sign() <= 0 {
		fail("no CRL number")
	}
	if crl.Issuer.String() != ca.Subject.String() {
		fail("issuer %q, CA subject %q", crl.Issuer, ca.Subject)
	}
	want := map[string]bool{}
	for _, s := range os.Args[3:] {
		n, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(s), "0x"), 16)
		if !ok {
			fail("bad serial %s", s)
		}
		want[n.String()] = true
	}
	if len(crl.RevokedCertificates) != len(want) {
		fail("%d entries, expected %d", len(crl.RevokedCertificates), len(want))
	}
	for _, r := range crl.RevokedCertificates {
		if !want[r.SerialNumber.String()] {
			fail("unexpected entry %x", r.SerialNumber)
		}
	}
	fmt.Println("ok: number", crl.Number, "entries", len(crl.RevokedCertificates))
}
