"""Settings derived from other settings, once every source has spoken.

Scrapy reads ``crawler/settings.py`` at import time, so a value derived there
(the User-Agent from ``CORPUS_CONTACT_URL``, the replay download handler from
``CORPUS_REPLAY_URL``) would ignore ``-s NAME=VALUE``.  This add-on runs after
the project settings, the environment and the command line are merged:

- (every ``CORPUS_*`` setting can be given as an environment variable of the
  same name: ``crawler/settings.py`` reads them when loaded; ``-s`` wins);
- the User-Agent names ``CORPUS_CONTACT_URL`` (unless ``USER_AGENT`` itself
  was set on the command line);
- ``CORPUS_REPLAY_URL`` switches the replay download handler on;
- every download handler but http and https stays off (no ``file:``, ``ftp:``, ``data:``, ``s3:``).
"""

from __future__ import annotations

from crawler import __version__

REPLAY_HANDLER = "crawler.replay_handler.ReplayDownloadHandler"
_CMDLINE = 40  # scrapy.settings.SETTINGS_PRIORITIES["cmdline"]


def user_agent(contact: str) -> str:
    return f"asean-russia-corpus/{__version__} (+{contact})"


def outlet_slots(registry) -> dict:
    """Per-outlet politeness overrides of the registry as Scrapy download slots."""
    slots = {}
    for outlet in registry:
        conf = {}
        if outlet.download_delay is not None:
            conf["delay"] = outlet.download_delay
        if outlet.concurrency is not None:
            conf["concurrency"] = outlet.concurrency
        if conf:
            for domain in outlet.domains:
                slots.setdefault(domain, conf)
                slots.setdefault("www." + domain, conf)
    return slots


class CorpusAddon:
    def update_settings(self, settings) -> None:
        if settings.getbool("CORPUS_OUTLET_POLITENESS", True):
            from pipelines.crawl.registry import load_registry

            slots = outlet_slots(load_registry(settings.get("CORPUS_REGISTRY") or None))
            slots.update(settings.getdict("DOWNLOAD_SLOTS"))
            settings.set("DOWNLOAD_SLOTS", slots, priority=settings.getpriority("DOWNLOAD_SLOTS") or 20)
        if settings.getpriority("USER_AGENT") < _CMDLINE:
            settings.set("USER_AGENT", user_agent(settings.get("CORPUS_CONTACT_URL")), priority="spider")
        if settings.get("CORPUS_REPLAY_URL"):
            handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
            for scheme in ("http", "https"):
                handlers.setdefault(scheme, REPLAY_HANDLER)
            settings.set("DOWNLOAD_HANDLERS", handlers, priority=max(settings.getpriority("DOWNLOAD_HANDLERS") or 0, 30))
        # only http and https are ever fetched: every other scheme's handler (Scrapy's file:, data:, ftp:, s3:,
        # or one given with -s) is off, whatever the settings say
        handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
        for scheme in (*settings.getdict("DOWNLOAD_HANDLERS_BASE"), *handlers):
            if scheme not in ("http", "https"):
                handlers[scheme] = None
        settings.set("DOWNLOAD_HANDLERS", handlers, priority=max(settings.getpriority("DOWNLOAD_HANDLERS") or 0, 30))
