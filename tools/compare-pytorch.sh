#!/usr/bin/env bash
# Issue 5's check: `nvgg train --mode features` + `nvgg eval` against the same protocol in PyTorch, with the same
# weights file and the real CIFAR-10 sample; fails when the mean test accuracies differ by more than 2 points.
# See tools/compare_pytorch.py for the protocol and the weights. Installs Debian's python3-torch,
# python3-torchvision and python3-numpy when missing.
# Usage: tools/compare-pytorch.sh [WORKDIR] [compare_pytorch.py options, e.g. --image-size 64 --seeds 0]
#   WORKDIR (default /tmp/nvgg-compare) receives the extracted sample, the weights file, the feature cache,
#   checkpoints and result.json. Data: the sample ($NOTEBOOKVGG_SAMPLE, else ../shared/data beside the checkout),
#   or --data DIR for another CIFAR-10 folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="/tmp/nvgg-compare"
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then work="$1"; shift; fi
mkdir -p "$work"

if ! /usr/bin/python3 -c "import numpy, torch, torchvision" >/dev/null 2>&1; then
  "$root/tools/apt-install.sh" "compare-pytorch" python3-torch python3-torchvision python3-numpy
fi
"$root/tools/setup.sh"

data_args=()
if [[ " $* " != *" --data "* ]]; then
  sample="${NOTEBOOKVGG_SAMPLE:-$root/../shared/data/cifar-10-sample-binary.tar.gz}"
  [ -f "$sample" ] || { echo "compare-pytorch: $sample not found: set NOTEBOOKVGG_SAMPLE to the sample archive, or pass --data DIR (a folder holding cifar-10-batches-bin)" >&2; exit 1; }
  [ -f "$work/data/cifar-10-batches-bin/test_batch.bin" ] || "$root/nvgg" data extract "$sample" --data "$work/data" >&2
  data_args=(--data "$work/data")
fi

# Both sides with the allocator setting nvgg uses (NativeAllocator): keep freed memory instead of a fresh mmap per buffer.
GLIBC_TUNABLES="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647" \
  /usr/bin/python3 "$root/tools/compare_pytorch.py" "${data_args[@]}" --workdir "$work" --nvgg "$root/nvgg" --out "$work/result.json" "$@"
