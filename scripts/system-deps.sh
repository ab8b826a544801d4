#!/usr/bin/env bash
# Installs the Debian packages a target needs when they are missing, as root or with sudo;
# where it cannot, stops at once with one line saying what to install. Shared by the
# Makefile (make test, make container-test) and .ci/run.
#   scripts/system-deps.sh test        python3-venv, Chromium (browser tests), nginx (proxy
#                                      tests), PgBouncer (pooler test), PostgreSQL's binaries
#                                      when none answers on 5432
#   scripts/system-deps.sh container   podman, runc, debootstrap, nginx, PostgreSQL's binaries
#   scripts/system-deps.sh ci          all of the above, make and gettext
# Services are not started by the installation (a policy-rc.d refuses it while apt runs):
# the tests start their own.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
has_initdb() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

need=()
want() { case " ${need[*]} " in *" $1 "*) ;; *) need+=("$1") ;; esac; }
need_test() {
  python3 -c 'import ensurepip' 2>/dev/null || want python3-venv
  [ -x /usr/bin/chromium ] || want chromium
  have nginx || want nginx
  have pgbouncer || want pgbouncer
  port_open 5432 || has_initdb || want postgresql
}
need_container() {
  python3 -c 'import ensurepip' 2>/dev/null || want python3-venv
  have podman || want podman
  have runc || want runc
  have debootstrap || want debootstrap
  have nginx || want nginx
  has_initdb || want postgresql
}

target=${1:-test}
case "$target" in
  test) need_test ;;
  container) need_container ;;
  ci)
    have make || want make
    have msgfmt || want gettext
    need_test
    need_container
    ;;
  *) echo "usage: $0 test|container|ci" >&2; exit 2 ;;
esac
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "make $target needs Debian packages that are missing: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

echo "Installing what $target needs: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
  # exit 101: "action forbidden", so installing nginx or PostgreSQL starts no service.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && own_policy=1
fi
status=0
{ $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } || status=$?
if [ -n "$own_policy" ]; then $sudo rm -f "$policy"; fi
if [ "$status" != 0 ]; then
  echo "Could not install ${need[*]} (apt-get failed, see above): install them, then run make $target again." >&2
  exit 1
fi
