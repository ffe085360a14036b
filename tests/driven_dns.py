"""A test-only DNS: ``DrivenResolver`` answers from a table, never from the system resolver.

``corpus ... -s TWISTED_DNS_RESOLVER=driven_dns.DrivenResolver`` with ``PYTHONPATH`` holding tests/ and
``DRIVEN_DNS=<file.json>``: ``{"name": [["first answer", ...], ["second answer", ...]]}``; each lookup of a
name takes its next answer (the last one repeats); a name not in the table, or an empty answer, fails as
an unknown name does.  Every lookup is appended to ``<file.json>.log``.  ``127.0.0.2`` stands for a public
server (the only loopback address the resolver lets through), so that a test connects to nothing
outside 127.0.0.0/8: the rest of the address policy is the project's own.
"""

from __future__ import annotations

import json
import os
import socket

from crawler.resolver import PublicResolver

PUBLIC_STAND_IN = "127.0.0.2"


def driven_lookup(host: str) -> list[str]:
    path = os.environ["DRIVEN_DNS"]
    with open(path + ".log", "a", encoding="utf-8") as log:
        log.write(host + "\n")
    with open(path + ".log", encoding="utf-8") as log:
        nth = sum(1 for line in log if line.strip() == host) - 1
    with open(path, encoding="utf-8") as fh:
        answers = json.load(fh).get(host)
    if not answers or not answers[min(nth, len(answers) - 1)]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return list(answers[min(nth, len(answers) - 1)])


class DrivenResolver(PublicResolver):
    def __init__(self, *args, **kwargs):
        kwargs["lookup"] = driven_lookup
        super().__init__(*args, **kwargs)

    def refuses(self, ip: str) -> bool:
        return ip != PUBLIC_STAND_IN and super().refuses(ip)
