"""One crawl shared by many workers through Redis: the run, its workers, the reliable request queue.

Pure Redis (redis-py), no Scrapy: ``crawler/distributed.py`` puts Scrapy's scheduler on top.

Keys, under a prefix per store (``corpus:<12 hex of the normalised store spec>``, so two stores on
one Redis never mix)::

  P:run                       the id of the run in progress (the first worker sets it; the others join)
  P:run:<run>:workers         set of the worker ids that joined the run
  P:run:<run>:alive:<worker>  a worker's heartbeat (expires after the lease: the worker is taken for dead)
  P:run:<run>:requests        the shared request queue (sorted set, score -priority: scrapy-redis's format)
  P:run:<run>:dupefilter      request fingerprints seen in the run (scrapy-redis's RFPDupeFilter)
  P:run:<run>:inflight:<w>    requests worker w popped and has not settled yet (field -> "score|request")
  P:run:<run>:seq             counter naming in-flight entries
  P:run:<run>:finish          lock around the end-of-run writes (manifest, index, state compaction)
  P:run:<run>:counts          run-wide discovery figures (routes that worked or failed, per outlet)
  P:run:<run>:outlets         the outlets the run crawls (its starter's; "*": all): a joining worker takes them
  P:run:<run>:seen:<outlet>   article URLs discovered in the run (HyperLogLog); ``:hlls`` lists these keys

A pop moves a request from the queue into the worker's in-flight hash (one Lua script: nothing is
lost between the two); it leaves the hash when its page is settled (stored, dropped or an error).
A live worker puts the in-flight requests of a worker whose heartbeat expired back in the queue
(``reclaim``, one Lua script), so a worker killed with SIGKILL loses nothing. The run ends (its
queue, dupefilter and id are deleted) when its last worker leaves with the queue empty: the next
run starts fresh, and URLs are due again by the crawl state, not blocked by an old dupefilter.
A run left with requests in the queue (its workers were stopped or killed) is joined and resumed
by the next worker. One Redis server (not Redis Cluster: the scripts build key names).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timezone

__all__ = ["SharedRun", "store_prefix", "normalise_store"]

log = logging.getLogger(__name__)

DEFAULT_LEASE = 30.0

# KEYS: run; ARGV: new id, worker, lease ms, prefix, label, only (a run id: join that one or none; "" any)
# -> the run's id, or false when ``only`` is not the run in progress
_JOIN = """
local rid = redis.call('GET', KEYS[1])
if ARGV[6] ~= '' and rid ~= ARGV[6] then return false end
if not rid then
  rid = ARGV[1]
  redis.call('SET', KEYS[1], rid)
end
local base = ARGV[4] .. ':run:' .. rid
redis.call('SADD', base .. ':workers', ARGV[2])
redis.call('SET', base .. ':alive:' .. ARGV[2], ARGV[5], 'PX', ARGV[3])
return rid
"""

# KEYS: workers; ARGV: base, worker, lease ms, label -> 1 when the heartbeat had expired (taken for dead)
_BEAT = """
local alive = ARGV[1] .. ':alive:' .. ARGV[2]
local was = redis.call('EXISTS', alive)
redis.call('SET', alive, ARGV[4], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[2])
return 1 - was
"""

# KEYS: queue, inflight, seq -> {field, request} or nil
_POP = """
local got = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #got == 0 then return false end
redis.call('ZREM', KEYS[1], got[1])
local field = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[2], field, got[2] .. '|' .. got[1])
return {field, got[1]}
"""

_REQUEUE = """
local function requeue(hash, queue)
  local n = 0
  for _, v in ipairs(redis.call('HVALS', hash)) do
    local i = string.find(v, '|', 1, true)
    redis.call('ZADD', queue, tonumber(string.sub(v, 1, i - 1)), string.sub(v, i + 1))
    n = n + 1
  end
  redis.call('DEL', hash)
  return n
end
"""

# KEYS: workers, queue; ARGV: base -> {requests put back, dead workers}
_RECLAIM = _REQUEUE + """
local moved, dead = 0, {}
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. w) == 0 then
    moved = moved + requeue(ARGV[1] .. ':inflight:' .. w, KEYS[2])
    redis.call('SREM', KEYS[1], w)
    table.insert(dead, w)
  end
end
return {moved, dead}
"""

# KEYS: workers, queue; ARGV: base, worker -> {queued, in flight at other workers, other workers}
_PENDING = """
local busy, others = 0, 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if w ~= ARGV[2] then
    others = others + 1
    busy = busy + redis.call('HLEN', ARGV[1] .. ':inflight:' .. w)
  end
end
return {redis.call('ZCARD', KEYS[2]), busy, others}
"""

# KEYS: workers, queue; ARGV: base, worker, requeue (1/0) -> {workers left, requests put back}
_LEAVE = _REQUEUE + """
local mine = ARGV[1] .. ':inflight:' .. ARGV[2]
local moved = 0
if ARGV[3] == '1' then moved = requeue(mine, KEYS[2]) else redis.call('DEL', mine) end
redis.call('DEL', ARGV[1] .. ':alive:' .. ARGV[2])
redis.call('SREM', KEYS[1], ARGV[2])
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. w) == 0 and
     redis.call('HLEN', ARGV[1] .. ':inflight:' .. w) == 0 then
    redis.call('SREM', KEYS[1], w)
  end
end
return {redis.call('SCARD', KEYS[1]), moved}
"""

# KEYS: run, workers, queue, dupefilter, seq, counts, hlls; ARGV: run id -> 1 when the run ended
_END = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SCARD', KEYS[2]) > 0 or redis.call('ZCARD', KEYS[3]) > 0 then return 0 end
for _, k in ipairs(redis.call('SMEMBERS', KEYS[7])) do redis.call('DEL', k) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
return 1
"""


def normalise_store(spec: str) -> str:
    """The store spec as every worker should name it: s3://bucket/prefix without a trailing slash, or
    the absolute real path of a local folder (workers on several machines must share an S3 store, or
    mount the folder at the same path)."""
    spec = str(spec).strip()
    if "://" in spec:
        return spec.rstrip("/")
    return os.path.realpath(os.path.expanduser(spec))


def store_prefix(spec: str) -> str:
    return "corpus:" + hashlib.sha256(normalise_store(spec).encode()).hexdigest()[:12]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedRun:
    """This process as one worker of the shared run of a store: ``join()``, ``start_heartbeat()``,
    queue operations (``push``/``pop``/``settle``), ``reclaim()``, ``pending()``, ``leave()``, ``end()``."""

    def __init__(self, client, store_spec: str, *, lease: float = DEFAULT_LEASE, worker_id: str | None = None):
        if not lease > 0:
            raise ValueError(f"the worker lease must be more than 0 seconds, not {lease!r}")
        self.client = client
        self.store = normalise_store(store_spec)
        self.prefix = store_prefix(store_spec)
        self.lease = float(lease)
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.run_id: str | None = None
        self.started = False             # this worker started the run
        self.left: int | None = None     # workers still in the run after this one left (None: not left)
        self.ended = False
        self.reclaimed = 0               # requests of dead workers this worker put back in the queue
        self.requeued = 0                # this worker's own in-flight requests put back when it left early
        self.count_failures = 0          # run-wide figures Redis did not take
        self._scripts = {name: client.register_script(src) for name, src in
                         (("join", _JOIN), ("beat", _BEAT), ("pop", _POP), ("reclaim", _RECLAIM),
                          ("pending", _PENDING), ("leave", _LEAVE), ("end", _END))}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # keys ---------------------------------------------------------------------------------------
    @property
    def run_key(self) -> str:
        return f"{self.prefix}:run"

    @property
    def base(self) -> str:
        if self.run_id is None:
            raise RuntimeError("not joined")
        return f"{self.prefix}:run:{self.run_id}"

    def key(self, name: str) -> str:
        return f"{self.base}:{name}"

    @property
    def queue_key(self) -> str:
        return self.key("requests")

    @property
    def dupefilter_key(self) -> str:
        return self.key("dupefilter")

    @property
    def inflight_key(self) -> str:
        return self.key(f"inflight:{self.worker_id}")

    @property
    def is_last(self) -> bool:
        return self.left == 0

    # the run ------------------------------------------------------------------------------------
    def join(self, only: str | None = None) -> str | None:
        """Join the store's run in progress, or start one; returns its id. ``only``: join that run if it
        is still in progress, else nothing (None) -- a standing worker never starts a run itself."""
        new = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
        got = self._scripts["join"](keys=[self.run_key], args=[
            new, self.worker_id, int(self.lease * 1000), self.prefix, self._label(), only or ""])
        if got is None:
            return None
        self.run_id = _text(got)
        self.started = self.run_id == new
        self.left = None
        log.info("redis: worker %s joined run %s (%s)", self.worker_id, self.run_id,
                 "started it" if self.run_id == new else "in progress")
        return self.run_id

    def agree_outlets(self, outlets: list[str]) -> list[str] | None:
        """The outlets the run crawls: the starter records its own; a worker that joins gets the
        recorded list back (None when it is the starter or the run recorded none)."""
        key = self.key("outlets")
        wanted = ",".join(sorted(outlets)) or "*"
        if self.started:
            self.client.set(key, wanted)
            return None
        recorded = self.client.get(key)
        if recorded is None:
            return None
        recorded = _text(recorded)
        return [] if recorded == "*" else recorded.split(",")

    def _label(self) -> str:
        return f"{socket.gethostname()} pid {os.getpid()}"

    def beat(self) -> bool:
        """Renew this worker's heartbeat; False when it had expired (others may have reclaimed its work)."""
        expired = self._scripts["beat"](keys=[self.key("workers")], args=[
            self.base, self.worker_id, int(self.lease * 1000), self._label()])
        if expired:
            log.warning("redis: the heartbeat of worker %s had expired (lease %g s): other workers may "
                        "have put its requests back in the queue", self.worker_id, self.lease)
        return not expired

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - Redis away for a moment: tried again at the next beat
                log.warning("redis: heartbeat failed: %s", exc)

    def start_heartbeat(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat_loop, name="redis-worker-heartbeat", daemon=True)
            self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def workers(self) -> set[str]:
        return {_text(w) for w in self.client.smembers(self.key("workers"))}

    # the queue ----------------------------------------------------------------------------------
    def push(self, data: bytes, score: float) -> None:
        self.client.zadd(self.queue_key, {data: score})

    def pop(self) -> tuple[str, bytes] | None:
        """The next request (highest priority) moved into this worker's in-flight hash: (field, data)."""
        got = self._scripts["pop"](keys=[self.queue_key, self.inflight_key, self.key("seq")])
        if not got:
            return None
        return _text(got[0]), got[1]

    def settle(self, field: str) -> None:
        """The page of an in-flight request is settled: it leaves the in-flight hash."""
        self.client.hdel(self.inflight_key, field)

    def in_flight(self) -> int:
        return int(self.client.hlen(self.inflight_key))

    def queued(self) -> int:
        return int(self.client.zcard(self.queue_key))

    def reclaim(self) -> int:
        """Put the in-flight requests of workers whose heartbeat expired back in the queue."""
        moved, dead = self._scripts["reclaim"](keys=[self.key("workers"), self.queue_key], args=[self.base])
        if dead:
            log.warning("redis: worker(s) %s stopped renewing their heartbeat: %d request(s) they had in "
                        "flight are back in the queue", ", ".join(_text(d) for d in dead), moved)
        self.reclaimed += int(moved)
        return int(moved)

    def pending(self) -> tuple[int, int, int]:
        """(requests queued, requests in flight at other workers, other workers in the run)."""
        queued, busy, others = self._scripts["pending"](keys=[self.key("workers"), self.queue_key],
                                                        args=[self.base, self.worker_id])
        return int(queued), int(busy), int(others)

    # run-wide figures (the discovery verdict of a worker's report is the run's) ----------------------
    def count(self, field: str, n: int = 1) -> None:
        try:
            self.client.hincrby(self.key("counts"), field, n)
        except Exception as exc:  # noqa: BLE001 - a figure of the report: never the page's failure
            self._count_failed(exc)

    def counts(self) -> dict[str, int]:
        return {_text(k): int(v) for k, v in self.client.hgetall(self.key("counts")).items()}

    def saw(self, group: str, item: str) -> None:
        """``item`` (a URL) seen under ``group`` (an outlet) in the run: counted once (HyperLogLog)."""
        key = self.key(f"seen:{group}")
        pipe = self.client.pipeline(transaction=False)
        pipe.pfadd(key, item)
        pipe.sadd(self.key("hlls"), key)
        try:
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - a figure of the report: never the page's failure
            self._count_failed(exc)

    def _count_failed(self, exc) -> None:
        self.count_failures += 1
        log.log(logging.WARNING if self.count_failures == 1 else logging.DEBUG,
                "redis: a run-wide discovery figure was not counted: %s", exc)

    def seen(self, group: str) -> int:
        return int(self.client.pfcount(self.key(f"seen:{group}")))

    # leaving ------------------------------------------------------------------------------------
    def leave(self, *, requeue: bool = False) -> int:
        """Leave the run (once); returns how many workers are still in it (0: this one was the last).
        ``requeue``: this worker's unsettled requests go back in the queue (it stopped before the end)."""
        if self.left is not None:
            return self.left
        self.stop_heartbeat()
        left, moved = self._scripts["leave"](keys=[self.key("workers"), self.queue_key],
                                             args=[self.base, self.worker_id, "1" if requeue else "0"])
        self.left, self.requeued = int(left), int(moved)
        if moved:
            log.warning("redis: %d request(s) this worker had not settled are back in the queue", moved)
        return self.left

    def end(self) -> bool:
        """End the run when no worker is in it and its queue is empty (its keys go); True if it ended."""
        self.ended = bool(self._scripts["end"](
            keys=[self.run_key, self.key("workers"), self.queue_key, self.dupefilter_key, self.key("seq"),
                  self.key("counts"), self.key("hlls"), self.key("outlets")],
            args=[self.run_id]))
        return self.ended

    def finish_lock(self, timeout: float = 600.0):
        """A Redis lock around the end-of-run writes of the run's workers (one at a time)."""
        return self.client.lock(self.key("finish"), timeout=timeout, blocking_timeout=timeout)
