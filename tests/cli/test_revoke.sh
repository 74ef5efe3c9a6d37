#!/bin/bash
# revd revoke / unhold / status: every reason, the printed lines, serial
# spellings, invalidity dates in each TIME form, hold and release, and the
# refusals (revoking twice, unknown serial, unholding a final revocation),
# each leaving the index unchanged.
. "$(dirname "$0")/lib.sh"

create_root root
create_sub sub root
make_csr ee "/CN=ee.example"

# new_cert NAME: issues from sub, sets SERIAL.
new_cert() {
    issue_to "$T/$1.pem" --ca sub --csr "$T/ee.csr"
    SERIAL=$(serial_of "$T/$1.pem")
}
first_line() { printf '%s\n' "$OUT" | head -1; }

# ------------------------------------------------------------------ each reason
step "revoke with each final reason"
REASONS="unspecified keyCompromise cACompromise affiliationChanged superseded cessationOfOperation privilegeWithdrawn aACompromise"
n=0
for r in $REASONS; do
    new_cert "r-$r"
    cdp=$(ci cdp "$(certinfo "$T/r-$r.pem")")
    t0=$(now)
    run_ok revd revoke --ca sub --serial "$SERIAL" --reason "$r"
    assert_eq "$OUT" "revoked $SERIAL ($r)" "revoke stdout"
    n=$((n + 1))
    run_ok revd status --ca sub --serial "$SERIAL"
    assert_eq "$(first_line)" revoked "status first line after revoking ($r)"
    assert_kv serial "$SERIAL"
    assert_kv reason "$r"
    assert_kv crl "$cdp"
    assert_kv not-after "$(ci not_after "$(certinfo "$T/r-$r.pem")")"
    rt=$(kv revocation-time)
    assert_match "$rt" "$TIME_RE" "revocation-time"
    assert_near "$(epoch "$rt")" "$t0" 120 "revocation-time"
    printf '%s\n' "$OUT" | grep -q '^invalidity-date: ' && fail "invalidity-date shown though none was given"
done
run_ok revd ca show sub
assert_kv revoked "$n"
assert_kv on-hold 0

step "default reason is unspecified"
new_cert default-reason
run_ok revd revoke --ca sub --serial "$SERIAL"
assert_eq "$OUT" "revoked $SERIAL (unspecified)" "revoke stdout"
run_ok revd status --ca sub --serial "$SERIAL"
assert_kv reason unspecified

# ------------------------------------------------------------------ serial spellings
step "serial spellings"
new_cert spell
lower=$(printf '%s' "$SERIAL" | tr 'A-F' 'a-f')
colons=$(printf '%s' "$lower" | sed 's/../&:/g; s/:$//')
run_ok revd status --ca sub --serial "0x$lower"
assert_eq "$(first_line)" good "status with 0x and lower case"
assert_kv serial "$SERIAL"
run_ok revd status --ca sub --serial "$colons"
assert_eq "$(first_line)" good "status with : separators"
assert_kv serial "$SERIAL"
run_ok revd revoke --ca sub --serial "0X$colons" --reason superseded
assert_eq "$OUT" "revoked $SERIAL (superseded)" "revoke stdout (serial printed canonically)"
run_ok revd status --ca sub --serial "$SERIAL"
assert_eq "$(first_line)" revoked "status after revoking by another spelling"

# ------------------------------------------------------------------ invalidity date
step "invalidity date"
for spec in "2024-01-02T03:04:05Z=2024-01-02T03:04:05Z" "2024-01-02=2024-01-02T00:00:00Z" "@1700000000=2023-11-14T22:13:20Z"; do
    given=${spec%%=*} shown=${spec#*=}
    new_cert "inv"
    run_ok revd revoke --ca sub --serial "$SERIAL" --reason keyCompromise --invalidity-date "$given"
    assert_eq "$OUT" "revoked $SERIAL (keyCompromise)" "revoke stdout"
    run_ok revd status --ca sub --serial "$SERIAL"
    assert_kv invalidity-date "$shown"
    assert_kv reason keyCompromise
done
new_cert inv-bad
before=$(snapshot root sub)
for bad in "yesterday" "2024-13-01" "2024-01-02T03:04:05" "@abc"; do
    run_fail_arg revd revoke --ca sub --serial "$SERIAL" --invalidity-date "$bad"
    assert_unchanged "$before" root sub
done

# ------------------------------------------------------------------ refusals
step "revoking twice"
new_cert twice
run_ok revd revoke --ca sub --serial "$SERIAL" --reason keyCompromise
before=$(snapshot root sub)
for r in keyCompromise superseded certificateHold unspecified; do
    run_fail 1 revd revoke --ca sub --serial "$SERIAL" --reason "$r"
    assert_unchanged "$before" root sub
done
run_ok revd status --ca sub --serial "$SERIAL"
assert_kv reason keyCompromise

step "unknown serial"
run_ok revd status --ca sub --serial 0x0123456789ABCDEF0123456789ABCDEF
assert_eq "$(first_line)" unknown "status of a serial the CA never issued"
run_fail 1 revd revoke --ca sub --serial 0123456789ABCDEF0123456789ABCDEF --reason keyCompromise
assert_unchanged "$before" root sub
run_fail 1 revd unhold --ca sub --serial 0123456789ABCDEF0123456789ABCDEF
assert_unchanged "$before" root sub
# A serial sub issued is unknown to root.
run_ok revd status --ca root --serial "$SERIAL"
assert_eq "$(first_line)" unknown "status of sub's serial asked of root"
run_fail 1 revd revoke --ca root --serial "$SERIAL"
assert_unchanged "$before" root sub

step "malformed serials and reasons"
for bad in "xyz" "12G4" "" "0x" "$(printf '11%.0s' $(seq 21))"; do
    run_fail_arg revd revoke --ca sub --serial "$bad"
    assert_unchanged "$before" root sub
    run_fail_arg revd status --ca sub --serial "$bad"
done
new_cert bad-reason
before=$(snapshot root sub)
run_fail_arg revd revoke --ca sub --serial "$SERIAL" --reason removeFromCRL
assert_unchanged "$before" root sub
run_fail_arg revd revoke --ca sub --serial "$SERIAL" --reason nonsense
assert_unchanged "$before" root sub
run_ok revd status --ca sub --serial "$SERIAL"
assert_eq "$(first_line)" good "status after refused revokes"

step "unknown CA"
run_fail 1 revd revoke --ca no-such-ca --serial "$SERIAL"
run_fail 1 revd status --ca no-such-ca --serial "$SERIAL"
run_fail 1 revd unhold --ca no-such-ca --serial "$SERIAL"
assert_unchanged "$before" root sub

# ------------------------------------------------------------------ hold
step "hold and release"
new_cert hold
run_ok revd ca show sub
held0=$(kv on-hold)
run_ok revd revoke --ca sub --serial "$SERIAL" --reason certificateHold
assert_eq "$OUT" "revoked $SERIAL (certificateHold)" "revoke stdout"
run_ok revd status --ca sub --serial "$SERIAL"
assert_eq "$(first_line)" revoked "status first line on hold"
assert_kv reason certificateHold
run_ok revd ca show sub
assert_kv on-hold $((held0 + 1))
run_ok revd report --ca sub --format csv
assert_eq "$(csv_get "$OUT" "$SERIAL" status)" hold "report status of a held certificate"
before=$(snapshot root sub)
# Holding again is revoking a revoked certificate with the same reason.
run_fail 1 revd revoke --ca sub --serial "$SERIAL" --reason certificateHold
assert_unchanged "$before" root sub
run_ok revd unhold --ca sub --serial "$SERIAL"
assert_eq "$OUT" "released $SERIAL" "unhold stdout"
run_ok revd status --ca sub --serial "$SERIAL"
assert_eq "$(first_line)" good "status after release"
for k in revocation-time reason invalidity-date; do
    printf '%s\n' "$OUT" | grep -q "^$k: " && fail "status after release still has a '$k:' line"
done
run_ok revd ca show sub
assert_kv on-hold "$held0"
# Released, it can be held and released again, then revoked for good.
run_ok revd revoke --ca sub --serial "$SERIAL" --reason certificateHold
run_ok revd unhold --ca sub --serial "0x$SERIAL"
assert_eq "$OUT" "released $SERIAL" "unhold stdout"
run_ok revd revoke --ca sub --serial "$SERIAL" --reason affiliationChanged
assert_eq "$OUT" "revoked $SERIAL (affiliationChanged)" "revoke stdout"

step "unhold of a good certificate"
new_cert never-held
before=$(snapshot root sub)
run_fail 1 revd unhold --ca sub --serial "$SERIAL"
assert_unchanged "$before" root sub

step "unhold of a final revocation"
for r in keyCompromise unspecified cessationOfOperation; do
    new_cert "final-$r"
    run_ok revd revoke --ca sub --serial "$SERIAL" --reason "$r"
    before=$(snapshot root sub)
    run_fail 1 revd unhold --ca sub --serial "$SERIAL"
    assert_unchanged "$before" root sub
    run_ok revd status --ca sub --serial "$SERIAL"
    assert_eq "$(first_line)" revoked "status after a refused unhold"
    assert_kv reason "$r"
done

step "hold, then revoke for keyCompromise"
new_cert hold-final
run_ok revd revoke --ca sub --serial "$SERIAL" --reason certificateHold
run_ok revd revoke --ca sub --serial "$SERIAL" --reason keyCompromise --invalidity-date 2025-06-01
assert_eq "$OUT" "revoked $SERIAL (keyCompromise)" "revoke of a held certificate"
run_ok revd status --ca sub --serial "$SERIAL"
assert_eq "$(first_line)" revoked "status"
assert_kv reason keyCompromise
assert_kv invalidity-date 2025-06-01T00:00:00Z
run_ok revd report --ca sub --format csv
assert_eq "$(csv_get "$OUT" "$SERIAL" status),$(csv_get "$OUT" "$SERIAL" reason)" "revoked,keyCompromise" "report of a hold made final"
before=$(snapshot root sub)
run_fail 1 revd unhold --ca sub --serial "$SERIAL"
assert_unchanged "$before" root sub
run_fail 1 revd revoke --ca sub --serial "$SERIAL" --reason superseded
assert_unchanged "$before" root sub

pass
