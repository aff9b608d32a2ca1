"""Checks the types pandas gives the report's columns, as docs/results.md documents them.

Usage: report_dtypes.py RESULTS_DIR

RESULTS_DIR is one experiment's folder (with summary.csv, epochs.csv, stats.csv and
comparisons.csv). Integer columns must be int64 whatever the runs' outcomes, float columns
float64, text columns text. Exits non-zero with every mismatch.
"""

from __future__ import annotations

import sys

import pandas as pd

INT, FLOAT, TEXT = "int64", "float64", "text"
# The differing setting's values: text or numbers, as that setting's column.
ANY = "any"

SETTINGS = {
    "dataset": TEXT, "train_examples": INT, "hidden": TEXT, "depth": INT,
    "activation": TEXT, "init": TEXT, "init_scale": FLOAT, "noise_level": FLOAT, "eval_noise_level": FLOAT,
    "learning_rate": FLOAT, "adam": TEXT, "batch_size": INT, "epochs": INT, "seed": INT,
}

SUMMARY = {
    "experiment": TEXT, "run_id": TEXT, "configuration": TEXT, "trial": INT, **SETTINGS,
    "status": TEXT, "device": TEXT, "engine": TEXT, "rung": INT, "epochs_done": INT,
    "final_train_cost": FLOAT, "final_test_cost": FLOAT, "final_test_cost_clean": FLOAT,
    "best_train_cost": FLOAT, "best_train_epoch": INT,
    "best_test_cost": FLOAT, "best_test_epoch": INT,
    "best_test_cost_clean": FLOAT, "best_test_clean_epoch": INT, "seconds": FLOAT,
    "failed_epoch": INT, "failed_batch": INT, "error": TEXT,
}

EPOCHS = {
    "experiment": TEXT, "run_id": TEXT, "configuration": TEXT, **SETTINGS,
    "epoch": INT, "train_cost": FLOAT, "test_cost": FLOAT, "test_cost_clean": FLOAT,
    "seconds": FLOAT,
}

STATS = {
    "experiment": TEXT, "configuration": TEXT, **SETTINGS,
    "runs_planned": INT, "runs_done": INT, "runs_failed": INT,
}

COMPARISONS = {
    "experiment": TEXT, "setting": TEXT, "value_a": ANY, "value_b": ANY,
    "configuration_a": TEXT,
    "configuration_b": TEXT, "runs_a": INT, "runs_b": INT,
}


def kind(series: pd.Series) -> str:
    if pd.api.types.is_string_dtype(series) or series.dtype == object:
        return TEXT
    return str(series.dtype)


# Text columns that can be empty in every row (no run failed; no run started), where
# pandas would guess float: docs/results.md reads them with this.
TEXT_DTYPES = {"device": "str", "engine": "str", "error": "str"}


def check(path: str, expected: dict, rest: str | None) -> list[str]:
    """Columns of `expected` must have its kind; any other column has kind `rest`."""
    frame = pd.read_csv(path, dtype=TEXT_DTYPES if path.endswith("summary.csv") else None)
    errors = []
    for column in frame.columns:
        want = expected.get(column, rest)
        if want is None:
            errors.append(f"{path}: unexpected column {column}")
        elif want != ANY and kind(frame[column]) != want:
            errors.append(f"{path}: {column} is {frame[column].dtype}, documented as {want}")
    print(f"{path}: {len(frame)} rows, {len(frame.columns)} columns checked")
    return errors


def main() -> int:
    root = sys.argv[1]
    errors = (
        check(f"{root}/summary.csv", SUMMARY, None)
        + check(f"{root}/epochs.csv", EPOCHS, None)
        + check(f"{root}/stats.csv", STATS, FLOAT)
        + check(f"{root}/comparisons.csv", COMPARISONS, FLOAT)
    )
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
