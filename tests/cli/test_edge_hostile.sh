#!/bin/bash
# Hostile messages in the streams an edge reads (issue 16): published
# straight into JetStream beside the primary's (tests/cli/natsraw.py speaks
# NATS's text protocol; the payloads follow feed/msg.h). The edge refuses
# each one (revd_edge_refused_total grows by one, an edge.refused line) and
# keeps answering what it answered, byte for byte the primary's:
#   a truncated payload; a response with truncated DER; a response with a
#   flipped signature byte; another CA's response under one of ours; the
#   good response of a since revoked certificate replayed (its old version,
#   and again with a forged higher version: its signed thisUpdate is older
#   than the revoked one's); an older CRL replayed (its old version, and a
#   forged higher version: its number is lower); a CRL with a flipped
#   signature byte, with truncated DER, another CA's CRL; a CA certificate
#   that does not chain to --trust, and a response of that CA.
# A forged high version on a key does not stop the primary's next real
# change to that key from reaching the edge.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/edgelib.sh"
NR=$CLI_DIR/natsraw.py

D=$T/d
make_demo_ca 5
# another CA, not under the edge's trust anchors
D2=$T/d2
run_ok revd ca create-root --dir "$D2" --name other --subject /CN=other
issue_to "$T/o1.pem" --dir "$D2" --ca other --csr "$T/ee.csr"
run_ok revd ocsp respond --dir "$D2" --ca other --serial "$(serial_of "$T/o1.pem")" --hash sha1 --out "$T/o1.sha1.der"
run_ok revd ocsp respond --dir "$D2" --ca other --serial "$(serial_of "$T/o1.pem")" --hash sha256 --out "$T/o1.sha256.der"
run_ok revd crl rebuild --dir "$D2" --ca other
[ -f "$D2/crl/other/ca.crl" ] || fail "no $D2/crl/other/ca.crl after revd crl rebuild: $(ls -R "$D2/crl")"

nats_start n1
primary_start "$T/primary.log" "$NATS_URL_n1" --crl-coalesce 200ms
primary_wait_published 60
edge_start e1 "$NATS_URL_n1"
edge_wait_ready e1 60
E=$EURL_e1
NP=$NATS_PORT_n1

step "the primary's messages, read back from the streams"
"$PY" "$NR" "$NP" find-ocsp "$(serial_of "$T/c2.pem")" "$T/m.c2" || fail "no message for c2 in the streams"
"$PY" "$NR" "$NP" find-ocsp "$(serial_of "$T/c3.pem")" "$T/m.c3" || fail "no message for c3 in the streams"
"$PY" "$NR" "$NP" meta-ca "$T/meta" || fail "no CA messages in REVD_META"
grep -q ' sub$' "$T/meta" || fail "no CA message for sub: $(cat "$T/meta")"
for p in 0 1; do
    "$PY" "$NR" "$NP" find-crl "/crl/sub/$p.crl" "$T/m.crl$p" || fail "no message for /crl/sub/$p.crl"
done

step "c3 revoked on the primary: revoked on the edge, its partition's CRL too"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c3.pem")" --reason keyCompromise
wait_status "$E" "$T/c3.pem" revoked 10
"$PY" "$NR" "$NP" find-ocsp "$(serial_of "$T/c3.pem")" "$T/m.c3new" || fail "no message for c3 after its revocation"
cmp -s "$T/m.c3" "$T/m.c3new" && fail "c3's message did not change with its revocation"
# the partition holding c3: the one whose message changed
CP=""
deadline=$(( $(date +%s) + 10 ))
while [ -z "$CP" ]; do
    for p in 0 1; do
        "$PY" "$NR" "$NP" find-crl "/crl/sub/$p.crl" "$T/m.crl$p.new" || fail "no message for /crl/sub/$p.crl"
        cmp -s "$T/m.crl$p" "$T/m.crl$p.new" || CP=$p
    done
    [ -n "$CP" ] || [ "$(date +%s)" -le "$deadline" ] || fail "no CRL message changed within 10 s of the revocation"
    [ -n "$CP" ] || sleep 0.2
done
wait_same "$PURL" "$E" "/crl/sub/$CP.crl" 10 "c3's partition"

step "forged payloads"
"$PY" - "$T" "$CP" "$CLI_DIR" <<'PY' || fail "could not forge the payloads"
import sys
t, cp, cli = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, cli)
import natsraw as nr
from cryptography.x509 import ocsp
def rd(f): return open("%s/%s" % (t, f), "rb").read()
def wr(name, subject, payload):
    open("%s/h.%s" % (t, name), "wb").write(payload)
    open("%s/h.%s.subject" % (t, name), "w").write(subject)
HIGH = 1 << 62
c2 = nr.decode(rd("m.c2")); c2s = rd("m.c2.subject").decode()
# 1. the payload cut in the middle of the second response
p = rd("m.c2"); wr("1-truncated-payload", c2s, p[: len(p) - 40])
# 2. both responses' DER truncated, the lengths consistent
m = dict(c2); m["version"] = HIGH; m["der"] = [d[: len(d) - 30] for d in c2["der"]]
wr("2-truncated-der", c2s, nr.encode(m))
# 3. a byte of each response's signature flipped
def flip(d):
    sig = ocsp.load_der_ocsp_response(d).signature
    i = d.rfind(sig)
    assert i > 0, "signature not found"
    b = bytearray(d); b[i + len(sig) // 2] ^= 0x01
    return bytes(b)
m = dict(c2); m["version"] = HIGH; m["der"] = [flip(d) for d in c2["der"]]
wr("3-flipped-signature", c2s, nr.encode(m))
# 4. another CA's responses (valid, signed by it) under c2's key
m = dict(c2); m["version"] = HIGH; m["der"] = [rd("o1.sha1.der"), rd("o1.sha256.der")]
wr("4-other-ca", c2s, nr.encode(m))
# 5. c3's good message, replayed after its revocation, as it was
c3s = rd("m.c3.subject").decode()
wr("5-replay", c3s, rd("m.c3"))
# 20 (last: when it is taken, c3 is answered good from then on). The same
# with a forged higher version: the version is not signed, the response's
# thisUpdate is, and is older than the revoked response's.
m = nr.decode(rd("m.c3")); m["version"] = HIGH
wr("20-replay-high-version", c3s, nr.encode(m))
# 6. c3's partition's older CRL, as it was; 7. with a forged higher version
crls = rd("m.crl%s.subject" % cp).decode()
wr("6-old-crl", crls, rd("m.crl%s" % cp))
m = nr.decode(rd("m.crl%s" % cp)); m["version"] = HIGH
wr("7-old-crl-high-version", crls, nr.encode(m))
# 8. a CA certificate that does not chain to the anchors, under a new id;
# 9. a response of that CA under that id (subjects as the primary writes them)
new = max(int(l.split()[0]) for l in open("%s/meta" % t).read().split("\n") if l) + 1000
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
o1 = x509.load_pem_x509_certificate(rd("o1.pem"))
other = x509.load_pem_x509_certificate(open("%s/d2/ca/other.pem" % t, "rb").read())
m = {"magic": b"RVA1", "version": HIGH, "caid": new, "name": "other", "der": [other.public_bytes(Encoding.DER)]}
wr("8-untrusted-ca", nr.subject(m), nr.encode(m))
ser = o1.serial_number.to_bytes((o1.serial_number.bit_length() + 7) // 8, "big")
m = {"magic": b"RVO1", "version": HIGH, "caid": new, "serial": ser, "der": [rd("o1.sha1.der"), rd("o1.sha256.der")]}
wr("9-untrusted-ca-response", nr.subject(m), nr.encode(m))
# 11. the partition's current CRL with a byte of its signature flipped;
# 12. its DER truncated; 13. another CA's CRL under its key
cur = nr.decode(rd("m.crl%s.new" % cp))
def flip_crl(d):
    sig = x509.load_der_x509_crl(d).signature
    i = d.rfind(sig)
    assert i > 0, "signature not found"
    b = bytearray(d); b[i + len(sig) // 2] ^= 0x01
    return bytes(b)
m = dict(cur); m["version"] = HIGH; m["der"] = [flip_crl(cur["der"][0])]
wr("11-crl-flipped-signature", crls, nr.encode(m))
m = dict(cur); m["version"] = HIGH; m["der"] = [cur["der"][0][:-25]]
wr("12-crl-truncated-der", crls, nr.encode(m))
m = dict(cur); m["version"] = HIGH; m["der"] = [open("%s/d2/crl/other/ca.crl" % t, "rb").read()]
wr("13-crl-other-ca", crls, nr.encode(m))
# the subjects of the primary's messages are the ones nr.subject writes
for f in ("m.c2", "m.c3", "m.crl%s" % cp):
    assert nr.subject(nr.decode(rd(f))) == rd(f + ".subject").decode(), "%s: subject %s" % (f, rd(f + ".subject"))
PY

# answers_unchanged WHAT: c2 good, c3 revoked, c3's partition: the primary's bytes.
answers_unchanged() {
    same_bytes "$PURL" "$E" "/ocsp/$(ocsp_req "$T/c2.pem")" "c2 after $1"
    same_bytes "$PURL" "$E" "/ocsp/$(ocsp_req "$T/c3.pem")" "c3 after $1"
    assert_eq "$(ocsp_status "$T/sb.b" "$T/c3.pem")" revoked "c3 after $1"
    same_bytes "$PURL" "$E" "/crl/sub/$CP.crl" "c3's partition after $1"
}

step "each forged message refused, counted, logged; the answers unchanged"
refused0=$(metric "$E" revd_edge_refused_total)
assert_eq "$refused0" 0 "refused before the forged messages"
lines0=$(log_count "$T/e1.log" 'event=edge.refused')
n=0
# Every case is tried and reported (KEEP_GOING), so that one run says which
# are refused and which are not.
KG=${KEEP_GOING:-0}; KEEP_GOING=1
for f in $(cd "$T" && ls h.* | grep -v '\.subject$' | sort -t- -k1.3n); do
    name=${f#h.}
    subj=$(cat "$T/$f.subject")
    step "forged message $name"
    o=$("$PY" "$NR" "$NP" pub "$subj" "$T/$f" 2>&1) || { fail "publishing on $subj failed: $o"; continue; }
    assert_not_contains "$o" '"duplicate": true' "the stream's ack"
    n=$((n + 1))
    deadline=$(( $(date +%s) + 10 ))
    until [ "$(metric "$E" revd_edge_refused_total)" -ge $((refused0 + n)) ]; do
        if [ "$(date +%s)" -gt "$deadline" ]; then
            LAST_CMD=""
            fail "not refused (on $subj): revd_edge_refused_total $(metric "$E" revd_edge_refused_total), expected $((refused0 + n)); edge log: $(tail -2 "$T/e1.log")"
            refused0=$((refused0 - 1)) # the next case's count
            break
        fi
        sleep 0.1
    done
    answers_unchanged "$name"
done
KEEP_GOING=$KG
# (the steps below run too; pass reports FAIL if a case above failed)
echo "$n forged messages published; revd_edge_refused_total $(metric "$E" revd_edge_refused_total)"
assert_eq "$(metric "$E" revd_edge_refused_total)" "$((refused0 + n))" "revd_edge_refused_total after $n forged messages"
lines=$(( $(log_count "$T/e1.log" 'event=edge.refused') - lines0 ))
# (at most 10 lines an event per 10 s: common/log.h)
[ "$lines" -ge 9 ] || fail "$lines edge.refused lines for $n refused messages: $(grep 'event=edge.refused' "$T/e1.log" | head -12)"
assert_match "$(grep -m1 'event=edge.refused' "$T/e1.log")" "refused a message on revd\.[a-z]+\.[^ ]*: " "an edge.refused line"
grep 'event=edge.refused' "$T/e1.log" | grep -q 'revd\.crl\.' || fail "no edge.refused line names a CRL subject"
grep 'event=edge.refused' "$T/e1.log" | grep -q 'revd\.meta\.ca\.' || fail "no edge.refused line names the untrusted CA's subject"

step "nothing of the untrusted CA is served"
assert_eq "$(http_code "$E/ca/other.der")" 404 "the untrusted CA's certificate"
o=$(openssl ocsp -issuer "$D2/ca/other.pem" -cert "$T/o1.pem" -url "$E/ocsp" -no_nonce 2>&1)
assert_contains "$o" "unauthorized (6)" "a certificate of the untrusted CA"

step "a change of a key no forged message touched reaches the edge"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c5.pem")" --reason superseded
wait_status "$E" "$T/c5.pem" revoked 10
same_bytes "$PURL" "$E" "/ocsp/$(ocsp_req "$T/c5.pem")" "c5 revoked"

step "the primary's next change of a key whose stream message was forged reaches the edge"
# The forged messages replaced the primary's last message on c2's and the
# CRL's subjects in the streams (one kept per subject): the primary's next
# publish there must still land, and the forged high versions, refused,
# must not hold it back on the edge.
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c2.pem")" --reason superseded
wait_status "$E" "$T/c2.pem" revoked 15
same_bytes "$PURL" "$E" "/ocsp/$(ocsp_req "$T/c2.pem")" "c2 revoked"
wait_same "$PURL" "$E" "/crl/sub/$CP.crl" 15 "c3's partition after c2's revocation"
assert_eq "$(http_code "$E/healthz")" 200 "/healthz after the forged messages"

stop_pid "$EDGE_PID_e1" 20; assert_eq "$?" 0 "the edge's exit status after SIGTERM"
stop_pid "$PRIMARY" 20
pass
