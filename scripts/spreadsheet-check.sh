#!/usr/bin/env bash
# Spreadsheet check: imports runner's CSV files into LibreOffice Calc as a German, a French
# and a US English user's default import would, and fails if any number was silently
# changed (see docs/results.md, "Opening the CSV files in a spreadsheet").
set -euo pipefail

usage() {
    cat <<'EOF_USAGE'
Usage: scripts/spreadsheet-check.sh [--data-dir DIR]

Builds runner, runs tests/fixtures/failing.toml (12 small runs on 500 MNIST images, 4 of
them fail on purpose) into a temporary folder, and imports its summary.csv, epochs.csv,
stats.csv, comparisons.csv and one metrics.csv, and the committed results' summary.csv,
epochs.csv, stats.csv and comparisons.csv, into LibreOffice Calc headless (de-DE, fr-FR,
en-US; the CSV import's defaults otherwise). Each cell is compared with the CSV: see
scripts/spreadsheet_check.py for the rules. About a minute.

Needs: cargo, python3, and LibreOffice Calc (`soffice`); as root on Debian or Ubuntu the
script installs Debian's libreoffice-calc with apt-get when soffice is missing.
MNIST comes from --data-dir, else $RUNNER_DATA_DIR, else data/ (fetched when missing).
EOF_USAGE
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA_DIR=${RUNNER_DATA_DIR:-$ROOT/data}
while [ $# -gt 0 ]; do
    case "$1" in
        --data-dir) DATA_DIR=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done

die() { echo "error: $*" >&2; exit 1; }

if ! command -v soffice >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing libreoffice-calc (Debian package) ..."
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libreoffice-calc \
            || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libreoffice-calc; } \
            || die "could not install libreoffice-calc with apt-get"
    else
        die "soffice not found: install LibreOffice Calc (Debian/Ubuntu: apt-get install libreoffice-calc)"
    fi
fi
command -v soffice >/dev/null || die "soffice still not on PATH after installing libreoffice-calc"
command -v python3 >/dev/null || die "python3 not found"

cd "$ROOT"
cargo build --release --quiet
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The failing sweep exits 1 for its failed runs; anything else is a real error.
set +e
target/release/runner --data-dir "$DATA_DIR" --out "$WORK/res" -q tests/fixtures/failing.toml
status=$?
set -e
[ "$status" = 1 ] || die "runner exited $status on tests/fixtures/failing.toml (expected 1: some runs fail on purpose)"

FRESH=$WORK/res/failing
files=("$FRESH"/summary.csv "$FRESH"/epochs.csv "$FRESH"/stats.csv "$FRESH"/comparisons.csv)
files+=("$(ls "$FRESH"/*/metrics.csv | head -n 1)")
for experiment in results/*/; do
    for name in summary epochs stats comparisons; do
        [ -f "$experiment$name.csv" ] && files+=("$experiment$name.csv")
    done
done
python3 scripts/spreadsheet_check.py "$WORK/calc" "${files[@]}"
echo "spreadsheet check passed: no number changed in any locale"
