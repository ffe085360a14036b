"""Per-outlet figures of a crawl, from its stats: the end-of-run table and the
``summary`` block of the run's JSON stats file."""

from __future__ import annotations

COLUMNS = ["discovered", "known_not_due", "fetched", "new", "updated", "unchanged", "duplicate", "off-topic", "skipped", "error"]
HEADERS = {"error": "errors", "known_not_due": "not due"}


def per_outlet(stats: dict) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    prefix = "corpus/outlet/"
    for key, value in stats.items():
        if not key.startswith(prefix) or not isinstance(value, int):
            continue
        outlet, _, name = key[len(prefix):].partition("/")
        if name in COLUMNS or "/" not in name:
            out.setdefault(outlet, {c: 0 for c in COLUMNS})[name] = value
    return dict(sorted(out.items()))


def table(rows: dict[str, dict[str, int]]) -> str:
    """A plain-text table, one row per outlet and a total."""
    heads = ["outlet"] + [HEADERS.get(c, c) for c in COLUMNS]
    total = {c: sum(r.get(c, 0) for r in rows.values()) for c in COLUMNS}
    body = [[name] + [str(r.get(c, 0)) for c in COLUMNS] for name, r in rows.items() if any(r.values())]
    body.append(["TOTAL"] + [str(total[c]) for c in COLUMNS])
    widths = [max(len(row[i]) for row in [heads, *body]) for i in range(len(heads))]
    fmt = lambda row: "  ".join(  # noqa: E731
        cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(heads), rule, *map(fmt, body[:-1]), rule, fmt(body[-1])])
