"""Rebuild the labelled dedup evaluation set from seeds/*.txt (output is committed; run to regenerate).

Clean bodies are cut from the seed pages by hand-chosen line ranges (boilerplate removed); variants
are made deterministically (random.Random(seed)). Hand-written "same event, different article"
texts live in negatives/ and are never generated. Usage: python tests/dedup_eval/build.py
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parents[1] / "seeds"
DOCS = HERE / "docs"

# seed -> (title, kept 1-based line numbers/ranges, lines dropped as boilerplate by substring)
CLEAN = {
    "000": (None, [(7, 51)], []),
    "001": (None, [(5, 5), (9, 33)], []),
    "002": ("Russia and Southeast Asia: What Lavrov’s July Visits Mean", [(262, 320)], ["Source:", "COMMENTARY"]),
    "003": (None, [(81, 123)], ["Do you have questions about the biggest topics"]),
    "004": ("Lavrov pushes for an umbrella security structure at ASEAN meetings in Laos", [(1, 1), (5, 31)], ["Also read:"]),
}
OUTLETS = {"000": "bne IntelliNews", "001": "Silk Road Briefing", "002": "RSIS", "003": "South China Morning Post", "004": "Russia Direct"}

BOILER_HEAD = [
    "Skip to main content\nHome | World | Asia | Business | Markets | Opinion | Video\nSign in  Subscribe\nTrending: Elections, Energy, Ukraine war, South China Sea, AI",
    "Advertisement\nMarkets close in 2 hours\nS&P 500 5,848.50 +6.03 (+0.10%)\nDOW 43,245.18 +167.48 (+0.39%)\nCRUDE OIL 70.63 +0.24 (+0.34%)\nGOLD 2,704.90 +13.60",
    "Menu\nNews Politics Economy Defence Diplomacy Analysis Podcasts\nFollow us on Facebook Twitter Telegram\nLatest headlines",
]
BOILER_FOOT = [
    "Related stories\nVietnam courts investors amid South China Sea tensions\nWhat BRICS expansion means for Southeast Asia\nSign up for our daily newsletter. By subscribing you agree to our privacy policy and terms of use.\nShare this article on Facebook Twitter LinkedIn Email",
    "We use cookies to improve your experience on our website. By continuing to browse you agree to our use of cookies.\nMore from this section\nRead next: Oil prices climb as Asian demand recovers\nAbout us | Contact | Careers | Advertise | Privacy policy\nCopyright 2024 All rights reserved.",
]
SYNONYMS = {
    "said": "stated", "stated": "said", "important": "significant", "meeting": "talks", "meetings": "talks",
    "countries": "nations", "nations": "countries", "region": "area", "also": "additionally", "minister": "official",
    "foreign": "external", "cooperation": "collaboration", "relations": "ties", "ties": "relations", "noted": "said",
    "including": "among them", "between": "among", "however": "but", "large": "big", "major": "key", "key": "major",
    "security": "safety", "talks": "discussions", "capital": "city", "partner": "ally", "strong": "solid",
}


def clean_seed(seed: str) -> tuple[str, list[str]]:
    path = next(SEEDS.glob(f"{seed}_*.txt"))
    lines = path.read_text(encoding="utf-8").splitlines()
    title, ranges, drop = CLEAN[seed]
    kept = [lines[i - 1].strip() for a, b in ranges for i in range(a, b + 1)]
    paras = [p for p in kept if p and p not in ("SYNOPSIS",) and not any(d in p for d in drop)]
    return title or lines[0].strip(), paras


def doc(title: str, paras: list[str]) -> str:
    return title + "\n\n" + "\n\n".join(paras) + "\n"


def copy_edit(paras: list[str], rng: random.Random, per_para: int = 3) -> list[str]:
    out = []
    for p in paras:
        words = p.split(" ")
        slots = [i for i, w in enumerate(words) if len(re.sub(r"\W", "", w)) > 3]
        for i in sorted(rng.sample(slots, min(per_para, len(slots))), reverse=True):
            core = re.sub(r"\W", "", words[i]).lower()
            if core in SYNONYMS:
                words[i] = words[i].lower().replace(core, SYNONYMS[core])
            elif rng.random() < 0.5:
                del words[i]
            else:
                words[i] = words[i] + ("," if not words[i].endswith(",") else "")
                words.insert(i + 1, rng.choice(["also", "now", "reportedly", "indeed"]))
        out.append(" ".join(words))
    return out


def variants(seed: str, title: str, paras: list[str]) -> dict[str, str]:
    rng = random.Random(int(seed) + 17)
    words = " ".join(paras).split(" ")
    frac = [0.3, 0.35, 0.4, 0.45, 0.5][int(seed) % 5]
    cut = " ".join(words[: int(len(words) * frac)])
    outlet = OUTLETS[seed]
    head, foot = BOILER_HEAD[int(seed) % 3], BOILER_FOOT[int(seed) % 2]
    return {
        "orig": doc(title, paras),
        "raw": next(SEEDS.glob(f"{seed}_*.txt")).read_text(encoding="utf-8"),
        "boiler": head + "\n\n" + doc(title, paras) + "\n" + foot + "\n",
        "headline": doc("Asia Digest: " + rng.choice(["Moscow woos Southeast Asia", "Lavrov's Asian charm offensive", "Russia looks east again"]),
                        [f"From our partners at {outlet}."] + paras),
        "trunc": doc(title, [cut + " ...", "Subscribe to continue reading. Already a subscriber? Log in."]),
        "credit": doc(title, paras + [f"This article originally appeared in {outlet}. Republished with permission."]),
        "edits": doc(title, copy_edit(paras, rng)),
        "doubled": doc(title, paras + paras),
        "combo": head + "\n\n" + doc("Opinion: " + title.lower(), copy_edit(paras, rng, 2)) + foot + "\n",
    }


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    clusters: dict[str, list[str]] = {}
    for seed in CLEAN:
        title, paras = clean_seed(seed)
        for kind, text in variants(seed, title, paras).items():
            name = f"{seed}_{kind}.txt"
            (DOCS / name).write_text(text, encoding="utf-8")
            clusters.setdefault(seed, []).append(name)
    for neg in sorted((HERE / "negatives").glob("*.txt")):
        clusters[neg.stem] = [f"../negatives/{neg.name}"]
    labels = {
        "description": "Each cluster is one article (original + variants). Any pair across clusters must NOT be merged; "
        "seeds 000, 003, 004 and the negatives/ texts report the same Lavrov/ASEAN Vientiane meetings.",
        "clusters": clusters,
        "hard_negatives": [["000_orig.txt", "003_orig.txt"], ["000_orig.txt", "004_orig.txt"], ["003_orig.txt", "004_orig.txt"]]
        + [[f"../negatives/{n.name}", "003_orig.txt"] for n in sorted((HERE / "negatives").glob("*.txt"))],
    }
    (HERE / "labels.json").write_text(json.dumps(labels, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
