"""Scrapy settings of the corpus crawler.

Flat settings, polite defaults on; the project's own settings carry the
``CORPUS_`` prefix.  Environment variables of the same name override the
corpus settings (``CORPUS_STORE=s3://bucket/prefix scrapy crawl outlet``).
"""

import os

BOT_NAME = "asean-russia-corpus"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- the project's own settings -------------------------------------------
# Every CORPUS_* setting can also be given as an environment variable of the same name or as
# `-s NAME=VALUE` (which wins); crawler/addon.py applies them and derives the User-Agent.
CORPUS_STORE = "./corpus-store"
CORPUS_CONTACT_URL = "https://github.com/asean-russia-corpus/crawler"  # named in the User-Agent
CORPUS_ALLOW_PRIVATE = False
# Base URL of a replay web ("http://127.0.0.1:PORT"): requests are answered from
# it by host, as a web archive replays; the records keep the outlets' real URLs.
CORPUS_REPLAY_URL = ""
CORPUS_REGISTRY = ""              # "" = the bundled registry
CORPUS_SEEDS_DIR = ""             # "" = the repository's seeds/
CORPUS_MIN_WORDS = 40
CORPUS_TOPIC_FILTER = True        # drop off-topic pages (they are counted, not stored)
CORPUS_LISTING_FILTER = True      # drop listing/tag/section pages (pipelines/extract/listing.py)
CORPUS_EXTRACT_WORKERS = os.cpu_count() or 1  # extraction worker processes (pipelines/extract/workers.py); 0 = in the crawl process, no budget
CORPUS_EXTRACT_TIMEOUT = 20.0     # CPU seconds of extraction per page; past it: error: extraction budget exceeded (time ...)
CORPUS_EXTRACT_MAX_MEMORY = 3 * 2**29  # address space of an extraction worker, bytes (1.5 GiB); past it: ... (memory ...)
CORPUS_EXTRACT_MAX_ELEMENTS = 20000  # markup cap: elements handed to the extractor at most (pipelines/extract/markup.py); 0 = no cap
CORPUS_TOPIC_TERMS = ""           # "" = pipelines/extract/topic_terms.toml
CORPUS_STATE_FLUSH_SECONDS = 2.0  # crawl-state journal flush interval (resume after a kill)
CORPUS_STORE_RETRIES = 8          # a store operation that failed transiently is tried again up to this often ...
CORPUS_STORE_RETRY_SECONDS = 30.0 # ... with backoff (0.25 s doubling to 5 s) within this many seconds; 0 retries: off
CORPUS_STORE_SPOOL = ""           # "" = $XDG_STATE_HOME/asean-russia-corpus/pending/<store>/ (pages the store did not take)
CORPUS_STORE_LOCK_LEASE = 180.0   # s after its last renewal when another host's lock on the store (state/lock.json) is taken over
CORPUS_REDIS_URL = ""              # redis://HOST:PORT/DB: the crawl is one worker of a crawl shared through Redis (crawler/distributed.py)
CORPUS_REDIS_JOIN_RUN = ""         # set by `corpus worker`: join this run on Redis if it is still on, never start one
CORPUS_REDIS_WORKER_LEASE = 30.0  # s after its last heartbeat when a Redis worker is taken for dead and its in-flight requests requeued
CORPUS_DEDUP = True               # near-duplicate clusters (pipelines/dedup/deduplicator.py)
CORPUS_MANIFEST = True            # keep corpus/manifests/ (pipelines/corpus/manifest.py); False: INDEX.md from every record
CORPUS_OUTLET_POLITENESS = True   # per-outlet delay/concurrency from the registry
CORPUS_PROGRESS = False           # live progress lines (the CLI turns it on)
CORPUS_PROGRESS_INTERVAL = 0.0    # seconds between progress updates (0 = 0.5 on a terminal, 10 otherwise)
CORPUS_RETRY_BACKOFF = 1.0        # retries without Retry-After wait this times 2**attempt seconds
CORPUS_RETRY_AFTER_MAX = 120.0    # the longest Retry-After waited for (by that outlet only), s; longer: retried next run
CORPUS_OUTLET_WAIT_MAX = 120.0    # the waits of one outlet add up to at most this in a run (s); past it: retried next run
CORPUS_TIMEOUT_RETRIES = 1        # a timed-out request is retried this often at most (not RETRY_TIMES)
CORPUS_RETRY_BUDGET = 150.0       # no retry of a URL starts later than this many s after its first failed try (0 = none)
CORPUS_HOST_MAX_TIMEOUTS = 3      # after this many timeouts in a row, a host's other URLs of the run fail at once (0 = off)
CORPUS_MAX_ERROR_RATE = 0.1       # a crawl with more page errors than this share exits 1
CORPUS_REPORT_FILE = ""           # also write the run report here
CORPUS_LOG_LEVEL = ""             # "" = LOG_LEVEL
CORPUS_WARC = True                # keep every fetched page as WARC under corpus/raw/ (pipelines/archive/)
CORPUS_WARC_MAX_BYTES = 100 * 1024 * 1024  # a WARC file is closed and published past this size
CORPUS_WARC_SPOOL = ""            # "" = <store>/.warc-spool (local), $XDG_STATE_HOME/asean-russia-corpus/warc-spool/ (S3)

# --- politeness -------------------------------------------------------------
USER_AGENT = "asean-russia-corpus/0.1 (+https://github.com/asean-russia-corpus/crawler)"  # derived by the add-on
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# ...per site, not per host name: one slot for an outlet's domain or a site by the Public Suffix List, so
# its sub-domains share the limits and the delay (crawler/site_slots.py)
DOWNLOADER = "crawler.site_slots.SiteDownloader"
# Scrapy's least-busy-slot-first queue that also skips a slot held by a Retry-After (crawler/slot_holds.py).
SCHEDULER_PRIORITY_QUEUE = "crawler.slot_holds.SlotHoldAwarePriorityQueue"
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = 30
# A page over 16 MB is refused with a clear error instead of filling memory.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
COOKIES_ENABLED = False
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
}

# --- security -----------------------------------------------------------------
# The remote-control server executes code sent to it: never on.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Only http and https are ever fetched: Scrapy's handlers for file:, data:, ftp: and s3: are off (crawler/addon.py
# keeps them off), and crawler/middlewares/scheme_guard.py refuses any other scheme first.
DOWNLOAD_HANDLERS = {"file": None, "data": None, "ftp": None, "s3": None}
# Resolves each host once, refuses non-public addresses and connects only to the checked ones (crawler/resolver.py).
TWISTED_DNS_RESOLVER = "crawler.resolver.PublicResolver"

# --- components ---------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.scheme_guard.SchemeGuard": 10,  # first: only http and https
    "crawler.middlewares.url_length.UrlLength": 40,  # over URLLENGTH_LIMIT: refused with its reason
    "crawler.middlewares.private_guard.PrivateAddressGuard": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.robots.RobotsTxt": 100,
    "crawler.middlewares.retry_after.RetryAfterMiddleware": 540,
    "crawler.middlewares.slow_hosts.SlowHostBreaker": 545,  # sees each timeout before the retry does
    "crawler.middlewares.raw_capture.RawCapture": 595,  # sees the body before HttpCompression (590)
    "crawler.middlewares.redirects.RedirectLoopGuard": 605,  # before RedirectMiddleware (600): loops, long chains
    "crawler.middlewares.scheme_guard.RedirectSchemeGuard": 606,  # ...and redirects to other schemes, said why
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
}
EXTENSIONS = {
    "crawler.stopping.DrainOnStop": 400,  # a stopping run sends none of the requests queued per site
    "crawler.progress.Progress": 500,
    "crawler.runreport.RunReport": 900,
}
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,  # silent; crawler/middlewares/url_length.py says why
    "crawler.middlewares.raw_capture.AttachCapture": 950,  # the raw response into each page item
}
ITEM_PIPELINES = {
    "crawler.archive_pipeline.Archive": 50,  # the raw archive first: it keeps every fetched page
    "crawler.item_pipelines.Extract": 100,
    "crawler.item_pipelines.Focus": 200,
    "crawler.item_pipelines.Store": 900,
}
ADDONS = {
    "crawler.addon.CorpusAddon": 0,
}

LOG_LEVEL = os.environ.get("CORPUS_LOG_LEVEL") or "INFO"
FEED_EXPORT_ENCODING = "utf-8"
LOG_FORMATTER = "crawler.logformatter.CorpusLogFormatter"


# --- the environment ----------------------------------------------------------------
def _typed(default, text: str):
    """An environment variable's text as the type of the setting's default (bad values stay text:
    ``corpus`` refuses them with a clear message, see crawler/commands/common.py)."""
    if isinstance(default, bool):
        return {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False, "": False}.get(text.strip().lower(), text)
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(text)
            except ValueError:
                return text
    return text


# Every CORPUS_* setting can be given as an environment variable of the same name: here, when the
# settings are loaded (`corpus` and `scrapy crawl` alike); `-s NAME=VALUE` (command line) wins.
corpus_defaults = {k: v for k, v in globals().items() if k.startswith("CORPUS_")}  # before the environment
for _name, _default in corpus_defaults.items():
    if _name in os.environ:
        globals()[_name] = _typed(_default, os.environ[_name])
