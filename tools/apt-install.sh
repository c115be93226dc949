#!/usr/bin/env bash
# Installs Debian packages for the project's scripts (test.sh, tools/*.sh), as root or through sudo, and says why:
#   tools/apt-install.sh "WHO: WHAT FOR" PACKAGE...
# Exits 1 with one line naming the packages when apt-get fails.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: tools/apt-install.sh \"WHO: WHAT FOR\" PACKAGE..." >&2; exit 2; }
why="$1"; shift
echo "$why: installing $* (Debian)..." >&2
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
# Another apt-get (a second script, unattended upgrades) may hold dpkg's lock: wait for it rather than fail.
lock=(-o DPkg::Lock::Timeout=600)
$sudo apt-get "${lock[@]}" update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get "${lock[@]}" install -y -qq "$@" >/dev/null \
  || { echo "$why: could not install $* (apt-get install $*)" >&2; exit 1; }
