"""Importing this module loads the language detector's model (``pipelines.extract.language.load``) and
ICU's word-break data (``pipelines.extract.words``).

The extraction forkserver preloads it (``pipelines.extract.workers.PRELOAD``), so every worker forked from
it shares one copy of them instead of loading its own at its first page.
"""

from pipelines.extract.language import load
from pipelines.extract.words import segment

load()
segment("東京で会議", "ja")  # ICU loads its dictionaries at the first use
