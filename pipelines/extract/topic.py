"""ASEAN–Russia topic relevance: keep pages about both sides, explainably.

A page is relevant when both sides are present with some weight (ASEAN, Southeast Asia or a member
state; Russia, its leaders or institutions), hits in the title count more than hits in the body, and
the two sides meet in the same paragraphs (a news round-up with a Russia item and a Thailand item
is not ASEAN–Russia coverage). Side strengths saturate (``1 - exp(-hits / side_scale)``) and body
hits are normalised by length, so a long article naming Russia once in passing stays below the bar.
Terms and weights live in ``pipelines/extract/topic_terms.toml``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from pipelines.extract.words import count_words

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["TopicConfig", "TopicScore", "score", "load_config", "DEFAULT_TERMS", "REASONS"]

DEFAULT_TERMS = Path(__file__).with_name("topic_terms.toml")
REASONS = ("no-asean-side", "no-russia-side", "below-threshold")
_PARA_SPLIT = re.compile(r"\n\s*\n")


def _phrase(words: str) -> str:
    """Regex of a literal phrase whose words may be separated by any whitespace."""
    return r"\s+".join(map(re.escape, words.split()))


_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")  # Thai, Lao; Myanmar; Khmer


class _Matcher:
    """Whole-word matcher of one side's terms: exact case as written, or ALL CAPS."""

    def __init__(self, terms: dict[str, float]):
        self.weights = {t: float(w) for t, w in terms.items() if float(w) > 0}
        self.exact: dict[str, str] = {}
        self.prefixes: list[tuple[str, str]] = []
        alts = []
        for term in self.weights:
            stem = term[:-1] if term.endswith("*") else term
            tail = r"\w*" if term.endswith("*") else ""
            for form in dict.fromkeys((stem, stem.upper())):
                alts.append((len(form), _phrase(form) + tail))
                if tail:
                    self.prefixes.append((form, term))
                elif form == stem or form not in self.exact:
                    self.exact[form] = term
        self.prefixes.sort(key=lambda p: -len(p[0]))
        alts.sort(key=lambda a: -a[0])
        # Thai, Lao, Burmese and Khmer write no spaces between words: their terms match inside a run of letters
        bounded = "|".join(a for _, a in alts if not _UNSPACED.search(a)) or r"(?!x)x"
        unspaced = "|".join(a for _, a in alts if _UNSPACED.search(a)) or r"(?!x)x"
        self.regex = re.compile(rf"(?<!\w)(?:{bounded})(?!\w)|{unspaced}")

    def term_of(self, hit: str) -> str:
        hit = " ".join(hit.split())
        if hit in self.exact:
            return self.exact[hit]
        return next(term for prefix, term in self.prefixes if hit.startswith(prefix))

    def count(self, text: str) -> Counter:
        return Counter(self.term_of(m.group(0)) for m in self.regex.finditer(text))

    def mass(self, counts: Counter, cap: int | None = None) -> float:
        return sum(self.weights[t] * (min(c, cap) if cap else c) for t, c in counts.items())


@dataclass(frozen=True)
class TopicConfig:
    """Terms, weights and thresholds of the scorer (see ``topic_terms.toml`` for their meaning)."""

    asean_terms: dict[str, float]
    russia_terms: dict[str, float]
    exclude: tuple[str, ...] = ()
    title_weight: float = 3.0
    title_cap: int = 2
    ref_words: int = 400
    length_exponent: float = 0.5
    side_scale: float = 2.0
    min_side: float = 0.45
    link_weight: float = 0.7
    link_share: float = 0.25
    threshold: float = 0.50
    top_terms: int = 12
    _compiled: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "exclude", tuple(self.exclude))
        pattern = "|".join(_phrase(p) for p in sorted(self.exclude, key=len, reverse=True))
        excl = re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE) if pattern else None
        object.__setattr__(
            self, "_compiled", (_Matcher(self.asean_terms), _Matcher(self.russia_terms), excl)
        )

    @classmethod
    def from_dict(cls, data: dict) -> "TopicConfig":
        """From the TOML layout (``scoring``/``asean``/``russia``/``exclude``) or flat field names."""
        flat = dict(data.get("scoring", {}))
        for key, value in data.items():
            if key == "exclude" and isinstance(value, dict):
                flat["exclude"] = value.get("phrases", ())
            elif key in ("asean", "russia"):
                flat[f"{key}_terms"] = value
            elif key != "scoring":
                flat[key] = value
        names = {f.name for f in fields(cls) if f.init}
        unknown = set(flat) - names
        if unknown:
            raise ValueError(f"unknown topic settings: {sorted(unknown)}")
        return cls(**flat)

    @classmethod
    def from_toml(cls, path: str | Path | None = None) -> "TopicConfig":
        with open(path or DEFAULT_TERMS, "rb") as fh:
            return cls.from_dict(tomllib.load(fh))


@dataclass
class TopicScore:
    """Result of :func:`score`; ``reason`` is None when relevant."""

    score: float
    asean: float
    russia: float
    link: float
    relevant: bool
    reason: str | None
    matched: dict[str, int]
    sides: dict[str, str] = field(default_factory=dict)  # term -> "asean" | "russia"

    def to_dict(self) -> dict:
        """JSON-ready; ``matched`` is a list of ``{"term", "side", "count"}``, most frequent first
        (a list, not a map keyed by term: "ASEAN" and "Asean" are different terms, and a record's
        fields must be the same in every record for DuckDB and Hugging Face ``datasets``)."""
        return {
            "score": round(float(self.score), 4),
            "asean": round(float(self.asean), 4),
            "russia": round(float(self.russia), 4),
            "link": round(float(self.link), 4),
            "relevant": self.relevant,
            "reason": self.reason,
            "matched": [{"term": term, "side": self.sides.get(term, ""), "count": int(count)}
                        for term, count in sorted(self.matched.items(), key=lambda kv: (-kv[1], kv[0]))],
        }


_DEFAULT: TopicConfig | None = None


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> TopicConfig:
    """Config from ``path`` (default ``pipelines/extract/topic_terms.toml``) with flat ``overrides``.

    ``asean_terms``/``russia_terms`` overrides are merged into the file's terms (weight 0 drops one);
    other keys replace the setting.
    """
    global _DEFAULT
    if path is None and _DEFAULT is not None:
        cfg = _DEFAULT
    else:
        cfg = TopicConfig.from_toml(path)
        if path is None:
            _DEFAULT = cfg
    if not overrides:
        return cfg
    changes = dict(overrides)
    for key in ("asean_terms", "russia_terms"):
        if key in changes:
            changes[key] = {**getattr(cfg, key), **changes[key]}
    return replace(cfg, **changes)


def _paragraphs(text: str) -> list[str]:
    paras = [p for p in _PARA_SPLIT.split(text) if p.strip()]
    if len(paras) <= 1 and text.count("\n") > 1:
        paras = [p for p in text.splitlines() if p.strip()]
    return paras


def score(title: str | None, text: str, cfg: TopicConfig | None = None) -> TopicScore:
    """Relevance of a page (``title`` may be None) to ASEAN–Russia coverage."""
    cfg = cfg or load_config()
    asean_m, russia_m, excl = cfg._compiled
    title = title or ""
    text = text or ""
    if excl is not None:
        title, text = excl.sub(" ", title), excl.sub(" ", text)

    t_a, t_r = asean_m.count(title), russia_m.count(title)
    paras = [(asean_m.count(p), russia_m.count(p)) for p in _paragraphs(text)]
    b_a = sum((a for a, _ in paras), Counter())
    b_r = sum((r for _, r in paras), Counter())

    words = count_words(text)
    norm = max(1.0, words / cfg.ref_words) ** cfg.length_exponent

    def side(matcher: _Matcher, t: Counter, b: Counter) -> float:
        hits = cfg.title_weight * matcher.mass(t, cfg.title_cap) + matcher.mass(b) / norm
        return 1.0 - math.exp(-hits / cfg.side_scale)

    asean, russia = side(asean_m, t_a, b_a), side(russia_m, t_r, b_r)

    if t_a and t_r:
        link = 1.0
    else:
        n_any = sum(1 for a, r in paras if a or r)
        n_both = sum(1 for a, r in paras if (a or t_a) and (r or t_r) and (a or r))
        link = min(1.0, n_both / (cfg.link_share * n_any)) if n_any else 0.0

    value = math.sqrt(asean * russia) * (1.0 - cfg.link_weight + cfg.link_weight * link)
    if asean < cfg.min_side:
        reason = "no-asean-side"
    elif russia < cfg.min_side:
        reason = "no-russia-side"
    elif value < cfg.threshold:
        reason = "below-threshold"
    else:
        reason = None

    matched = t_a + t_r + b_a + b_r
    top = dict(sorted(matched.items(), key=lambda kv: (-kv[1], kv[0]))[: cfg.top_terms])
    sides = {term: "asean" for term in t_a + b_a} | {term: "russia" for term in t_r + b_r}
    return TopicScore(value, asean, russia, link, reason is None, reason, top,
                      {term: sides[term] for term in top})
