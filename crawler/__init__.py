"""Scrapy project of the ASEAN-Russia corpus crawler: settings, spiders, middlewares, CLI."""
__version__ = "0.2.0"
