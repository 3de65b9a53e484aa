"""A generated 200-cube model, for compile-time and /meta measurements on a large model.

    .venv/bin/python bench/model200.py            # -> bench/data/model200/cube_000.yml ...

Cube `C000` .. `C199`, each over its own (never created) table `t_000` ..: 12 measures (count,
filtered count, sums, averages, min/max, count distinct, a number measure referencing two
others), 24 dimensions (string, number, boolean, time, one referencing another), 2 segments, and
many_to_one joins to the next two cubes (C000 -> C001, C002; C001 -> C002, C003; ...), so join
paths between distant cubes need a search. Compiling needs no data: only the model is read.

`COMPILE_QUERIES` are the queries timed on it (normalize + plan + compile, no execution).
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MODEL200 = BENCH / "data" / "model200"
CUBES = 200


def cube_yaml(i: int) -> str:
    name = f"C{i:03d}"
    lines = [f"  - name: {name}", f"    sql_table: t_{i:03d}", f"    title: Cube {i}"]
    joins = [j for j in (i + 1, i + 2) if j < CUBES]
    if joins:
        lines.append("    joins:")
        for j in joins:
            lines += [f"      - name: C{j:03d}", "        relationship: many_to_one",
                      f'        sql: "{{CUBE}}.c{j:03d}_id = {{C{j:03d}}}.id"']
    lines += [
        "    measures:",
        "      - name: count", "        type: count",
        "      - name: activeCount", "        type: count",
        "        filters:", "          - sql: \"{CUBE}.status = 'active'\"",
    ]
    for k in range(3):
        lines += [f"      - name: total{k}", "        type: sum", f"        sql: amount_{k}",
                  f"      - name: average{k}", "        type: avg", f"        sql: amount_{k}"]
    lines += [
        "      - name: minAmount", "        type: min", "        sql: amount_0",
        "      - name: maxAmount", "        type: max", "        sql: amount_0",
        "      - name: uniqueUsers", "        type: count_distinct", "        sql: user_id",
        "      - name: ratio", "        type: number",
        '        sql: "CAST({total0} AS DOUBLE) / NULLIF({count}, 0)"',
        "    dimensions:",
        "      - name: id", "        sql: id", "        type: number", "        primary_key: true",
        "        public: true",
    ]
    for k in range(10):
        lines += [f"      - name: label{k}", f"        sql: label_{k}", "        type: string"]
    for k in range(5):
        lines += [f"      - name: amount{k}", f"        sql: amount_{k}", "        type: number"]
    for k in range(3):
        lines += [f"      - name: time{k}", f"        sql: time_{k}", "        type: time"]
    lines += [
        "      - name: isActive", "        sql: \"{CUBE}.status = 'active'\"", "        type: boolean",
        "      - name: status", "        sql: status", "        type: string",
        "      - name: userId", "        sql: user_id", "        type: string",
        "      - name: labelAlias", '        sql: "{label0}"', "        type: string",
        "    segments:",
        "      - name: active", "        sql: \"{CUBE}.status = 'active'\"",
        "      - name: big", '        sql: "{CUBE}.amount_0 > 100"',
    ]
    return "\n".join(lines) + "\n"


def write_model(directory: Path = MODEL200, force: bool = False) -> Path:
    """Write the 200 cube files (skipped when they exist already)."""
    if not force and directory.is_dir() and len(list(directory.glob("*.yml"))) == CUBES:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(CUBES):
        (directory / f"cube_{i:03d}.yml").write_text("cubes:\n" + cube_yaml(i))
    return directory


COMPILE_QUERIES = {
    "simple": {
        "measures": ["C100.count"], "dimensions": ["C100.label0"],
        "timeDimensions": [{"dimension": "C100.time0", "granularity": "day",
                            "dateRange": ["2026-10-01", "2026-10-31"]}],
    },
    "filters": {
        "measures": ["C050.count", "C050.total0", "C050.ratio"],
        "dimensions": ["C050.label1", "C050.status"],
        "filters": [
            {"member": "C050.label2", "operator": "contains", "values": ["abc", "def"]},
            {"member": "C050.amount1", "operator": "gt", "values": ["10"]},
            {"or": [{"member": "C050.label3", "operator": "equals", "values": ["x", "y", "z"]},
                    {"member": "C050.label4", "operator": "set"}]},
            {"member": "C050.count", "operator": "gt", "values": ["5"]},
        ],
        "segments": ["C050.active"],
        "timeDimensions": [{"dimension": "C050.time1", "dateRange": "last 30 days"}],
        "order": {"C050.count": "desc"}, "limit": 100,
    },
    "join_3_cubes": {
        "measures": ["C010.count", "C010.total1"],
        "dimensions": ["C012.label0", "C014.status"],
        "timeDimensions": [{"dimension": "C010.time0", "granularity": "month",
                            "dateRange": "this year"}],
    },
    "multiplied_join": {
        "measures": ["C020.count", "C021.total0"],
        "dimensions": ["C021.label0"],
    },
}


if __name__ == "__main__":
    print(write_model(force="--force" in sys.argv))
