"""Odd text never costs an article: control-character references and bytes, NULs, and pages without a
declared charset in Western European, Central European, Cyrillic and East Asian encodings."""
from __future__ import annotations

import json
import re

import pytest

from pipelines.extract.charset import decode_html
from pipelines.extract.extractor import try_extract
from pipelines.extract.sanitise import binary_kind, mostly_controls, sanitise_markup

URL = "https://news.example.org/2024/07/lavrov-vientiane"
PARAS = [f"Paragraph {i}: ASEAN ministers met Russian officials in Vientiane to discuss trade, energy and "
         f"security in the region this year, and agreed to meet again." for i in range(6)]


def _page(odd: str = "", where: int = 3) -> str:
    paras = [f"<p>{p}</p>" for p in PARAS]
    paras[where] = f"<p>{PARAS[where][:40]}{odd}{PARAS[where][40:]}</p>"
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Lavrov in Vientiane</title></head>"
            f"<body><article><h1>Lavrov in Vientiane</h1>{''.join(paras)}</article></body></html>")


BASELINE = try_extract(_page(), URL).document.text
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

CONTROL_REFERENCES = ["&#1;", "&#0;", "&#x0;", "&#8;", "&#11;", "&#x0B;", "&#12;", "&#27;", "&#31;", "&#x1F;",
                      "&#65534;", "&#65535;", "&#xFFFE;", "&#xffff;", "&#xD800;", "&#xDFFF;", "&#55296;",
                      "&#1114112;", "&#x110000;", "&#99999999999;", "&#" + "9" * 5000 + ";", "&#00000001;",
                      "&#1", "&#x1f"]
RAW_CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\ufffe", "\uffff", "\x00" * 3]


@pytest.mark.parametrize("odd", CONTROL_REFERENCES)
def test_a_control_character_reference_does_not_drop_the_article(odd):
    for page in (_page(odd), _page(odd).encode("utf-8"), _page(odd, where=0) + odd):
        result = try_extract(page, URL)
        assert result.document is not None, (odd[:20], result.reason)
        assert result.document.text == BASELINE
        assert result.document.title == "Lavrov in Vientiane"


@pytest.mark.parametrize("odd", RAW_CONTROLS)
def test_raw_control_characters_and_nuls_do_not_drop_the_article(odd):
    for page in (_page(odd), _page(odd, where=0)):
        result = try_extract(page.encode("utf-8", "surrogatepass"), URL)
        assert result.document is not None, (repr(odd), result.reason)
        assert not XML_INVALID.search(result.document.text)
        assert result.document.text.replace(" ", "") == BASELINE.replace(" ", "")


def test_a_nul_in_the_head_of_the_page():
    page = _page().encode("utf-8")
    for at in (0, 10, 60, 200):
        result = try_extract(page[:at] + b"\x00" + page[at:], URL)
        assert result.document is not None and result.document.text == BASELINE, (at, result.reason)


def test_references_read_as_a_browser_reads_them():
    assert sanitise_markup("a&#150;b &#x93;q&#x94; &#128; &#129;x") == "a\u2013b \u201cq\u201d \u20ac x"
    assert sanitise_markup("keep &#9;&#10;&#13;&#32;&#233;&#x1F600;&amp;&lt;") == \
        "keep &#9;&#10;&#13;&#32;&#233;&#x1F600;&amp;&lt;"
    assert sanitise_markup("x&#1;y&#xFFFE;z\x01\x0c") == "xyz "
    assert sanitise_markup("plain text") == "plain text"


def test_binary_bodies_are_still_not_html():
    html_after = b"<html><body><p>" + b"text " * 50 + b"</p></body></html>"
    for body, kind in ((b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + html_after, "a PDF document"),
                       (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + html_after, "a PNG image"),
                       (b"GIF89a\x01\x00" + html_after, "a GIF image"),
                       (b"\xff\xd8\xff\xe0\x00\x10JFIF" + html_after, "a JPEG image"),
                       (b"PK\x03\x04\x14\x00" + html_after, "a ZIP archive")):
        assert binary_kind(body) == kind
        assert try_extract(body, URL).reason == "not-html"
    noise = bytes((i * 7919) % 256 for i in range(20_000))  # every byte value, NULs among them
    assert mostly_controls(noise.decode("cp1252", "replace"))
    assert try_extract(noise + html_after, URL).reason == "not-html"
    utf16 = _page().encode("utf-16-le")  # UTF-16 without a BOM: decoded well, or refused; never garbage
    result = try_extract(utf16, URL)
    assert result.reason == "not-html" or result.document.text == BASELINE
    assert not mostly_controls(_page("\x00\x01"))


# --- pages without a declared charset ----------------------------------------------------------------
TEXTS = {
    "French": ("cp1252", "Le ministre des Affaires étrangères a déclaré que la coopération économique entre la Russie "
                         "et l'ASEAN s'était renforcée malgré les sanctions. « Nous espérons élargir nos échanges », "
                         "a-t-il ajouté à Vientiane, où les délégations se sont réunies."),
    "French, short": ("latin-1", "Réunion à Vientiane : la Russie et l'ASEAN parlent énergie."),
    "German": ("latin-1", "Der Außenminister äußerte sich über die wirtschaftliche Zusammenarbeit zwischen Russland "
                          "und den Ländern Südostasiens."),
    "Spanish": ("latin-1", "El ministro de Asuntos Exteriores afirmó que la cooperación económica entre Rusia y la "
                           "ASEAN se había fortalecido. ¿Qué pasará el próximo año? «Esperamos más», añadió."),
    "Spanish, short": ("latin-1", "España y Rusia: el año del niño."),
    "Portuguese": ("cp1252", "O ministro das Relações Exteriores afirmou que a cooperação econômica entre a Rússia e "
                             "a ASEAN se fortaleceu apesar das sanções — “esperamos ampliar”, acrescentou."),
    "Italian": ("latin-1", "Il ministro ha dichiarato che la cooperazione è più forte, perché le sanzioni non hanno "
                           "funzionato. Così è."),
    "Indonesian": ("latin-1", "Menteri Luar Negeri mengatakan kerja sama ekonomi antara Rusia dan ASEAN semakin kuat. "
                              "Kafe, café, résumé dan naïve adalah kata serapan."),
    "Dutch": ("latin-1", "De minister zei dat de coöperatie met Rusland en ASEAN financiële gevolgen heeft."),
    "Danish": ("latin-1", "Udenrigsministeren sagde, at samarbejdet mellem Rusland og ASEAN er blevet stærkere på "
                          "trods af sanktionerne, før og efter mødet."),
    "Polish": ("cp1250", "Minister spraw zagranicznych powiedział, że współpraca gospodarcza między Rosją a ASEAN "
                         "wzmocniła się mimo sankcji. Źródło: żółć, gęślą jaźń."),
    "Polish, ISO 8859-2": ("iso8859-2", "Minister spraw zagranicznych powiedział, że współpraca gospodarcza między "
                                        "Rosją a ASEAN wzmocniła się mimo sankcji."),
    "Czech": ("cp1250", "Ministr zahraničí řekl, že hospodářská spolupráce mezi Ruskem a zeměmi ASEAN se i přes "
                        "sankce posílila. Příliš žluťoučký kůň úpěl ďábelské ódy."),
    "Slovak": ("cp1250", "Minister zahraničných vecí povedal, že hospodárska spolupráca medzi Ruskom a ASEAN sa "
                         "napriek sankciám posilnila. Ďalej ľudia."),
    "Hungarian": ("cp1250", "A külügyminiszter szerint az Oroszország és az ASEAN közötti gazdasági együttműködés a "
                            "szankciók ellenére erősödött."),
    "Romanian": ("cp1250", "Ministrul de externe a declarat că cooperarea economică dintre Rusia şi ASEAN s-a "
                           "consolidat în ciuda sancţiunilor."),
    "Croatian": ("cp1250", "Ministar vanjskih poslova rekao je da je gospodarska suradnja između Rusije i ASEAN-a "
                           "ojačala unatoč sankcijama."),
    "Russian": ("cp1251", "Министр иностранных дел заявил, что экономическое сотрудничество между Россией и АСЕАН "
                          "укрепилось, несмотря на санкции."),
    "Russian, KOI8-R": ("koi8-r", "Министр иностранных дел заявил, что экономическое сотрудничество между Россией "
                                  "и АСЕАН укрепилось, несмотря на санкции."),
    "Ukrainian": ("cp1251", "Міністр закордонних справ заявив, що економічна співпраця між Росією та АСЕАН "
                            "зміцнилася, незважаючи на санкції."),
    "Turkish": ("cp1254", "Dışişleri Bakanı, yaptırımlara rağmen Rusya ile ASEAN arasındaki ekonomik işbirliğinin "
                          "güçlendiğini söyledi."),
}
PAGE_ONLY = {  # too short for any sniffer without their markup around them
    "Japanese, Shift-JIS": ("shift_jis", "外務大臣は、制裁にもかかわらずロシアとＡＳＥＡＮの経済協力が強化されたと述べた。"
                                         "ビエンチャンでの会合は三日間続いた。"),
    "Japanese, EUC-JP": ("euc-jp", "外務大臣は、制裁にもかかわらずロシアとＡＳＥＡＮの経済協力が強化されたと述べた。"
                                   "ビエンチャンでの会合は三日間続いた。"),
    "Chinese, GB18030": ("gb18030", "外交部长表示，尽管受到制裁，俄罗斯与东盟之间的经济合作仍得到加强。会议在万象举行了三天。"),
    "Chinese, Big5": ("big5", "外交部長表示，儘管受到制裁，俄羅斯與東盟之間的經濟合作仍得到加強。會議在萬象舉行了三天。"),
    "Korean": ("euc-kr", "외교부 장관은 제재에도 불구하고 러시아와 아세안 간의 경제 협력이 강화되었다고 말했다."),
    "Thai": ("cp874", "รัฐมนตรีว่าการกระทรวงการต่างประเทศกล่าวว่าความร่วมมือทางเศรษฐกิจระหว่างรัสเซียและอาเซียนแข็งแกร่งขึ้น"),
}


def _html(text: str) -> str:
    return f"<html><head><title>x</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_unlabelled_text_decodes_right(language):
    enc, text = TEXTS[language]
    for doc in (_html(text), text):
        data = doc.encode(enc)
        assert decode_html(data) == doc
        assert decode_html(data, "ISO-8859-1") == doc  # a server's default label is no label


def _cp1258(text: str) -> bytes:
    """Vietnamese as windows-1258 writes it: the precomposed letters it has, the tones as combining marks."""
    import unicodedata

    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:  # "ậ": "â" (a letter it has) and the tone mark U+0323
            parts = unicodedata.normalize("NFD", ch)
            tones = "".join(c for c in parts if c in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out += (base + tones).encode("cp1258")
    return out


def test_vietnamese_in_windows_1258_decodes_composed():
    """A Vietnamese page in windows-1258, unlabelled or labelled UTF-8 (a new user's page came out as "Nga vŕ
    ASEAN kyě thoŇa thuâňn" through windows-1250): decoded, and its tones composed ("ký", not "ky" + U+0301)."""
    text = ("Bộ trưởng ngoại giao Nga và ASEAN đã gặp nhau tại Hà Nội để thảo luận về hợp tác thương mại, năng"
            " lượng và an ninh. Phái đoàn Nga đề xuất các dự án mới với Việt Nam, Lào và Indonesia.")
    for head in ("", '<meta charset="utf-8">'):
        doc = f"<html><head>{head}<title>Nga và ASEAN ký thỏa thuận</title></head><body><p>{text}</p></body></html>"
        assert decode_html(_cp1258(doc)) == doc


@pytest.mark.parametrize("language", sorted(PAGE_ONLY))
def test_unlabelled_pages_in_east_asian_encodings_decode_right(language):
    enc, text = PAGE_ONLY[language]
    assert decode_html(_html(text).encode(enc)) == _html(text)


def test_labels_and_utf8_still_win():
    spanish = _html(TEXTS["Spanish"][1])
    assert decode_html(spanish.encode("utf-8")) == spanish
    assert decode_html(spanish.encode("utf-8"), "windows-1250") == spanish  # valid UTF-8 beats a wrong label
    polish = _html(TEXTS["Polish"][1])
    assert decode_html(polish.encode("cp1250"), "windows-1250") == polish
    meta = f"<html><head><meta charset=windows-1250></head><body><p>{TEXTS['Czech'][1]}</p></body></html>"
    assert decode_html(meta.encode("cp1250")) == meta


def test_a_latin1_article_extracts_with_its_accents():
    paras = "".join(f"<p>{TEXTS['Spanish'][1]} Párrafo {i}.</p>" for i in range(5))
    page = f"<html><head><title>Rusia y la ASEAN</title></head><body><article>{paras}</article></body></html>"
    doc = try_extract(page.encode("latin-1"), URL).document
    assert doc is not None and "año" in doc.text and "cooperación" in doc.text and "ń" not in doc.text


# --- end to end: `corpus fetch` of pages served on 127.0.0.1 ----------------------------------------
def test_odd_pages_fetched_end_to_end(corpus_cmd, tmp_path):
    from crawler.replay.server import ReplayServer

    root = tmp_path / "web" / "odd.example.org"
    root.mkdir(parents=True)
    spanish = "".join(f"<p>{TEXTS['Spanish'][1]} ASEAN y Rusia, párrafo {i}.</p>" for i in range(5))
    pages = {
        "controls.html": _page("&#1;&#65534;&#xD800;\x01").encode("utf-8")[:80] + b"\x00"
        + _page("&#1;&#65534;&#xD800;\x01").encode("utf-8")[80:],
        "latin1.html": (f"<html><head><title>Rusia y la ASEAN</title></head><body><article>{spanish}</article>"
                        "</body></html>").encode("latin-1"),
        "labelled.pdf.html": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n<p>x</p>",
    }
    for name, body in pages.items():
        (root / name).write_bytes(body)
        (root / f"{name}.meta.json").write_text(json.dumps({"headers": {"Content-Type": "text/html"}}))
    urls = [f"https://odd.example.org/{name}" for name in pages]
    with ReplayServer([tmp_path / "web"]) as server:
        res = corpus_cmd("fetch", "--json", "--any-topic", "--replay", server.url, "--store", tmp_path / "s", *urls)
    out = {o["url"]: o for o in map(json.loads, res.stdout.splitlines())}
    assert out[urls[0]]["outcome"] == "new", res.stderr[-2000:]
    assert out[urls[0]]["text"] == BASELINE
    assert out[urls[1]]["outcome"].startswith("new")  # stored (asked for by name, though off-topic)
    assert "año" in out[urls[1]]["text"] and "ń" not in out[urls[1]]["text"]
    assert out[urls[2]]["outcome"] == "skipped: no article (not-html)"
    records = [json.loads(p.read_text()) for p in (tmp_path / "s" / "corpus" / "docs").glob("*.json")]
    assert sorted(r["url"] for r in records) == urls[:2]
