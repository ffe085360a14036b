"""Extract: a fetched page into clean text and metadata (``extractor``), the page's charset
(``charset``), outlet profiles (``profiles``), listing pages that are not articles (``listing``) and
the ASEAN–Russia topic score (``topic``)."""
