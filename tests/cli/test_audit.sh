#!/bin/bash
# revd audit verify / export: the operations log is a hash chain (each record
# carries the SHA-256 of the one before it, and a head record the last one's)
# that RocksDB's own ldb tool edits behind revd's back here: an edited, a
# removed, a reordered, an appended record, a removed tail, and a log rewritten
# whole (caught by --anchor). Export as JSON and CSV, read back by Python;
# every CRL signed is recorded with the SHA-256 of the file published; the
# principal and source of local and forwarded commands.
. "$(dirname "$0")/lib.sh"
command -v ldb >/dev/null 2>&1 || skip "RocksDB's ldb is not installed (apt-get install rocksdb-tools)"

D=$REVD_DIR
step "a log of a dozen operations verifies"
create_root r
make_csr x /CN=x
for i in 1 2 3 4; do
    run_ok revd issue --ca r --csr "$T/x.csr"
    printf '%s\n' "$OUT" >"$T/c$i.pem"
done
run_ok revd revoke --ca r --serial "$(serial_of "$T/c2.pem")" --reason keyCompromise
run_fail 1 revd revoke --ca r --serial "$(serial_of "$T/c2.pem")"
# A bulk revocation refused part way (the third serial was never issued):
# nothing of it is in the log but its failure, and no event says otherwise.
printf '%s\n%s\n0BADC0DE\n' "$(serial_of "$T/c3.pem")" "$(serial_of "$T/c4.pem")" >"$T/bulk.txt"
ev_before=$(grep -c . "$REVD_DIR/events.jsonl")
run_fail 1 revd revoke --ca r --file "$T/bulk.txt"
assert_eq "$(grep -c . "$REVD_DIR/events.jsonl")" "$ev_before" "events after a refused bulk revocation"
run_ok revd crl rebuild --ca r
run_ok revd audit verify
assert_contains "$OUT" "chain intact"
N=$(revd log | grep -c .)
assert_contains "$OUT" "audit log: $N records"
HEAD=$(printf '%s\n' "$OUT" | sed -n 's/^head: //p')
assert_match "$HEAD" "^$N:[0-9a-f]{64}$" "the head line"

step "export: JSON is the stored records, chained; CSV has the same rows"
run_ok revd audit export --format json
printf '%s\n' "$OUT" >"$T/log.json"
run_ok revd audit export --format csv
printf '%s\n' "$OUT" >"$T/log.csv"
"$PY" - "$T/log.json" "$T/log.csv" "$N" "${HEAD#*:}" "$D" <<'PYEOF' || fail "export check"
import csv, hashlib, json, sys
jpath, cpath, n, head, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
text = open(jpath, "rb").read()
recs = json.loads(text)
assert len(recs) == n, (len(recs), n)
# The array holds one stored record per line: hash those bytes, independently.
lines = [l.rstrip(b",") for l in text.split(b"\n")[1:-2]]
assert len(lines) == n
prev = "0" * 64
for i, (l, r) in enumerate(zip(lines, recs)):
    assert json.loads(l) == r
    assert r["seq"] == i + 1, r
    assert r["prev"] == prev, (i, r["prev"], prev)
    for k in ("time", "op", "ca", "params", "result", "principal", "source"):
        assert k in r, (k, r)
    prev = hashlib.sha256(l).hexdigest()
assert prev == head, (prev, head)
rows = list(csv.DictReader(open(cpath, newline="")))
assert len(rows) == n
assert list(rows[0].keys()) == "seq time principal source op ca serial result params prev".split()
for row, r in zip(rows, recs):
    assert int(row["seq"]) == r["seq"] and row["op"] == r["op"] and row["prev"] == r["prev"]
    assert json.loads(row["params"]) == r["params"]
assert [r["result"] for r in recs].count("ok") == n - 2
failed = [r for r in recs if r["result"] != "ok"]
assert [f["op"] for f in failed] == ["revoke", "revoke"], failed
assert all(f["result"].startswith("error: ") for f in failed), failed
assert failed[1]["params"].get("count") == 3, failed[1]   # the refused bulk revocation: one record
# Every CRL the CA key signed is in the log, with the hash of what was published.
signs = {str(r["params"]["partition"]): r for r in recs if r["op"] == "crl-sign"}
assert set(signs) == {"ca", "0"}, signs.keys()
for part, f in (("ca", "ca.crl"), ("0", "0.crl")):
    assert signs[part]["params"]["sha256"] == hashlib.sha256(open(d + "/crl/r/" + f, "rb").read()).hexdigest()
    assert signs[part]["params"]["number"] == 1
assert signs["0"]["params"]["entries"] == 1
PYEOF

step "the principal of a local command, and of one forwarded to a server"
me="uid:$(id -u)($(id -un))"
assert_contains "$(revd log | head -1)" "\"principal\":\"$me\",\"source\":\"cli pid="
serve_bg "$T/serve.log"
run_ok revd revoke --ca r --serial "$(serial_of "$T/c3.pem")"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
last=$(revd log | grep '"op":"revoke"' | tail -1)
assert_contains "$last" "\"principal\":\"$me\",\"source\":\"unix pid="
run_ok revd audit verify
N=$(revd log | grep -c .)
HEAD=$(printf '%s\n' "$OUT" | sed -n 's/^head: //p')
[ "$N" -ge 10 ] || fail "expected at least 10 records, have $N"

# key SEQ: the index key of record SEQ, as ldb --key_hex takes it.
key() { printf '0x6F%016X' "$1"; }
# value SEQ: record SEQ's stored bytes, hex.
value() { ldb --db="$1/index" --key_hex --value_hex get "$(key "$2")"; }
tampered() { rm -rf "$T/t"; cp -a "$D" "$T/t"; }
# verify_fails DIR NEEDLE: revd audit verify exits 1 and names the problem.
verify_fails() {
    run_fail_verify "$1"
    assert_contains "$OUT" "$2" "audit verify's report"
    assert_contains "$OUT" "it was tampered with"
}
run_fail_verify() {
    _run revd audit verify --dir "$1"
    [ "$RC" -eq 1 ] || fail "audit verify of a tampered log: expected exit 1, got $RC"
}
put() { ldb --db="$1/index" --key_hex --value_hex put "$2" "$3" >/dev/null || fail "ldb put"; }

step "an edited record: the next one no longer follows it"
tampered
v=$(value "$T/t" 3)
new=$(printf '%s' "$v" | "$PY" -c 'import sys; b=bytes.fromhex(sys.stdin.read().strip()[2:]); print("0x"+b.replace(b"\"ok\"", b"\"OK\"").hex().upper())')
[ "$new" != "$v" ] || fail "the edit changed nothing"
put "$T/t" "$(key 3)" "$new"
verify_fails "$T/t" "record 4 does not follow record 3"

step "a removed record"
tampered
ldb --db="$T/t/index" --key_hex delete "$(key 5)" >/dev/null || fail "ldb delete"
verify_fails "$T/t" "record 5 is missing: removed"

step "two records swapped"
tampered
a=$(value "$T/t" 6); b=$(value "$T/t" 7)
put "$T/t" "$(key 6)" "$b"; put "$T/t" "$(key 7)" "$a"
verify_fails "$T/t" "record 6 says it is record 7"

step "the last record removed (the head remembers it)"
tampered
ldb --db="$T/t/index" --key_hex delete "$(key "$N")" >/dev/null || fail "ldb delete"
verify_fails "$T/t" "the records after it were removed"

step "a removed tail stays visible after the next write"
tampered
ldb --db="$T/t/index" --key_hex delete "$(key "$N")" >/dev/null || fail "ldb delete"
_run revd ca disable r --dir "$T/t"
assert_contains "$ERR" "does not match its head ($N): records were removed or edited"
verify_fails "$T/t" "record $N is missing: removed"

step "the last record edited"
tampered
v=$(value "$T/t" "$N")
put "$T/t" "$(key "$N")" "${v}20"
verify_fails "$T/t" "record $N does not match the head hash"

step "a record appended behind revd's back"
tampered
put "$T/t" "$(key $((N + 1)))" "$(value "$T/t" "$N")"
verify_fails "$T/t" "added behind revd's back"

step "a log rewritten whole, chain and head recomputed: only an anchor catches it"
tampered
ldb --db="$T/t/index" --key_hex --value_hex scan --from=0x6F --to=0x70 >"$T/scan" || fail "ldb scan"
"$PY" - "$T/scan" "$T/puts" <<'PYEOF' || fail "rewriting the log"
import hashlib, json, sys
prev = "0" * 64
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    k, v = [x.strip() for x in line.split(" : ")]
    r = json.loads(bytes.fromhex(v[2:]))
    if r["seq"] == 1:
        r["principal"] = "uid:666(mallory)"
    r["prev"] = prev
    b = json.dumps(r, separators=(",", ":")).encode()
    prev = hashlib.sha256(b).hexdigest()
    out.write("%s 0x%s\n" % (k, b.hex().upper()))
    last = r["seq"]
out.write("0x%s 0x%016X%s\n" % (b"maudit_head".hex().upper(), last, prev.upper()))
PYEOF
while read -r k v; do put "$T/t" "$k" "$v"; done <"$T/puts"
run_ok revd audit verify --dir "$T/t"
assert_contains "$OUT" "chain intact" "a consistent rewrite passes the chain alone"
_run revd audit verify --dir "$T/t" --anchor "$HEAD"
[ "$RC" -eq 1 ] || fail "audit verify --anchor of a rewritten log: expected exit 1, got $RC"
assert_contains "$OUT" "record ${HEAD%%:*} does not match the anchor hash"
run_ok revd audit verify --anchor "$HEAD"

step "usage errors"
run_fail 2 revd audit verify --anchor 3
run_fail 2 revd audit verify --anchor "3:$(printf 'A%.0s' $(seq 64))"
run_fail 2 revd audit export --format xml
run_fail 2 revd audit export
run_fail 2 revd audit
run_ok revd audit --help
pass
