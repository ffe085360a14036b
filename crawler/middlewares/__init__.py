"""Downloader middlewares of the corpus crawler."""
