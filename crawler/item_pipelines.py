"""Thin Scrapy item pipelines around the pure core in ``pipelines/``.

Each stage reads its settings in ``from_crawler``, does one thing through a
pure function, counts what it did in the crawl stats and, when it drops an
item, says why (``DropItem(reason)`` becomes ``skipped: reason``).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import DropItem

from crawler.runreport import STORE_FAILED, STORE_UNAVAILABLE, count_store_error
from pipelines.extract import extractor as extraction
from pipelines.corpus.layout import Corpus
from pipelines.corpus.schema import to_json
from pipelines.crawl.state import parse_time
from pipelines.dedup.deduplicator import Deduplicator
from pipelines.extract.listing import LISTING_REASON
from pipelines.extract.workers import ExtractPool, PageResult, default_workers
from pipelines.corpus.ingest import ingest
from pipelines.crawl.registry import load_registry
from pipelines.corpus.pending import PendingSpool
from pipelines.store import StoreError, open_store_from
from pipelines.extract.topic import load_config, score

logger = logging.getLogger(__name__)

HTML_TYPES = {"text/html", "application/xhtml+xml", "text/plain", None, ""}
REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


class Extract:
    """Clean text and metadata of each page, or a drop with the reason.

    A listing page (home, section, tag, search page: teasers without running text, see
    ``pipelines/extract/listing.py``) is dropped as ``not an article (listing page)`` before extraction;
    ``CORPUS_LISTING_FILTER = False`` turns that check off.

    Both run in worker processes (``pipelines/extract/workers.py``), each page under a budget of time
    (``CORPUS_EXTRACT_TIMEOUT``) and memory (``CORPUS_EXTRACT_MAX_MEMORY``) on capped markup
    (``CORPUS_EXTRACT_MAX_ELEMENTS``), while downloads go on; a page over budget ends as
    ``error: extraction budget exceeded (...)``. ``CORPUS_EXTRACT_WORKERS = 0``: in the crawl process.
    With the Focus stage on, the topic score is computed there too (``item["topic"]``, for Focus).
    """

    def __init__(self, crawler, min_words: int, listing_filter: bool = True, pool=None,
                 topic_terms: str | None = None):
        self.crawler = crawler
        self.min_words = min_words
        self.listing_filter = listing_filter
        self.pool = pool or ExtractPool(0)
        self.topic_terms = topic_terms  # None: no score here (Focus off, or it scores itself)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        pool = ExtractPool(settings.getint("CORPUS_EXTRACT_WORKERS", default_workers()),
                           timeout=settings.getfloat("CORPUS_EXTRACT_TIMEOUT", 20.0),
                           max_memory=settings.getint("CORPUS_EXTRACT_MAX_MEMORY", 3 * 2**29),
                           max_elements=settings.getint("CORPUS_EXTRACT_MAX_ELEMENTS", 20000))
        focus = any(path in (Focus, f"{__name__}.Focus") and order is not None
                    for path, order in settings.getwithbase("ITEM_PIPELINES").items())
        return cls(crawler, settings.getint("CORPUS_MIN_WORDS", 40), settings.getbool("CORPUS_LISTING_FILTER", True),
                   pool, (settings.get("CORPUS_TOPIC_TERMS") or "") if focus else None)

    def open_spider(self):
        self.pool.warm()  # the workers' forkserver loads trafilatura while the first pages download

    def close_spider(self):
        self.pool.close()

    async def process_item(self, item):
        page = item["page"]
        stats = self.crawler.stats
        ctype = page.get("content_type")
        if ctype not in HTML_TYPES:
            stats.inc_value("corpus/extract/not-html")
            raise DropItem(f"not an article page ({ctype})")
        listing = self.listing_filter and ctype != "text/plain"
        try:
            result = await asyncio.wrap_future(
                self.pool.submit(page["body"], page["url"], page.get("charset"), self.min_words, listing,
                                 self.topic_terms, page.get("fetched_at")))
        except Exception as exc:  # the pool itself failed: an error with its reason, not a crash
            logger.exception("extraction failed on %s", page["url"])
            result = PageResult(error=f"{type(exc).__name__}: {str(exc)[:120]}")
        if result.listing:
            stats.inc_value("corpus/extract/listing-page")
            raise DropItem(LISTING_REASON)
        if result.budget:  # a page over its budget of time or memory: an error, the crawl goes on
            logger.error("%s: %s", page["url"], result.error)
            stats.inc_value("corpus/extract/budget-exceeded")
            item["outcome"] = f"error: {result.error}"
            return item
        if result.error is not None:  # a bug or a pathological page: an error with its reason, not a crash
            stats.inc_value("corpus/extract/exception")
            item["outcome"] = f"error: extraction failed ({result.error})"
            return item
        if result.cut:
            stats.inc_value("corpus/extract/markup-cut")
        if result.document is None:
            stats.inc_value(f"corpus/extract/{result.reason}")
            raise DropItem(f"no article ({result.reason})")
        stats.inc_value("corpus/extract/ok")
        item["document"] = result.document
        if result.topic is not None:
            item["topic"] = result.topic  # scored in the worker, with the same terms as Focus
        return item


class Focus:
    """Keep ASEAN-Russia coverage only (and, with --since, recent articles).

    The topic score goes into the record; an off-topic page is dropped with
    its reason (``skipped: off-topic (no-russia-side)``), counted, not stored.
    ``CORPUS_TOPIC_FILTER = False`` scores without dropping. The score the Extract stage's
    workers computed (``item["topic"]``) is used as it is; without one it is computed here.
    """

    def __init__(self, crawler, config, enforce: bool):
        self.crawler = crawler
        self.config = config
        self.enforce = enforce

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        config = load_config(settings.get("CORPUS_TOPIC_TERMS") or None)
        return cls(crawler, config, settings.getbool("CORPUS_TOPIC_FILTER", True))

    def process_item(self, item):
        scored = item.pop("topic", None)
        if "outcome" in item:  # settled by an earlier stage
            return item
        document = item["document"]
        since = getattr(self.crawler.spider, "since", None)
        published = parse_time(document.published)
        if since and published and published < since:
            self.crawler.stats.inc_value("corpus/focus/before-since")
            raise DropItem(f"published before --since ({document.published[:10]})")
        topic = scored if scored is not None else score(document.title, document.text, self.config).to_dict()
        item.setdefault("extra", {})["topic"] = topic
        if not topic["relevant"]:
            self.crawler.stats.inc_value(f"corpus/focus/off-topic/{topic['reason']}")
            if self.enforce:
                raise DropItem(f"off-topic ({topic['reason']}, score {topic['score']:.2f})")
        return item


class Store:
    """Write each record to the corpus store (local folder or S3).

    Store I/O (and the near-duplicate resolution that reads the store) runs
    on one worker thread, in order, so S3 latency never stalls the downloads
    in Scrapy's reactor thread.

    A store operation that fails transiently is tried again (``CORPUS_STORE_RETRIES`` within
    ``CORPUS_STORE_RETRY_SECONDS``, ``pipelines/store/retry.py``). A page the store still does not
    take is kept in the pending spool (``pipelines/corpus/pending.py``) and stored when the next run
    on this store starts; the run counts a store error (exit 3). A store unusable at the start
    (a missing bucket) closes the run at once: one error line, exit 3.
    """

    def __init__(self, crawler, spec: str, seeds_dir: Path, dedup: bool = True):
        self.crawler = crawler
        self.spec = spec
        self.seeds_dir = seeds_dir
        self.use_dedup = dedup
        self.corpus: Corpus | None = None
        self.dedup: Deduplicator | None = None
        self.pending: PendingSpool | None = None
        self.unusable: StoreError | None = None  # the store failed at the start: the run closes
        self._pending_done: list = []  # (page, ingest result) of the spooled pages stored at the start
        self.extractor = {"name": extraction.EXTRACTOR_NAME, "version": extraction.EXTRACTOR_VERSION}

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        seeds = settings.get("CORPUS_SEEDS_DIR") or REPO_SEEDS
        pipeline = cls(crawler, settings.get("CORPUS_STORE") or "./corpus-store", Path(seeds),
                       settings.getbool("CORPUS_DEDUP", True))
        crawler.signals.connect(pipeline._spider_opened, signal=signals.spider_opened)
        return pipeline

    def open_spider(self):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corpus-store")
        store = open_store_from(self.crawler.settings, self.spec)
        self.pending = PendingSpool.for_store(store, self.crawler.settings.get("CORPUS_STORE_SPOOL") or None)
        try:
            store.check()  # a missing bucket fails now (only a transient failure is tried again)
            self._open(store)
        except StoreError as exc:
            logger.error("store error at the start of the run: %s", exc)
            count_store_error(self.crawler.stats, exc)
            self.unusable = exc

    def _spider_opened(self, spider):
        if spider is not self.crawler.spider:
            return
        if self.unusable is not None:
            asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=STORE_UNAVAILABLE))
            return
        # the pages an earlier run spooled, stored at the start (_store_pending): this run's outcomes, and its
        # crawl state's, now that the spider has opened its state (its handler runs first): its summary
        # counts them ("new"), and they are not due again (a reviewer saw them fetched a second time)
        note = getattr(spider, "note", None)
        for page, done in self._pending_done if note is not None else ():
            note(page.get("requested_url") or page["url"], done.display, record=done.record,
                 outlet=page.get("outlet"), page=page)
        self._pending_done = []

    def _open(self, store):
        self.corpus = Corpus(store)
        self.crawler.spider.corpus = self.corpus  # the run report goes beside the records
        cleaned = store.clean_temps()  # temp files of writers a kill left behind
        if cleaned:
            logger.info("removed %d temporary file(s) left by a killed run", cleaned)
            self.crawler.stats.set_value("corpus/store/stale_temps_removed", cleaned)
        if self.seeds_dir.is_dir():
            self.corpus.mirror_seeds(self.seeds_dir)
        else:
            logger.warning("seeds folder %s not found: not mirrored", self.seeds_dir)
        shared = getattr(self.crawler.spider, "shared", None)  # a worker of a crawl shared through Redis
        if self.crawler.settings.getbool("CORPUS_MANIFEST", True):  # corpus/manifests/: before the dedup load
            self.corpus.begin_run(self.crawler.spider.name, group=shared.run_id if shared else None)
        if self.use_dedup:
            registry = load_registry(self.crawler.settings.get("CORPUS_REGISTRY") or None)
            self.dedup = self._deduplicator(registry, shared).load()
            if self.dedup.index_rebuilt:  # the persisted index was damaged or of other parameters
                self.crawler.stats.set_value("corpus/dedup/index_rebuilt", 1)
        self._store_pending()

    def _deduplicator(self, registry, shared):
        """The near-duplicate resolution: this run's own, or, for a worker of a shared run, the one shared
        through Redis (``pipelines/dedup/shared.py``: check-and-insert under a Redis lock)."""
        if shared is None:
            return Deduplicator(self.corpus, priority=registry.priority)
        from pipelines.dedup.shared import SharedDeduplicator

        return SharedDeduplicator(self.corpus, shared.client, shared.prefix, priority=registry.priority)

    def _store_pending(self):
        """Pages an earlier run fetched but could not store: stored now, like fetched pages."""
        if not self.pending.files():
            return
        stats = self.crawler.stats

        def store_one(entry):
            page = entry["page"]
            done = ingest(self.corpus, self.dedup, page, extraction.Document(**entry["document"]),
                          extractor=entry.get("extractor") or self.extractor, extra=entry.get("extra"))
            self.corpus.noted([done.record, *done.others], done.outcome)
            stats.inc_value(f"corpus/pending/stored/{done.outcome}")
            self._pending_done.append((page, done))
            return done.outcome

        replayed = self.pending.replay(store_one)
        logger.info("stored %d page(s) an earlier run could not store (%s)", replayed.stored,
                    ", ".join(f"{n} {k}" for k, n in sorted(replayed.outcomes.items())) or "none")
        if replayed.broken:
            stats.set_value("corpus/pending/broken", len(replayed.broken))
            stats.set_value("corpus/pending/folder_replayed", str(self.pending.folder))
        if replayed.error is not None:
            raise replayed.error

    async def process_item(self, item):
        if "outcome" not in item:  # not settled by an earlier stage
            item = await asyncio.get_running_loop().run_in_executor(self.executor, self._guarded, item)
        return self._hand_on(item)

    def _hand_on(self, item):
        """What leaves the last stage is the stored record, JSON form (``scrapy crawl -o FILE`` exports
        it); the page's outcome is noted on the spider first. A page without a stored record (an
        error) goes no further: dropped, its outcome already noted (without "page", the spider's
        item_dropped handler leaves it alone)."""
        page = item.pop("page")
        note = getattr(self.crawler.spider, "note", None)
        if note is not None:
            note(page["requested_url"], item["outcome"], record=item.get("record"), outlet=page.get("outlet"),
                 page=page)
        if item.get("stored") is None:
            raise DropItem(item["outcome"])
        return item["stored"]

    def _stored(self, item):
        record = item["record"]  # put() set its stored_at; an unchanged page: the store keeps the old version
        held = self.corpus.get(record["id"]) if item["outcome"] == "unchanged" else None
        item["stored"] = to_json(held or record)
        return item

    def _guarded(self, item):
        try:
            if self.unusable is not None:
                raise self.unusable
            return self._stored(self._store(item))
        except StoreError as exc:  # the store stayed down: the page is spooled, stored by the next run
            logger.error("store error on %s: %s", item["page"]["url"], exc)
            count_store_error(self.crawler.stats, exc)
            item["outcome"] = f"{STORE_FAILED} ({str(exc)[:160]}){self._spool(item)}"
            return item
        except Exception as exc:  # a bug in dedup or record building: this page is an error, not a crash
            logger.exception("storing %s failed", item["page"]["url"])
            self.crawler.stats.inc_value("corpus/store/exception")
            item["outcome"] = f"error: storing failed ({type(exc).__name__}: {str(exc)[:120]})"
            return item

    def _spool(self, item) -> str:
        """Keep the page in the pending spool; the words the outcome ends with."""
        page = item["page"]
        try:
            path = self.pending.put(page, item["document"].to_dict(), item.get("extra"), self.extractor)
        except Exception as exc:  # noqa: BLE001 - a full or read-only disk: the page is lost, say so
            logger.error("could not spool %s to %s: %s", page["url"], self.pending.folder, exc)
            self.crawler.stats.inc_value("corpus/pending/lost")
            return "; not spooled"
        self.crawler.stats.inc_value("corpus/pending/spooled")
        self.crawler.stats.set_value("corpus/pending/folder", str(self.pending.folder))
        logger.info("spooled %s to %s", page["url"], path)
        return "; spooled for the next run"

    def _store(self, item):
        # build, deduplicate, store: pipelines/corpus/ingest.py (shared with corpus reextract)
        done = ingest(self.corpus, self.dedup, item["page"], item["document"], extractor=self.extractor,
                      extra=item.get("extra"))
        self.corpus.noted([done.record, *done.others], done.outcome)  # the run's changes, for its manifest
        for relinked in done.relinked:  # other members of its cluster whose links changed
            self.crawler.stats.inc_value(f"corpus/dedup/relinked/{relinked}")
        self.crawler.stats.inc_value(f"corpus/store/{done.outcome}")
        item["record"] = done.record
        item["outcome"] = done.display
        return item

    def close_spider(self):
        self.executor.shutdown(wait=True)
        if self.corpus is None or self.unusable is not None:
            return
        shared = getattr(self.crawler.spider, "shared", None)
        if shared is None:
            self._finish()
        else:  # the workers of a shared run write the index and their manifest one at a time
            from redis.exceptions import RedisError

            try:
                with shared.finish_lock():
                    self._finish()
            except RedisError as exc:  # Redis away: no manifest by this worker (its marker makes the next run rebuild it)
                logger.error("redis: the end of this worker's run was not written: %s", exc)
                count_store_error(self.crawler.stats, f"Redis failed at the end of the run: {exc}")
            finally:
                getattr(self.dedup, "close", lambda: None)()  # the shared deduplicator's lock heartbeat

    def _finish(self):
        try:
            if self.dedup is not None:
                for name, count in self.dedup.stories.stats.items():  # same-story pairs verified / rejected / apart
                    if count:
                        self.crawler.stats.set_value(f"corpus/dedup/story/{name}", count)
                self.dedup.save()
            if self.corpus.manifest_run is None:
                self.corpus.write_index()  # no manifest kept (CORPUS_MANIFEST = False): reads every record
            else:
                self._finish_manifest()
        except StoreError as exc:  # counted: the run report and the exit status say the store failed
            logger.error("store error at the end of the run: %s", exc)
            count_store_error(self.crawler.stats, exc)

    def _finish_manifest(self):
        """Pages of live documents that answered 404/410 mark them gone; then the run's manifest, INDEX.md
        and latest.json are written from the manifest (pipelines/corpus/manifest.py), and the ids the run
        changed go to the run report (``spider.corpus_manifest``)."""
        from pipelines.corpus.manifest import gone_pages

        spider, stats = self.crawler.spider, self.crawler.stats
        for doc_id, code in gone_pages(getattr(spider, "results", {}), self.corpus.manifest_run.entries):
            if self.corpus.mark_gone(doc_id, code):
                stats.inc_value("corpus/store/gone" if code else "corpus/store/revived")
        failed = stats.get_value("corpus/store/error", 0) + stats.get_value("corpus/store/exception", 0)
        done = self.corpus.finish_run(getattr(spider, "run_id", None),
                                      suspect=f"{failed} store failure(s) during the run" if failed else None)
        spider.corpus_manifest = done
        for kind, ids in done["changes"].items():
            stats.set_value(f"corpus/manifest/{kind}", len(ids))
        if done["rebuilt"]:
            stats.set_value("corpus/manifest/rebuilt", done["rebuilt"])
