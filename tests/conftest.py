"""Shared fixtures. Store fixtures: a real moto S3 server on 127.0.0.1 and a store per backend."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from s3server import CLEARED_ENV, DUMMY_ENV, S3Server  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _state_home(tmp_path_factory):
    """Run reports that a store cannot take go to $XDG_STATE_HOME: a temp folder, never the real home."""
    old = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = os.fspath(tmp_path_factory.mktemp("xdg-state"))
    yield
    if old is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = old


@pytest.fixture(scope="session")
def s3_server():
    """One moto S3 server for the whole session."""
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def s3_endpoint(s3_server, monkeypatch, tmp_path) -> str:
    """URL of the moto server; dummy credentials, region and AWS_ENDPOINT_URL set for this test."""
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in DUMMY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.fspath(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.fspath(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    return s3_server.url


@pytest.fixture(params=["local", "s3"])
def blob_store(request, tmp_path):
    """A fresh, empty BlobStore: a temp folder, or a new bucket (with a key prefix) on moto."""
    from pipelines.store import open_store

    if request.param == "local":
        return open_store(tmp_path / "store")
    server = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_endpoint")
    return open_store(f"s3://{server.make_bucket()}/corpus-root")


# --- replay web and the `corpus` command -------------------------------------------------
REPO = Path(__file__).resolve().parent.parent
TEST_WEB = REPO / "tests" / "web"


@pytest.fixture
def replay():
    """The bundled replay web plus the test-only hosts, on 127.0.0.1."""
    from crawler.replay.server import DEFAULT_ROOT, ReplayServer

    with ReplayServer([DEFAULT_ROOT, TEST_WEB]) as server:
        yield server


@pytest.fixture
def corpus_cmd(tmp_path):
    """Run the installed `corpus` command in a subprocess (Scrapy's reactor runs once per process)."""
    import subprocess

    exe = Path(sys.executable).with_name("corpus")

    def run(*args, env=None, timeout=120):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
        full_env.update(env or {})
        return subprocess.run([os.fspath(exe), *map(str, args)], cwd=tmp_path, env=full_env,
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def redis_server():
    """Debian's redis-server on 127.0.0.1 for the session (tests/redisserver.py); flushed per test by ``redis_url``."""
    from redisserver import RedisServer, redis_binary

    if redis_binary() is None:
        pytest.fail("redis-server is not installed: run scripts/bootstrap.sh --test")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture(scope="session")
def extraction_bench():
    """bench/extraction.py as a module: its loaders of ../shared/data and its metrics, for the floor tests."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_extraction", Path(__file__).resolve().parents[1]
                                                  / "bench" / "extraction.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
