"""Log dropped items as one short line (URL and reason), never the page body."""

from __future__ import annotations

import logging

from scrapy.logformatter import LogFormatter


class CorpusLogFormatter(LogFormatter):
    def dropped(self, item, exception, response, spider=None):
        page = item.get("page", {}) if isinstance(item, dict) else {}
        return {
            "level": logging.INFO,
            "msg": "skipped %(url)s: %(reason)s",
            "args": {"url": page.get("url") or getattr(response, "url", "?"), "reason": exception},
        }

    def scraped(self, item, response, spider=None):
        record = item.get("record") or {} if isinstance(item, dict) else {}
        return {
            "level": logging.DEBUG,
            "msg": "stored %(id)s %(outcome)s %(url)s",
            "args": {"id": record.get("id"), "outcome": item.get("outcome"), "url": record.get("url")},
        }
