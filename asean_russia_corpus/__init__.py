"""Read the ASEAN–Russia news corpus: the public API for consumers.

    from asean_russia_corpus import open_corpus, export

    corpus = open_corpus("s3://bucket/prefix")             # or a local folder
    for rec in corpus.records(outlet="rsis", since="2024-01-01", canonical_only=True):
        print(rec["published"], rec["title"])
    export(corpus, "corpus.parquet", format="parquet")      # or format="jsonl"

``open_corpus`` streams records with filters (outlet, language, ``since``/``until`` on ``published``,
``canonical_only``, ``changed_since=RUN``); ``export`` writes JSON Lines or Parquet; ``arrow_schema()``,
``FIELDS`` and ``SCHEMA_VERSION`` describe the record (README: "For consumers"). Nothing here imports
Scrapy: the crawler is not needed to read a corpus.
"""

from __future__ import annotations

from pipelines.corpus.export import ExportResult, export
from pipelines.corpus.reader import Changed, CorpusError, CorpusReader, open_corpus
from pipelines.corpus.schema import FIELDS, SCHEMA_VERSION, SchemaError, arrow_schema, from_json, to_json
from pipelines.store import StoreError

__all__ = ["open_corpus", "export", "CorpusReader", "CorpusError", "Changed", "ExportResult", "SchemaError",
           "StoreError", "SCHEMA_VERSION", "FIELDS", "arrow_schema", "to_json", "from_json", "__version__"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("asean-russia-corpus")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree that is not installed
        return "0+unknown"


__version__ = _version()
