"""One near-duplicate decision at a time across crawl workers on many machines, through Redis.

``SharedDeduplicator`` is a :class:`~pipelines.dedup.deduplicator.Deduplicator` (same ``load``, ``resolve``,
``save``, ``stories``, ``index_rebuilt``, ``dirty``) for workers that write one store (a local folder
they all mount, or S3) and share one Redis. Each worker keeps its own in-memory index; three Redis keys
keep them the same (``P`` the prefix, ``pipelines.crawl.shared_run.store_prefix`` of the store)::

  P:dedup:lock    a leased lock (pipelines/dedup/redislock.py): who decides now
  P:dedup:log     a stream: per page, the index changes its decision made (rows added, ids removed)
  P:dedup:saved   the log entry the persisted index (dedup/index/ in the store) covers

Check-and-insert is atomic because everything that reads or writes the shared state runs under the
lock: ``ingest()`` (pipelines/corpus/ingest.py) enters ``exclusive()`` around ``resolve`` and the record
writes. Right after taking the lock a worker brings its index up to date: it applies the log entries
after its cursor (each entry carries the index rows themselves, the same bytes a persisted segment
holds: no record is read or signed again, where replaying from the records would cost every worker a
store read and a signature per page of the others, under the lock), or, when a save trimmed entries it
had not seen, the new segments of the persisted index. The decision then reads candidates' texts, cluster members and story
files from the store, as a single worker does (nothing is cached between pages but the index), appends
its own changes to the log (a Lua script that appends only while the lock is still this worker's) and
writes the records; the lock goes when the writes are done.

Saves: ``save()`` (and every ``save_every`` log entries, the worker holding the lock) writes one
segment with everything since the last save, by whichever worker, then moves ``saved`` to the log's end
and trims the log up to it (XTRIM MINID): the log holds only what no save covers yet. A persisted index
is never written by two workers at once (the lock), nor from a stale view (the saver has just synced,
and writes a full snapshot if the store's manifest is not the one it last saw).

A holder killed with SIGKILL stops renewing its lease; the others wait at most the lease. Its page's
entry is in the log only if it had decided before it died (then the records it wrote are what the
others see); a page it had not decided is fetched again by another worker (the shared queue's
in-flight recovery) and decided then. A holder frozen past its lease (not dead) is refused when it
appends its decision (``LockLost``: the page is spooled); only writes it had already begun can land
after another worker took the lock (the log is fenced, the store is not). Redis failing mid-page is
``SharedDedupUnavailable``, a transient StoreError: the Store stage spools the page. An index whose
update failed half-way is loaded again at the next page.
"""
from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from typing import Callable

import numpy as np
import xxhash
from redis.exceptions import RedisError

from pipelines.corpus.layout import DOCS
from pipelines.dedup import DedupConfig, NearDupIndex
from pipelines.dedup.deduplicator import Deduplicator
from pipelines.dedup.persist import MANIFEST, OLD_BLOB, _apply, _decode, _mark_saved, load_index, save_index, _snapshot
from pipelines.dedup.redislock import DedupLockTimeout, LockLost, RedisLock
from pipelines.store.base import StoreError

__all__ = ["SharedDeduplicator", "LockLost", "DedupLockTimeout", "SharedDedupUnavailable", "DEFAULT_LEASE",
           "SAVE_EVERY"]

log = logging.getLogger(__name__)

DEFAULT_LEASE = 10.0   # seconds a killed holder keeps the others waiting (a live one renews every third)
SAVE_EVERY = 10000     # log entries (pages) between two saves of the index: bounds the log in Redis
LOG_IN_ENTRY = 1000    # a reconciliation at load changing more documents than this saves instead of logging
_ZERO = b"0-0"

# KEYS: lock, log; ARGV: token, lease ms, then field, value, ... -> the entry id, or false if the lock is not ours
_APPEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
"""
# KEYS: lock, saved, log; ARGV: token, entry id -> 1, or 0 if the lock is not ours
_SAVED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('XTRIM', KEYS[3], 'MINID', ARGV[2])
return 1
"""


class SharedDedupUnavailable(StoreError):
    """Redis failed while a page was decided: the page is spooled (a store error), decided by a later run."""

    transient = True


def _sid(entry_id) -> tuple[int, int]:
    if isinstance(entry_id, str):
        entry_id = entry_id.encode()
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


def _bytes(v) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode()


# -- log entries: the index changes of one page ------------------------------------------------------------
def _encode_ops(page: str, ops: list, num_perm: int) -> dict:
    """Fields of one log entry: ``p`` the page's id, ``h`` the ops (JSON), ``b`` the rows' arrays."""
    head, blobs = [], []
    for op in ops:
        if op[0] == "-":
            head.append(["-", op[1]])
            continue
        _, ids, thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, tags = op
        head.append(["+", ids, tags])
        blobs += [np.ascontiguousarray(thash, dtype="<u8").tobytes(), np.asarray(nsh, dtype="<u4").tobytes(),
                  np.asarray(signed, dtype=np.uint8).tobytes(), np.ascontiguousarray(bbit, dtype=np.uint8).tobytes(),
                  np.asarray(lsh_counts, dtype="<u4").tobytes(), np.asarray(anc_counts, dtype="<u4").tobytes(),
                  np.asarray(lsh_keys, dtype="<u4").tobytes(), np.asarray(anc_keys, dtype="<u4").tobytes()]
    return {"p": page, "h": json.dumps(head, separators=(",", ":")), "b": b"".join(blobs)}


def _apply_entry(index: NearDupIndex, fields: dict) -> list[str]:
    """Replay one log entry on ``index`` (kill, then append the rows as the deciding worker had them);
    returns the ids it touched."""
    head = json.loads(fields[b"h"])
    blob = memoryview(fields.get(b"b", b""))
    pos, touched, p = 0, [], index.cfg.num_perm

    def take(nbytes: int, dtype, shape=None):
        nonlocal pos
        arr = np.frombuffer(blob[pos : pos + nbytes], dtype=dtype)
        pos += nbytes
        return arr.reshape(shape) if shape else arr

    for op in head:
        if op[0] == "-":
            index._kill(op[1])
            touched.append(op[1])
            continue
        ids, tags = op[1], op[2]
        n = len(ids)
        thash = take(16 * n, "<u8", (n, 2)).astype(np.uint64)
        nsh = take(4 * n, "<u4").astype(np.uint32)
        signed = take(n, np.uint8).astype(bool)
        bbit = take(n * p, np.uint8, (n, p))
        lsh_counts = take(4 * n, "<u4").astype(np.int64)
        anc_counts = take(4 * n, "<u4").astype(np.int64)
        lsh_keys = take(4 * int(lsh_counts.sum()), "<u4").astype(np.uint32)
        anc_keys = take(4 * int(anc_counts.sum()), "<u4").astype(np.uint32)
        for doc_id in ids:
            index._kill(doc_id)
        index._append_raw(list(ids), thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, list(tags))
        touched += ids
    return touched


class SharedDeduplicator(Deduplicator):
    """A Deduplicator whose decisions are serialised and shared through Redis (see the module docstring).

    ``redis_client``: a redis-py client (or a ``redis://`` URL); ``prefix``: the keys' prefix, the same for
    every worker of one store. ``lease``: seconds a holder killed mid-decision blocks the others.
    ``wait``: seconds a worker waits for a live holder before the page fails as a store error (spooled).
    """

    def __init__(self, corpus, redis_client, prefix: str, cfg: DedupConfig | None = None,
                 priority: Callable[[str | None], int] | None = None, *, lease: float = DEFAULT_LEASE,
                 wait: float = 120.0, save_every: int = SAVE_EVERY):
        self._recording = False
        self._ops: list = []
        super().__init__(corpus, cfg, priority)
        self.redis = _binary_client(redis_client)
        self.prefix = prefix
        self.keys = {k: f"{prefix}:dedup:{k}" for k in ("lock", "log", "saved")}
        self.lock = RedisLock(self.redis, self.keys["lock"], lease=lease, wait=wait)
        self.save_every = max(1, int(save_every))
        self._append = self.redis.register_script(_APPEND)
        self._saved_script = self.redis.register_script(_SAVED)
        self._loaded = False
        self._cursor = _ZERO      # the last log entry applied to this worker's index
        self._aligned = _ZERO     # the save the index's "changed since" bookkeeping counts from
        self._touched: set[str] = set()  # ids changed since that save (by any worker)
        self._log_len = 0
        self._depth = 0
        self.last_held = self.last_waited = 0.0  # seconds the last exclusive() held / waited for the lock
        self.stats = {"pages": 0, "held_s": 0.0, "waited_s": 0.0, "max_held_s": 0.0, "replayed": 0,
                      "catch_ups": 0, "reloads": 0, "saves": 0}

    # -- the index, with its changes recorded for the log ------------------------------------------------
    def _new_index(self, texts) -> NearDupIndex:
        return self._hooked(NearDupIndex(self.cfg, texts=texts))

    def _hooked(self, index: NearDupIndex) -> NearDupIndex:
        """Record every row added and id removed while a decision runs (instance attributes shadow the
        methods: the index class stays the package's)."""
        append, kill = NearDupIndex._append_raw.__get__(index), NearDupIndex._kill.__get__(index)

        def _append_raw(ids, thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, tags):
            if self._recording:
                self._ops.append(("+", list(ids), np.array(thash), np.array(nsh), np.array(signed), np.array(bbit),
                                  np.array(lsh_keys), np.array(lsh_counts), np.array(anc_keys), np.array(anc_counts),
                                  [t or None for t in tags]))
            append(ids, thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, tags)

        def _kill(doc_id):
            done = kill(doc_id)
            if done and self._recording:
                self._ops.append(("-", doc_id))
            return done

        index._append_raw, index._kill = _append_raw, _kill
        return index

    def _adopt(self, index: NearDupIndex) -> None:
        if "_append_raw" not in vars(index):
            self._hooked(index)
        index.texts = self._text_of
        self.index = index
        self.stories.index = index

    # -- the lock ----------------------------------------------------------------------------------------
    @contextmanager
    def exclusive(self):
        """Hold the shared lock, with this worker's index up to date, for one decision and its writes."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        try:
            waited = self.lock.acquire()
        except RedisError as exc:
            raise SharedDedupUnavailable(f"Redis unreachable for the near-duplicate lock: {exc}") from exc
        start = time.perf_counter()
        self._depth = 1
        try:
            self._sync()
            yield self
            if self._log_len > self.save_every:
                try:
                    self._save_locked()
                except Exception as exc:  # noqa: BLE001 - this page is stored; the next one tries the save again
                    log.warning("dedup: saving the shared index failed (%s): tried again after the next page", exc)
        except RedisError as exc:  # the page fails as a store error (spooled, stored by a later run)
            raise SharedDedupUnavailable(f"Redis failed during a near-duplicate decision: {exc}") from exc
        finally:
            self._depth = 0
            try:
                self.lock.release()
            except RedisError as exc:  # its lease expires by itself
                log.warning("releasing the near-duplicate lock failed: %s", exc)
            held = time.perf_counter() - start
            self.last_held, self.last_waited = held, waited
            self.stats["held_s"] += held
            self.stats["waited_s"] += waited
            self.stats["max_held_s"] = max(self.stats["max_held_s"], held)

    def _sync(self) -> None:
        """Bring the index up to what every worker decided (called holding the lock)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self.keys["saved"])
        pipe.xrange(self.keys["log"], min=b"(" + self._cursor if self._loaded and self._cursor != _ZERO else b"-")
        pipe.xlen(self.keys["log"])
        saved, entries, self._log_len = pipe.execute()
        saved = saved or _ZERO
        try:
            if not self._loaded:
                self._initial_load(saved, entries)
                return
            if saved != self._aligned:
                if _sid(self._cursor) >= _sid(saved):
                    self._realign(saved)
                else:
                    self._catch_up(saved)
            self._replay([(i, f) for i, f in entries if _sid(i) > _sid(self._cursor)])
        except BaseException:
            self._loaded = False  # an index brought half up to date: loaded again at the next page
            raise

    def _replay(self, entries) -> None:
        for entry_id, fields in entries:
            self._touched.update(_apply_entry(self.index, fields))
            self._cursor = entry_id
        self.stats["replayed"] += len(entries)
        self._compact_if_needed()

    def _compact_if_needed(self) -> None:
        dead = self.index._n - len(self.index)
        if dead > 4096 and dead > self.index._n // 4:
            self.index.compact()

    def _log(self, page: str, ops: list) -> None:
        """Append this decision's index changes, only while the lock is still ours."""
        fields = _encode_ops(page, ops, self.cfg.num_perm)
        args = [self.lock.token, self.lock.lease_ms]
        for k, v in fields.items():
            args += [k, v]
        entry_id = self._append(keys=[self.keys["lock"], self.keys["log"]], args=args)
        if not entry_id:
            self.lock.held = False
            self._loaded = False  # this index has a change nobody else has: load again at the next page
            raise LockLost(f"the near-duplicate lock {self.keys['lock']} ran out during the decision on {page}")
        self._cursor = _bytes(entry_id)
        self._log_len += 1

    # -- loading, catching up ----------------------------------------------------------------------------
    def load(self) -> "SharedDeduplicator":
        """Load the persisted index, apply the log after it, reconcile with the records (under the lock)."""
        with self.exclusive():
            pass
        return self

    def _initial_load(self, saved: bytes, entries) -> None:
        index = load_index(self.corpus.store, self.cfg, self._text_of)
        if index is None and any(self.corpus.store.exists(k) for k in (MANIFEST, OLD_BLOB)):
            self.index_rebuilt = True
        self._adopt(index if index is not None else self._new_index(self._text_of))
        self._cursor = self._aligned = saved
        self._touched = set()
        self._loaded = True
        self.stats["reloads"] += 1
        self._replay([(i, f) for i, f in entries if _sid(i) > _sid(saved)])
        self._reconcile()

    def _reconcile(self) -> None:
        """The single worker's reconciliation with the records (a crash between record writes and a save),
        its changes logged for the other workers. An indexed id that this run's manifest does not list is
        dropped only if its record is gone: another worker may have written it since the manifest was read."""
        self._ops, self._recording = [], True
        try:
            self._reconcile_index()
        finally:
            self._recording = False
        ops, self._ops = self._ops, []
        if not ops:
            return
        self.dirty = True
        changed = {op[1] for op in ops if op[0] == "-"} | {i for op in ops if op[0] == "+" for i in op[1]}
        self._touched |= changed
        if len(changed) > LOG_IN_ENTRY:
            self._save_locked()  # too big for one log entry: the others catch up from the segment
        else:
            self._log("(load)", ops)

    def _gone(self, doc_id: str) -> bool:
        return not self.corpus.store.exists(f"{DOCS}{doc_id}.json")

    def _read_manifest(self) -> dict | None:
        raw = self.corpus.store.read(MANIFEST)
        try:
            return json.loads(raw) if raw is not None else None
        except ValueError:
            return None

    def _catch_up(self, saved: bytes) -> None:
        """A save trimmed log entries this worker had not applied: apply the segments written since the
        manifest it knows (or load the whole index again after a compaction)."""
        manifest, old = self._read_manifest(), self.index._persisted
        n = len((old or {}).get("segments") or [])
        if (manifest is None or old is None or manifest.get("config") != old.get("config")
                or manifest.get("segments", [])[:n] != old["segments"]):
            log.info("dedup: the persisted index was compacted or replaced: loading it again")
            self._loaded = False
            self._initial_load(saved, self.redis.xrange(self.keys["log"], min=b"(" + saved))
            return
        index = self.index
        for doc_id in self._touched:  # changes since the last save: the new segments hold their outcome
            index._kill(doc_id)
        try:
            for seg in manifest["segments"][n:]:
                data = self.corpus.store.read(seg["key"])
                if data is None or len(data) != seg["bytes"] or xxhash.xxh64_hexdigest(data) != seg["xxh64"]:
                    raise ValueError(f"segment {seg['key']} is missing or does not match the manifest")
                header, parts = _decode(data, self.cfg)
                _apply(index, header, parts)
        except ValueError as exc:
            log.warning("dedup: catching up from the persisted index failed (%s): loading it again", exc)
            self._loaded = False
            self._initial_load(saved, self.redis.xrange(self.keys["log"], min=b"(" + saved))
            return
        _mark_saved(index)
        index._persisted = manifest
        self._cursor = self._aligned = saved
        self._touched = set()
        self.stats["catch_ups"] += 1
        self._compact_if_needed()

    def _realign(self, saved: bytes) -> None:
        """Another worker saved up to an entry this worker has already applied: count changes from that
        save (the entries after it are applied again, so the next save writes them)."""
        _mark_saved(self.index)
        self.index._persisted = self._read_manifest()
        self._touched = set()
        if self._cursor != saved:
            for _, fields in self.redis.xrange(self.keys["log"], min=b"(" + saved, max=self._cursor):
                self._touched.update(_apply_entry(self.index, fields))
        self._aligned = saved

    # -- deciding ----------------------------------------------------------------------------------------
    def resolve(self, record: dict) -> list[dict]:
        """``Deduplicator.resolve`` under the shared lock, its index changes logged for the other workers.
        Called inside ``exclusive()`` (as ``ingest`` does) the lock also covers the record writes."""
        with self.exclusive():
            self._ops, self._recording = [], True
            try:
                out = super().resolve(record)
            finally:
                self._recording = False
                ops, self._ops = self._ops, []
                for op in ops:
                    self._touched.update([op[1]] if op[0] == "-" else op[1])
                if ops:
                    try:
                        self._log(record["id"], ops)
                    except RedisError:
                        self._loaded = False  # this index has a change nobody else has: load again
                        raise
            self.stats["pages"] += 1
            return out

    # -- saving ------------------------------------------------------------------------------------------
    def save(self) -> bool:
        """Write what every worker added since the last save (one segment), then trim the log."""
        with self.exclusive():
            return self._save_locked()

    def _save_locked(self) -> bool:
        store, index = self.corpus.store, self.index
        current = self._read_manifest()
        if index._persisted is not None and current != index._persisted or index._persisted is None and current:
            log.warning("dedup: the persisted index changed without this worker knowing: writing a snapshot")
            _snapshot(store, index, current)
            wrote = True
        else:
            wrote = save_index(store, index)
        self.dirty = False
        if self._cursor != self._aligned or wrote:
            if not self._saved_script(keys=[self.keys["lock"], self.keys["saved"], self.keys["log"]],
                                      args=[self.lock.token, self._cursor]):
                raise LockLost(f"the near-duplicate lock {self.keys['lock']} ran out during a save")
            self._aligned = self._cursor
            self._touched = set()
            self._log_len = self.redis.xlen(self.keys["log"])
        self.stats["saves"] += int(wrote)
        return wrote

    def close(self) -> None:
        """Stop the lock's heartbeat thread (the lock itself is released after every page)."""
        self.lock.close()

    def rebuild(self) -> list[dict]:
        raise NotImplementedError("rebuild clusters offline (`corpus dedup --rebuild`, one process), "
                                  "not through the shared deduplicator")


def _binary_client(client):
    """A redis-py client that returns bytes (the log holds binary rows)."""
    import redis

    if isinstance(client, str):
        return redis.Redis.from_url(client)
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    if kwargs.get("decode_responses"):
        return redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=client.connection_pool.connection_class, **dict(kwargs, decode_responses=False)))
    return client
