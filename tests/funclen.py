#!/usr/bin/env python3
"""funclen: no function of revd over LIMIT lines without a reason.

Scans every .c file of the program's folders (tests/ and bench/ are not
checked) for function definitions: a line at column 0 that opens a
signature, up to the first line that is exactly "}". A function longer than
LIMIT lines (signature to closing brace) fails the check unless the comment
just above it gives a reason with the word "long:" (as in "/* long: one
table of every case, kept together so that ... */").

usage: tests/funclen.py [--root DIR] [--limit N]
"""
import os
import re
import sys

FOLDERS = ("common", "ca", "acme", "ocsp", "crl", "shard", "feed", "node", "cmd")
SIGNATURE = re.compile(r"^(?:static\s+)?(?:inline\s+)?(?:const\s+)?[A-Za-z_][\w\s\*]*?\b(\w+)\s*\(")


def functions(lines):
    """(name, first line index, last line index) of each definition."""
    i = 0
    while i < len(lines):
        line = lines[i]
        m = SIGNATURE.match(line)
        if m and not line.startswith(("typedef", "struct", "enum", "union", "#", "return")) and m.group(1) not in (
                "if", "for", "while", "switch", "sizeof"):
            # The body opens within the next few lines (a wrapped signature).
            j = i
            while j < len(lines) and j < i + 8 and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and "{" in lines[j] and lines[j].rstrip().endswith("}"):
                i = j  # a body on one line
            elif j < len(lines) and "{" in lines[j] and not lines[j].rstrip().endswith(";"):
                k = j
                while k < len(lines) and lines[k] != "}":
                    k += 1
                if k < len(lines):
                    yield m.group(1), i, k
                    i = k
        i += 1


def reason_above(lines, i):
    """The comment block just above line i (and its wrapped signature)."""
    j = i - 1
    text = []
    while j >= 0 and (lines[j].startswith((" *", "/*", "//")) or lines[j].rstrip().endswith("*/")):
        text.append(lines[j])
        j -= 1
    return "long:" in "\n".join(text)


def main(argv):
    root, limit = ".", 100
    i = 1
    while i < len(argv):
        if argv[i] == "--root" and i + 1 < len(argv):
            root = argv[i + 1]; i += 2
        elif argv[i] == "--limit" and i + 1 < len(argv):
            limit = int(argv[i + 1]); i += 2
        else:
            print(__doc__.strip().splitlines()[-1], file=sys.stderr)
            return 2
    bad = n = 0
    for d in FOLDERS:
        p = os.path.join(root, d)
        if not os.path.isdir(p):
            continue
        for name in sorted(os.listdir(p)):
            if not name.endswith(".c"):
                continue
            with open(os.path.join(p, name), encoding="utf-8", errors="replace") as fh:
                lines = fh.read().split("\n")
            for fn, first, last in functions(lines):
                n += 1
                length = last - first + 1
                if length > limit and not reason_above(lines, first):
                    print(f"funclen: {d}/{name}:{first + 1}: {fn} is {length} lines (over {limit}, no 'long:' reason)")
                    bad += 1
    print(f"funclen: {n} functions, {'none' if not bad else bad} over {limit} lines without a reason")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
