"""One download slot per site, not per host name: the politeness limits hold for a site's sub-domains together.

Scrapy's downloader gives each host name its own slot (its own ``CONCURRENT_REQUESTS_PER_DOMAIN``,
``DOWNLOAD_DELAY`` and AutoThrottle delay), so six sub-domains of one site (``s1.example.org`` ...
``s6.example.org``, an outlet's ``m.`` and regional hosts, links followed in ``--site`` mode) were fetched
six times as fast as one. Here a request's slot is its registry outlet's domain where the registry owns
the host (the most specific domain: ``Registry.owner``; ``crawler/addon.py`` gives those slots the
outlet's own delay and concurrency), else its site by the Public Suffix List (``site_of``: ``a.github.io``
and ``b.github.io`` stay two sites). A slot set on the request (``meta['download_slot']``) wins, and
``CONCURRENT_REQUESTS_PER_IP`` keeps Scrapy's slots by address.

Enabled with ``DOWNLOADER = "crawler.site_slots.SiteDownloader"`` (``crawler/settings.py``).
"""

from __future__ import annotations

from scrapy.core.downloader import Downloader
from scrapy.utils.httpobj import urlparse_cached

from pipelines.crawl.registry import Registry, RegistryError, load_registry
from pipelines.crawl.urls import bare_host, site_of


class SiteDownloader(Downloader):
    def __init__(self, crawler):
        super().__init__(crawler)
        try:
            self._registry = load_registry(self.settings.get("CORPUS_REGISTRY") or None)
        except RegistryError:  # the run reports a broken registry itself; slots fall back to sites
            self._registry = Registry({})
        self._slots: dict[str, str] = {}

    def slot_of(self, host: str) -> str:
        """The slot of ``host``: its outlet's domain, else its site."""
        slot = self._slots.get(host)
        if slot is None:
            owner = self._registry.owner(bare_host(host))
            slot = owner[1] if owner else site_of(host) or host
            if len(self._slots) < 100_000:
                self._slots[host] = slot
        return slot

    def get_slot_key(self, request) -> str:
        meta_slot = request.meta.get(self.DOWNLOAD_SLOT)
        if meta_slot is not None or self.ip_concurrency:
            return super().get_slot_key(request)
        return self.slot_of(urlparse_cached(request).hostname or "")
