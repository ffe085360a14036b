"""Spiders: the one-off fetch spider and the registry-driven outlet spider."""


def split_list(value) -> list[str]:
    """A spider argument given as "a,b" (``scrapy crawl -a``) or as a list (from Python)."""
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)
