#!/usr/bin/env bash
# greenops macs end to end: models written by onnx_gen, counted through the CLI; tables, JSON,
# --input/--batch, warnings, exit statuses and one-line errors. Expected figures are worked out
# here from the layer shapes.
. "$(dirname "$0")/lib.sh"

GEN="$BUILD_ABS/tests/onnx_gen"
M="$SCRATCH/models"
mkdir -p "$M"
for name in $("$GEN" list); do "$GEN" "$name" "$M/$name.onnx"; done

# cnn: conv1 3->16 3x3 stride 2 (32 -> 16), depthwise 16 3x3, grouped 1x1 16->32 in 4 groups, fc 32->10
conv1=$((16 * 16 * 16 * 3 * 9))
dw=$((16 * 16 * 16 * 9))
grp=$((32 * 16 * 16 * 4))
fc=$((32 * 10))
cnn_macs=$((conv1 + dw + grp + fc))
cnn_params=$((16 * 27 + 16 + 16 * 9 + 32 * 4 + 320 + 10))

"$GREENOPS" macs "$M/cnn.onnx" --json "$SCRATCH/cnn.json" >"$SCRATCH/cnn.out" 2>"$SCRATCH/cnn.err"
eq "cnn exits 0" "$?" 0
eq "cnn MACs" "$(jget "$SCRATCH/cnn.json" macs)" "$cnn_macs"
eq "cnn params" "$(jget "$SCRATCH/cnn.json" params)" "$cnn_params"
near "cnn MACs per param" "$(jget "$SCRATCH/cnn.json" macs_per_param)" \
	"$(awk -v m=$cnn_macs -v p=$cnn_params 'BEGIN { printf "%.9f", m / p }')" 1e-6
eq "cnn complete" "$(jget "$SCRATCH/cnn.json" complete)" True
eq "cnn first layer" "$(jget "$SCRATCH/cnn.json" layers.0.name)" conv1
eq "cnn first layer MACs" "$(jget "$SCRATCH/cnn.json" layers.0.macs)" "$conv1"
eq "cnn first layer shape" "$(jget "$SCRATCH/cnn.json" layers.0.output_shape)" "[1, 16, 16, 16]"
eq "cnn grouped layer MACs" "$(jget "$SCRATCH/cnn.json" layers.3.macs)" "$grp"
eq "cnn top op type" "$(jget "$SCRATCH/cnn.json" by_op_type.0.op_type)" Conv
eq "cnn Conv MACs" "$(jget "$SCRATCH/cnn.json" by_op_type.0.macs)" $((conv1 + dw + grp))
eq "cnn no warnings" "$(jget "$SCRATCH/cnn.json" warnings)" "[]"
check "cnn stderr is empty" test ! -s "$SCRATCH/cnn.err"
contains "table has the depthwise row" "$SCRATCH/cnn.out" '^depthwise +Conv +1x16x16x16 +36,864 +144 +0$'
contains "table has the totals" "$SCRATCH/cnn.out" "^MACs +180,544 +\(180.54 k\)$"
contains "table has MACs per param" "$SCRATCH/cnn.out" '^MACs/param +171\.95$'
if grep -q '^flatten ' "$SCRATCH/cnn.out"; then not_ok "layers without cost are hidden"; else ok "layers without cost are hidden"; fi

"$GREENOPS" macs "$M/cnn.onnx" --all-nodes >"$SCRATCH/all.out"
contains "--all-nodes lists Flatten" "$SCRATCH/all.out" '^flatten +Flatten +1x32 '
"$GREENOPS" macs "$M/cnn.onnx" --summary >"$SCRATCH/sum.out"
if grep -q '^layer ' "$SCRATCH/sum.out"; then not_ok "--summary leaves layers out"; else ok "--summary leaves layers out"; fi
contains "--summary keeps op types" "$SCRATCH/sum.out" '^Conv +3 +180,224 '

"$GREENOPS" macs "$M/cnn.onnx" --json - >"$SCRATCH/stdout.json"
check "--json - writes only JSON to stdout" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$SCRATCH/stdout.json"
eq "--json - MACs" "$(jget "$SCRATCH/stdout.json" macs)" "$cnn_macs"

# attention: 3 projections 16x64x64, scores and context 4 heads x 16x16x16, output 16x64x64
att_macs=$((3 * 16 * 64 * 64 + 2 * 4 * 16 * 16 * 16 + 16 * 64 * 64))
"$GREENOPS" macs "$M/attention.onnx" --json "$SCRATCH/att.json" >/dev/null 2>"$SCRATCH/att.err"
eq "attention exits 0" "$?" 0
eq "attention MACs" "$(jget "$SCRATCH/att.json" macs)" "$att_macs"
eq "attention params" "$(jget "$SCRATCH/att.json" params)" $((4 * 64 * 64 + 3 * 64))
contains "symbolic batch is warned" "$SCRATCH/att.err" "^greenops macs: warning: input 'x': dimension 0 \('batch'\) is symbolic; counted as 1"
"$GREENOPS" macs "$M/attention.onnx" --batch 4 --json "$SCRATCH/att4.json" >/dev/null 2>"$SCRATCH/att4.err"
eq "--batch 4 scales MACs" "$(jget "$SCRATCH/att4.json" macs)" $((4 * att_macs))
eq "--batch 4 input shape" "$(jget "$SCRATCH/att4.json" inputs.0.shape)" "[4, 16, 64]"
check "--batch 4 leaves no warning" test ! -s "$SCRATCH/att4.err"

# symbolic: 8 filters 3x3 over 3 channels, unpadded
"$GREENOPS" macs "$M/symbolic.onnx" --json "$SCRATCH/sym.json" >/dev/null 2>"$SCRATCH/sym.err"
eq "symbolic H and W exit 0" "$?" 0
eq "symbolic H and W incomplete" "$(jget "$SCRATCH/sym.json" complete)" False
contains "symbolic H is named" "$SCRATCH/sym.err" "dimension 2 \('H'\) is symbolic; give its size with --input x=DIMS"
"$GREENOPS" macs "$M/symbolic.onnx" --strict >/dev/null 2>&1
eq "--strict exits 3 when incomplete" "$?" 3
"$GREENOPS" macs "$M/symbolic.onnx" --input x=2x3x32x32 --strict --json "$SCRATCH/sym2.json" >/dev/null
eq "--input resolves the shape" "$?" 0
eq "--input MACs" "$(jget "$SCRATCH/sym2.json" macs)" $((2 * 8 * 30 * 30 * 27))

"$GREENOPS" macs "$M/unknown_op.onnx" --json "$SCRATCH/unk.json" >"$SCRATCH/unk.out" 2>"$SCRATCH/unk.err"
eq "unknown op exits 0" "$?" 0
eq "unknown op incomplete" "$(jget "$SCRATCH/unk.json" complete)" False
eq "unknown op counts what it can" "$(jget "$SCRATCH/unk.json" macs)" 256
contains "unknown op is named" "$SCRATCH/unk.err" "op 'Frobnicate' \(domain 'com.example'\) is not known: 1 node\(s\) not counted \(first 'frob'\)"
contains "table says incomplete" "$SCRATCH/unk.out" '^complete +no'
eq "uninferred layer MACs are null" "$(jget "$SCRATCH/unk.json" layers.1.macs)" null

# ResNet-18 built as torch exports it (batch norm folded into the convolutions), worked out by
# hand: stem 7x7, four stages of 3x3 convolutions, 1x1 projections, fc. torchvision publishes
# 1.81 GMACs and 11,689,512 params; folding leaves one bias per BN channel (4,800) instead of two.
stage() { # CHANNELS SIZE: 3x3 convs of one stage after the first (strided) one, plus that one and the projection
	echo $((3 * $1 * $2 * $2 * $1 * 9 + $1 * $2 * $2 * ($1 / 2) * 9 + $1 * $2 * $2 * ($1 / 2)))
}
rn_macs=$((64 * 112 * 112 * 3 * 49 + 4 * 64 * 56 * 56 * 64 * 9 + $(stage 128 28) + $(stage 256 14) + $(stage 512 7) + 512 * 1000))
"$GREENOPS" macs "$M/resnet18.onnx" --json "$SCRATCH/rn.json" >/dev/null
eq "ResNet-18 MACs" "$(jget "$SCRATCH/rn.json" macs)" "$rn_macs"
eq "ResNet-18 MACs are torchvision's 1.81 G" "$rn_macs" 1814073344
eq "ResNet-18 params" "$(jget "$SCRATCH/rn.json" params)" $((11689512 - 4800))

"$GREENOPS" macs "$M/external.onnx" --json "$SCRATCH/ext.json" >/dev/null
eq "external data counted from dims" "$(jget "$SCRATCH/ext.json" params)" $((1024 * 4096))

"$GREENOPS" macs "$M/new_opset.onnx" >/dev/null 2>"$SCRATCH/new.err"
eq "newer opset exits 0" "$?" 0
contains "newer opset is warned" "$SCRATCH/new.err" "opset 99 is newer than the newest known here"

# Errors: one line naming the input, status 1 (unreadable or uncountable) or 2 (usage).
error_case() { # NAME STATUS PATTERN ARGS...
	local name=$1 want=$2 pat=$3
	shift 3
	"$GREENOPS" macs "$@" >"$SCRATCH/e.out" 2>"$SCRATCH/e.err"
	eq "$name: exit status" "$?" "$want"
	contains "$name: message" "$SCRATCH/e.err" "$pat"
	if [ "$want" = 1 ]; then
		eq "$name: one line" "$(wc -l <"$SCRATCH/e.err")" 1
		check "$name: nothing on stdout" test ! -s "$SCRATCH/e.out"
	fi
}
head -c 1000 "$M/cnn.onnx" >"$M/truncated.onnx"
: >"$M/empty.onnx"
printf 'not a model\n' >"$M/text.onnx"
error_case "missing file" 1 "^greenops macs: cannot read '$M/nope.onnx': No such file or directory$" "$M/nope.onnx"
error_case "truncated file" 1 "'$M/truncated.onnx' is not a valid ONNX model: .*truncated" "$M/truncated.onnx"
error_case "empty file" 1 "'$M/empty.onnx' is not an ONNX model: the file is empty" "$M/empty.onnx"
error_case "text file" 1 "'$M/text.onnx' is not a valid ONNX model" "$M/text.onnx"
error_case "overflow" 1 "'$M/overflow.onnx': node 'huge' \(MatMul\): a dimension or count overflows 64 bits" "$M/overflow.onnx"
error_case "unknown input name" 1 "'$M/cnn.onnx': the model has no input 'image' \(its inputs: 'x'\)" "$M/cnn.onnx" --input image=1x3x32x32
error_case "input of the wrong rank" 1 "--input x gives 2 dimensions; the model's input has 4" "$M/cnn.onnx" --input x=1x3
error_case "bad --input" 2 "--input 'x=1xfoo': dimensions must be" "$M/cnn.onnx" --input x=1xfoo
error_case "bad --batch" 2 "--batch 'two' is not a positive integer" "$M/cnn.onnx" --batch two
error_case "no model" 2 "which model\?" --batch 2
error_case "two models" 2 "unexpected argument" "$M/cnn.onnx" "$M/cnn.onnx"
error_case "unwritable --json" 1 "cannot write '$SCRATCH/no/such.json'" "$M/cnn.onnx" --json "$SCRATCH/no/such.json"

# A device that never ends (/dev/zero was read until memory ran out) is refused at once; a
# pipe still works.
timeout 60 "$GREENOPS" macs /dev/zero >/dev/null 2>"$SCRATCH/zero.err"
eq "/dev/zero: exit 1" "$?" 1
eq "/dev/zero: one line naming it" "$(cat "$SCRATCH/zero.err")" "greenops macs: cannot read '/dev/zero': not a file or a pipe (a device or a socket)"
"$GREENOPS" macs /dev/stdin --json "$SCRATCH/pipe.json" <"$M/attention.onnx" >/dev/null 2>"$SCRATCH/pipe.err"
eq "a model through a pipe: exit 0" "$?" 0
eq "a model through a pipe: the same MACs as from the file" "$(jget "$SCRATCH/pipe.json" macs)" "$(jget "$SCRATCH/att.json" macs)"

"$GREENOPS" help macs >"$SCRATCH/help.out"
contains "help describes --input" "$SCRATCH/help.out" '--input NAME=DIMS'

done_testing
