"""Read the table of ``seeds/INDEX.md``."""

from __future__ import annotations

from pathlib import Path


def read_index(path: Path) -> list[dict]:
    """Rows of the first markdown table in ``path`` as dicts keyed by header."""
    rows, header = [], None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            if header:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif set("".join(cells)) <= set("-: "):
            continue
        else:
            rows.append(dict(zip(header, cells)))
    return rows
