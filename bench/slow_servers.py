"""What slow, throttling and looping servers cost a run (tests/faultsite.py on 127.0.0.1 only).

Scenarios (each a real ``corpus`` subprocess, the project's default politeness settings):

  baseline   two outlets crawled together, ``calm`` (10 articles) and ``busy`` (40), both answering at once
  throttle   the same, ``busy`` answering the first request of each article with 429 and
             ``Retry-After: R`` (R = --retry-after), then 200 (the issue's case)
  limiter    the same, ``busy`` behind a rate limiter: 10 requests per 20 s, then 429 with
             ``Retry-After`` = the seconds left in the window
             Each prints when each outlet's last article was fetched and the wall time of the crawl.
  drip       ``corpus fetch`` of one URL whose server sends one body byte per second (never finishes
             within the download timeout), then a crawl of an outlet of 6 such articles.
  loop       ``corpus fetch`` of a redirect loop (A -> B -> A) and of a chain of 25 redirects: exit status.
  long       ``corpus fetch`` of a URL of 2,100 characters: the outcome line.

Usage: .venv/bin/python bench/slow_servers.py [--retry-after 30] [baseline throttle limiter drip loop long]
(the code before a change: PYTHONPATH=/path/to/old/checkout .venv/bin/python bench/slow_servers.py ...)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from faultsite import FaultSite, registry  # noqa: E402

CORPUS = Path(sys.executable).with_name("corpus")
BUSY = 40  # articles of the throttled outlet: more than CONCURRENT_REQUESTS (16)
LIMIT, WINDOW = 10, 20  # the rate limiter of the limiter scenario


def corpus(*args, cwd: Path, timeout: float = 1800) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    env["XDG_STATE_HOME"] = str(cwd / "xdg")
    started = time.perf_counter()
    res = subprocess.run([str(CORPUS), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode == 70:
        print(res.stderr[-3000:], file=sys.stderr)
    return res, time.perf_counter() - started


def throttle(tmp: Path, retry_after: int, kind: str = "throttle") -> None:
    """Two outlets crawled together: when was each one's last article fetched?"""
    calm = [f"news/calm-{i}" for i in range(10)]
    busy_path = {"baseline": "news/busy-{i}", "throttle": f"throttled/{retry_after}/busy-{{i}}",
                 "limiter": f"limited/{LIMIT}/{WINDOW}/busy-{{i}}"}[kind]
    busy = [busy_path.format(i=i) for i in range(BUSY)]
    prefix = "/" + busy_path.split("/")[0] + "/"
    reg = registry(tmp / "reg.toml", {"calm": ("calm.example.org", calm), "busy": ("busy.example.org", busy)})
    with FaultSite() as site:
        res, wall = corpus("crawl", "--replay", site.url, "--registry", reg, "--store", tmp / "s",
                           "--any-topic", cwd=tmp)
        t0 = min(t for t, *_ in site.log)  # the first request (robots.txt), after the command's start-up
        calm_done = max(site.times("calm.example.org", "/news/", 200)) - t0
        busy_ok = site.times("busy.example.org", prefix, 200)
        busy_done = (max(busy_ok) - t0) if busy_ok else float("nan")
        n429 = len(site.times("busy.example.org", prefix, 429))
    what = {"baseline": "no 429 (baseline)", "throttle": f"429 once per article, Retry-After {retry_after} s",
            "limiter": f"a rate limiter, {LIMIT} requests per {WINDOW} s, then 429 + Retry-After"}[kind]
    print(f"{kind}: calm 10 + busy {BUSY} articles, busy: {what}: exit {res.returncode}, wall {wall:.1f} s; "
          f"from the first request: calm's last article at {calm_done:.1f} s, busy's last at {busy_done:.1f} s "
          f"({len(busy_ok)} of {BUSY} fetched, {n429} answers 429)")
    print("  " + outcome_counts(tmp / "s"))


def outcome_counts(store: Path) -> str:
    runs = sorted((store / "corpus" / "runs").glob("*.json"))
    if not runs:
        return "(no run report)"
    summary = json.loads(runs[-1].read_text()).get("summary", {})
    return "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
                     for name, counts in sorted(summary.items()) if isinstance(counts, dict))


def drip(tmp: Path) -> None:
    with FaultSite(drip_every=1.0) as site:
        url = f"{site.url}drip.example.org/drip/one"
        res, wall = corpus("fetch", "--allow-private", "--store", tmp / "s1", url, cwd=tmp)
        since = time.monotonic() - min(site.times("drip.example.org"))
        tries = site.hits("drip.example.org", "/drip/one")
        line = (res.stdout.strip().splitlines() or ["?"])[-1]
        print(f"drip, one URL (corpus fetch): wall {wall:.1f} s ({since:.1f} s from its first request to the end), "
              f"{tries} tries, exit {res.returncode}: {line.split('  ')[1].strip()}")
        paths = [f"drip/a{i}" for i in range(6)]
        reg = registry(tmp / "reg.toml", {"slowpoke": ("slowpoke.example.org", paths)})
        res, wall = corpus("crawl", "--replay", site.url, "--registry", reg, "--store", tmp / "s2", "--any-topic",
                           cwd=tmp)
        since = time.monotonic() - min(site.times("slowpoke.example.org"))
        tries = site.hits("slowpoke.example.org", "/drip/")
        print(f"drip, an outlet of 6 such URLs (corpus crawl): wall {wall:.1f} s ({since:.1f} s from the first "
              f"request to the end), {tries} requests, exit {res.returncode}")
        print("  " + outcome_counts(tmp / "s2"))


def loop(tmp: Path) -> None:
    with FaultSite() as site:
        for what, path in (("redirect loop A->B->A", "loop/a"), ("chain of 25 redirects", "chain/25/0")):
            res, wall = corpus("fetch", "--allow-private", "--store", tmp / "s", f"{site.url}x.example.org/{path}",
                               cwd=tmp)
            line = (res.stdout.strip().splitlines() or ["?"])[-1]
            print(f"{what} (corpus fetch): exit {res.returncode} in {wall:.1f} s: {line.split('  ')[1].strip()}")


def long(tmp: Path) -> None:
    with FaultSite() as site:
        url = f"{site.url}x.example.org/news/" + "a" * (2100 - len(site.url) - len("x.example.org/news/"))
        res, wall = corpus("fetch", "--allow-private", "--store", tmp / "s", url, cwd=tmp)
        line = (res.stdout.strip().splitlines() or ["?"])[-1]
        print(f"URL of {len(url)} characters (corpus fetch): exit {res.returncode}: {line.split('  ')[1].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retry-after", type=int, default=30)
    parser.add_argument("scenarios", nargs="*", default=["baseline", "throttle", "limiter", "drip", "loop", "long"])
    args = parser.parse_args()
    for name in args.scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            if name in ("baseline", "throttle", "limiter"):
                throttle(Path(tmp), args.retry_after, name)
            else:
                globals()[name](Path(tmp))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
