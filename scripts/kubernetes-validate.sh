#!/usr/bin/env bash
# Validates the Kubernetes example manifests against the Kubernetes API schemas, offline:
# kubernetes-validate (PyPI) bundles the schemas. --strict rejects unknown fields too, so
# a misspelt key fails rather than being ignored by the cluster. Installs it into a
# virtual environment under target/ (ignored by git) on first use. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.37.0 # the package's version, and the Kubernetes version it checks against
VENV=target/kubernetes-validate-$VERSION
if [[ ! -x "$VENV/bin/kubernetes-validate" ]]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" ||
        { echo "kubernetes-validate: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION" ||
        { rm -rf "$VENV"; echo "kubernetes-validate: could not install kubernetes-validate==$VERSION from PyPI" >&2; exit 1; }
fi
"$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$VERSION" examples/kubernetes/*.yaml
