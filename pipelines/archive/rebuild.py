"""Extraction and topic scoring of archived pages: the part of a re-extraction that runs in workers.

The same steps as the crawl's Extract and Focus stages (``crawler/item_pipelines.py``): a page
that is not HTML, a listing page, a page with no article text is dropped with its reason; an
article gets its topic score.  Whether an off-topic article is stored is decided by the parent
(it knows which records exist).  Pure: no store, no Scrapy; what crosses the process boundary is
plain data (the page without its body, the ``Document``, the topic dict).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from pipelines.archive.reader import HTML_TYPES, MAX_BODY, read_page
from pipelines.extract import extractor as extraction
from pipelines.extract.listing import LISTING_REASON, listing_verdict
from pipelines.extract.topic import load_config, score

__all__ = ["RebuildConfig", "Rebuilt", "rebuild_page", "Worker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RebuildConfig:
    """The extraction knobs of a crawl (``CORPUS_MIN_WORDS``, ``CORPUS_LISTING_FILTER``,
    ``CORPUS_TOPIC_TERMS``)."""

    min_words: int = 40
    listing_filter: bool = True
    topic_terms: str | None = None
    max_body: int = MAX_BODY


@dataclass
class Rebuilt:
    """What became of one archived page."""

    index: int                      # position in the parent's list of captures
    page: dict | None = None        # without "body"
    document: object | None = None  # pipelines.extract.extractor.Document
    topic: dict | None = None
    dropped: str | None = None      # reason: "not an article page (...)", "no article (...)", ...
    error: str | None = None        # the record could not be read, or extraction raised
    extra: dict = field(default_factory=dict)


def rebuild_page(page: dict, cfg: RebuildConfig, topic_cfg, extract: Callable | None = None) -> Rebuilt:
    """Extract and score one page (``page`` as ``read_page`` gives it)."""
    out = Rebuilt(index=-1, page={k: v for k, v in page.items() if k != "body"})
    ctype = page.get("content_type")
    if ctype not in HTML_TYPES:
        out.dropped = f"not an article page ({ctype})"
        return out
    if cfg.listing_filter and ctype != "text/plain":
        try:
            if listing_verdict(page["body"], page["url"]).listing:
                out.dropped = LISTING_REASON
                return out
        except Exception:  # noqa: BLE001 - as in the crawl: extraction decides then
            log.exception("listing check failed on %s", page["url"])
    try:
        result = (extract or extraction.try_extract)(page["body"], page["url"], headers_charset=page.get("charset"),
                                                     min_words=cfg.min_words)
    except Exception as exc:  # noqa: BLE001 - a bug or a pathological page: an error with its reason
        out.error = f"extraction failed ({type(exc).__name__}: {str(exc)[:120]})"
        return out
    if result.document is None:
        out.dropped = f"no article ({result.reason})"
        return out
    out.document = result.document
    out.topic = score(result.document.title, result.document.text, topic_cfg).to_dict()
    return out


class Worker:
    """Rebuilds pages by their location in local WARC files; one per process (or in-process)."""

    def __init__(self, cfg: RebuildConfig, extract: Callable | None = None):
        self.cfg = cfg
        self.topic_cfg = load_config(cfg.topic_terms or None)
        self.extract = extract
        self._files: dict[str, object] = {}

    def _fh(self, path: str):
        fh = self._files.get(path)
        if fh is None:
            if len(self._files) >= 8:  # keep a few files open, not all
                self.close()
            fh = self._files[path] = open(path, "rb")
        return fh

    def run(self, tasks: list[tuple[int, str, int, int]]) -> list[Rebuilt]:
        """``tasks``: (index, local path, offset, length) of response records."""
        out = []
        for index, path, offset, length in tasks:
            try:
                page = read_page(self._fh(path), offset, length, max_body=self.cfg.max_body)
            except Exception as exc:  # noqa: BLE001 - a corrupt record is counted, not fatal
                out.append(Rebuilt(index=index, error=f"unreadable WARC record ({type(exc).__name__}: {exc})"[:240]))
                continue
            done = rebuild_page(page, self.cfg, self.topic_cfg, self.extract)
            done.index = index
            out.append(done)
        return out

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files = {}


# -- process pool plumbing: one Worker per process ----------------------------------------------
_WORKER: Worker | None = None


def init_worker(cfg: RebuildConfig, extract: Callable | None = None) -> None:
    global _WORKER
    _WORKER = Worker(cfg, extract)


def run_in_worker(tasks):
    return _WORKER.run(tasks)
