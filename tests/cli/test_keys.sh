#!/bin/bash
# Private keys encrypted at rest (docs/keys.md): with REVD_KEY_PASSPHRASE_FILE
# every key revd writes (CA, OCSP responder, admin CA, admin server) is an
# encrypted PKCS#8 file that openssl opens with the passphrase and revd
# needs it for; without the passphrase, or with a wrong one, signing is
# refused with a message naming the file, and revd serve does not start;
# revd keys encrypt converts a directory made without one. Secrets do not
# outlive their use: $REVD_KEY_PASSPHRASE is gone from /proc/PID/environ,
# and the process dumps no core and is not dumpable (REVD_DEBUG_DUMPABLE=1
# keeps it dumpable).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
D=$REVD_DIR
printf 'correct horse battery staple\n' >"$T/pass"
chmod 600 "$T/pass"
make_csr ee /CN=ee

export REVD_KEY_PASSPHRASE_FILE=$T/pass
step "every key written is encrypted, and openssl opens it with the passphrase"
create_root r
create_sub s r
issue_to "$T/a.pem" --ca s --csr "$T/ee.csr"
run_ok revd ocsp respond --ca s --serial "$(serial_of "$T/a.pem")" --out "$T/r.der"
run_ok revd admin init
for k in keys/r.key keys/s.key keys/s.ocsp.key admin/ca.key admin/server.key; do
    assert_eq "$(head -1 "$D/$k")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" "the first line of $k"
    openssl pkey -in "$D/$k" -passin "file:$T/pass" -noout 2>/dev/null || fail "openssl cannot open $k with the passphrase"
    openssl pkey -in "$D/$k" -passin pass:wrong-passphrase -noout 2>/dev/null && fail "openssl opened $k with a wrong passphrase"
done
run_ok revd keys status
assert_contains "$OUT" "5 encrypted, 0 not"
PORT=$(( 20000 + RANDOM % 12000 ))
serve_bg "$T/s.log" --listen "127.0.0.1:$PORT" --threads 1 --admin-listen "127.0.0.1:$((PORT + 1))"
o=$(openssl ocsp -issuer "$D/ca/s.pem" -cert "$T/a.pem" -no_nonce -url "http://127.0.0.1:$PORT/ocsp" \
    -CAfile "$D/ca/r.pem" -verify_other "$D/ca/s.pem" 2>&1)
assert_line "$o" "$T/a.pem: good"
run_ok revd admin issue-credential --name ops --role auditor --out "$T/creds"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/creds/ca.pem" --cert "$T/creds/ops.pem" \
    --key "$T/creds/ops.key" "https://127.0.0.1:$((PORT + 1))/v1/cas")
assert_eq "$code" 200 "the admin API with an encrypted server key"
kill -TERM "$SRV"; wait "$SRV"

step "without the passphrase: nothing is signed, and the server does not start"
unset REVD_KEY_PASSPHRASE_FILE
run_fail 1 revd issue --ca s --csr "$T/ee.csr"
assert_contains "$ERR" "$D/keys/s.key: the key is encrypted; give its passphrase"
run_fail 1 revd crl rebuild --ca s
_run revd serve --listen "127.0.0.1:$PORT" --threads 1
[ "$RC" -ne 0 ] || fail "revd serve started without the passphrase"
assert_contains "$ERR" "the key is encrypted"
REVD_KEY_PASSPHRASE=a-wrong-passphrase run_fail 1 revd issue --ca s --csr "$T/ee.csr"
assert_contains "$ERR" "$D/keys/s.key: the passphrase does not open this key"
run_ok revd status --ca s --serial "$(serial_of "$T/a.pem")"   # reading needs no key

step "revd keys encrypt converts a directory made without a passphrase"
D2=$T/plain
run_ok revd ca create-root --dir "$D2" --name p --subject /CN=p
issue_to "$T/p.pem" --dir "$D2" --ca p --csr "$T/ee.csr"
run_ok revd keys status --dir "$D2"
assert_contains "$OUT" "0 encrypted, 1 not"
run_fail 1 revd keys encrypt --dir "$D2"
assert_contains "$ERR" "no passphrase to encrypt with"
printf 'short\n' >"$T/short"
REVD_KEY_PASSPHRASE_FILE=$T/short run_fail 1 revd keys encrypt --dir "$D2"
assert_contains "$ERR" "the key passphrase must be 12 to 1024 bytes"
REVD_KEY_PASSPHRASE_FILE=$T/nope run_fail 1 revd keys encrypt --dir "$D2"
assert_contains "$ERR" "REVD_KEY_PASSPHRASE_FILE: "
REVD_KEY_PASSPHRASE_FILE=$T/pass run_ok revd keys encrypt --dir "$D2"
assert_contains "$OUT" "1 keys encrypted, 0 were already"
run_fail 1 revd issue --dir "$D2" --ca p --csr "$T/ee.csr"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_ok revd issue --dir "$D2" --ca p --csr "$T/ee.csr"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_ok revd log --dir "$D2"
assert_contains "$OUT" '"op":"keys-encrypt"'

step "revd keys rekey: a new passphrase; the old one opens nothing after"
printf 'a completely different passphrase\n' >"$T/pass2"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_ok revd keys rekey --dir "$D2" --new-passphrase-file "$T/pass2"
assert_contains "$OUT" "1 keys now open with the new passphrase"
openssl pkey -in "$D2/keys/p.key" -passin "file:$T/pass2" -noout 2>/dev/null || fail "openssl: the new passphrase does not open the key"
openssl pkey -in "$D2/keys/p.key" -passin "file:$T/pass" -noout 2>/dev/null && fail "the old passphrase still opens the key"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_fail 1 revd issue --dir "$D2" --ca p --csr "$T/ee.csr"
REVD_KEY_PASSPHRASE_FILE=$T/pass2 run_ok revd issue --dir "$D2" --ca p --csr "$T/ee.csr"
# A run cut short (one key still under the old passphrase) is finished by running it again.
cp "$D2/keys/p.key" "$T/p.key.new"
REVD_KEY_PASSPHRASE_FILE=$T/pass2 run_ok revd keys rekey --dir "$D2" --new-passphrase-file "$T/pass"
cp "$T/p.key.new" "$D2/keys/p.key"    # as if the rewrite of this file had not happened
REVD_KEY_PASSPHRASE_FILE=$T/pass2 run_ok revd keys rekey --dir "$D2" --new-passphrase-file "$T/pass"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_ok revd issue --dir "$D2" --ca p --csr "$T/ee.csr"

step "the passphrase leaves the environment; no core file; not dumpable"
# As nobody: the /proc/PID files of a process that is not dumpable belong
# to root, which is how the test sees it (root owns its own either way).
if [ "$(id -u)" = 0 ] && NB_UID=$(id -u nobody 2>/dev/null); then
    NB=$T/nb SECRET='nobody-s passphrase, 31 bytes'
    mkdir "$NB"; chown nobody "$NB"; chmod 711 "$T"
    as_nobody() { (cd / && exec setpriv --reuid="$NB_UID" --regid="$(id -g nobody)" --clear-groups "$@"); }
    REVD_KEY_PASSPHRASE=$SECRET run_ok as_nobody "$REVD" ca create-root --dir "$NB/d" --name n --subject /CN=n
    # start_nb LOG [ENV...]: revd serve as nobody, with the passphrase in its
    # environment and a core size limit it could raise (the old code kept it).
    start_nb() {
        local log=$1; shift
        (ulimit -S -c unlimited; exec env REVD_KEY_PASSPHRASE="$SECRET" "$@" setpriv --reuid="$NB_UID" \
            --regid="$(id -g nobody)" --clear-groups "$REVD" serve --dir "$NB/d" --listen "127.0.0.1:$PORT" \
            --threads 1) >"$log" 2>&1 </dev/null &
        SRV=$!
        serve_wait "$log"
    }
    start_nb "$T/nb.log"
    env_now=$(tr '\0' '\n' <"/proc/$SRV/environ")
    assert_not_contains "$env_now" "$SECRET" "/proc/$SRV/environ"
    assert_not_contains "$env_now" "REVD_KEY_PASSPHRASE=" "/proc/$SRV/environ"
    assert_eq "$(awk '/^Max core file size/ {print $5, $6}' "/proc/$SRV/limits")" "0 0" "the core file size limit (soft, hard)"
    assert_eq "$(stat -c %u "/proc/$SRV/environ")" 0 "the owner of /proc/PID/environ (root: not dumpable)"
    o=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
    [ "$o" != 000 ] || fail "the server under nobody does not answer HTTP"
    kill -TERM "$SRV"; wait "$SRV"
    start_nb "$T/nb2.log" REVD_DEBUG_DUMPABLE=1
    assert_eq "$(stat -c %u "/proc/$SRV/environ")" "$NB_UID" "with REVD_DEBUG_DUMPABLE=1, the owner of /proc/PID/environ"
    assert_not_contains "$(tr '\0' '\n' <"/proc/$SRV/environ")" "$SECRET" "/proc/$SRV/environ"
    kill -TERM "$SRV"; wait "$SRV"
    chmod 700 "$T"
else
    echo "NOTE: $TEST_NAME: the dumpable check needs root and a user nobody: skipped"
fi
pass
