#!/usr/bin/env bash
# Vendors the chart library of report.html (src/report/html/): downloads the pinned
# Vega, Vega-Lite and vega-embed packages from the npm registry with `npm pack`, checks
# each tarball and each file taken from it against the sha256 committed below, and copies
# the minified builds and licences into src/report/html/vendor/. The report inlines them
# (include_str!), so that it opens from disk with no network.
#
# To move to new versions: change VERSIONS, run with UPDATE=1 to print the new sums,
# paste them below, run again without it, and rebuild and test the report
# (cargo test --release --test html_report).
#
# Vega's own npm package ships no LICENSE file; vendor/vega.LICENSE is the BSD-3-Clause
# text of the vega/vega repository, committed by hand, and checked here to be present.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=src/report/html/vendor

VERSIONS=(vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0)
# sha256 of each tarball and of each file copied out of it (path inside the tarball).
SUMS=$(cat <<'SUMS'
1b8504b6731c5311be3269c4d84ca996a5cc293bc772283293ede20c490e16c3  vega-5.33.1.tgz
e4cbfdd8f6f1abe381c59cd558fd6a559c12b1496bfdf2e0c3295263a40fe4da  vega-lite-5.23.0.tgz
ecf1ee709c2bac9e0a4ead6908114b05b62c71493e10a8a4308109bb070f8eb1  vega-embed-6.29.0.tgz
463f3db6a40b20e9747b4ed38f37ed0add508838f9141b1cf8366784b07b30c8  vega-5.33.1/package/build/vega.min.js
58c27358e26f2d319cf62f45bc17a4c8362f08645001df2ec8d341eee4097c7f  vega-lite-5.23.0/package/build/vega-lite.min.js
f618900fd0d64046963b29f40590cdd1e341a2f41449f99110d82fd81fea808c  vega-lite-5.23.0/package/LICENSE
12d02acfbe3ec59ef9a37dd4822a2e04e2961b5bbb671bbe661d2221715b99da  vega-embed-6.29.0/package/build/vega-embed.min.js
32df67148f0fc3db0eb9e263a7b75d07f1eb14c61955005a4a39c6918d10d137  vega-embed-6.29.0/package/LICENSE
SUMS
)
# Where each file goes: path inside the tarball, then the name under $DEST.
COPIES=(
    "vega-5.33.1/package/build/vega.min.js vega.min.js"
    "vega-lite-5.23.0/package/build/vega-lite.min.js vega-lite.min.js"
    "vega-lite-5.23.0/package/LICENSE vega-lite.LICENSE"
    "vega-embed-6.29.0/package/build/vega-embed.min.js vega-embed.min.js"
    "vega-embed-6.29.0/package/LICENSE vega-embed.LICENSE"
)

fail() {
    echo "vendor-vega: $*" >&2
    exit 1
}
command -v npm >/dev/null || fail "needs npm (apt-get install npm) to download from the npm registry"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for package in "${VERSIONS[@]}"; do
    (cd "$TMP" && npm pack --silent "$package" >/dev/null) || fail "npm pack $package failed"
done
for tarball in "$TMP"/*.tgz; do
    name=$(basename "$tarball" .tgz)
    mkdir -p "$TMP/$name"
    tar -xzf "$tarball" -C "$TMP/$name"
done
if [[ ${UPDATE:-} == 1 ]]; then
    (cd "$TMP" && sha256sum ./*.tgz && for c in "${COPIES[@]}"; do sha256sum "${c%% *}"; done) |
        sed 's| \./|  |; s|  \+|  |'
    exit 0
fi
(cd "$TMP" && sha256sum --check --quiet <<<"$SUMS") ||
    fail "a download differs from the sha256 committed in $0; nothing was copied"
mkdir -p "$DEST"
for c in "${COPIES[@]}"; do
    cp "$TMP/${c%% *}" "$DEST/${c##* }"
done
[[ -s $DEST/vega.LICENSE ]] || fail "$DEST/vega.LICENSE is missing: restore it from git (vega's npm package has none)"
echo "vendor-vega: copied $(printf '%s ' "${VERSIONS[@]}")into $DEST"
