"""Word counts, for languages written with and without spaces: ``count_words(text, language=None)``.

Every whitespace-separated token is one word, as ``len(text.split())`` counted before (so the counts of
English, Russian, Indonesian... records are unchanged), except the runs of scripts written without
spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar), which ICU's word break
iterator (icu4py: ICU4C and its dictionaries inside the wheel, nothing fetched) splits into words; of
its segments, those with a letter or a digit count. Hangul is written with spaces and counts as tokens.
Anything else in a token beside such a run (``4月24日``: ``4``, ``24``; ``ASEAN的``: ``ASEAN``) counts one
word per piece with a letter or digit.

Without icu4py (a platform without its wheel), a Han or kana character counts as one word (what word
processors count) and a run of Thai, Lao, Khmer or Myanmar as one word per ``SEA_CHARS_PER_WORD``
characters (measured with ICU on the Thai text of tests/test_words.py: 4.6).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = ["count_words", "segment", "word_key", "TOKEN", "UNSPACED", "SEA_CHARS_PER_WORD"]

# scripts written without spaces between words (ranges of the Unicode blocks)
_HAN_KANA = ("\u3005\u3006\u3007\u3021-\u3029\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
             "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f")
_SEA = "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\uaa60-\uaa7f\ua9e0-\ua9ff"
UNSPACED = re.compile(f"[{_HAN_KANA}{_SEA}]+")
_HAN_KANA_CHAR = re.compile(f"[{_HAN_KANA}]")
_WORDISH = re.compile(r"[^\W_]")
# a token for comparing texts: a kana or Han character, or a run of word characters
TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|\w+")
SEA_CHARS_PER_WORD = 4.6  # fallback only: mean characters per ICU word of the Thai text in tests/test_words.py


@lru_cache(maxsize=1)
def _breaker():
    try:
        from icu4py.breakers import WordBreaker
    except ImportError:  # pragma: no cover - icu4py is a dependency; a platform without its wheel
        return None
    return WordBreaker


def segment(run: str, language: str | None = None) -> list[str]:
    """The words of ``run`` (a text in a script without spaces) by ICU's dictionaries; [] without ICU."""
    breaker = _breaker()
    if breaker is None:
        return []
    return [seg for seg in breaker(run, language or "root") if _WORDISH.search(seg)]


def _count_run(run: str, language: str | None) -> int:
    if _breaker() is not None:
        return len(segment(run, language))
    han = len(_HAN_KANA_CHAR.findall(run))
    rest = len(run) - han
    return han + (math.ceil(rest / SEA_CHARS_PER_WORD) if rest else 0)


def count_words(text: str | None, language: str | None = None) -> int:
    """Words of ``text`` (see the module); ``language`` (ISO 639-1) is a hint for ICU's segmentation."""
    if not text:
        return 0
    if not UNSPACED.search(text):
        return len(text.split())
    n = 0
    for token in text.split():
        runs = UNSPACED.findall(token)
        if not runs:
            n += 1
            continue
        n += sum(1 for piece in UNSPACED.split(token) if _WORDISH.search(piece))
        n += sum(_count_run(run, language) for run in runs)
    return n


def word_key(text: str) -> str:
    """``text`` lower-cased as its tokens joined by one space: equal keys are the same words in the same
    order, whatever the punctuation and spacing (paragraph repeats, titles, blocks against a body)."""
    return " ".join(TOKEN.findall(text.lower()))
