"""``corpus crawl --redis URL``: this crawl as one worker of a crawl shared through Redis.

scrapy-redis's scheduler and duplicate filter, on the keys of the store's shared run
(``pipelines/crawl/shared_run.py``), with a reliable queue: a popped request waits in this
worker's in-flight hash until the engine is done with it (its page stored, dropped or an error,
its links queued), so the requests of a worker killed with SIGKILL are put back in the queue by
the others. A worker does not close while requests are queued or other workers still have
requests in flight (they may discover more); it reclaims the requests of dead workers meanwhile.

Requests travel through Redis as JSON (bytes as base64), not pickle: what is read back from
Redis is never code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import sys
from contextlib import contextmanager

from redis.exceptions import RedisError
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from crawler.runreport import count_store_error
from crawler.stopping import NOT_SENT
from pipelines.crawl.shared_run import SharedRun
from pipelines.crawl.urls import canonicalize
from pipelines.store import StoreError

logger = logging.getLogger(__name__)

INFLIGHT = "corpus_inflight"   # request.meta: the field of this worker's in-flight hash
IDLE_POLL = 0.5                # seconds between checks of an idle worker waiting for the others


# --- requests as JSON -------------------------------------------------------------------------------
def _plain(obj):
    if isinstance(obj, bytes):
        return {"$b": base64.b64encode(obj).decode("ascii")}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: _plain(v) for k, v in obj.items()}
        return {"$d": [[_plain(k), _plain(v)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot queue a request holding {type(obj).__name__} in Redis")


def _back(obj):
    if isinstance(obj, dict):
        if set(obj) == {"$b"}:
            return base64.b64decode(obj["$b"])
        if set(obj) == {"$d"}:
            return {_back(k): _back(v) for k, v in obj["$d"]}
        return {k: _back(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_back(v) for v in obj]
    return obj


class JsonSerializer:
    """scrapy-redis serializer (``loads``/``dumps`` of ``Request.to_dict()``) in JSON."""

    @staticmethod
    def dumps(obj) -> bytes:
        return json.dumps(_plain(obj), separators=(",", ":"), sort_keys=True).encode()

    @staticmethod
    def loads(data):
        return _back(json.loads(data))


# --- the queue and the scheduler ----------------------------------------------------------------
class CanonicalDupeFilter(RFPDupeFilter):
    """scrapy-redis's duplicate filter on the corpus's canonical URL (``pipelines/crawl/urls.py``: https, no
    ``www.``, no tracking parameters): an article found as ``?utm_source=rss`` by one worker and plain by
    another is fetched once, as one crawl would (its spider skips a canonical URL it requested already)."""

    def request_fingerprint(self, request):
        data = json.dumps({"method": request.method, "url": canonicalize(request.url),
                           "body": (request.body or b"").hex()}, sort_keys=True)
        return hashlib.sha1(data.encode()).hexdigest()


class ReliableQueue(PriorityQueue):
    """scrapy-redis's priority queue whose pop keeps the request in this worker's in-flight hash."""

    def __init__(self, server, spider, key, serializer=None):
        super().__init__(server, spider, key, serializer)
        self.shared: SharedRun = spider.shared

    def __len__(self):
        return self.shared.queued()

    def push(self, request):
        request.meta.pop(INFLIGHT, None)  # a retry or redirect of a popped request: a new entry when popped
        self.shared.push(self._encode_request(request), -request.priority)

    def pop(self, timeout=0):
        got = self.shared.pop()
        if got is None:
            return None
        field, data = got
        try:
            request = self._decode_request(data)
        except Exception:  # noqa: BLE001 - an entry this version cannot read: logged, settled, not retried forever
            logger.exception("redis: dropping a queued request that cannot be read: %r", data[:200])
            self.shared.settle(field)
            return None
        request.meta[INFLIGHT] = field
        return request


class RedisScheduler(Scheduler):
    """scrapy-redis's scheduler on the keys of the store's shared run (``spider.shared``)."""

    @classmethod
    def from_crawler(cls, crawler):
        spider_shared = crawler.spider.shared if crawler.spider is not None else None
        if spider_shared is None:
            raise RuntimeError("the Redis scheduler needs the spider's shared run (corpus crawl --redis)")
        instance = cls(server=spider_shared.client, persist=True, queue_cls=f"{__name__}.ReliableQueue",
                       queue_key=spider_shared.queue_key,
                       dupefilter=CanonicalDupeFilter(spider_shared.client, spider_shared.dupefilter_key),
                       serializer=JsonSerializer)
        instance.stats = crawler.stats
        instance.crawler = crawler
        return instance

    def open(self, spider):
        try:
            super().open(spider)  # its last step asks Redis for the queue's length
        except RedisError as exc:
            # Redis went away as this worker started: the same store failure as later in the run (exit 3), but
            # the engine is still opening the spider, so no close is asked for (closing a spider half opened
            # gave tracebacks and exit 5): with no request to give, the worker finds itself idle and closes
            self._redis_failed(exc, close=False)
        self.shared: SharedRun = spider.shared
        engine = self.crawler.engine
        slot = engine._slot
        remove = slot.remove_request

        def remove_request(request):  # the engine is done with it: page settled, its links queued
            field = request.meta.get(INFLIGHT)
            if field is not None and not request.meta.get(NOT_SENT):  # unsent: back to the queue on leaving
                try:
                    self.shared.settle(field)
                except Exception as exc:  # noqa: BLE001 - stays in flight: redone if this worker dies
                    logger.warning("redis: could not settle %s: %s", request.url, exc)
            remove(request)

        slot.remove_request = remove_request
        self.crawler.signals.connect(self._idle, signal=signals.spider_idle)

    def enqueue_request(self, request):
        if self.failed:
            return False
        try:
            if not request.dont_filter and self.df.request_seen(request):
                if self.stats:
                    self.stats.inc_value("corpus/redis/filtered")
                return False
            self.queue.push(request)
        except RedisError as exc:  # the page that found it stays in flight: redone by the run
            self._redis_failed(exc)
            return False
        if self.stats:
            self.stats.inc_value("corpus/redis/enqueued")
        return True

    def next_request(self):
        if self.failed:
            return None
        try:
            request = self.queue.pop()
        except RedisError as exc:
            self._redis_failed(exc)
            return None
        if request is not None and self.stats:
            self.stats.inc_value("corpus/redis/dequeued")
        return request

    def has_pending_requests(self):
        if self.failed:
            return False
        try:
            return len(self.queue) > 0
        except RedisError as exc:
            self._redis_failed(exc)
            return False

    failed = False

    def _redis_failed(self, exc, close: bool = True) -> None:
        """Redis cannot be reached: this worker stops (exit 3, as for a store that failed); what it had
        in flight stays in Redis, put back by the other workers or resumed by the next run."""
        if self.failed:
            return
        self.failed = True
        logger.error("redis: %s: stopping this worker", exc)
        count_store_error(self.stats, f"Redis failed during the run: {exc}")
        if close:
            asyncio.ensure_future(self.crawler.engine.close_spider_async(reason="redis_unavailable"))

    def _idle(self, spider):
        """Do not close while the run has work: queued requests, or requests other workers have in flight
        (they may queue more); requests of dead workers go back in the queue first."""
        if self.failed:
            return
        try:
            if self.shared.reclaim() and self.stats:
                self.stats.set_value("corpus/redis/reclaimed", self.shared.reclaimed)
            queued, busy, _others = self.shared.pending()
        except RedisError as exc:
            self._redis_failed(exc)
            return
        if queued or busy:
            from twisted.internet import reactor

            reactor.callLater(IDLE_POLL, self._wake)
            raise DontCloseSpider
        self._run_wide_discovery(spider)

    def _run_wide_discovery(self, spider):
        """The run's work is done: this worker's discovery figures become the run's (routes that
        worked or failed, article URLs discovered), so its report judges discovery as one crawl would
        (a route another worker fetched is not this worker's failure)."""
        try:
            counts = self.shared.counts()
            seen = {outlet.name: self.shared.seen(outlet.name) for outlet in getattr(spider, "selected", [])}
        except RedisError as exc:
            self._redis_failed(exc)
            return
        for outlet in getattr(spider, "selected", []):
            ok, failed = counts.get(f"{outlet.name}/discovery_ok", 0), counts.get(f"{outlet.name}/discovery_failed", 0)
            name = f"corpus/outlet/{outlet.name}"
            if ok + failed:
                self.stats.set_value(f"{name}/discovery_routes", ok + failed)
                self.stats.set_value(f"{name}/discovery_ok", ok)
            self.stats.set_value(f"{name}/discovered", seen[outlet.name])

    def _wake(self):
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()

    def close(self, reason):
        pass  # the queue and the dupefilter belong to the run: SharedRun.end() deletes them


# --- joining a run from the command line --------------------------------------------------------------
def worker_settings() -> dict:
    return {"SCHEDULER": f"{__name__}.RedisScheduler"}


def shown_url(url: str) -> str:
    """The Redis URL as messages show it: a password replaced by ***."""
    return re.sub(r"//[^/@]*@", "//***@", url)


def redis_client(url: str, **kw):
    """A redis-py client for ``url``; a URL that is not one is a usage error (exit 2), not a traceback."""
    import redis

    from crawler.commands.common import UsageError

    shown = shown_url(url)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UsageError(f"--redis takes redis://HOST:PORT/DB (or rediss://, unix://), not {shown!r}")
    try:
        return redis.Redis.from_url(url, **kw)
    except ValueError as exc:
        raise UsageError(f"--redis: not a usable Redis URL {shown!r} ({exc})") from None


class RunOver(Exception):
    """The run this worker was sent to join has ended (``CORPUS_REDIS_JOIN_RUN``): nothing to do."""


@contextmanager
def joined(url: str, store: str, lease: float, *, only: str | None = None, outlets: list[str] | None = None):
    """This process as a worker of the store's shared run on Redis, while the block runs.

    ``only``: join that run or none (raises ``RunOver``); ``outlets``: this worker's outlets, recorded
    when it starts the run, replaced by the run's own (in place) when it joins one."""
    import redis

    shown = shown_url(url)  # a password in the URL stays out of logs and reports
    client = redis_client(url, socket_timeout=30, socket_connect_timeout=10, health_check_interval=30)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SharedRunUnavailable(f"Redis at {shown} does not answer: {exc}") from exc
    shared = SharedRun(client, store, lease=lease)
    try:
        if shared.join(only=only) is None:
            client.close()
            raise RunOver(f"run {only} has ended: nothing to join")
        if outlets is not None:
            run_outlets = shared.agree_outlets(outlets)
            if run_outlets is not None and sorted(run_outlets) != sorted(outlets):
                if outlets:
                    print(f"corpus: warning: run {shared.run_id} crawls "
                          f"{', '.join(run_outlets) or 'every outlet'}, not {', '.join(outlets)}: joining it "
                          "with the run's outlets", file=sys.stderr)
                outlets[:] = run_outlets
    except redis.RedisError as exc:  # e.g. a full Redis (maxmemory, noeviction) refuses the run's keys
        client.close()
        raise SharedRunUnavailable(f"Redis at {shown} refused to join the run: {exc}") from exc
    shared.start_heartbeat()
    print(f"corpus: worker {shared.worker_id} of run {shared.run_id} on Redis ({shared.prefix})", file=sys.stderr)
    try:
        yield shared
    finally:
        try:
            shared.leave(requeue=True)  # already left at the spider's close; else (crashed) its work goes back
            if shared.is_last:
                shared.end()
        except redis.RedisError as exc:
            logger.error("redis: could not leave the run cleanly (its heartbeat expires): %s", exc)
        client.close()


class SharedRunUnavailable(StoreError):
    """Redis cannot be reached: nothing was requested (exit 3, as for a store that cannot be reached)."""


def worker_lease(settings) -> float:
    from crawler.commands.common import seconds_setting

    return seconds_setting(settings, "CORPUS_REDIS_WORKER_LEASE")
