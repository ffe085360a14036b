"""Crawl state and rules: canonical URLs and ids (``urls``), the outlet registry (``registry``),
incremental state (``state``) and crawl-trap detection (``traps``)."""
