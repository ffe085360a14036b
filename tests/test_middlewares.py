import asyncio
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from crawler.middlewares.private_guard import PrivateAddressGuard, PrivateAddressRefused, non_public
from crawler.middlewares.retry_after import retry_after_seconds
from crawler.replay_handler import replay_url


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.7", "172.16.5.5", "169.254.169.254",
                                "::1", "fe80::1", "fc00::1", "0.0.0.0", "::ffff:127.0.0.1", "100.64.0.1"])
def test_non_public_addresses(ip):
    assert non_public(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses(ip):
    assert not non_public(ip)


class _Req:
    def __init__(self, url):
        self.url = url


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_guard_refuses_literal_and_localhost_names():
    guard = PrivateAddressGuard(replay=False)
    for url in ["http://127.0.0.1:8000/x", "http://[::1]/", "http://localhost:9/", "http://169.254.169.254/latest"]:
        with pytest.raises(PrivateAddressRefused, match="--allow-private"):
            run(guard.process_request(_Req(url)))
    assert run(guard.process_request(_Req("http://8.8.8.8/"))) is None


def test_guard_in_replay_mode_still_refuses_literals_but_not_archived_names():
    guard = PrivateAddressGuard(replay=True)
    assert run(guard.process_request(_Req("https://intellinews.com/a"))) is None
    with pytest.raises(PrivateAddressRefused):
        run(guard.process_request(_Req("http://10.0.0.1/")))


def test_retry_after_forms():
    assert retry_after_seconds(b"7") == 7.0
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 31
    assert retry_after_seconds(b"garbage") is None and retry_after_seconds(None) is None


def test_replay_url_keeps_host_path_and_query():
    assert replay_url("http://127.0.0.1:5/", "https://www.x.com/a/b/?page=2") == "http://127.0.0.1:5/www.x.com/a/b/?page=2"
    assert replay_url("http://127.0.0.1:5", "https://x.com") == "http://127.0.0.1:5/x.com/"
