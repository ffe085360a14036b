"""Turn a Scrapy response into the plain *page* dict the pure pipelines take."""

from __future__ import annotations

import re

from pipelines.corpus.record import utc_now

_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)


def header(response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1").strip() if value else None


def page_from_response(response, outlet: str | None = None) -> dict:
    content_type = header(response, "Content-Type") or ""
    declared = _CHARSET.search(content_type)
    redirects = response.meta.get("redirect_urls") or []
    return {
        "url": response.url,
        "requested_url": response.meta.get("corpus_requested") or (redirects[0] if redirects else response.url),
        "status": response.status,
        "content_type": content_type.split(";")[0].strip().lower() or None,
        "charset": declared.group(1) if declared else None,
        "etag": header(response, "ETag"),
        "last_modified": header(response, "Last-Modified"),
        "body": response.body,
        "fetched_at": utc_now(),
        "outlet": outlet,
        "lastmod": response.meta.get("corpus_lastmod"),
        "replayed": "replay" in response.flags,
    }
