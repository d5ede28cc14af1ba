#!/usr/bin/env bash
# Installs pinned prometheus and promtool binaries into .tools/bin/, idempotently.
#
# Where they come from: Debian's `prometheus` package (bookworm), fetched with `apt-get download`
# (no installation, so no service, user or unit file is created) and unpacked with `dpkg -x`.
# apt verifies the package against the archive's signed index; the sha256 pin below makes every
# machine test with the same build. Both binaries are static Go programs apart from libc, so the
# web UI's JavaScript dependencies the package declares are not needed: the tests use the HTTP API.
#
# promtool checks and unit-tests the chart's alerting rules (tests/monitoring); prometheus scrapes
# a real server to evaluate the dashboard's queries.
#
# Usage: scripts/install-prometheus.sh [TOOLS_DIR]   (default: .tools under the repository root)
set -euo pipefail

# The pin. Changing it: set the Debian version and the .deb's sha256 (`apt-cache show
# prometheus=<version>` prints both), and PROMETHEUS_VERSION to what `promtool --version` prints.
DEB_PACKAGE="prometheus"
DEB_VERSION="2.42.0+ds-5+deb12u1"
DEB_SHA256="81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55"
PROMETHEUS_VERSION="2.42.0+ds"

# shellcheck source=scripts/install-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"
install_begin "$@"
bin="$tools/bin"

installed_version() {
  # `promtool, version 2.42.0+ds (branch: ...)` -> 2.42.0+ds
  [ -x "$bin/$1" ] && "$bin/$1" --version 2>&1 | sed -n '1s/^[a-z]*, version \([^ ]*\).*/\1/p'
}

installed_already "$PROMETHEUS_VERSION $PROMETHEUS_VERSION" \
  "$(installed_version promtool || true) $(installed_version prometheus || true)" \
  "prometheus and promtool $PROMETHEUS_VERSION already in $bin"
require_platform "$(uname -s)-$(dpkg --print-architecture 2>/dev/null || echo unknown)" \
  Linux-amd64 "needs a Debian-based amd64 machine (apt-get, dpkg)"

# A machine whose package lists were never fetched (or are older than the pin) knows no such
# version: fetch the lists once and ask again.
if ! apt-cache show "$DEB_PACKAGE=$DEB_VERSION" > /dev/null 2>&1; then
  apt-get update -qq
fi
if ! apt-cache show "$DEB_PACKAGE=$DEB_VERSION" > /dev/null 2>&1; then
  fail "$DEB_PACKAGE=$DEB_VERSION is not offered by the configured Debian archive;" \
       "update the pin in $0 to the version \`apt-cache policy $DEB_PACKAGE\` shows"
fi

install_workdir
# apt drops privileges to _apt for downloads; let it write here (otherwise it warns and
# downloads as root).
chmod 0777 "$work"

(cd "$work" && apt-get download -qq "$DEB_PACKAGE=$DEB_VERSION")
deb=("$work"/*.deb)
got_sha="$(sha256sum "${deb[0]}" | cut -d' ' -f1)"
if [ "$got_sha" != "$DEB_SHA256" ]; then
  fail "${deb[0]##*/} has sha256 $got_sha, expected $DEB_SHA256"
fi

dpkg -x "${deb[0]}" "$work/root"
mkdir -p "$bin"
for tool in prometheus promtool; do
  install -m 0755 "$work/root/usr/bin/$tool" "$bin/$tool.tmp"
  mv -f "$bin/$tool.tmp" "$bin/$tool"
  check_installed "$PROMETHEUS_VERSION" "$(installed_version "$tool")" "$tool $PROMETHEUS_VERSION"
done
echo "installed prometheus and promtool $PROMETHEUS_VERSION in $bin"
