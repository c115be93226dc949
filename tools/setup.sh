#!/usr/bin/env bash
# Builds NotebookVgg (Release) when anything under lib/ is newer than the last build, and makes
# TorchSharp's native runtime loadable (nvgg doctor --fix; see environment.md).
# Idempotent and quick when nothing changed. Used by ./nvgg and ./test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET SDK 10 is required (dotnet not found on PATH); see environment.md" >&2
  exit 1
fi

stamp="lib/NotebookVgg.Cli/bin/Release/net10.0/nvgg.dll"
newer=""
if [ -f "$stamp" ]; then
  newer=$(find lib Directory.Build.props Directory.Packages.props global.json -newer "$stamp" \
            \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' -o -name '*.js' \) \
            -not -path '*/bin/*' -not -path '*/obj/*' -print -quit)
fi
if [ ! -f "$stamp" ] || [ -n "$newer" ]; then
  echo "setup: building NotebookVgg (Release)..." >&2
  dotnet build NotebookVgg.sln -c Release --nologo -v quiet -clp:ErrorsOnly >&2
  # Where the system's libstdc++ is too old for TorchSharp (Debian 12), write the patched copy of libLibTorchSharp.so
  # into ~/.cache/notebookvgg/native; it prints what it wrote and how to undo it. The NuGet cache is never changed.
  dotnet "$stamp" doctor --fix >/dev/null || { dotnet "$stamp" doctor >&2; exit 1; }
fi
