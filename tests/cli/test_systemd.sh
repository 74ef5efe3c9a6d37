#!/bin/bash
# dist/revd.service: systemd's own checker accepts it (pointed at the binary
# under test), and it says what the docs say: revd serve on /var/lib/revd,
# SIGHUP to reload, SIGTERM to stop, a stop timeout above the drain's.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze is not installed"
U=$REPO_ROOT/dist/revd.service
[ -f "$U" ] || fail "dist/revd.service is missing"
sed "s|/usr/local/bin/revd|$REVD|" "$U" >"$T/revd.service"
out=$(systemd-analyze verify "$T/revd.service" 2>&1) || fail "systemd-analyze verify: $out"
# Lines about the unit itself (not about the host's other units) are problems.
printf '%s\n' "$out" | grep -q "revd.service" && fail "systemd-analyze verify complains: $out"
u=$(cat "$U")
assert_line "$u" "ExecStart=/usr/local/bin/revd serve --dir /var/lib/revd --log-format kv"
assert_line "$u" 'ExecReload=/bin/kill -HUP $MAINPID'
assert_line "$u" "KillSignal=SIGTERM"
assert_line "$u" "StateDirectory=revd"
t=$(sed -n 's/^TimeoutStopSec=//p' "$U")
[ "$t" -gt 10 ] || fail "TimeoutStopSec=$t is not above the default drain-timeout (10 s)"
pass
