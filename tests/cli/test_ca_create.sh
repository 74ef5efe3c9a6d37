#!/bin/bash
# revd ca create-root / create-sub / list / show / disable / enable:
# key types, defaults, CA certificate contents (checked with openssl and
# python3-cryptography), files and modes, and the refusals (bad names,
# duplicates, unknown parent, child outliving parent, path length).
. "$(dirname "$0")/lib.sh"

SHOW_KEYS="name state parent subject key not-before not-after depth path-len base-url
crl-mode partition-size crl-max-bytes issued revoked on-hold imported certificate"

# assert_path_printed TEXT FILE: TEXT names a path that is FILE.
assert_path_printed() {
    local w
    for w in $1; do
        case "$w" in */ca/*.pem | ca/*.pem) [ "$w" -ef "$2" ] && return 0 ;; esac
    done
    fail "output should name the certificate path $2"
}

# check_ca_cert FILE: what every CA certificate must carry.
check_ca_cert() {
    local info; info=$(certinfo "$1")
    assert_ci "$info" version 3
    assert_match "$(ci bc "$info")" '^critical,CA:TRUE' "$1 basicConstraints"
    local ku; ku=$(ci ku "$info")
    assert_match "$ku" '^critical,' "$1 keyUsage criticality"
    assert_contains "$ku" keyCertSign "$1 keyUsage"
    assert_contains "$ku" cRLSign "$1 keyUsage"
    [ "$(ci ski "$info")" != none ] || fail "$1 has no subjectKeyIdentifier"
    assert_ci "$info" serial_positive yes
}

# ------------------------------------------------------------------ root, defaults
step "create-root defaults"
t0=$(now)
create_root r1
assert_contains "$OUT" "created CA r1" "create-root stdout"
assert_path_printed "$OUT" "$REVD_DIR/ca/r1.pem"
assert_not_contains "$OUT$ERR" "PRIVATE KEY" "create-root output"
[ -s "$REVD_DIR/ca/r1.pem" ] || fail "DIR/ca/r1.pem missing"
assert_file_mode "$REVD_DIR/keys/r1.key" 600
check_ca_cert "$REVD_DIR/ca/r1.pem"
info=$(certinfo "$REVD_DIR/ca/r1.pem")
assert_ci "$info" subject "/CN=r1"
assert_ci "$info" issuer "/CN=r1"
assert_ci "$info" key ec-p256
assert_near "$(ci not_after_epoch "$info")" $((t0 + 3650 * 86400)) 172800 "root default validity (3650 days)"
o=$(openssl verify -CAfile "$REVD_DIR/ca/r1.pem" "$REVD_DIR/ca/r1.pem" 2>&1) ||
    fail "root does not verify against itself: $o"
o=$(openssl x509 -in "$REVD_DIR/ca/r1.pem" -noout -text) || fail "openssl x509 -text failed"
assert_contains "$o" "CA:TRUE" "x509 -text"
assert_contains "$o" "Certificate Sign, CRL Sign" "x509 -text"

step "show r1"
run_ok revd ca show r1
for k in $SHOW_KEYS; do
    printf '%s\n' "$OUT" | grep -q "^$k: " || fail "ca show has no '$k:' line"
done
assert_not_contains "$OUT" "PRIVATE KEY" "ca show"
assert_kv name r1
assert_kv key ec-p256
assert_kv base-url "http://127.0.0.1:8080"
assert_kv not-after "$(ci not_after "$info")"
assert_kv not-before "$(ci not_before "$info")"
assert_match "$(kv not-after)" "$TIME_RE" "not-after"
assert_kv issued 0
assert_kv revoked 0
assert_kv on-hold 0
assert_kv imported 0
assert_contains "$(kv subject)" "CN=r1" "show subject"
assert_match "$(kv crl-mode)" '^(partitioned|complete)$' "crl-mode"
[ "$(kv certificate)" -ef "$REVD_DIR/ca/r1.pem" ] || fail "show certificate: '$(kv certificate)' is not DIR/ca/r1.pem"
r1_depth=$(kv depth)
assert_match "$r1_depth" '^[0-9]+$' "depth"

# ------------------------------------------------------------------ key types
step "key types"
for k in ec-p384 rsa-2048 rsa-3072 rsa-4096; do
    create_root "k-$k" --key "$k"
    i=$(certinfo "$REVD_DIR/ca/k-$k.pem")
    assert_ci "$i" key "$k"
    check_ca_cert "$REVD_DIR/ca/k-$k.pem"
    assert_file_mode "$REVD_DIR/keys/k-$k.key" 600
    run_ok revd ca show "k-$k"
    assert_kv key "$k"
done
before=$(snapshot)
run_fail_arg revd ca create-root --name k-bad --subject /CN=x --key ec-p999
assert_unchanged "$before"
run_fail_arg revd ca create-root --name k-bad --subject /CN=x --key dsa-2048
assert_unchanged "$before"

# ------------------------------------------------------------------ root options
step "root options"
create_root r-opts --days 30 --base-url http://pki.example.test --crl-max-bytes 100000 --partition-size 500
i=$(certinfo "$REVD_DIR/ca/r-opts.pem")
assert_near "$(ci not_after_epoch "$i")" $(($(now) + 30 * 86400)) 7200 "--days 30"
run_ok revd ca show r-opts
assert_kv base-url http://pki.example.test
assert_kv crl-mode partitioned
assert_kv partition-size 500
assert_kv crl-max-bytes 100000
create_root r-complete --complete-crl
run_ok revd ca show r-complete
assert_kv crl-mode complete
before=$(snapshot)
run_fail_arg revd ca create-root --name r-both --subject /CN=x --partition-size 10 --complete-crl
assert_unchanged "$before"
[ -e "$REVD_DIR/ca/r-both.pem" ] && fail "a refused create-root left DIR/ca/r-both.pem"

# ------------------------------------------------------------------ sub, defaults
step "create-sub defaults"
t0=$(now)
create_sub s1 r1
assert_contains "$OUT" "created CA s1" "create-sub stdout"
assert_path_printed "$OUT" "$REVD_DIR/ca/s1.pem"
assert_file_mode "$REVD_DIR/keys/s1.key" 600
check_ca_cert "$REVD_DIR/ca/s1.pem"
si=$(certinfo "$REVD_DIR/ca/s1.pem")
assert_ci "$si" subject /CN=s1
assert_ci "$si" issuer /CN=r1
assert_ci "$si" bc "critical,CA:TRUE,pathlen:0" "sub default path length 0:"
assert_ci "$si" aki "$(ci ski "$info")" "sub authorityKeyIdentifier = root subjectKeyIdentifier:"
assert_near "$(ci not_after_epoch "$si")" $((t0 + 1825 * 86400)) 172800 "sub default validity (1825 days)"
verify_chain "$REVD_DIR/ca/r1.pem" "" "$REVD_DIR/ca/s1.pem"
o=$(openssl x509 -in "$REVD_DIR/ca/s1.pem" -noout -text)
assert_contains "$o" "X509v3 Authority Key Identifier" "sub x509 -text"
assert_contains "$o" "X509v3 Subject Key Identifier" "sub x509 -text"
# DIR/ca/NAME-chain.pem: its parents up to and including the root.
[ -s "$REVD_DIR/ca/s1-chain.pem" ] || fail "DIR/ca/s1-chain.pem missing"
assert_eq "$(count_certs "$REVD_DIR/ca/s1-chain.pem")" 1 "certificates in s1-chain.pem"
assert_eq "$(openssl x509 -in "$REVD_DIR/ca/s1-chain.pem" -noout -fingerprint -sha256)" \
    "$(openssl x509 -in "$REVD_DIR/ca/r1.pem" -noout -fingerprint -sha256)" "s1-chain.pem holds r1"
run_ok revd ca show s1
assert_kv parent r1
assert_kv path-len 0
assert_kv depth $((r1_depth + 1))
assert_kv key ec-p256

step "create-sub with an RSA key under an EC root"
create_sub s-rsa r1 --key rsa-2048 --days 100
i=$(certinfo "$REVD_DIR/ca/s-rsa.pem")
assert_ci "$i" key rsa-2048
assert_near "$(ci not_after_epoch "$i")" $(($(now) + 100 * 86400)) 7200 "sub --days 100"
verify_chain "$REVD_DIR/ca/r1.pem" "" "$REVD_DIR/ca/s-rsa.pem"

# ------------------------------------------------------------------ clamping
step "child validity and the parent's notAfter"
create_root short --days 30
short_na=$(ci not_after_epoch "$(certinfo "$REVD_DIR/ca/short.pem")")
create_sub clamped short
ca_na=$(ci not_after_epoch "$(certinfo "$REVD_DIR/ca/clamped.pem")")
[ "$ca_na" -le "$short_na" ] || fail "default sub validity outlives its parent ($(iso "$ca_na") > $(iso "$short_na"))"
assert_near "$ca_na" "$short_na" 86400 "default sub validity clamped to the parent's notAfter"
before=$(snapshot short clamped)
run_fail 1 revd ca create-sub --name too-long --parent short --subject /CN=too-long --days 31
assert_unchanged "$before" short clamped
[ -e "$REVD_DIR/ca/too-long.pem" ] && fail "refused create-sub left DIR/ca/too-long.pem"
create_sub fits short --days 10
assert_near "$(ci not_after_epoch "$(certinfo "$REVD_DIR/ca/fits.pem")")" $(($(now) + 10 * 86400)) 7200 "sub --days 10"

# ------------------------------------------------------------------ path length
step "path length"
before=$(snapshot r1 s1)
run_fail 1 revd ca create-sub --name under-s1 --parent s1 --subject /CN=under-s1
assert_unchanged "$before" r1 s1
create_sub pl-a r1 --path-len 1
assert_ci "$(certinfo "$REVD_DIR/ca/pl-a.pem")" bc "critical,CA:TRUE,pathlen:1"
run_ok revd ca show pl-a
assert_kv path-len 1
assert_kv depth $((r1_depth + 1))
create_sub pl-b pl-a
assert_ci "$(certinfo "$REVD_DIR/ca/pl-b.pem")" bc "critical,CA:TRUE,pathlen:0"
assert_ci "$(certinfo "$REVD_DIR/ca/pl-b.pem")" aki "$(ci ski "$(certinfo "$REVD_DIR/ca/pl-a.pem")")"
run_ok revd ca show pl-b
assert_kv parent pl-a
assert_kv depth $((r1_depth + 2))
assert_eq "$(count_certs "$REVD_DIR/ca/pl-b-chain.pem")" 2 "certificates in pl-b-chain.pem (pl-a, r1)"
verify_chain "$REVD_DIR/ca/r1.pem" "$REVD_DIR/ca/pl-b-chain.pem" "$REVD_DIR/ca/pl-b.pem"
before=$(snapshot pl-a pl-b)
run_fail 1 revd ca create-sub --name pl-c --parent pl-b --subject /CN=pl-c
assert_unchanged "$before" pl-a pl-b

# ------------------------------------------------------------------ list
step "list"
run_ok revd ca list
list=$OUT
for n in r1 s1 pl-a pl-b k-rsa-4096; do
    line=$(printf '%s\n' "$list" | awk -v n="$n" '$1 == n')
    [ -n "$line" ] || fail "ca list has no line for $n"
    set -- $line
    [ $# -eq 7 ] || fail "ca list line '$line' should have 7 fields NAME STATE KEY PARENT NOT-AFTER ISSUED REVOKED"
    run_ok revd ca show "$n"
    assert_eq "$2" "$(kv state)" "list STATE of $n"
    assert_eq "$3" "$(kv key)" "list KEY of $n"
    assert_eq "$5" "$(kv not-after)" "list NOT-AFTER of $n"
    assert_eq "$6" "$(kv issued)" "list ISSUED of $n"
    assert_eq "$7" "$(kv revoked)" "list REVOKED of $n"
done
assert_eq "$(printf '%s\n' "$list" | awk '$1 == "s1" { print $4 }')" r1 "list PARENT of s1"
assert_eq "$(printf '%s\n' "$list" | awk '$1 == "pl-b" { print $4 }')" pl-a "list PARENT of pl-b"
assert_eq "$(printf '%s\n' "$list" | awk '$1 == "k-rsa-2048" { print $3 }')" rsa-2048 "list KEY of k-rsa-2048"

step "list --json / show --json"
run_ok revd ca list --json
json_ok "$OUT" 'set(["r1", "s1", "pl-a", "pl-b", "short", "k-ec-p384"]) <= set(names(j))'
run_ok revd ca show s1
text_show=$OUT
run_ok revd ca show s1 --json
json_ok "$OUT" 'isinstance(j, dict) and j.get("name") == "s1"'
json_ok "$OUT" 'all(k in j or k.replace("-", "_") in j for k in "'"${SHOW_KEYS//$'\n'/ }"'".split())'
json_ok "$OUT" 'str(j.get("parent")) == "r1" and str(j.get("key")) == "ec-p256"'
json_ok "$OUT" 'str(j.get("not-after", j.get("not_after"))) == "'"$(kv not-after "$text_show")"'"'

step "show/list of an unknown CA"
run_fail 1 revd ca show nope
before=$(snapshot)
run_fail 1 revd ca disable nope
run_fail 1 revd ca enable nope
assert_unchanged "$before"

# ------------------------------------------------------------------ disable / enable
step "disable / enable"
run_ok revd ca show s1
st_before=$(kv state)
run_ok revd ca disable s1
run_ok revd ca show s1
st_disabled=$(kv state)
[ "$st_disabled" != "$st_before" ] || fail "ca show state did not change after disable (still '$st_disabled')"
run_ok revd ca list
assert_eq "$(printf '%s\n' "$OUT" | awk '$1 == "s1" { print $2 }')" "$st_disabled" "list STATE of disabled s1"
run_ok revd ca enable s1
run_ok revd ca show s1
assert_kv state "$st_before"

# ------------------------------------------------------------------ names
step "bad names"
before=$(snapshot)
long65=$(printf 'a%.0s' $(seq 65))
for bad in Upper "a/b" "a b" ".dot" "_under" "$long65" "" "é" "a:b" "..'"; do
    run_fail_arg revd ca create-root --name "$bad" --subject /CN=bad
    assert_unchanged "$before"
done
run_fail_arg revd ca create-sub --name Bad --parent r1 --subject /CN=bad
assert_unchanged "$before"

step "good names at the edges"
long64=$(printf 'b%.0s' $(seq 64))
for good in z 0.a_b-c "$long64"; do
    create_root "$good" --key ec-p256
    [ -s "$REVD_DIR/ca/$good.pem" ] || fail "DIR/ca/$good.pem missing"
done

# ------------------------------------------------------------------ duplicates, unknown parent
step "duplicate names"
sum_cert=$(sha256sum <"$REVD_DIR/ca/r1.pem")
sum_key=$(sha256sum <"$REVD_DIR/keys/r1.key")
before=$(snapshot r1 s1)
run_fail 1 revd ca create-root --name r1 --subject /CN=again
assert_unchanged "$before" r1 s1
run_fail 1 revd ca create-sub --name r1 --parent s1 --subject /CN=again
assert_unchanged "$before" r1 s1
run_fail 1 revd ca create-sub --name s1 --parent r1 --subject /CN=again
assert_unchanged "$before" r1 s1
assert_eq "$(sha256sum <"$REVD_DIR/ca/r1.pem")" "$sum_cert" "DIR/ca/r1.pem after a refused duplicate"
assert_eq "$(sha256sum <"$REVD_DIR/keys/r1.key")" "$sum_key" "DIR/keys/r1.key after a refused duplicate"

step "unknown parent"
before=$(snapshot)
run_fail 1 revd ca create-sub --name orphan --parent no-such-ca --subject /CN=orphan
assert_unchanged "$before"
[ -e "$REVD_DIR/ca/orphan.pem" ] && fail "refused create-sub left DIR/ca/orphan.pem"
[ -e "$REVD_DIR/keys/orphan.key" ] && fail "refused create-sub left DIR/keys/orphan.key"

pass
