"""Language detected from the text (pipelines/extract/language.py), in records, exports and the extraction pool.

Real texts come from ../shared/data (tests/language_data.py says how they are labelled; skipped when
absent); the pages fetched here are our own, served on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.extract.language import MIN_CONFIDENCE, choose_language, detect_language, normalize_code
from pipelines.extract.words import count_words

from language_data import fundus, syndication

ID = ("Menteri Luar Negeri Rusia Sergei Lavrov tiba di Jakarta pada hari Selasa untuk melakukan pembicaraan dengan "
      "pemerintah Indonesia mengenai kerja sama ekonomi dan pertahanan. Dalam pertemuan tersebut, kedua pihak "
      "membahas peningkatan perdagangan, investasi di sektor energi, serta rencana latihan militer bersama.")
ID2 = ("Lavrov juga dijadwalkan bertemu dengan Sekretaris Jenderal ASEAN untuk membicarakan hubungan antara Rusia "
       "dan negara-negara Asia Tenggara. Para pengamat menilai kunjungan ini menunjukkan bahwa Moskow ingin "
       "memperkuat pengaruhnya di kawasan tersebut.")
ZH = ("俄罗斯外交部长拉夫罗夫星期二抵达万象，出席东盟与俄罗斯外长会议。拉夫罗夫在会议上表示，俄罗斯愿意同东南亚国家加强经济、"
      "能源和安全领域的合作。", "各国外长讨论了地区贸易、粮食安全以及南海局势等问题。分析人士认为，莫斯科正在寻求扩大在亚洲的影响力，"
      "而东盟国家希望在大国之间保持平衡。")
TH = ("รัฐมนตรีว่าการกระทรวงการต่างประเทศของรัสเซียเดินทางถึงกรุงเวียงจันทน์เมื่อวันอังคาร "
      "เพื่อเข้าร่วมการประชุมรัฐมนตรีต่างประเทศอาเซียนกับรัสเซีย ในการประชุมครั้งนี้ "
      "ทั้งสองฝ่ายได้หารือเรื่องการค้า พลังงาน และความมั่นคงในภูมิภาค",
      "นักวิเคราะห์เห็นว่ารัสเซียต้องการขยายอิทธิพลในเอเชียตะวันออกเฉียงใต้ "
      "ขณะที่ประเทศสมาชิกอาเซียนต้องการรักษาความสมดุลระหว่างมหาอำนาจ และไม่ต้องการเลือกข้างในความขัดแย้งระหว่างประเทศ")


def page(lang: str | None, title: str, paragraphs) -> bytes:
    attr = f' lang="{lang}"' if lang else ""
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (f"<!doctype html><html{attr}><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>\n{body}</article></body></html>").encode()


# -- the detector on real texts ---------------------------------------------------------------------
def test_real_texts_of_syndication_dev_are_detected():
    items = syndication()
    if not items:
        pytest.skip("../shared/data/syndication-dev is absent")
    wrong = [(it.name, it.language, detect_language(it.text)) for it in items
             if detect_language(it.text)[0] != it.language]
    assert not wrong
    assert {it.language for it in items} == {"en", "ru", "id", "ms", "vi"}


def test_real_pages_whose_declared_language_is_wrong_get_the_texts():
    items = fundus()
    if not items:
        pytest.skip("../shared/data/fundus-pages is absent")
    wrong_declared = [it for it in items if it.declared and normalize_code(it.declared) != it.language]
    assert len(wrong_declared) >= 5  # Zulu and Xhosa pages declared English, Swahili declared en-US...
    for it in wrong_declared:
        assert choose_language(it.text, it.declared)[0] == it.language, it.name
    right = sum(choose_language(it.text, it.declared)[0] == it.language for it in items)
    assert right / len(items) >= 0.99


def test_indonesian_and_malay_keep_a_declaration_of_either():
    items = [it for it in syndication() if it.language in ("id", "ms")]
    if not items:
        pytest.skip("../shared/data/syndication-dev is absent")
    for it in items:
        other = "ms" if it.language == "id" else "id"
        assert choose_language(it.text, it.language)[0] == it.language
        assert choose_language(it.text, other)[0] == other  # the detector is not trusted between the two
        assert choose_language(it.text, "en")[0] == it.language  # but against another language it is
        assert choose_language(it.text, None)[0] == it.language


# -- our own texts ----------------------------------------------------------------------------------
def test_own_texts_and_short_texts():
    assert detect_language(" ".join([ID, ID2]))[0] == "id"
    assert detect_language("".join(ZH))[0] == "zh"
    assert detect_language("".join(TH))[0] == "th"
    code, conf = detect_language("Lavrov met the ASEAN foreign ministers in Vientiane on Friday to talk about trade.")
    assert code == "en" and conf >= MIN_CONFIDENCE
    assert detect_language("") == (None, 0.0) and detect_language("12:30 — 4/5") == (None, 0.0)
    # a few words: the detector is unsure, so the page's declaration stands (and None stays None)
    language, detected, conf = choose_language("Berita terkini", "ms")
    assert language == "ms" and conf < MIN_CONFIDENCE, (detected, conf)
    assert choose_language("2024", "vi") == ("vi", None, 0.0)
    assert choose_language(ID, "en-US")[0] == "id"  # a confident detection beats a wrong declaration


def test_declared_codes_are_normalized():
    assert [normalize_code(c) for c in ("en-US", "EN_gb", "nb-NO", "fil", "ind", "zh-Hant-TW", "x", "", None, "12")] \
        == ["en", "en", "no", "tl", "id", "zh", None, None, None, None]


# -- records, exports, the extraction pool ----------------------------------------------------------
def test_extraction_pool_gives_the_detected_language():
    from pipelines.extract.workers import ExtractPool

    with ExtractPool(workers=1, timeout=20) as pool:  # a worker forked from the forkserver, under RLIMIT_AS
        res = pool.submit(page("en", "Lavrov di Jakarta", [ID, ID2]), "https://berita.example.org/a").result(60)
        zh = pool.submit(page(None, "拉夫罗夫抵达万象", ZH), "https://news.example.cn/a").result(60)
    assert res.error is None and res.document is not None, res
    assert res.document.language == "id" and res.document.language_declared == "en"
    assert zh.document is not None and zh.document.language == "zh" and zh.document.language_declared is None
    assert 0 < res.peak_rss < pool.max_memory


def test_worker_with_the_model_fits_well_under_its_memory_limit():
    """The model is loaded in the forkserver; a worker under a third of the default RLIMIT_AS still detects
    (measured: extraction alone already fails at 384 MiB, with or without the model; both pass at 448 MiB)."""
    code = (
        "import resource, sys\n"
        "from pipelines.extract.workers import ExtractPool\n"
        "pool = ExtractPool(workers=1, timeout=20, max_memory=2**29)\n"  # 512 MiB, a third of the default
        f"res = pool.submit({page('en', 'Lavrov di Jakarta', [ID, ID2])!r}, 'https://b.example.org/a').result(60)\n"
        "pool.close()\n"
        "print(res.document.language if res.document else res.error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "id"


def test_fetched_records_and_the_export_carry_the_detected_language(corpus_cmd, tmp_path):
    from crawler.replay.server import ReplayServer

    root = tmp_path / "web"
    pages = {"https://berita.example.org/lavrov-jakarta": page("en", "Lavrov di Jakarta", [ID, ID2]),
             "https://news.example.cn/lavrov": page("zh-CN", "拉夫罗夫抵达万象", ZH),
             "https://thai.example.org/lavrov": page("th", "ลาฟรอฟเยือนเวียงจันทน์", TH)}
    for url, html in pages.items():
        path = root / url.split("/")[2] / url.split("/", 3)[3]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(html)
    store = tmp_path / "store"
    with ReplayServer([root]) as server:
        res = corpus_cmd("fetch", "--json", "--replay", server.url, "--store", store, *pages)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    out = tmp_path / "out.jsonl"
    exported = corpus_cmd("export", "--store", store, "--out", out)
    assert exported.returncode == 0, exported.stderr[-2000:]
    rows = {r["url"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == set(pages)
    idn, zh, th = (rows[u] for u in pages)
    assert (idn["language"], idn["language_declared"]) == ("id", "en")
    assert (zh["language"], zh["language_declared"]) == ("zh", "zh")
    assert (th["language"], th["language_declared"]) == ("th", "th")
    for row in rows.values():
        assert row["word_count"] == count_words(row["text"], row["language"])
    assert idn["word_count"] == len(idn["text"].split())
    assert zh["word_count"] > 5 * len(zh["text"].split()) and th["word_count"] > 5 * len(th["text"].split())
    stored = json.loads((store / "corpus" / "docs" / f"{idn['id']}.json").read_text(encoding="utf-8"))
    assert stored["language"] == "id" and stored["language_declared"] == "en"
