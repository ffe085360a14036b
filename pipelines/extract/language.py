"""The language of a text, detected from the text itself, and the record's language policy.

``detect_language(text) -> (code, confidence)``: py3langid (langid.py's naive Bayes model, 140 labels,
shipped in the package, nothing fetched), on the first ``SAMPLE_CHARS`` characters; ``code`` is ISO
639-1 (ISO 639-3 for a language without one), with the model's varieties of one language added up
(``zh``, ``wuu`` and ``yue`` are ``zh``); ``(None, 0.0)`` when the text has fewer than ``MIN_LETTERS``
letters; ``confidence`` is the model's probability in [0, 1]. The model is loaded once per process, at
the first call (0.5 s, 90 MiB resident with numpy), or in the extraction forkserver
(``pipelines.extract.workers`` preloads ``pipelines.extract.language_model``), whose workers share it.

``choose_language(text, declared) -> (language, detected, confidence)``: the record's ``language`` is the
detected language when the detector is confident (``MIN_CONFIDENCE``), else the page's declared one
(``lang``, og:locale, Content-Language; None when it declares none). Indonesian and Malay are close
(``CLOSE``): when the detector says one of them, its confidence is that of the pair, and a page that
declares either keeps its declaration. Measured (bench/language.py, 1095 real texts in 26 languages):
right on all of them at full length; on the first 3, 5, 8 words of each, 68%, 89%, 96% right, but 99.6%
or more of the answers with a confidence of 0.8 or more are right, and they are 16%, 48%, 74% of the
answers: a text of a few words mostly keeps its declared language.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

__all__ = ["detect_language", "choose_language", "load", "MIN_CONFIDENCE", "SAMPLE_CHARS", "MIN_LETTERS"]

SAMPLE_CHARS = 1000     # the detector reads this much of a text (0.7 ms); 3000 gave the same answers on
                        # all 1095 texts of bench/language.py at twice the time
MIN_CONFIDENCE = 0.8    # below it the declared language is kept
MIN_LETTERS = 10        # fewer letters than this: nothing to detect
CLOSE = frozenset({"id", "ms"})  # languages the detector cannot tell apart reliably: a declaration wins
_ALIAS = {"nb": "no", "nn": "no", "in": "id", "iw": "he", "ji": "yi", "jw": "jv",  # old and regional forms
          "wuu": "zh", "yue": "zh", "arz": "ar", "ary": "ar", "uzs": "uz",  # varieties the model tells apart
          **dict.fromkeys(("fil", "tgl"), "tl"), **dict.fromkeys(("ind",), "id"),  # ISO 639-2/3 codes pages use
          **dict.fromkeys(("msa", "may", "zsm"), "ms"), "vie": "vi", "tha": "th", "khm": "km", "lao": "lo",
          **dict.fromkeys(("mya", "bur"), "my"), **dict.fromkeys(("zho", "chi", "cmn"), "zh"), "jpn": "ja",
          "kor": "ko", "eng": "en", "rus": "ru", **dict.fromkeys(("fra", "fre"), "fr"),
          **dict.fromkeys(("deu", "ger"), "de"), "spa": "es"}

_LETTER = re.compile(r"[^\W\d_]")
_LOCK = threading.Lock()
_IDENT = None


def load():
    """The detector, loaded once per process."""
    global _IDENT
    if _IDENT is None:
        with _LOCK:
            if _IDENT is None:
                from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

                ptc, pc, classes, nextmove, row, output = _read_model(MODEL_DIR / MODEL_FILE)
                _IDENT = LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=row)
    return _IDENT


def _read_model(path):
    """py3langid's model, decompressed in memory. Its own loader goes through a temporary file, which on a
    full disk (or under a file-size limit) failed the extraction workers' start with a traceback."""
    import io
    import lzma

    import numpy as np
    from py3langid.modelio import _to_array

    with lzma.open(path) as src:
        buf = io.BytesIO(src.read())
    with np.load(buf, allow_pickle=False) as data:
        return (np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
                _to_array(data["nextmove"]), _to_array(data["nextmove_row"]), data["out_feat"].tolist())


def normalize_code(code: str | None) -> str | None:
    """The ISO 639-1 code of a declared or detected code (``en-US``, ``nb``, ``fil_PH``, ``ind``...), the
    ISO 639-3 code of a language without one (``ace``), None when it is no language code (``zxx``)."""
    if not code or not isinstance(code, str):
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    primary = _ALIAS.get(primary, primary)
    if primary == "zxx" or not (2 <= len(primary) <= 3 and primary.isalpha() and primary.isascii()):
        return None
    return primary


@lru_cache(maxsize=1024)
def _label_code(label: str) -> str | None:
    """normalize_code of one of the model's labels, cached: it runs for each of its 140 labels on every text."""
    return normalize_code(label)


def _ranked(text: str | None) -> list[tuple[str, float]]:
    """(code, probability) best first, the model's varieties of one language added up (``wuu``, ``yue`` and
    ``zh``: its Chinese probability is split three ways); [] when the text has too few letters."""
    sample = (text or "")[:SAMPLE_CHARS]
    if len(_LETTER.findall(sample[:400])) < MIN_LETTERS and len(_LETTER.findall(sample)) < MIN_LETTERS:
        return []
    folded: dict[str, float] = {}
    for label, p in load().rank(sample):
        code = _label_code(label)
        if code:
            folded[code] = folded.get(code, 0.0) + float(p)
    return sorted(folded.items(), key=lambda kv: -kv[1])


def detect_language(text: str | None) -> tuple[str | None, float]:
    """(ISO 639-1 code, confidence 0..1) of ``text``; (None, 0.0) when it has too few letters."""
    ranked = _ranked(text)
    return ranked[0] if ranked else (None, 0.0)


def choose_language(text: str | None, declared: str | None) -> tuple[str | None, str | None, float]:
    """(the record's language, the detected language, its confidence): see the module."""
    declared = normalize_code(declared)
    ranked = _ranked(text)
    if not ranked:
        return declared, None, 0.0
    detected, confidence = ranked[0]
    if detected in CLOSE:  # sure it is one of the two, unsure which: a declaration of either decides
        confidence = sum(p for code, p in ranked if code in CLOSE)
        if declared in CLOSE:
            return declared, detected, confidence
    return (detected if confidence >= MIN_CONFIDENCE else declared), detected, confidence
