#!/usr/bin/env bash
# Runs notebooks under the official .NET Interactive Jupyter kernel (.net-csharp), the one VS Code and Jupyter
# use, to check they do not depend on `nvgg run`:
#   tools/run-official-kernel.sh NOTEBOOK.ipynb... [--output DIR] [--fresh-clone]   (default DIR: artifacts/official-kernel)
# Writes DIR/NAME.ipynb (executed by jupyter nbconvert) and DIR/NAME.log, and exits non-zero if a notebook fails.
# --fresh-clone: runs the notebooks of a `git clone` of this checkout's committed HEAD in a temporary folder, where
# nothing is built, as a new user's Run All does: the first setup cell builds the library (notebooks/build-library.csx).
# Installs what it needs, idempotently: Debian's jupyter-nbconvert, python3-nbclient, python3-ipykernel and
# jupyter-client, and the Microsoft.dotnet-interactive tool (1.0.712001). Parameters are not injected: each notebook
# takes its defaults and NOTEBOOKVGG_* variables (test.sh sets NOTEBOOKVGG_PROFILE=smoke).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
interactive_version="1.0.712001"

notebooks=()
output="$root/artifacts/official-kernel"
fresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --output) output="$2"; shift 2 ;;
    --fresh-clone) fresh=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) notebooks+=("$1"); shift ;;
  esac
done
if [ ${#notebooks[@]} -eq 0 ]; then
  echo "usage: tools/run-official-kernel.sh NOTEBOOK.ipynb... [--output DIR]" >&2
  exit 2
fi

# Debian's system python3 runs nbconvert (a pyenv python3 earlier on PATH would not have these modules).
if ! /usr/bin/python3 -c "import nbconvert, nbclient, ipykernel, jupyter_client" 2>/dev/null; then
  "$root/tools/apt-install.sh" "run-official-kernel" jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-client
fi

source "$root/tools/allocator.sh" # the kernel process inherits it: see tools/allocator.sh
export PATH="$PATH:$HOME/.dotnet/tools"
if ! dotnet tool list -g | grep -qi "microsoft.dotnet-interactive *$interactive_version"; then
  echo "run-official-kernel: installing Microsoft.dotnet-interactive $interactive_version..." >&2
  dotnet tool uninstall -g Microsoft.dotnet-interactive >/dev/null 2>&1 || true
  dotnet tool install -g Microsoft.dotnet-interactive --version "$interactive_version" >/dev/null
fi
if ! /usr/bin/python3 -m jupyter kernelspec list 2>/dev/null | grep -q '\.net-csharp'; then
  dotnet interactive jupyter install >/dev/null
fi

mkdir -p "$output"
output="$(cd "$output" && pwd)"
if [ $fresh -eq 1 ]; then
  clone="$(mktemp -d "${TMPDIR:-/tmp}/nvgg-fresh-clone.XXXXXX")"
  trap 'rm -rf "$clone"' EXIT
  git -C "$root" diff --quiet HEAD -- notebooks lib 2>/dev/null \
    || echo "run-official-kernel: uncommitted changes under notebooks/ or lib/ are not in the clone (it takes HEAD)" >&2
  git clone -q "$root" "$clone/NotebookVgg"
  echo "run-official-kernel: fresh clone of $(git -C "$root" rev-parse --short HEAD) in $clone/NotebookVgg (nothing built)"
  mapped=()
  for notebook in "${notebooks[@]}"; do
    mapped+=("$clone/NotebookVgg/$(realpath --relative-to="$root" "$notebook")")
  done
  notebooks=("${mapped[@]}")
fi
failed=0
for notebook in "${notebooks[@]}"; do
  if [ ! -f "$notebook" ]; then
    echo "run-official-kernel: notebook not found: $notebook" >&2
    failed=1
    continue
  fi
  name="$(basename "$notebook")"
  start=$(date +%s%N)
  # nbconvert runs the kernel with the notebook's folder as working directory, as VS Code does.
  if /usr/bin/python3 -m nbconvert --to notebook --execute \
       --ExecutePreprocessor.kernel_name=.net-csharp --ExecutePreprocessor.timeout=1800 \
       --output-dir "$output" --output "$name" "$notebook" >"$output/${name%.ipynb}.log" 2>&1; then
    echo "run-official-kernel: $name passed in $(( ($(date +%s%N) - start) / 1000000 )) ms -> $output/$name"
  else
    echo "run-official-kernel: $name FAILED in $(( ($(date +%s%N) - start) / 1000000 )) ms (log: $output/${name%.ipynb}.log)" >&2
    grep -E "^(Error|[A-Za-z.]+Exception)" "$output/${name%.ipynb}.log" | head -3 >&2 || true
    failed=1
  fi
done
exit $failed
