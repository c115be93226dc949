#!/usr/bin/env bash
# Runs every test: builds, runs the xunit suites, and prints one summary line "N passed, N failed, N skipped".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
"$root/tools/setup.sh" || exit 1
source "$root/tools/allocator.sh" # the allocator settings ./nvgg uses, for the tests' nvgg processes and the notebooks

# Notebook runner tests (tests/NotebookVgg.Cli.Tests) render a report in Debian's headless chromium and check
# executed notebooks against the nbformat schema with Debian's python3-nbformat; the PyTorch comparison
# (PyTorchComparisonTests, tools/compare_pytorch.py) runs the same protocol in Debian's python3-torch.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
/usr/bin/python3 -c "import nbformat" >/dev/null 2>&1 || missing+=(python3-nbformat)
/usr/bin/python3 -c "import numpy, torch, torchvision" >/dev/null 2>&1 || missing+=(python3-torch python3-torchvision python3-numpy)
# Without OpenBLAS, Debian's torch runs its linear layers on the reference BLAS (libblas.so.3): the PyTorch comparison's
# side then takes well over 30 minutes instead of a few. Installing it makes it the libblas.so.3 alternative.
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || missing+=(libopenblas0-pthread)
if [ ${#missing[@]} -gt 0 ]; then
  "$root/tools/apt-install.sh" "test.sh: for the notebook runner and PyTorch comparison tests" "${missing[@]}" || exit 1
fi

# Tests on real images use the CIFAR-10 sample: $NOTEBOOKVGG_SAMPLE, else ../shared/data beside the checkout.
# Without it those tests fail (they do not skip); say so before they run.
sample="${NOTEBOOKVGG_SAMPLE:-$root/../shared/data/cifar-10-sample-binary.tar.gz}"
[ -f "$sample" ] || echo "test.sh: the CIFAR-10 sample $sample is missing: tests that need it will fail (set NOTEBOOKVGG_SAMPLE to its path)" >&2

results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
dotnet test NotebookVgg.sln -c Release --no-build --nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results"
status=$?

# The notebook suite, headless, in the smoke profile (CIFAR-10 sample when ../shared has it, else synthetic data;
# random weights): every cell must run. Executed copies and HTML reports land in artifacts/notebooks/.
NOTEBOOKVGG_PROFILE=smoke dotnet lib/NotebookVgg.Cli/bin/Release/net10.0/nvgg.dll run notebooks \
  --output "$root/artifacts/notebooks" --html --timeout 900 2>&1 | grep -v "NNPACK" | tee "$results/notebooks.log"
notebook_status=${PIPESTATUS[0]}
[ $notebook_status -eq 0 ] || status=1

# The same five notebooks as a VS Code or Jupyter user runs them: the official .net-csharp kernel (jupyter nbconvert),
# on a fresh clone of this commit where nothing is built, so the setup cell's build and #r path run (smoke profile).
official_start=$(date +%s)
NOTEBOOKVGG_PROFILE=smoke NOTEBOOKVGG_SAMPLE="$sample" "$root/tools/run-official-kernel.sh" --fresh-clone \
  --output "$root/artifacts/official-kernel" $(git -C "$root" ls-files --full-name 'notebooks/*.ipynb' | sed "s|^|$root/|") 2>&1 \
  | tee "$results/official-kernel.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "test.sh: official-kernel step took $(( $(date +%s) - official_start )) s" | tee -a "$results/official-kernel.log"

# One summary line over all test assemblies (TRX files) and the notebooks.
python3 - "$results" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0))
    skipped += int(c.get("notExecuted", 0))
import re
log = open(sys.argv[1] + "/notebooks.log").read()
passed += len(re.findall(r"^\S+\.ipynb: \d+ cells passed", log, re.M))
failed += len(re.findall(r"^\S+\.ipynb: .*fail", log, re.M | re.I)) or (0 if re.search(r"^\d+ notebooks passed", log, re.M) else 1)
# The official kernel on a fresh clone: one result per notebook (a step that could not start counts as one failure).
official = open(sys.argv[1] + "/official-kernel.log").read() if glob.glob(sys.argv[1] + "/official-kernel.log") else ""
official_passed = len(re.findall(r"^run-official-kernel: \S+\.ipynb passed", official, re.M))
official_failed = len(re.findall(r"^run-official-kernel: \S+\.ipynb FAILED", official, re.M))
passed += official_passed
failed += official_failed or (0 if official_passed > 0 else 1)
# Name every failed test and its error's first line, so the end of the log says what failed.
for f in glob.glob(sys.argv[1] + "/*.trx"):
    for r in ET.parse(f).getroot().iterfind(".//t:UnitTestResult", ns):
        if r.get("outcome") in ("Failed", "Error"):
            msg = r.find("t:Output/t:ErrorInfo/t:Message", ns)
            first = (msg.text or "").strip().splitlines()[0][:300] if msg is not None and msg.text else ""
            print(f"FAILED {r.get('testName')}: {first}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
