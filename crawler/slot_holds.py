"""Holding one download slot (one outlet, or one host) for a while, and never the others.

Scrapy's downloader gives each slot (``request.meta['download_slot']`` or the host;
crawler/addon.py sets one per outlet) its own queue, delay and ``lastseen``.  A held slot:

- sends nothing until the hold ends: its ``lastseen`` is moved so that its delay ends then,
  and its pending call (``latercall``, which blocks ``_process_queue``) is set to that time;
- gives the requests waiting in its queue back to the scheduler, and is not fed from it
  meanwhile (``SlotHoldAwarePriorityQueue``, Scrapy's DownloaderAwarePriorityQueue that skips
  held slots): its requests wait in the scheduler, not in the downloader, where each would take
  one of the ``CONCURRENT_REQUESTS`` places every outlet shares; when the hold ends they go by
  priority, the retry that the server asked to wait for first;
- when the hold ends, the engine is asked for the next requests at once (not at its 5 s heartbeat).
"""

from __future__ import annotations

import logging
import time

from scrapy.pqueues import DownloaderAwarePriorityQueue, DownloaderInterface
from scrapy.utils.httpobj import urlparse_cached
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)


def holds(crawler) -> dict[str, float]:
    """Slot key -> monotonic time it is held until (one dict per crawler)."""
    table = getattr(crawler, "corpus_slot_holds", None)
    if table is None:
        table = crawler.corpus_slot_holds = {}
    return table


def slot_key(crawler, request) -> str:
    downloader = crawler.engine.downloader
    return request.meta.get(downloader.DOWNLOAD_SLOT) or downloader.get_slot_key(request)


def hold_slot(crawler, request, seconds: float) -> str | None:
    """Hold the download slot of ``request`` for ``seconds`` (a longer hold already set stays)."""
    if seconds <= 0:
        return None
    key = slot_key(crawler, request)
    until = time.monotonic() + seconds
    table = holds(crawler)
    if table.get(key, 0.0) >= until:
        return key
    table[key] = until
    crawler.stats.inc_value("corpus/slot_holds")
    from scrapy.utils.asyncio import call_later

    downloader = crawler.engine.downloader
    slot = downloader.slots.get(key)
    if slot is not None:
        slot.lastseen = max(slot.lastseen, until - slot.delay)  # also keeps the slot from being collected
        try:
            if slot.latercall:
                slot.latercall.cancel()
            slot.latercall = call_later(seconds, downloader._latercall, slot)
        except AttributeError:  # another Scrapy: lastseen alone holds a slot that has a delay
            logger.debug("download slot %s: held through its delay only", key)
    give_back_queued(crawler, key)
    call_later(seconds + 0.01, _wake, crawler)
    return key


def give_back_queued(crawler, key: str) -> int:
    """Hand the requests waiting in slot ``key``'s queue back to the scheduler (as if a middleware
    returned them): they wait there, by priority, and free their places in the downloader."""
    slot = crawler.engine.downloader.slots.get(key)
    given = 0
    while slot is not None and slot.queue:
        request, waiting = slot.queue.popleft()
        waiting.callback(request.replace(dont_filter=True))  # seen already: past the duplicate filter
        given += 1
    crawler.stats.inc_value("corpus/slot_holds/given_back", given)
    return given


def host_key(request) -> str:
    """The host name of ``request``: what a timeout or a closure is about (a slot is a whole site, and one
    dead sub-domain says nothing of its siblings)."""
    return urlparse_cached(request).hostname or ""


def fail_queued(crawler, key: str, exception, meta: dict | None = None, host: str | None = None) -> int:
    """Fail the requests waiting in the queue of download slot ``key`` (not sent yet) with
    ``exception()``, their ``meta`` updated with ``meta`` first; with ``host``, only that host's requests
    (the others keep their places). Returns how many. They reach their errbacks as any failed download."""
    slot = crawler.engine.downloader.slots.get(key)
    failed = 0
    kept = []
    while slot is not None and slot.queue:
        request, waiting = slot.queue.popleft()
        if host is not None and host_key(request) != host:
            kept.append((request, waiting))
            continue
        if meta:
            request.meta.update(meta)
        waiting.errback(Failure(exception()))
        failed += 1
    if kept:
        slot.queue.extend(kept)
    return failed


def _wake(crawler) -> None:
    """Ask the engine for the next requests now that a hold has ended."""
    try:
        crawler.engine._slot.nextcall.schedule()
    except AttributeError:  # the engine closed, or another Scrapy: its heartbeat will do it
        pass


class _HoldAwareInterface(DownloaderInterface):
    def __init__(self, crawler):
        super().__init__(crawler)
        self.crawler = crawler

    def stats(self, possible_slots):
        now, table = time.monotonic(), holds(self.crawler)
        return [(active, slot) for active, slot in super().stats(possible_slots) if table.get(slot, 0.0) <= now]


class SlotHoldAwarePriorityQueue(DownloaderAwarePriorityQueue):
    """Scrapy's DownloaderAwarePriorityQueue (least busy slot first) that skips held slots."""

    def __init__(self, crawler, *args, **kwargs):
        super().__init__(crawler, *args, **kwargs)
        self._downloader_interface = _HoldAwareInterface(crawler)
