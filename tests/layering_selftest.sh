#!/usr/bin/env bash
# layering_selftest: tests/layering.py must fail on a back edge, a cycle and
# a header private to its folder, and tests/funclen.py on a long function
# without a reason, so that their passing in the suite means something. It
# runs on a scratch copy of the sources (include graph only), once as they
# are and once with each deliberate defect added.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
copy() { rm -rf "$T/src"; mkdir -p "$T/src"; cp -r common ca ocsp crl shard node cmd "$T/src/"; }
fail=0
copy
python3 tests/layering.py --includes-only --root "$T/src" >/dev/null || { echo "FAIL: the tree as it is does not pass"; fail=1; }
# A back edge: a common/ brick that includes the serving process.
copy; printf '#include "node/admin.h"\n' >> "$T/src/common/hex.c"
out=$(python3 tests/layering.py --includes-only --root "$T/src") && { echo "FAIL: common -> node not caught"; fail=1; }
grep -q 'common -> node is against the direction: common/hex.c includes node/admin.h' <<<"$out" || { echo "FAIL: the back edge is not named: $out"; fail=1; }
# A cycle inside one folder: two ca/ units that include each other.
copy; printf '#include "ca/audit.h"\n' >> "$T/src/ca/store.h"; printf '#include "ca/store.h"\n' >> "$T/src/ca/audit.h"
out=$(python3 tests/layering.py --includes-only --root "$T/src") && { echo "FAIL: a cycle not caught"; fail=1; }
grep -q 'a cycle between .*ca/audit.*ca/store' <<<"$out" || { echo "FAIL: the cycle is not named: $out"; fail=1; }
# A pipeline reaching past ca/'s seams into its index records.
copy; printf '#include "ca/crec.h"\n' >> "$T/src/ocsp/lane.c"
out=$(python3 tests/layering.py --includes-only --root "$T/src") && { echo "FAIL: a private header not caught"; fail=1; }
grep -q 'ca/crec is private to ca/' <<<"$out" || { echo "FAIL: the private header is not named: $out"; fail=1; }
# tests/funclen.py: a function of 120 lines fails; the same with a "long:"
# reason in its comment passes.
copy; { echo 'int funclen_probe(int x);'; echo 'int funclen_probe(int x) {'
        for i in $(seq 118); do echo "    x += $i;"; done; echo '    return x;'; echo '}'; } > "$T/src/common/probe.c"
out=$(python3 tests/funclen.py --root "$T/src") && { echo "FAIL: a 121-line function not caught"; fail=1; }
grep -q 'common/probe.c:2: funclen_probe is 121 lines' <<<"$out" || { echo "FAIL: the long function is not named: $out"; fail=1; }
sed -i '1a /* long: a probe of the check itself. */' "$T/src/common/probe.c"
python3 tests/funclen.py --root "$T/src" >/dev/null || { echo "FAIL: a 'long:' reason is not taken"; fail=1; }
[ $fail -eq 0 ] && echo "layering_selftest: a back edge, a cycle, a private header and a long function are all caught"
exit $fail
