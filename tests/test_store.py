"""BlobStore contract, run on a local folder and on a real moto S3 endpoint."""
from __future__ import annotations

import threading
import time

import pytest

from pipelines.store import LocalStore, S3Store, StoreError, open_store
from s3server import closed_port


def test_write_read_exists_delete(blob_store):
    assert blob_store.read("a/b.json") is None
    assert not blob_store.exists("a/b.json")
    blob_store.write("a/b.json", b'{"x": 1}')
    assert blob_store.read("a/b.json") == b'{"x": 1}'
    assert blob_store.exists("a/b.json")
    blob_store.write("a/b.json", b"second")
    assert blob_store.read("a/b.json") == b"second"
    blob_store.delete("a/b.json")
    assert blob_store.read("a/b.json") is None and not blob_store.exists("a/b.json")
    blob_store.delete("a/b.json")  # deleting a missing key is not an error


def test_binary_and_unicode_keys(blob_store):
    data = bytes(range(256)) * 10
    blob_store.write("bin/Ünïcode ключ.bin", data)
    assert blob_store.read("bin/Ünïcode ключ.bin") == data
    assert list(blob_store.list("bin/")) == ["bin/Ünïcode ключ.bin"]


def test_write_if_absent(blob_store):
    assert blob_store.write_if_absent("seeds/x.txt", b"first") is True
    assert blob_store.write_if_absent("seeds/x.txt", b"second") is False
    assert blob_store.read("seeds/x.txt") == b"first"


def test_list_sorted_and_prefix(blob_store):
    keys = ["corpus/docs/b.json", "corpus/docs/a.json", "corpus/text/a.txt", "corpus/docsx", "top.md",
            "corpus/history/a/1.json"]
    for k in keys:
        blob_store.write(k, k.encode())
    assert list(blob_store.list()) == sorted(keys)
    assert list(blob_store.list("corpus/docs/")) == ["corpus/docs/a.json", "corpus/docs/b.json"]
    assert list(blob_store.list("corpus/docs")) == ["corpus/docs/a.json", "corpus/docs/b.json", "corpus/docsx"]
    assert list(blob_store.list("nothing/")) == []


def test_list_paginates(blob_store):
    if isinstance(blob_store, S3Store):  # force several list_objects_v2 pages
        blob_store.client.meta.events.register(
            "before-parameter-build.s3.ListObjectsV2", lambda params, **_: params.update(MaxKeys=7))
    keys = [f"many/{i:03d}" for i in range(25)]
    for k in keys:
        blob_store.write(k, b"1")
    assert list(blob_store.list("many/")) == keys


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b", "./a", "a\\b"])
def test_bad_keys_rejected(blob_store, bad):
    with pytest.raises(StoreError):
        blob_store.write(bad, b"x")


def test_concurrent_readers_never_see_partial(blob_store):
    big_a, big_b = b"A" * 300_000, b"B" * 300_000
    blob_store.write("big.bin", big_a)
    seen, stop = set(), threading.Event()

    def reader():
        while not stop.is_set():
            seen.add(blob_store.read("big.bin"))

    t = threading.Thread(target=reader)
    t.start()
    for i in range(6):
        blob_store.write("big.bin", big_b if i % 2 == 0 else big_a)
    stop.set()
    t.join()
    assert seen and seen <= {big_a, big_b}


def test_local_leaves_no_temp_files(tmp_path):
    store = LocalStore(tmp_path)
    store.write("d/x.txt", b"1")
    store.write("d/x.txt", b"2")
    store.write_if_absent("d/x.txt", b"3")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["x.txt"]


def test_describe_and_open_store(tmp_path, s3_endpoint):
    local = open_store(tmp_path / "rel")
    assert local.describe() == str((tmp_path / "rel").resolve())
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)
    s3 = open_store("s3://bucket/some/prefix/")
    assert s3.describe() == "s3://bucket/some/prefix"
    assert "testing" not in repr(s3)
    assert s3.endpoint_url == s3_endpoint  # AWS_ENDPOINT_URL honoured by botocore
    with pytest.raises(StoreError):
        open_store("ftp://host/x")


def test_dead_endpoint_fails_fast_and_clearly(s3_endpoint, monkeypatch):
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    store = open_store("s3://b/p")
    start = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.read("corpus/docs/x.json")
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert f"cannot reach S3 endpoint {dead} (bucket b)" in msg
    assert "testing" not in msg


def test_missing_bucket_is_clear(s3_endpoint):
    store = open_store("s3://no-such-bucket-xyz/p")
    with pytest.raises(StoreError, match="NoSuchBucket"):
        store.write("k", b"v")


def test_hung_endpoint_times_out(s3_endpoint, monkeypatch):
    """A server that accepts connections but never answers: bounded by read_timeout x attempts."""
    import socket

    from pipelines.store import S3Config

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        store = open_store("s3://b/p", s3_config=S3Config(endpoint_url=url, read_timeout=0.3, max_attempts=2))
        start = time.monotonic()
        with pytest.raises(StoreError, match="cannot reach S3 endpoint"):
            store.exists("k")
        assert time.monotonic() - start < 4


def test_write_if_absent_race_has_one_winner(blob_store):
    results, barrier = [], threading.Barrier(6)

    def racer(i):
        barrier.wait()
        results.append((blob_store.write_if_absent("race/k", f"v{i}".encode()), i))

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for ok, i in results if ok]
    assert len(results) == 6 and len(winners) == 1
    assert blob_store.read("race/k") == f"v{winners[0]}".encode()


def test_a_forbidden_bucket_says_to_check_the_credentials(s3_endpoint):
    """An endpoint that answers 403 (wrong credentials: a HEAD's 403 has no body to say so) was reported
    as "S3 refused to open bucket ...: 403 Forbidden" alone (a reviewer)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pipelines.store import S3Config

    class Forbidden(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_HEAD(self):
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forbidden)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = open_store("s3://b/p", s3_config=S3Config(endpoint_url=f"http://127.0.0.1:{server.server_port}",
                                                          max_attempts=1))
        with pytest.raises(StoreError, match="check the credentials") as info:
            store.check()
        assert not info.value.transient and "403" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()
