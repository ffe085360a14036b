"""The raw archive: every fetched page kept as WARC, and the corpus rebuilt from it.

- ``writer.WarcArchive``: append fetches to ``corpus/raw/YYYY/MM/DD/<run>-<n>.warc.gz``, rotated
  by size, published whole (``spool.py``: spool files, crash recovery, atomic publication);
- ``reader``: list the HTTP responses of a WARC file, read one page back by its location;
- ``reextract.reextract``: rebuild records and texts from the WARCs with the current extractor;
- ``importer.import_warcs``: bring other crawlers' WARC files into the corpus.

Pure Python (warcio), no Scrapy: the crawler's adapters are ``crawler/middlewares/raw_capture.py``
and ``crawler/archive_pipeline.py``.
"""

from pipelines.archive.reader import Capture, NotAWarc, index_warc, read_page, read_record
from pipelines.archive.spool import default_spool_dir, recover
from pipelines.archive.writer import RAW_PREFIX, WarcArchive

__all__ = ["Capture", "NotAWarc", "RAW_PREFIX", "WarcArchive", "default_spool_dir", "index_warc", "read_page",
           "read_record", "recover"]
