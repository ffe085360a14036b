"""The core in pipelines/ is pure Python: it never imports Scrapy."""

import subprocess
import sys
from pathlib import Path

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"


def test_pipelines_never_import_scrapy():
    modules = sorted(
        "pipelines." + ".".join(p.relative_to(PIPELINES).with_suffix("").parts).replace(".__init__", "")
        for p in PIPELINES.rglob("*.py")
    )
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules) +
            "bad = sorted(m for m in sys.modules if m == 'scrapy' or m.startswith('scrapy.') or m == 'twisted')\n"
            "print(','.join(bad))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PIPELINES.parent, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"pipelines imported {res.stdout.strip()}"
    assert len(modules) > 15
