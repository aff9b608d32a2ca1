"""Imports CSV files into LibreOffice Calc under several locales and checks that no
number is silently changed.

Usage: spreadsheet_check.py OUT_DIR FILE.csv...

Each file is converted headless (`soffice --convert-to fods`) with the CSV import's
defaults (comma-separated, UTF-8, "detect special numbers" off) and the locale set in the
import filter, as a user's default import in that locale does. Every cell of the result
is compared with the CSV's text:

- German (de-DE) and French (fr-FR): a cell LibreOffice made a number must hold exactly
  the value the CSV means (read with a dot as the decimal separator); a cell kept as text
  must hold the CSV's text unchanged; a date, time, percentage, currency or boolean is a
  failure. Text is allowed: it is visible, and the import steps of docs/results.md turn it into
  numbers.
- English (en-US), the import setting of docs/results.md: every cell whose text is a decimal
  number must be that number, and nothing else may change.

"That number" means the CSV's value as Calc can hold it: Calc, like Excel, keeps 15
significant digits, so a figure written with more (f64's shortest form has up to 17) may
differ by one unit in its 15th digit; a value with 15 digits or fewer (every cost, written
from f32, has at most 9) must match exactly.

Prints one line per file and locale; exits 1 when any cell was changed.
"""

from __future__ import annotations

import csv
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"

# Locale ids (LCID) as LibreOffice's CSV filter options take them.
LOCALES = {"de-DE": 1031, "fr-FR": 1036, "en-US": 1033}
DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def convert(path: str, out_dir: str, locale: str) -> str:
    """The file imported with `locale`, saved as flat ODF; returns its path."""
    target = os.path.join(out_dir, locale)
    os.makedirs(target, exist_ok=True)
    # Tokens: separator 44 (,), text delimiter 34 ("), charset 76 (UTF-8), first line 1,
    # column formats (none: standard), language.
    options = f"CSV:44,34,76,1,,{LOCALES[locale]}"
    # A profile of its own, so that a LibreOffice the user has open does not interfere.
    profile = "file://" + os.path.abspath(os.path.join(out_dir, "profile"))
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore",
         f"--infilter={options}",
         "--convert-to", "fods", "--outdir", target, path],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.join(target, stem + ".fods")


def cells(fods: str) -> list[list[tuple[str, str, str]]]:
    """(value type, value, text) of every cell, row by row, repeats expanded."""
    rows = []
    for row in ET.parse(fods).iter(TABLE + "table-row"):
        repeat_rows = int(row.get(TABLE + "number-rows-repeated", "1"))
        out = []
        for cell in row.iter(TABLE + "table-cell"):
            repeat = int(cell.get(TABLE + "number-columns-repeated", "1"))
            kind = cell.get(OFFICE + "value-type", "")
            value = (cell.get(OFFICE + "value") or cell.get(OFFICE + "date-value")
                     or cell.get(OFFICE + "time-value") or cell.get(OFFICE + "boolean-value") or "")
            text = "\n".join("".join(p.itertext()) for p in cell.iter(TEXT + "p"))
            out.extend([(kind, value, text)] * min(repeat, 1000))
        rows.extend([out] * min(repeat_rows, 1))
    return rows


def same_number(value: str, raw: str) -> bool:
    """Calc's value is the CSV's, at the 15 significant digits Calc keeps."""
    got, want = float(value), float(raw)
    digits = len(raw.lstrip("-").replace(".", "").lstrip("0"))
    if digits <= 15 or want == 0:
        return got == want
    return abs(got - want) <= 10 ** (math.floor(math.log10(abs(want))) - 14)


def check(path: str, fods: str, locale: str) -> tuple[int, int, list[str]]:
    """Numbers read exactly, cells kept as text, and every change."""
    with open(path, newline="", encoding="utf-8") as f:
        expected = list(csv.reader(f))
    got = cells(fods)
    numbers = texts = 0
    problems = []
    for r, row in enumerate(expected):
        for c, raw in enumerate(row):
            kind, value, text = got[r][c] if r < len(got) and c < len(got[r]) else ("", "", "")
            where = f"{os.path.basename(path)} row {r + 1} column {c + 1} ({expected[0][c]}) {raw!r}"
            if raw == "":
                if kind or text:
                    problems.append(f"{where}: empty cell became {kind} {text!r}")
                continue
            is_decimal = DECIMAL.fullmatch(raw) is not None
            if kind == "float":
                if is_decimal and same_number(value, raw):
                    numbers += 1
                else:
                    problems.append(f"{where}: read as the number {value}")
            elif kind in ("", "string"):
                if text != raw:
                    problems.append(f"{where}: text became {text!r}")
                elif locale == "en-US" and is_decimal:
                    problems.append(f"{where}: a number kept as text in en-US")
                else:
                    texts += 1
            else:
                problems.append(f"{where}: read as {kind} {value}")
    return numbers, texts, problems


def main() -> int:
    out_dir, files = sys.argv[1], sys.argv[2:]
    failed = False
    for path in files:
        for locale in LOCALES:
            numbers, texts, problems = check(path, convert(path, out_dir, locale), locale)
            status = "ok" if not problems else f"{len(problems)} CHANGED"
            print(f"{locale}  {path}: {numbers} numbers exact, {texts} text cells kept: {status}")
            for p in problems[:20]:
                print(f"    {p}")
            failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
