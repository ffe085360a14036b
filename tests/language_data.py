"""Real texts with their language, for the language detector's tests and bench/language.py.

Read from ../shared/data (never copied into the repository); a set whose folder is absent is empty.
How each set is labelled:

- ``syndication``: ../shared/data/syndication-dev/texts.jsonl (126 texts) has no language field. Its README
  says 115 are English and 11 are in Russian, Indonesian, Malay or Vietnamese; those 11 were found by
  reading (non-ASCII share and the absence of English function words), then labelled by reading them and
  by their outlet (``The Sun (Malaysia) (Bernama, Malay)`` is Malay: "majlis", "di sini", "hari ini";
  the ``.id`` outlets and the Indonesian VOA and BenarNews services are Indonesian). ``_SYNDICATION``
  lists them by URL; every other text is English.
- ``fundus``: ../shared/data/fundus-pages/manifest.jsonl (255 pages, expected ``body``): the ``lang``
  attribute of the page's ``<html>``, except where reading the body shows it wrong or it is absent
  (``_FUNDUS``: Zulu and Xhosa pages declared English, a Swahili page declared ``en-US``, a Russian
  page of a Ukrainian outlet, pages without a ``lang``).
- ``wcxb``: ../shared/data/wcxb-dev (709 pages with a ``main_content``): all English (687 declare ``en``,
  22 declare nothing and read as English).
- ``seeds``: ../shared/seeds/*.txt (5 pages as text): English.

Each item: (set, name, language, declared, text) where ``declared`` is the page's own ``lang`` (fundus,
wcxb) or None.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
DATA = SHARED / "data"

_SYNDICATION = {
    "https://th389.vn/thu-tuong-pham-minh-chinh-hoi-dam-voi-thu-tuong-nga-a193090.html": "vi",
    "http://perevodika.ru/articles/1211726.html": "ru",  # opens with the English headline, then Russian
    "https://riafan.ru/1126075-moskva-nakhodit-novye-rynki-za-rubezhom-obespokoeny-sblizheniem-rossii-i-stran-"
    "yugo-vostochnoi-azii": "ru",
    "https://thesun.my/cerita/berita/agong-bertemu-putin-pada-lawatan-negara-pertama-HA14630106": "ms",
    "https://beritaislam.net/kunjungan-sekretaris-dewan-keamanan-rusia-ke-indonesia-untuk-bertemu-prabowo/": "id",
    "https://bigs.or.id/sekutu-dekat-putin-temui-menhan-sjafrie-prabowo-hari-ini-ada-apa": "id",
    "https://planet.merdeka.com/hot-news/menhan-ri-sjafrie-sjamsoeddin-jajaki-kerja-sama-militer-dengan-rusia-"
    "325296-mvk.html": "id",
    "https://voa.pangea-cms.com/preview/id/a/terima-kunjungan-sekretaris-dewan-keamanan-rusia-prabowo-sebut-putin-"
    "sebagai-sahabat/7987714.html": "id",
    "https://inddev.benarnews.org/indonesian/berita/rusia-indonesia-sergei-shoigu-02252025110027.html": "id",
    "https://www.sorotnews.co.id/2025/06/20/pesiden-prabowo-bertemu-presiden-putin-sepakati-deklarasi-kemitraan-"
    "strategis-indonesia-rusia": "id",
    "https://karosatuklik.com/prabowo-sambut-kedatangan-sekretaris-dewan-keamanan-rusia-di-istana-merdeka/": "id",
}

# fundus pages whose <html lang> is absent or wrong, by file (read by hand)
_FUNDUS = {
    "cn/People_2024_04_24.html.gz": "zh",
    "jp/NikkanGeadai_2025_01_31.html.gz": "ja",
    "il/IsraelNachrichten_2025_04_16.html.gz": "de",
    "tw/TaipeiTimes_2024_10_15.html.gz": "en",
    "tz/HabariLeo_2025_01_23.html.gz": "sw",
    "ua/Pravda_2026_01_08.html.gz": "ru",
    "za/Dizindaba_2025_11_16.html.gz": "xh",
    "za/IsolezweLesiXhosa_2025_11_09.html.gz": "xh",
    "za/EyethuNews_2025_11_25.html.gz": "zu",
    "za/Ilanga_2025_12_03.html.gz": "zu",
    "za/Isolezwe_2025_11_09.html.gz": "zu",
}
_FUNDUS_PUBLISHER = {"AnadoluAjansi": "tr", "DailyMail": "en", "Taz": "de"}  # pages without a lang

_HTML_LANG = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.I)


class Item(NamedTuple):
    set: str
    name: str
    language: str
    declared: str | None
    text: str


def _declared(path: Path) -> str | None:
    try:
        head = gzip.open(path).read(60_000)
    except OSError:
        return None
    m = _HTML_LANG.search(head)
    return m.group(1).decode().lower()[:2] if m else None


def syndication() -> list[Item]:
    path = DATA / "syndication-dev" / "texts.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return [Item("syndication", r["url"], _SYNDICATION.get(r["url"], "en"), None, r["text"]) for r in rows]


def fundus() -> list[Item]:
    path = DATA / "fundus-pages" / "manifest.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.open(encoding="utf-8"):
        m = json.loads(line)
        if not m.get("body"):
            continue
        declared = _declared(path.parent / m["file"])
        lang = _FUNDUS.get(m["file"]) or declared or _FUNDUS_PUBLISHER.get(m["publisher"])
        lang = {"nb": "no", "nn": "no"}.get(lang, lang)  # Norwegian: one code, as the record gives it
        out.append(Item("fundus", m["file"], lang, declared, m["body"]))
    return out


def wcxb() -> list[Item]:
    root = DATA / "wcxb-dev"
    if not (root / "ground-truth").is_dir():
        return []
    out = []
    for path in sorted((root / "ground-truth").glob("*.json")):
        text = (json.loads(path.read_text(encoding="utf-8")).get("ground_truth") or {}).get("main_content")
        if text:
            out.append(Item("wcxb", path.stem, "en", _declared(root / "html" / f"{path.stem}.html.gz"), text))
    return out


def seeds() -> list[Item]:
    return [Item("seeds", p.name, "en", None, p.read_text(encoding="utf-8"))
            for p in sorted((SHARED / "seeds").glob("*.txt"))]


def load(sets=("syndication", "fundus", "wcxb", "seeds")) -> list[Item]:
    loaders = {"syndication": syndication, "fundus": fundus, "wcxb": wcxb, "seeds": seeds}
    return [item for name in sets for item in loaders[name]()]
