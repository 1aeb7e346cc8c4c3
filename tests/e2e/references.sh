# Every document the header, the sources, the tests and the docs cite exists in the
# repository, and every function the public header names in its comments is declared there.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
python3 - "$ROOT" >"$SCRATCH/refs" <<'P'
import os, re, sys
root = sys.argv[1]
files = []
for top in ("include", "src", "docs", "tests", "bindings", "bench", "scripts", "deploy", "workloads"):
    for d, _, names in os.walk(os.path.join(root, top)):
        files += [os.path.join(d, n) for n in names if n.endswith((".c", ".h", ".md", ".sh", ".py", ".mk"))]
files += [os.path.join(root, "README.md"), os.path.join(root, "Makefile")]
bad = 0
for f in files:
    text = open(f, errors="replace").read()
    for m in re.finditer(r"(?<![\w/.-])((?:[\w.-]+/)*[A-Z][A-Z_]*\.md)\b", text):
        ref = m.group(1)
        if not any(os.path.exists(os.path.join(root, base, ref)) for base in ("", "docs")):
            print(f"{os.path.relpath(f, root)}: cites {ref}, which is not in the repository")
            bad += 1
print(f"checked {len(files)} files, {bad} dangling")
P
contains "every cited document exists" "$SCRATCH/refs" "^checked [0-9]+ files, 0 dangling$"
grep -v '^checked' "$SCRATCH/refs" | head -5 | sed 's/^/# /'

H="$ROOT/include/greenops/greenops.h"
missing=""
for f in $(grep -o 'gops_[a-z_0-9]*()' "$H" | sort -u | tr -d '()'); do
	grep -Eq "^(GOPS_EXPORT )?[a-z].*[ *]$f\(" "$H" || missing="$missing $f"
done
eq "every function greenops.h names is declared in it" "$missing" ""
done_testing
