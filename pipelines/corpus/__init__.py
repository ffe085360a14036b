"""Corpus: the layout of records, texts, history, index and run files on a store (``layout``),
the record of one page (``record``) and the seed documents (``seeds``)."""
