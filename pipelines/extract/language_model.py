"""Importing this module loads the language detector's model (``pipelines.extract.language.load``).

The extraction forkserver preloads it (``pipelines.extract.workers.PRELOAD``), so every worker forked from
it shares one copy of the model instead of loading its own at its first page (0.5 s). It adds about
76 MiB to each worker's address space (measured: 364 -> 440 MiB after a first page), which counts
against the worker's RLIMIT_AS (1.5 GiB by default). ICU's word-break data (``pipelines.extract.words``,
33 MiB mapped) is left to the first text in a script without spaces.
"""

from pipelines.extract.language import load

load()
