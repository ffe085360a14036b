"""Scrapy project of the ASEAN-Russia corpus crawler: settings, spiders, middlewares, CLI."""
