#!/usr/bin/env bash
# The full-size check of issue 3: torchvision's vgg19() written by real PyTorch in four formats (legacy .pth,
# zip checkpoint dict, timm-layout safetensors, TorchSharp) must load strictly through `nvgg logits` and give
# PyTorch's logits. Needs Debian's python3-torch and python3-torchvision (run with /usr/bin/python3) and
# about 2.5 GB in the work folder. Usage: tools/check-full-vgg19.sh [WORKDIR]   (default /tmp/nvgg-full)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-/tmp/nvgg-full}"
py=/usr/bin/python3
[ -f "$work/expected.safetensors" ] || "$py" "$root/tests/fixtures/make_fixtures.py" --full "$work"
status=0
for weights in vgg19.legacy.pth vgg19.checkpoint.zip.pth vgg19.timm.safetensors vgg19.torchsharp.dat; do
    "$root/nvgg" logits --weights "$work/$weights" --input "$work/input.safetensors" --output "$work/$weights.logits.safetensors"
    "$py" - "$work/expected.safetensors" "$work/$weights.logits.safetensors" "$weights" <<'PY' || status=1
import json, struct, sys
import numpy as np
def read(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    h = header[name]
    assert h["dtype"] == "F32", h
    b, e = h["data_offsets"]
    return np.frombuffer(data[b:e], dtype="<f4").reshape(h["shape"])
expected, actual = read(sys.argv[1], "logits"), read(sys.argv[2], "logits")
diff = float(np.abs(expected - actual).max()); scale = float(np.abs(expected).max())
ok = expected.shape == actual.shape and diff <= 1e-5 * scale
print(f"{sys.argv[3]}: max |nvgg - pytorch| = {diff:.3g} (max |logit| {scale:.3g}, relative {diff / scale:.3g}) {'OK' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
done
exit $status
