# What `greenops run` writes is what was asked: --json - is JSON alone on stdout (the
# command's own stdout moves to stderr), --timeline - is CSV on stdout and no file named '-',
# --plot takes only .svg, and an output that cannot be written stops the run before the
# command starts.
. "$(dirname "$0")/lib.sh"
export GREENOPS_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 GREENOPS_SYSFS_ROOT="$SCRATCH/empty"
mkdir -p "$SCRATCH/empty" "$SCRATCH/cwd"
cd "$SCRATCH/cwd" || exit 1

"$GREENOPS" run --no-db -q --json - -- echo hello-from-the-command >"$SCRATCH/j.out" 2>"$SCRATCH/j.err"
eq "--json -: exits 0" "$?" 0
check "--json -: stdout is JSON alone" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$SCRATCH/j.out"
contains "--json -: the command's stdout went to stderr" "$SCRATCH/j.err" "^hello-from-the-command$"

"$GREENOPS" run --no-db -q --timeline - -- sleep 0.3 >"$SCRATCH/t.out"
eq "--timeline -: exits 0" "$?" 0
eq "--timeline -: CSV on stdout" "$(head -1 "$SCRATCH/t.out")" "t_s,domain,power_w,counter_j"
check "--timeline -: no file named '-'" test ! -e "$SCRATCH/cwd/-"
"$GREENOPS" run --no-db -q --timeline - --json - -- true 2>"$SCRATCH/tj.err"
eq "--json - with --timeline -: refused" "$?" 2

# Each bad output path: exit 2, the path named, and the command never ran.
while IFS='|' read -r opt path pat; do
	rm -f "$SCRATCH/ran"
	"$GREENOPS" run --no-db -q $opt "$path" -- touch "$SCRATCH/ran" 2>"$SCRATCH/bad.err"
	eq "$opt $path: exits 2" "$?" 2
	contains "$opt $path: says why" "$SCRATCH/bad.err" "$pat"
	check "$opt $path: the command did not run" test ! -e "$SCRATCH/ran"
done <<EOF2
--plot|x.pdf|--plot writes SVG or PNG: give a file name ending in .svg or .png, not 'x.pdf'
--plot|/nonexistent-dir/x.svg|cannot write --plot '/nonexistent-dir/x.svg': no folder '/nonexistent-dir'
--json|/nonexistent-dir/x.json|cannot write --json '/nonexistent-dir/x.json'
--timeline|$SCRATCH/cwd|cannot write --timeline '$SCRATCH/cwd': it is a folder
EOF2
"$GREENOPS" run --no-db -q --plot "$SCRATCH/p.svg" -- true
eq "--plot FILE.svg still works" "$?" 0
check "... and writes an SVG" grep -q '<svg' "$SCRATCH/p.svg"
done_testing
