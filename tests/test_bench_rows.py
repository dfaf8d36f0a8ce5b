"""The bench's row numbers name one measurement each: the README cites rows by number."""

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


def _row_sites() -> dict[str, list[str]]:
    """Each row id ('13', '24a') → the places (function:line) whose row(...) call measures under it.

    One call site is one measurement, even in a loop over sizes or samplers. Not counted: a row that only says
    its measurement was skipped, and a continuation row ('26. … per image') that goes on with the one above.
    """
    sites: dict[str, list[str]] = defaultdict(list)
    for fn in ast.parse(BENCH.read_text()).body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        for call in ast.walk(fn):
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "row" and call.args):
                continue
            texts = [a.value if isinstance(a, ast.Constant) else ast.unparse(a) for a in call.args]
            number = re.match(r"f?['\"]?(\d+[a-z]?)\. (…)?", texts[0])
            skipped = any(isinstance(t, str) and t.startswith("skipped") for t in texts[1:])
            if number and not number[2] and not skipped:
                sites[number[1]].append(f"{fn.name}:{call.lineno}")
    return sites


def test_no_row_number_is_used_by_two_measurements():
    sites = _row_sites()
    assert len(sites) >= 30  # the parse found the rows
    shared = {row_id: places for row_id, places in sites.items() if len(places) > 1}
    assert not shared, f"row numbers used by more than one measurement: {shared}"


def test_rows_print_in_numeric_order():
    sys.path.insert(0, str(BENCH.parent))
    try:
        from bench import row_order
    finally:
        sys.path.remove(str(BENCH.parent))
    names = ["10. b", "2. a", "24b. d", "24a. c", "2. a second"]
    rows = sorted(((n, None) for n in names), key=row_order)
    assert [r[0] for r in rows] == ["2. a", "2. a second", "10. b", "24a. c", "24b. d"]
