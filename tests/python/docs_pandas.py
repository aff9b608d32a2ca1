"""Runs a documentation page's pandas lines for one experiment as a Python prompt would.

Usage: docs_pandas.py PAGE.md NAME   (the page is docs/results.md)

Takes the ```python block that follows `<!-- pandas:NAME -->` in the page, runs its
statements in order from the current folder (the repository root) and prints the value of
every expression. Exits non-zero, naming the line, when a statement raises.
"""

import ast
import re
import sys


def main() -> int:
    page, name = sys.argv[1], sys.argv[2]
    with open(page, encoding="utf-8") as f:
        text = f.read()
    marker = re.escape(f"<!-- pandas:{name} -->")
    found = re.search(marker + r"\s*```python\n(.*?)```", text, re.S)
    if not found:
        print(f"{page} has no ```python block after <!-- pandas:{name} -->", file=sys.stderr)
        return 1
    source = found.group(1)
    scope: dict = {}
    import pandas as pd  # only to show whole tables; the page imports its own

    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    for node in ast.parse(source).body:
        code = ast.get_source_segment(source, node)
        try:
            if isinstance(node, ast.Expr):
                value = eval(compile(ast.Expression(node.value), page, "eval"), scope)
                print(f">>> {code}\n{value}\n")
            else:
                exec(compile(ast.Module([node], []), page, "exec"), scope)
        except Exception as e:  # the line that failed, whatever it raised
            print(
                f"{page}'s pandas block, statement {code!r}: {type(e).__name__}: {e}",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
