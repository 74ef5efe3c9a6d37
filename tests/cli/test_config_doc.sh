#!/bin/bash
# docs/config.md's table of settings is the settings table itself
# (node/settings.c): the block between its settings markers must equal what
# `revd serve --help-config` prints, so a setting added, removed or changed
# in the table without the doc (or the other way) fails here. Also: every
# setting the table names is in `revd serve --help`, and the doc's example
# file is accepted as it stands.
. "$(dirname "$0")/lib.sh"
DOC=$REPO_ROOT/docs/config.md
[ -f "$DOC" ] || fail "docs/config.md is missing"

step "docs/config.md's settings block equals revd serve --help-config"
run_ok revd serve --help-config
printf '%s\n' "$OUT" >"$T/table.md"
grep -c '^<!-- settings:begin' "$DOC" | grep -qx 1 || fail "docs/config.md has no (or several) <!-- settings:begin markers"
grep -c '^<!-- settings:end' "$DOC" | grep -qx 1 || fail "docs/config.md has no (or several) <!-- settings:end markers"
sed -n '/^<!-- settings:begin/,/^<!-- settings:end/p' "$DOC" | sed '1d;$d' >"$T/doc.md"
if ! diff -u "$T/doc.md" "$T/table.md" >"$T/diff"; then
    fail "docs/config.md's settings block differs from revd serve --help-config (update the doc from the table):
$(cat "$T/diff")"
fi
rows=$(grep -c '^| `' "$T/table.md")
[ "$rows" -ge 30 ] || fail "revd serve --help-config printed $rows settings"

step "every setting of the table is in revd serve --help"
run_ok revd serve --help
HELP=$OUT
for name in $(sed -n 's/^| `\([a-z0-9-]*\)`.*/\1/p' "$T/table.md"); do
    case "$name" in
        metrics) assert_contains "$HELP" "--no-metrics" ;;
        *) assert_contains "$HELP" "--$name" ;;
    esac
done

step "the doc's example settings file is accepted"
sed -n '/^# \/var\/lib\/revd\/revd.conf/,/^```/p' "$DOC" | sed '$d' | sed 's/^listen = .*/listen = 127.0.0.1:1/' >"$T/example.conf"
[ -s "$T/example.conf" ] || fail "no example settings file in docs/config.md"
# The example is read whole: an unknown name or a bad value stops at start
# (exit 1, naming the line) before any socket is opened; a good file gets as
# far as opening DIR, which does not exist here.
run_fail 1 revd serve --dir "$T/absent" --config "$T/example.conf"
case "$ERR" in *example.conf:*) fail "the doc's example is refused: $ERR" ;; esac
pass
