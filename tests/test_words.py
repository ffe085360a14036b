"""Word counts for languages written with and without spaces (pipelines/extract/words.py).

Own texts are segmented by hand (words separated by ``|``); ICU's segmentation must come close to it
(dictionary segmenters and people disagree on compounds: ``เดินทาง`` "travel" is one word or two).
Real texts: the Chinese and Japanese pages of ../shared/data/fundus-pages (skipped when absent).
"""
from __future__ import annotations

import sys

import pytest

from pipelines.extract import words
from pipelines.extract.words import count_words, segment

from language_data import fundus, wcxb

ZH = "俄罗斯|外交部长|拉夫罗夫|星期二|抵达|万象|，|出席|东盟|与|俄罗斯|外长|会议|。"
JA = "ラブロフ|外相|は|火曜日|に|ビエンチャン|に|到着|し|、|東南アジア|諸国|と|の|協力|を|強化|する|考え|を|示し|た|。"
TH = ("รัฐมนตรี|ว่าการ|กระทรวง|การต่างประเทศ|ของ|รัสเซีย|เดินทาง|ถึง|กรุง|เวียงจันทน์|เมื่อ|วัน|อังคาร| |เพื่อ|เข้าร่วม|"
      "การประชุม|รัฐมนตรี|ต่างประเทศ|อาเซียน|กับ|รัสเซีย| |ทั้ง|สอง|ฝ่าย|ได้|หารือ|เรื่อง|การค้า|พลังงาน|และ|"
      "ความมั่นคง|ใน|ภูมิภาค")


def _hand(segmented: str) -> tuple[str, int]:
    parts = segmented.split("|")
    return "".join(parts), sum(1 for p in parts if words._WORDISH.search(p))


@pytest.mark.parametrize("segmented,language", [(ZH, "zh"), (JA, "ja"), (TH, "th")])
def test_scripts_without_spaces_are_segmented_into_words(segmented, language):
    text, by_hand = _hand(segmented)
    got = count_words(text, language)
    assert 0.75 * by_hand <= got <= 1.4 * by_hand, (got, by_hand, segment(text, language))  # names split
    assert len(text.split()) <= 3  # what the record counted before: a sentence was a "word" or three


def test_thai_words_are_found_and_the_fallback_ratio_is_measured():
    text, _ = _hand(TH)
    found = [w for token in text.split() for w in segment(token, "th")]
    assert {"รัสเซีย", "อาเซียน", "เวียงจันทน์", "พลังงาน"} <= set(found)
    chars = sum(len(w) for w in found) / len(found)  # what the no-ICU fallback divides by
    assert abs(chars - words.SEA_CHARS_PER_WORD) < 0.5


def test_english_and_other_spaced_scripts_count_as_before():
    for text in ("Lavrov met ASEAN ministers in Vientiane — and left on Friday (AP).",
                 "Лавров встретился с министрами АСЕАН во Вьентьяне.",
                 "한국 정부는 아세안 국가들과 협력을 강화하기로 했다.",
                 "Bộ trưởng Ngoại giao Nga Lavrov đến Viêng Chăn."):
        assert count_words(text) == len(text.split())
    assert count_words("") == 0 and count_words(None) == 0 and count_words(" \n ") == 0


def test_mixed_text_counts_each_part():
    assert count_words("ASEAN的会议") == 1 + len(segment("的会议"))
    assert count_words("Lavrov arrived in 東京 on Friday") == 6  # 東京 (Tokyo) is one word
    assert count_words("4月24日，俄罗斯") == 2 + len(segment("月")) + len(segment("日")) + len(segment("俄罗斯"))
    assert count_words("東京。「会議」") == 2  # punctuation beside a run is no word


def test_without_icu_han_is_counted_by_character(monkeypatch):
    thai, _ = _hand(TH)
    by_icu = count_words(thai)
    monkeypatch.setitem(sys.modules, "icu4py.breakers", None)  # as on a platform without the wheel
    words._breaker.cache_clear()
    try:
        text, _ = _hand(ZH)
        han = sum(1 for c in text if words._HAN_KANA_CHAR.match(c))
        assert count_words(text) == han
        assert abs(count_words(thai) - by_icu) <= 0.15 * by_icu  # characters / SEA_CHARS_PER_WORD
    finally:
        monkeypatch.undo()
        words._breaker.cache_clear()
    assert count_words("东盟会议") < 4  # ICU back


def test_real_chinese_and_japanese_pages():
    pages = [it for it in fundus() if it.language in ("zh", "ja")]
    if not pages:
        pytest.skip("../shared/data/fundus-pages is absent")
    for it in pages:
        got = count_words(it.text, it.language)
        han_kana = len(words._HAN_KANA_CHAR.findall(it.text))
        # words of 1-4 characters: between a quarter and all of the characters, far above the spaces' count
        assert han_kana / 4 < got < len("".join(it.text.split())), it.name
        assert got > 5 * len(it.text.split()), it.name


def test_real_english_pages_count_as_split():
    pages = wcxb()[:200]
    if not pages:
        pytest.skip("../shared/data/wcxb-dev is absent")
    for it in pages:
        assert count_words(it.text, "en") == len(it.text.split()) or words.UNSPACED.search(it.text), it.name
