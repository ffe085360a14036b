"""How well the registry's article patterns fit real addresses of its outlets.

Reads ../shared/data/outlet-urls/ (real article addresses as sitemaps, feeds and page links give them,
and listings/feeds on the same hosts that are not articles) and prints, per outlet, how many real
article addresses its patterns accept (and which they refuse), and how many non-article addresses any
outlet accepts. Skips cleanly where the folder is absent.

    .venv/bin/python bench/registry.py [--registry FILE] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.crawl.registry import load_registry  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "outlet-urls"


def mobile_forms(url: str) -> list[str]:
    """The mobile and AMP addresses of one article a feed or a link may give instead."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname[4:] if parts.hostname.startswith("www.") else parts.hostname
    path, query = parts.path, (f"?{parts.query}" if parts.query else "")
    sep = "&" if parts.query else "?"
    tail = (path.rstrip("/") + "/amp/") if not path.endswith((".html", ".htm")) else path + "/amp"
    return [f"https://m.{host}{path}{query}", f"https://amp.{host}{path}{query}", f"https://{host}{tail}{query}",
            f"https://{host}/amp{path}{query}", f"https://{host}{path}{query}{sep}amp=1",
            f"https://www.{host}{path}{query}{sep}outputType=amp"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", help="registry file (default: crawler/outlets.toml)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"default: {DEFAULT_DATA}")
    args = parser.parse_args(argv)
    articles_file, others_file = args.data / "article-urls.json", args.data / "not-article-urls.json"
    if not articles_file.is_file():
        print(f"skipped: {articles_file} not found")
        return 0
    registry = load_registry(args.registry)
    articles = json.loads(articles_file.read_text())
    others = json.loads(others_file.read_text()) if others_file.is_file() else {}

    rows, refused = [], []
    for name, urls in sorted(articles.items()):
        ok = 0
        for url in urls:
            owner = registry.for_url(url)
            if owner is not None and owner.name == name and owner.is_article(url):
                ok += 1
            else:
                refused.append((name, url, "owned by " + owner.name if owner and owner.name != name
                                else "no outlet owns it" if owner is None else "patterns refuse it"))
        rows.append((name, len(urls), ok))
    total, accepted = sum(r[1] for r in rows), sum(r[2] for r in rows)
    width = max(len(r[0]) for r in rows)
    print(f"{'outlet':<{width}}  real article URLs  accepted")
    for name, n, ok in rows:
        print(f"{name:<{width}}  {n:>17}  {ok:>8}")
    print(f"{'TOTAL':<{width}}  {total:>17}  {accepted:>8}  ({accepted / total:.1%})")
    for name, url, why in refused:
        print(f"  refused  {name}: {url}  ({why})")

    mobile = [(name, form) for name, urls in articles.items() for url in urls for form in mobile_forms(url)]
    kept = sum(registry.get(name).is_article(form) for name, form in mobile)
    print(f"\nmobile and AMP forms of them (m./amp. host, /amp/ tail or head, ?amp=1, outputType=amp): "
          f"{len(mobile)}, accepted {kept} ({kept / len(mobile):.1%})")

    wrong = [(url, o.name) for urls in others.values() for url in urls for o in registry if o.is_article(url)]
    n_other = sum(len(v) for v in others.values())
    print(f"\nnot-article URLs: {n_other}, accepted as articles by some outlet: {len(wrong)}")
    for url, name in wrong:
        print(f"  accepted  {url}  (by {name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
