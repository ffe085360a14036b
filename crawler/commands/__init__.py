"""The sub-commands of ``corpus``: one module each, each with ``register(subparsers)``.

``crawler.cli`` imports these; none of them imports ``crawler.cli``.
"""

from crawler.commands import check, crawl, dedup, demo, fetch, import_warc, reextract

COMMANDS = (fetch, crawl, check, dedup, demo, reextract, import_warc)

from crawler.commands import diff, manifest  # noqa: E402  (run manifests: pipelines/corpus/manifest.py)
COMMANDS += (diff, manifest)

from crawler.commands import export  # noqa: E402  (corpus export: pipelines/corpus/export.py)
COMMANDS += (export,)

from crawler.commands import worker  # noqa: E402  (corpus worker: joins the runs a scheduler starts on Redis)
COMMANDS += (worker,)
