#!/usr/bin/env bash
# The workflow's real-weights job (.github/workflows/ci.yml), one script so that the same steps run here against a
# 127.0.0.1 mirror (RealWeightsScriptTests serves generated files with their own checksums):
#   tools/ci/real-weights.sh --out DIR [--data DIR] [--weights-dir DIR] [--limit-train N] [--limit-test N]
#                            [--data-mirror URL --data-sha256 HEX] [--weights-mirror URL --weights-sha256 HEX]
#                            [--notebook-parameter NAME=VALUE]...   (more -p for notebook 04, e.g. a test's finetune_epochs=0)
# 1. CIFAR-10 (official MD5) and torchvision's VGG19 ImageNet weights (published SHA-256) with nvgg's own commands;
#    a mirror's files are checked against the checksums given instead.
# 2. The cpu profile's nvgg train at a reduced scale (--limit-train/--limit-test, default 5,000 / 2,000 images), then
#    nvgg eval on the checkpoint: DIR/train.json, DIR/eval.json.
# 3. Notebook 04 under profile cpu at scale tiny with those weights: DIR/notebooks/04-training.{executed.ipynb,report.html}.
# 4. DIR/summary.md (accuracy, top-5, notebook 04's k-NN and head figures), also appended to $GITHUB_STEP_SUMMARY when set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="" data="" weights_dir="" limit_train=5000 limit_test=2000
data_mirror="" data_sha="" weights_mirror="" weights_sha=""
notebook_parameters=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --weights-dir) weights_dir="$2"; shift 2 ;;
    --limit-train) limit_train="$2"; shift 2 ;;
    --limit-test) limit_test="$2"; shift 2 ;;
    --data-mirror) data_mirror="$2"; shift 2 ;;
    --data-sha256) data_sha="$2"; shift 2 ;;
    --weights-mirror) weights_mirror="$2"; shift 2 ;;
    --weights-sha256) weights_sha="$2"; shift 2 ;;
    --notebook-parameter) notebook_parameters+=(-p "${2%%=*}" "${2#*=}"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "real-weights: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "real-weights: --out DIR is required" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
data="${data:-$out/data}"
weights_dir="${weights_dir:-$out/weights}"
nvgg="$root/nvgg"
step() { echo "::group::$*"; }
endstep() { echo "::endgroup::"; }

step "CIFAR-10"
"$nvgg" data download --data "$data" ${data_mirror:+--mirror "$data_mirror"} ${data_sha:+--sha256 "$data_sha"}
endstep

step "VGG19 ImageNet weights"
"$nvgg" weights download vgg19 --dir "$weights_dir" ${weights_mirror:+--mirror "$weights_mirror"} ${weights_sha:+--sha256 "$weights_sha"}
weights="$weights_dir/$("$nvgg" weights list --json | /usr/bin/env python3 -c 'import json,sys; print(next(w["fileName"] for w in json.load(sys.stdin) if w["name"] == "vgg19"))')"
[ -f "$weights" ] || { echo "real-weights: $weights missing after nvgg weights download" >&2; exit 1; }
endstep

step "nvgg train --profile cpu (reduced: $limit_train training, $limit_test test images) and nvgg eval"
"$nvgg" train --profile cpu --data "$data" --weights "$weights" --limit-train "$limit_train" --limit-test "$limit_test" \
  --checkpoint "$out/cpu.ckpt" --overwrite --json > "$out/train.json"
"$nvgg" eval --checkpoint "$out/cpu.ckpt" --data "$data" --limit-test "$limit_test" --json > "$out/eval.json"
endstep

step "notebook 04 under cpu at scale tiny, with the weights"
"$nvgg" run "$root/notebooks/04-training.ipynb" -p profile cpu -p scale tiny -p data "$data" -p weights "$weights" \
  ${notebook_parameters[@]+"${notebook_parameters[@]}"} --html --output "$out/notebooks" 2>&1 | grep -v NNPACK
endstep

/usr/bin/env python3 - "$out" "$limit_train" "$limit_test" <<'PY'
import json, os, re, sys
out, limit_train, limit_test = sys.argv[1], sys.argv[2], sys.argv[3]
train = json.load(open(os.path.join(out, "train.json")))
ev = json.load(open(os.path.join(out, "eval.json")))
def field(obj, *names):
    for n in names:
        for k, v in obj.items():
            if k.lower() == n.lower():
                return v
    raise KeyError(f"none of {names} in {sorted(obj)}")
nb = json.load(open(os.path.join(out, "notebooks", "04-training.executed.ipynb")))
texts = []
for cell in nb["cells"]:
    for o in cell.get("outputs", []):
        t = o.get("text") or o.get("data", {}).get("text/plain") or ""
        texts.append("".join(t) if isinstance(t, list) else t)
def line(pattern, what):
    for t in texts:
        for l in t.splitlines():
            if re.search(pattern, l):
                return l.strip().strip('"')
    sys.exit(f"real-weights: notebook 04's {what} line (/{pattern}/) not found in its outputs")
knn = line(r"^\"?k = \d+ .*fc7 features", "k-NN")
# The optional section's comparison, "The recipe's trained head: test accuracy … kNN (k = 10) on the frozen fc7 features,
# …": from "test accuracy" on
head = line(r"test accuracy .*kNN \(k = \d+\) on the frozen fc7 features", "test accuracy")
head = head[head.index("test accuracy"):]
t = train["test"]
acc, top5, n = field(t, "accuracy"), field(t, "top5Accuracy"), field(t, "count")
eacc = field(ev, "accuracy")
summary = f"""## Real weights: VGG19 (ImageNet) on CIFAR-10, cpu profile

| run | figure |
|---|---|
| `nvgg train --profile cpu --limit-train {limit_train} --limit-test {limit_test}` | test accuracy **{acc:.2%}**, top-5 {top5:.2%} on {n:,} test images of {train['data']} (precision {train['precision']['name']}) |
| `nvgg eval` on that checkpoint | test accuracy **{eacc:.2%}** |
| notebook 04, profile cpu, scale tiny: k-NN | {knn} |
| notebook 04, profile cpu, scale tiny: head | {head} |

Artifacts: train.json, eval.json, notebooks/04-training.executed.ipynb and its HTML report.
"""
open(os.path.join(out, "summary.md"), "w").write(summary)
if os.environ.get("GITHUB_STEP_SUMMARY"):
    open(os.environ["GITHUB_STEP_SUMMARY"], "a").write(summary)
print(summary)
PY
