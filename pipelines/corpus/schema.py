"""The corpus record: its fields and types (schema version 3), and its two encodings.

A record has the same fields in every document (``FIELDS``). It exists in two forms:

* the **record** (Python, Arrow, Parquet): ``None`` for what is unknown, real lists, ``topic`` and
  ``also_at`` as nested values. ``Corpus.get``, the reader and the Parquet export give this form;
  :func:`arrow_schema` is its machine-readable schema.
* the **JSON form** (``corpus/docs/<id>.json``, ``corpus export --format jsonl``, ``scrapy crawl -o``):
  every field present, never ``null``, never a JSON array, nested objects with fixed keys. DuckDB's
  ``read_json_auto`` and Hugging Face ``datasets.load_dataset("json", ...)`` then read the record
  files as they are. ``datasets`` takes the types of *all* files from the *first* file: a ``null``
  there, or an empty array (typed ``list<null>``), makes every later file with a value fail ("Couldn't
  cast array of type string to null"), and a key missing there fails too. DuckDB types a column from
  its first 32 files: a value it then cannot convert (an empty string in a column it took for
  timestamps) fails, and a column that was only ``null`` there reads later values as ``NULL``. So:
  unknown text is ``""``, unknown ``http_status`` is ``0``, lists are text (``authors`` joined by
  ``"; "``; ``also_at`` and ``topic.matched`` as JSON text), and ``published``, which may be unknown,
  is written in ISO 8601 *basic* format (``20240725T093000+0700``, ``20240725``), which neither
  DuckDB nor pyarrow guesses to be a timestamp, so a record without a date never breaks the column
  (``gone.since`` likewise).
  ``fetched_at`` and ``stored_at`` are always known and stay in the extended format
  (``2024-07-25T02:30:00+00:00``), which both read as timestamps.

:func:`normalize` makes a complete record from any version (``schema_version`` missing = version 1:
the record as ``build_record`` made it before version 2; ``topic.matched`` was a map term -> count;
version 2 had no ``same_story`` and ``story_original``, read as unknown: alone in its story);
:func:`to_json` and :func:`from_json` convert between the forms, ``from_json(to_json(r)) == r`` for a
normalized record (except an author name containing ``"; "``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

__all__ = ["SCHEMA_VERSION", "FIELDS", "NAMES", "Field", "SchemaError", "normalize", "to_json", "from_json",
           "arrow_schema", "unknown_fields", "published_key", "NOT_SCORED"]

SCHEMA_VERSION = 3
NOT_SCORED = "not-scored"  # topic.reason in the JSON form of a record that was never scored


class SchemaError(ValueError):
    """A record that does not fit the schema (a field it does not know, a newer schema version)."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str        # how it is typed and encoded (see _KINDS)
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("schema_version", "version", "version of this schema (3)"),
    Field("id", "str", "16 hex digits of SHA-256 of the canonical URL; the file name"),
    Field("url", "str", "the URL the page was fetched from, after redirects"),
    Field("requested_url", "str", "the URL that was asked for (before redirects, tracking parameters and all)"),
    Field("canonical_url", "str", "the URL the record is keyed on: the page's own canonical form"),
    Field("declared_canonical", "str", "the page's `<link rel=canonical>` (or og:url/JSON-LD), as written"),
    Field("outlet", "str", "the registry outlet (crawler/outlets.toml), or the site's registered domain"),
    Field("sitename", "str", "the site's own name (og:site_name, JSON-LD publisher)"),
    Field("title", "str", "headline"),
    Field("authors", "authors", "bylines, in page order"),
    Field("published", "date", "publication date as the page gives it: a day, or a time with its offset"),
    Field("language", "str", "ISO 639-1 code of the text: detected from it when confident, else the declared one"),
    Field("language_declared", "str", "the language the page declares (lang, og:locale, Content-Language)"),
    Field("description", "str", "the page's summary (meta description, og:description)"),
    Field("credit", "str", "the original publisher an 'originally appeared in' credit names"),
    Field("text", "str", "the clean body text; unknown for a duplicate whose canonical copy covers it"),
    Field("text_sha256", "str", "SHA-256 of the clean text (kept for a duplicate without its own text)"),
    Field("text_kept", "str", "why a duplicate keeps its own text (it adds content beyond the canonical)"),
    Field("word_count", "int", "words of the clean text"),
    Field("topic", "topic", "ASEAN-Russia relevance: score, side strengths, verdict, matched terms"),
    Field("duplicate_of", "str", "id of the canonical copy, for a near-duplicate; unknown for a canonical"),
    Field("also_at", "also_at", "the other copies of a canonical record: id, url, outlet"),
    Field("same_story", "str", "id of the record's same-story cluster (copies of one report edited, rewritten or "
                               "cut, each text kept); unknown when the record is alone in its story"),
    Field("story_original", "str", "id of the story member believed original, on every member (itself "
                                   "included); unknown when the record is alone in its story"),
    Field("fetched_at", "instant", "when the page of this version was fetched (UTC)"),
    Field("stored_at", "instant", "when this version of the record was written to the store (UTC)"),
    Field("http_status", "status", "HTTP status of the fetch"),
    Field("content_type", "str", "Content-Type of the response, without parameters"),
    Field("etag", "str", "ETag response header"),
    Field("last_modified", "str", "Last-Modified response header"),
    Field("extractor", "extractor", "name and version of the extractor that made the text"),
    Field("replayed", "bool", "answered by a replay web (demo, tests), not by the live site"),
    Field("warc", "warc", "where the raw response is archived: WARC file key, offset and length"),
    Field("gone", "gone", "the page answered 404/410 on a later fetch: that status and since when (UTC)"),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
_KIND = {f.name: f.kind for f in FIELDS}

TOPIC_KEYS = ("score", "asean", "russia", "link", "relevant", "reason", "matched")
ALSO_AT_KEYS = ("id", "url", "outlet")
WARC_KEYS = ("file", "offset", "length")
GONE_KEYS = ("http_status", "since")


# -- times ------------------------------------------------------------------------------------------
_DAY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")


def _parse_time(value: str) -> date | datetime | None:
    text = value.strip()
    try:
        if _DAY.match(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _offset(dt: datetime, sep: str) -> str:
    delta = dt.utcoffset()
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{sep}{minutes:02d}" + (f"{sep}{secs:02d}" if secs else "")


def _published(value: Any) -> str | None:
    """Record form: ISO 8601 extended, the page's precision and offset kept."""
    if value is None or not str(value).strip():
        return None
    parsed = _parse_time(str(value))
    return str(value).strip() if parsed is None else parsed.isoformat()


def _published_json(value: str | None) -> str:
    """JSON form: ISO 8601 basic (``20240725``, ``20240725T093000+0700``), "" when unknown."""
    if not value:
        return ""
    parsed = _parse_time(value)
    if parsed is None:
        return value
    if not isinstance(parsed, datetime):
        return parsed.strftime("%Y%m%d")
    frac = f".{parsed.microsecond:06d}" if parsed.microsecond else ""
    return parsed.strftime("%Y%m%dT%H%M%S") + frac + _offset(parsed, "")


def _instant(value: Any) -> str | None:
    """UTC, seconds, ISO 8601 extended (``2024-07-25T02:30:00+00:00``); a naive time is taken as UTC."""
    if value is None or not str(value).strip():
        return None
    parsed = _parse_time(str(value))
    if parsed is None:
        return str(value).strip()
    if not isinstance(parsed, datetime):
        parsed = datetime(parsed.year, parsed.month, parsed.day)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def published_key(value: str | None) -> tuple[str, str] | None:
    """(UTC day, UTC instant or "") of a ``published`` value, for date filters; None when unknown."""
    parsed = _parse_time(value) if value else None
    if parsed is None:
        return None
    if not isinstance(parsed, datetime):
        return parsed.isoformat(), ""
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc)
    return parsed.date().isoformat(), parsed.replace(tzinfo=None).isoformat()


# -- values -----------------------------------------------------------------------------------------
def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text != "" else None


def _int(value: Any, default: int | None = 0) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SchemaError(f"not a whole number: {value!r}") from None


def _float(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        raise SchemaError(f"not a number: {value!r}") from None


def _json_list(value: Any, what: str) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SchemaError(f"{what} is not JSON: {value[:80]!r}") from None
    if isinstance(value, dict):  # version 1 topic.matched: term -> count
        return [{"term": k, "count": v} for k, v in value.items()]
    if not isinstance(value, (list, tuple)):
        raise SchemaError(f"{what} is not a list: {value!r}")
    return list(value)


def _authors(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split("; ")
    return [name for name in (" ".join(str(a).split()) for a in value) if name]


def _also_at(value: Any) -> list[dict]:
    out = []
    for item in _json_list(value, "also_at"):
        if not isinstance(item, dict):
            raise SchemaError(f"also_at entry is not an object: {item!r}")
        out.append({"id": _str(item.get("id")), "url": _str(item.get("url")), "outlet": _str(item.get("outlet"))})
    return out


_SIDES: dict[str, str] | None = None


def _side_of(term: str) -> str:
    """The side of a term of the topic terms file (for version 1 records, which did not say)."""
    global _SIDES
    if _SIDES is None:
        from pipelines.extract.topic import load_config

        cfg = load_config()
        _SIDES = {t: "russia" for t in cfg.russia_terms} | {t: "asean" for t in cfg.asean_terms}
    return _SIDES.get(term, "")


def _matched(value: Any) -> list[dict]:
    rows = []
    for item in _json_list(value, "topic.matched"):
        if not isinstance(item, dict):
            raise SchemaError(f"topic.matched entry is not an object: {item!r}")
        term = str(item.get("term") or "")
        rows.append({"term": term, "side": str(item.get("side") or _side_of(term)),
                     "count": _int(item.get("count"))})
    rows.sort(key=lambda r: (-r["count"], r["term"]))
    return rows


def _topic(value: Any) -> dict | None:
    if not value:
        return None
    if not isinstance(value, dict):
        raise SchemaError(f"topic is not an object: {value!r}")
    if value.get("reason") == NOT_SCORED:
        return None
    return {"score": _float(value.get("score")), "asean": _float(value.get("asean")),
            "russia": _float(value.get("russia")), "link": _float(value.get("link")),
            "relevant": bool(value.get("relevant")), "reason": _str(value.get("reason")),
            "matched": _matched(value.get("matched"))}


def _extractor(value: Any) -> dict:
    if isinstance(value, dict):
        return {"name": _str(value.get("name")), "version": _str(value.get("version"))}
    return {"name": _str(value), "version": None}  # version 1 allowed a bare name


def _warc(value: Any) -> dict | None:
    if not value:
        return None
    if not isinstance(value, dict):
        raise SchemaError(f"warc is not an object: {value!r}")
    if not value.get("file"):
        return None
    return {"file": str(value["file"]), "offset": _int(value.get("offset")), "length": _int(value.get("length"))}


def _gone(value: Any) -> dict | None:
    if not value:
        return None
    if not isinstance(value, dict):
        raise SchemaError(f"gone is not an object: {value!r}")
    if not value.get("http_status") and not value.get("since"):
        return None
    return {"http_status": _int(value.get("http_status")), "since": _instant(value.get("since"))}


_NORMALIZE = {
    "version": lambda v: SCHEMA_VERSION,
    "str": _str,
    "int": lambda v: _int(v, 0),
    "status": lambda v: _int(v, None) or None,
    "bool": bool,
    "date": _published,
    "instant": _instant,
    "authors": _authors,
    "also_at": _also_at,
    "topic": _topic,
    "extractor": _extractor,
    "warc": _warc,
    "gone": _gone,
}


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _topic_json(value: dict | None) -> dict:
    if value is None:
        return {"score": 0.0, "asean": 0.0, "russia": 0.0, "link": 0.0, "relevant": False, "reason": NOT_SCORED,
                "matched": "[]"}
    return dict(value, reason=value["reason"] or "", matched=_compact(value["matched"]))


_TO_JSON = {
    "version": lambda v: v,
    "str": lambda v: "" if v is None else v,
    "int": lambda v: v,
    "status": lambda v: v or 0,
    "bool": lambda v: v,
    "date": _published_json,
    "instant": lambda v: v or "",
    "authors": lambda v: "; ".join(a.replace(";", ",") for a in v),
    "also_at": _compact,
    "topic": _topic_json,
    "extractor": lambda v: {"name": v["name"] or "", "version": v["version"] or ""},
    "warc": lambda v: {"file": "", "offset": 0, "length": 0} if v is None else dict(v),
    "gone": lambda v: {"http_status": 0, "since": ""} if v is None else dict(v, since=_published_json(v["since"])),
}


# -- records ----------------------------------------------------------------------------------------
def unknown_fields(record: dict) -> list[str]:
    return sorted(k for k in record if k not in _KIND)


def _version(record: dict) -> int:
    version = record.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise SchemaError(f"bad schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise SchemaError(f"record {record.get('id')!r} has schema version {version}; this code reads up to "
                          f"{SCHEMA_VERSION} (upgrade the asean-russia-corpus package)")
    return version


def normalize(record: dict) -> dict:
    """The complete record of the current schema version, from a record of any version in either form.

    Every field is present, in ``FIELDS`` order; fields the schema does not know are kept after them
    (``Corpus.put`` refuses them). ``text_sha256`` is filled in from the text when missing.
    """
    _version(record)
    out = {}
    for name, kind in _KIND.items():
        try:
            out[name] = _NORMALIZE[kind](record.get(name))
        except SchemaError as exc:
            raise SchemaError(f"field {name}: {exc}") from None
    if out["text"] and not out["text_sha256"]:
        from pipelines.corpus.record import text_sha256

        out["text_sha256"] = text_sha256(out["text"])
    if record.get("word_count") is None and out["text"]:
        from pipelines.extract.words import count_words

        out["word_count"] = count_words(out["text"], out["language"])
    if out["stored_at"] is None:  # written before version 2: stored when it was fetched
        out["stored_at"] = out["fetched_at"]
    for name in unknown_fields(record):
        out[name] = record[name]
    return out


def to_json(record: dict) -> dict:
    """The JSON form of a record (any version in): the form of ``corpus/docs/<id>.json``."""
    rec = normalize(record)
    out = {name: _TO_JSON[kind](rec[name]) for name, kind in _KIND.items()}
    for name in unknown_fields(rec):
        out[name] = rec[name]
    return out


def from_json(data: dict) -> dict:
    """The record of a stored JSON object of any schema version (older versions are upgraded)."""
    if not isinstance(data, dict):
        raise SchemaError(f"a record is a JSON object, not {type(data).__name__}")
    return normalize(data)


# -- Arrow ------------------------------------------------------------------------------------------
_ARROW = None


def arrow_schema():
    """The pyarrow schema of the record form (the Parquet export's schema)."""
    global _ARROW
    if _ARROW is None:
        import pyarrow as pa

        string = pa.string()
        types = {
            "version": pa.int32(), "str": string, "int": pa.int64(), "status": pa.int32(), "bool": pa.bool_(),
            "date": string, "instant": string, "authors": pa.list_(string),
            "also_at": pa.list_(pa.struct([(k, string) for k in ALSO_AT_KEYS])),
            "topic": pa.struct([("score", pa.float64()), ("asean", pa.float64()), ("russia", pa.float64()),
                                ("link", pa.float64()), ("relevant", pa.bool_()), ("reason", string),
                                ("matched", pa.list_(pa.struct([("term", string), ("side", string),
                                                                ("count", pa.int64())])))]),
            "extractor": pa.struct([("name", string), ("version", string)]),
            "warc": pa.struct([("file", string), ("offset", pa.int64()), ("length", pa.int64())]),
            "gone": pa.struct([("http_status", pa.int32()), ("since", string)]),
        }
        required = {"schema_version", "id", "url", "canonical_url", "authors", "word_count", "also_at",
                    "replayed", "extractor"}
        _ARROW = pa.schema(
            [pa.field(f.name, types[f.kind], nullable=f.name not in required,
                      metadata={"description": f.doc}) for f in FIELDS],
            metadata={"schema_version": str(SCHEMA_VERSION), "name": "asean-russia-corpus record"})
    return _ARROW
