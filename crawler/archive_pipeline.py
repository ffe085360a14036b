"""The ``Archive`` item pipeline: every page that reaches the item pipelines goes into the raw
archive (WARC files under ``corpus/raw/``, ``pipelines/archive/``) before anything else looks at it,
so pages later dropped (off-topic, not an article) are kept too: the archive keeps what was fetched.

The item gets ``item["extra"]["warc"] = {"file", "offset", "length"}`` and the Store stage's
record carries it as ``warc``.  The capture itself comes from ``crawler/middlewares/raw_capture.py``
(the response before its body was decoded) and is removed from the item here.

Writing (gzip, a local spool file) and publishing (a rename, or an S3 upload when a file passes
``CORPUS_WARC_MAX_BYTES`` and when the spider closes) run on one worker thread, in order, never in
Scrapy's reactor thread.  At the start, spool files a killed run left behind are trimmed to their
last whole record and published before anything else is written.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from scrapy.exceptions import NotConfigured

from crawler import __version__
from crawler.middlewares.raw_capture import ITEM_KEY
from crawler.runreport import count_store_error
from pipelines.archive import spool
from pipelines.archive.writer import DEFAULT_MAX_BYTES, WarcArchive
from pipelines.corpus.layout import DOCS
from pipelines.corpus.record import utc_now
from pipelines.store import StoreError, open_store
from pipelines.store.retry import RetryPolicy, call_with_retries

logger = logging.getLogger(__name__)


class Archive:
    def __init__(self, crawler, spec: str, max_bytes: int, spool_dir: str | None):
        self.crawler = crawler
        self.spec = spec
        self.max_bytes = max_bytes
        self.spool_dir = spool_dir
        self.archive: WarcArchive | None = None
        self.executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not settings.getbool("CORPUS_WARC", True):
            raise NotConfigured("CORPUS_WARC is off")
        pipeline = cls(crawler, settings.get("CORPUS_STORE") or "./corpus-store",
                       settings.getint("CORPUS_WARC_MAX_BYTES", DEFAULT_MAX_BYTES),
                       settings.get("CORPUS_WARC_SPOOL") or None)
        crawler.corpus_archive = pipeline  # RawCapture hands 304 revisits to it
        return pipeline

    def _info(self) -> dict:
        settings = self.crawler.settings
        replay = bool(settings.get("CORPUS_REPLAY_URL"))
        info = {
            "software": f"asean-russia-corpus/{__version__} (Scrapy crawler; warcio)",
            "description": ("ASEAN-Russia news corpus crawl: article pages as fetched, before decoding"
                            + ("; every response answered by the bundled replay web (crawler/replay/web), "
                               "not the live site" if replay else "")),
            "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY", True) else "ignore",
        }
        if replay:
            info["replay-web"] = "crawler/replay/web (bundled), answered by host"
        return info

    async def open_spider(self):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corpus-warc")
        store = open_store(self.spec)
        spool_dir = self.spool_dir or spool.default_spool_dir(store)
        self.archive = WarcArchive(store, spool_dir=spool_dir, max_bytes=self.max_bytes, info=self._info())
        try:  # leftovers of a run that stopped halfway go first
            recovered = await asyncio.get_running_loop().run_in_executor(self.executor, spool.recover, store, spool_dir)
        except (StoreError, OSError) as exc:
            self._store_failed("WARC spool recovery", exc)
            return
        for item in recovered:
            self.crawler.stats.inc_value("corpus/warc/recovered_files")
            self.crawler.stats.inc_value("corpus/warc/recovered_trimmed_bytes", item["trimmed"])

    def _store_failed(self, what: str, exc: Exception) -> None:
        logger.error("store error (%s): %s", what, exc)
        count_store_error(self.crawler.stats, exc)
        self.crawler.stats.inc_value("corpus/warc/error")

    def _run_id(self) -> None:
        if self.archive.run_id is None:
            self.archive.run_id = getattr(self.crawler.spider, "run_id", None)

    def _meta(self, page: dict) -> dict:
        requested = page.get("requested_url")
        return {"outlet": page.get("outlet"), "requested_url": requested if requested != page.get("url") else None,
                "replayed": bool(page.get("replayed")),
                "keep_off_topic": not self.crawler.settings.getbool("CORPUS_TOPIC_FILTER", True)}

    async def process_item(self, item):
        capture = item.pop(ITEM_KEY, None)
        if capture is None or self.archive is None:
            self.crawler.stats.inc_value("corpus/warc/no_capture")
            return item
        self._run_id()
        page = item["page"]
        loop = asyncio.get_running_loop()
        try:
            location = await loop.run_in_executor(self.executor, self._append, capture, page)
        except (StoreError, OSError) as exc:  # the page goes on, unarchived; the run says the store failed,
            self._store_failed(f"archiving {page.get('url')}", exc)  # and the crawl state leaves the page due:
            page["unarchived"] = True  # the next run fetches it again, archives it and locates its record
            self.crawler.stats.inc_value("corpus/warc/unarchived")
            return item
        item.setdefault("extra", {})["warc"] = location
        return item

    def _append(self, capture, page):
        location = self.archive.append(capture, fetched_at=page.get("fetched_at"), meta=self._meta(page))
        self.crawler.stats.inc_value("corpus/warc/responses")
        return location

    def revisit_later(self, capture: dict, request) -> None:
        """Archive a ``304 Not Modified`` as a revisit record (called in the reactor thread)."""
        if self.archive is None or self.executor is None:
            return
        self._run_id()
        spider = self.crawler.spider
        url = request.meta.get("corpus_requested") or request.url
        state = getattr(spider, "state", None)
        entry = state.get(url) if state is not None else None
        meta = {"outlet": request.meta.get("outlet"), "replayed": capture.get("replayed")}
        future = self.executor.submit(self._revisit, capture, entry or {}, utc_now(), meta)
        future.add_done_callback(self._revisit_done)

    def _revisit(self, capture: dict, entry: dict, fetched_at: str, meta: dict) -> dict:
        """(In the archive's thread.) The revisit names the capture its record came from, as that capture's
        response record names it: the URL it was fetched at (a feed's tracking query and all, where this
        re-check asked for the canonical URL) and its date, both read from the stored record; where there
        is none (an off-topic page), the URL and date the crawl state kept of that fetch."""
        uri, date = entry.get("fetched_url") or capture["url"], entry.get("fetched_at")
        if entry.get("id"):
            try:
                rec = json.loads(self.archive.store.read(f"{DOCS}{entry['id']}.json") or b"{}")
                uri, date = rec.get("url") or uri, rec.get("fetched_at") or date
            except (StoreError, OSError, ValueError):
                pass  # the store failing here is the write's to report; the state's values are the best left
        return self.archive.revisit(capture, refers_to_uri=uri, refers_to_date=date, fetched_at=fetched_at,
                                    meta=meta)

    def _revisit_done(self, future) -> None:
        exc = future.exception()
        if exc is None:
            self.crawler.stats.inc_value("corpus/warc/revisits")
        elif isinstance(exc, (StoreError, OSError)):
            self._store_failed("archiving a revisit", exc)
        else:
            logger.error("archiving a revisit failed: %r", exc)
            self.crawler.stats.inc_value("corpus/warc/exception")

    async def close_spider(self):
        if self.executor is None:
            return
        loop = asyncio.get_running_loop()
        try:
            settings = self.crawler.settings  # a short store outage at the end costs a wait, not the run
            policy = RetryPolicy(retries=settings.getint("CORPUS_STORE_RETRIES", 8),
                                 budget=settings.getfloat("CORPUS_STORE_RETRY_SECONDS", 30.0))
            published = await loop.run_in_executor(
                self.executor, lambda: call_with_retries(self.archive.close, policy, "publishing WARC files"))
            self.crawler.stats.set_value("corpus/warc/files", len(published))
            self.crawler.stats.set_value("corpus/warc/bytes", self.archive.counts["bytes"])
        except (StoreError, OSError) as exc:
            self._store_failed("publishing WARC files (kept in the spool for the next run)", exc)
        finally:
            self.executor.shutdown(wait=True)

