"""The bench's row numbers name one measurement each: the README cites rows by number."""

import ast
import re
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


def _row_ids_by_function() -> dict[str, set[str]]:
    """Each bench function's row ids ('13', '24a'), read from the first string of every row(...) call."""
    ids: dict[str, set[str]] = defaultdict(set)
    for fn in ast.walk(ast.parse(BENCH.read_text())):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for call in ast.walk(fn):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "row" and call.args:
                first = call.args[0]
                text = first.value if isinstance(first, ast.Constant) else ast.unparse(first)
                number = re.match(r"f?['\"]?(\d+[a-z]?)\.", text)
                if number and not text.lstrip("f'\"").startswith("…"):
                    ids[fn.name].add(number[1])
    return ids


def test_no_row_number_is_used_by_two_measurements():
    owners: dict[str, list[str]] = defaultdict(list)
    for fn, ids in _row_ids_by_function().items():
        for row_id in ids:
            owners[row_id].append(fn)
    assert len(owners) >= 25  # the parse found the rows
    shared = {row_id: fns for row_id, fns in owners.items() if len(fns) > 1}
    assert not shared, f"row numbers used by more than one measurement: {shared}"


def test_rows_print_in_numeric_order():
    import sys

    sys.path.insert(0, str(BENCH.parent))
    try:
        from bench import row_order
    finally:
        sys.path.remove(str(BENCH.parent))
    names = ["10. b", "2. a", "24b. d", "24a. c", "2. a second"]
    rows = sorted(((n, None) for n in names), key=row_order)
    assert [r[0] for r in rows] == ["2. a", "2. a second", "10. b", "24a. c", "24b. d"]
