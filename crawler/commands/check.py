"""``corpus check [OUTLET ...]``: is each outlet still crawlable? (being written)"""

from __future__ import annotations


def register(sub) -> None:
    return None
