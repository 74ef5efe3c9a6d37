#!/bin/bash
# The command-line contract itself: --help for every command (exit 0, help on
# stdout), usage errors (exit 2, usage line on stderr, nothing changed), and
# where the data directory is (--dir, $REVD_DIR, ./revd-data).
. "$(dirname "$0")/lib.sh"

step "revd --help"
run_ok revd --help
[ -n "$OUT" ] || fail "revd --help printed nothing on stdout"
for c in ca issue revoke unhold status report import log demo serve; do
    printf '%s\n' "$OUT" | grep -qw -- "$c" || fail "revd --help does not mention '$c'"
done

step "revd CMD --help"
# command, then options its help must mention
while IFS="|" read -r cmd opts; do
    run_ok revd $cmd --help
    [ -n "$OUT" ] || fail "revd $cmd --help printed nothing on stdout"
    for o in $opts; do
        assert_contains "$OUT" "$o" "revd $cmd --help"
    done
done <<'EOF'
issue|--ca --csr --template --days --hours --san --idempotency-key --chain
revoke|--ca --serial --reason --invalidity-date
unhold|--ca --serial
status|--ca --serial
report|--ca --format --since
import|--ca --file
demo|--dir
serve|--dir
log|--from
ca create-root|--name --subject --key --days --base-url --partition-size --complete-crl --crl-max-bytes
ca create-sub|--name --parent --subject --path-len
ca csr|--name --subject --key --base-url
ca import|--name --cert --chain
ca list|--json
ca show|--json
ca disable|
ca enable|
EOF

create_root r
create_sub s r
make_csr ee "/CN=ee.example"
issue_to "$T/ee.pem" --ca s --csr "$T/ee.csr"
S=$(serial_of "$T/ee.pem")
before=$(snapshot r s)

step "unknown command"
run_fail 2 revd frobnicate
run_fail 2 revd ca frobnicate
run_fail 2 revd ca frobnicate --name x
assert_unchanged "$before" r s

step "unknown option"
run_fail 2 revd issue --ca s --csr "$T/ee.csr" --bogus
run_fail 2 revd revoke --ca s --serial "$S" --frobnicate 1
run_fail 2 revd status --ca s --serial "$S" -x
run_fail 2 revd ca list --bogus
run_fail 2 revd ca create-root --name u1 --subject /CN=u1 --colour blue
run_fail 2 revd report --ca s --format csv --bogus
assert_unchanged "$before" r s

step "missing required option"
run_fail 2 revd issue --ca s
run_fail 2 revd issue --csr "$T/ee.csr"
run_fail 2 revd revoke --ca s
run_fail 2 revd revoke --serial "$S"
run_fail 2 revd unhold --ca s
run_fail 2 revd status --serial "$S"
run_fail 2 revd report --ca s
run_fail 2 revd import --ca s
run_fail 2 revd ca create-root --subject /CN=u2
run_fail 2 revd ca create-root --name u2
run_fail 2 revd ca create-sub --name u3 --subject /CN=u3
run_fail 2 revd ca show
run_fail 2 revd ca disable
run_fail 2 revd ca enable
assert_unchanged "$before" r s

step "option without its argument"
run_fail 2 revd issue --csr "$T/ee.csr" --ca
run_fail 2 revd revoke --ca s --serial
run_fail 2 revd ca create-root --name
assert_unchanged "$before" r s

step "the state was not touched"
run_ok revd status --ca s --serial "$S"
assert_eq "$(printf '%s\n' "$OUT" | head -1)" good "status after usage errors"

# ------------------------------------------------------------------ data directory
step "--dir overrides \$REVD_DIR"
run_ok revd ca create-root --dir "$T/other" --name o1 --subject /CN=o1
[ -s "$T/other/ca/o1.pem" ] || fail "--dir: DIR/ca/o1.pem not under $T/other"
[ -e "$REVD_DIR/ca/o1.pem" ] && fail "--dir: the certificate went to \$REVD_DIR"
run_ok revd ca list --dir "$T/other"
printf '%s\n' "$OUT" | awk '$1 == "o1"' | grep -q . || fail "ca list --dir does not show o1"
printf '%s\n' "$OUT" | awk '$1 == "r"' | grep -q . && fail "ca list --dir shows a CA of \$REVD_DIR"
run_ok revd ca list
printf '%s\n' "$OUT" | awk '$1 == "o1"' | grep -q . && fail "ca list (\$REVD_DIR) shows a CA of --dir"

step "default ./revd-data"
mkdir -p "$T/fresh" && cd "$T/fresh" || fail "cd"
_run env -u REVD_DIR timeout -k 5 "$REVD_TIMEOUT" "$REVD" ca create-root --name d1 --subject /CN=d1
[ "$RC" -eq 0 ] || fail "create-root without --dir or \$REVD_DIR"
[ -s "$T/fresh/revd-data/ca/d1.pem" ] || fail "without --dir or \$REVD_DIR, DIR/ca/d1.pem is not under ./revd-data"
assert_file_mode "$T/fresh/revd-data/keys/d1.key" 600
_run env -u REVD_DIR timeout -k 5 "$REVD_TIMEOUT" "$REVD" ca show d1
[ "$RC" -eq 0 ] || fail "ca show without --dir or \$REVD_DIR"
assert_kv name d1
cd "$T/cwd" || fail "cd"

pass
