"""deploy/: what can be checked on this machine without Docker images, a cluster or systemd running.

- The Dockerfile: base image, non-root USER, entry point, every COPY source present (and not ignored),
  no credentials; its build stage's RUN commands run in a fresh venv, and the installed `corpus` with
  the image's ENV crawls the replay web on 127.0.0.1 (the seed documents found, as in the image).
- docker-compose.yml: parses; images, build files, volumes, dependencies and variables exist; the
  bucket script runs against moto's S3 server; the scheduler's loop refuses an overlapping run (75)
  and its health check turns a failed run into "unhealthy".
- Kubernetes: the CronJob (Forbid, Never, small backoffLimit, resources, runAsNonRoot, secrets by
  reference only) and the ConfigMap it reads; the worker Deployment (`corpus worker`, the CronJob's
  settings) and Redis (Service, StatefulSet, NetworkPolicy letting the crawl pods in); every CORPUS_*
  name and value is accepted by `corpus`.
- systemd: `systemd-analyze verify` on the service and timer (ExecStart pointed at a real `corpus`).
- cron: the line has 5 time fields and `flock -n`; run as cron would, a held lock refuses the run
  with 75 and a failing run prints its status (mailed by cron).
"""
from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from crawler import exitcodes

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|SESSION|PRIVATE_KEY|ACCESS_KEY", re.I)


# --- the Dockerfile ---------------------------------------------------------------------------------
def dockerfile() -> list[dict]:
    """Stages of deploy/Dockerfile: [{name, base, steps: [(INSTRUCTION, text)]}] (continuations joined)."""
    lines, buf = [], ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        if not buf and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if buf and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        lines.append(buf + raw)
        buf = ""
    stages = []
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "FROM":
            parts = rest.split()
            stages.append({"base": parts[0], "name": parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None,
                           "steps": []})
        else:
            stages[-1]["steps"].append((word, rest))
    return stages


def env_of(stage: dict) -> dict:
    """The ENV of a stage, on top of python:3.11-slim's PATH."""
    env = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}
    for word, rest in stage["steps"]:
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), value)
    return env


def dockerignored(rel: str) -> bool:
    """True when deploy/Dockerfile.dockerignore leaves ``rel`` out of the build context (last match wins)."""
    ignored = False
    for pattern in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if pattern == "**" or fnmatch(rel, pattern) or rel.startswith(pattern + "/"):
            ignored = not negate
    return ignored


def declared_settings() -> set[str]:
    text = (REPO / "crawler" / "settings.py").read_text()
    return set(re.findall(r"^(CORPUS_\w+)\s*=", text, re.M))


def test_dockerfile_is_small_non_root_and_copies_what_exists():
    stages = dockerfile()
    assert stages and all(s["base"] == "python:3.11-slim" for s in stages if s["base"] not in {x["name"] for x in stages})
    final = stages[-1]
    names = {s["name"] for s in stages if s["name"]}
    steps = dict((w, r) for w, r in final["steps"])  # the last of each instruction in the final stage
    assert shlex.split(steps["ENTRYPOINT"].replace("[", "").replace("]", "").replace(",", " ")) == ["corpus"]
    assert "corpus" in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert steps["CMD"].replace(" ", "") == '["crawl"]'
    user = steps["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0, "USER must be a numeric non-root uid (runAsNonRoot checks it)"
    adduser = next(r for w, r in final["steps"] if w == "RUN" and "useradd" in r)
    assert f"--uid {user}" in adduser
    for stage in stages:
        for word, rest in stage["steps"]:
            if word in {"ENV", "ARG"}:
                assert not SECRETISH.search(rest), f"no credentials in the image: {rest}"
            if word != "COPY":
                continue
            args = shlex.split(rest)
            source_stage = next((a.split("=", 1)[1] for a in args if a.startswith("--from=")), None)
            paths = [a for a in args if not a.startswith("--")][:-1]
            assert paths
            if source_stage:
                assert source_stage in names
                continue
            for rel in paths:
                assert (REPO / rel).exists(), f"COPY {rel}: not in the repository"
                assert not dockerignored(rel), f"COPY {rel}: left out by Dockerfile.dockerignore"
    assert dockerignored(".venv") and dockerignored(".git") and dockerignored("tests")
    assert dockerignored("crawler/__pycache__")
    env = env_of(final)
    assert {k for k in env if k.startswith("CORPUS_")} <= declared_settings()
    # the runtime stage cannot run here (it adds a user to the system): it only sets up the user and /data
    for word, rest in final["steps"]:
        if word == "RUN":
            for command in re.split(r"&&", rest):
                assert command.split()[0] in {"groupadd", "useradd", "mkdir", "chown"}, command
            assert subprocess.run(["sh", "-n", "-c", rest]).returncode == 0


def test_dockerfile_build_stage_runs_in_a_fresh_venv(tmp_path, replay):
    """The build stage's RUN lines run as written, /opt/venv and /src mapped into tmp_path; `pip install`
    goes through uv (same resolution from uv's cache, seconds instead of half a minute) unless
    CORPUS_TEST_REAL_PIP=1. Both read this machine's configured package index (pip and uv settings
    from the environment), as `docker build` would. Then the image's ENV and WORKDIR, and a crawl of
    the replay web on 127.0.0.1."""
    stages = dockerfile()
    build = stages[0]
    root = tmp_path / "root"
    root.mkdir()

    def here(text: str) -> str:
        return re.sub(r"(?<![\w.])/(opt|src|data)\b", lambda m: f"{root}/{m.group(1)}", text)

    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)  # python:3.11-slim's `python`
    # this machine's package index settings (pip/uv config, certificates) carry over; nothing of ours
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{shims}:/usr/local/bin:/usr/bin:/bin"
    workdir = root
    for word, rest in build["steps"]:
        if word == "WORKDIR":
            workdir = Path(here(rest))
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "ENV":
            step = env_of({"steps": [(word, rest)]})
            if "PATH=" not in rest:
                step.pop("PATH")  # the shims' PATH stays
            env.update(step)
        elif word == "COPY":
            *sources, dest = shlex.split(rest)
            target = workdir / dest if not dest.startswith("/") else Path(here(dest))
            for rel in sources:
                src = REPO / rel
                to = target / src.name if dest.endswith("/") and src.is_file() else target
                if src.is_dir():
                    shutil.copytree(src, to, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
                else:
                    to.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, to)
        elif word == "RUN":
            done = subprocess.run(["sh", "-ec", here(rest)], cwd=workdir, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            pip = root / "opt" / "venv" / "bin" / "pip"
            if pip.exists() and not os.environ.get("CORPUS_TEST_REAL_PIP") and shutil.which("uv"):
                pip.unlink()
                pip.write_text(f'#!/bin/sh\n[ "$1" = install ] && shift\nexec {shutil.which("uv")} pip install '
                               f'--python {root}/opt/venv/bin/python $(printf "%s\\n" "$@" | grep -v -- --no-cache-dir)\n')
                pip.chmod(0o755)
    corpus = root / "opt" / "venv" / "bin" / "corpus"
    version = subprocess.run([corpus, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.split() == ["corpus", VERSION]
    assert "site-packages" in subprocess.run(
        [root / "opt" / "venv" / "bin" / "python", "-c", "import crawler; print(crawler.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60).stdout  # installed, not the checkout

    # the final stage: its COPY of the seeds, its ENV, its WORKDIR; a crawl of the replay web on 127.0.0.1
    final = stages[-1]
    for word, rest in final["steps"]:
        if word == "COPY" and "--from" not in rest:
            src, dest = shlex.split(rest)
            shutil.copytree(REPO / src, here(dest))
    image_env = {k: here(v) for k, v in env_of(final).items()}
    workdir = Path(here(dict(final["steps"])["WORKDIR"]))
    workdir.mkdir(parents=True)
    done = subprocess.run(["corpus", "crawl", "--replay", replay.url, "--allow-private", "rsis",
                           "--max-pages", "3", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
                           "-s", "CORPUS_OUTLET_POLITENESS=False"],
                          cwd=workdir, env=image_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == exitcodes.OK, done.stderr[-3000:]
    store = Path(image_env["CORPUS_STORE"])
    assert store.is_relative_to(root / "data")
    assert list((store / "corpus" / "docs").glob("*.json")), "the crawl stored nothing"
    assert sorted(p.name for p in (store / "seeds").iterdir()) == sorted(p.name for p in (REPO / "seeds").iterdir()
                                                                          if p.suffix in {".md", ".txt"})
    assert "seeds folder" not in done.stderr


# --- docker-compose.yml ---------------------------------------------------------------------------------
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def unescape(text: str) -> str:
    """Compose's interpolation: ``$$`` is a literal ``$``; ``${NAME:-default}`` the default here."""
    text = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m.group(2), text)
    return text.replace("$$", "$")


def test_compose_references_exist():
    doc = compose()
    services = doc["services"]
    volumes = set(doc.get("volumes") or {})
    ours = f"asean-russia-corpus:{VERSION}"
    assert {"s3", "crawl", "scheduler"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        if "build" in svc:
            context = (DEPLOY / svc["build"]["context"]).resolve()
            assert context == REPO and (context / svc["build"]["dockerfile"]).is_file()
            assert svc["image"] == ours
        else:
            image, _, tag = svc["image"].rpartition(":")
            assert image and tag and tag != "latest", f"{name}: pin the image ({svc['image']})"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            assert source in volumes, f"{name}: volume {source} is not declared"
        depends = svc.get("depends_on", [])
        for target in depends:
            assert target in services, f"{name} depends on an unknown service {target}"
        environment = svc.get("environment", {})
        assert isinstance(environment, dict)
        for key, value in environment.items():
            assert not key.startswith("CORPUS_") or key in declared_settings(), f"{name}: {key} is not a setting"
            for var in re.findall(r"(?<!\$)\$\{([^}]*)\}", str(value)):
                assert ":-" in var, f"{name}: ${{{var}}} has no default"
            if SECRETISH.search(key):
                assert "local-only" in str(value) and str(value).startswith("${"), \
                    f"{name}: {key} must come from the environment (placeholder for local moto only)"
    # the crawl's store is on the compose S3 server, in the bucket create-bucket makes
    crawl_env = services["crawl"]["environment"]
    assert crawl_env["AWS_ENDPOINT_URL"].startswith("http://s3:")
    assert services["s3"]["image"].startswith(("motoserver/moto:", "minio/minio:"))
    bucket = crawl_env["CORPUS_STORE"].removeprefix("s3://").split("/")[0]
    assert f'"{bucket}"' in services["create-bucket"]["command"][0]
    assert services["crawl"]["depends_on"]["create-bucket"]["condition"] == "service_completed_successfully"
    # every crawl is shared through Redis: the scheduler's run, the standing workers and the one-off crawl
    redis_host = crawl_env["CORPUS_REDIS_URL"].removeprefix("redis://").split(":")[0]
    assert redis_host in services and services[redis_host]["image"].startswith("redis:")
    assert "ports" not in services[redis_host], "Redis stays on the compose network"
    for name in ("crawl", "scheduler", "worker"):
        assert services[name]["depends_on"][redis_host]["condition"] == "service_healthy"
    assert services["worker"]["command"] == ["worker"] and services["worker"]["deploy"]["replicas"] >= 2


def test_compose_bucket_script_runs_against_an_s3_server(s3_endpoint):
    script = compose()["services"]["create-bucket"]["command"][0]
    env = {k: v for k, v in os.environ.items()}
    for _ in range(2):  # twice: the second run finds the bucket
        done = subprocess.run([sys.executable, "-c", unescape(script)], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
    import boto3

    names = [b["Name"] for b in boto3.client("s3", endpoint_url=s3_endpoint).list_buckets()["Buckets"]]
    assert "corpus" in names


def fake_corpus(folder: Path, code: int, marker: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "corpus"
    exe.write_text(f'#!/bin/sh\necho "$@" > {marker}\nexit {code}\n')
    exe.chmod(0o755)
    return exe


@pytest.mark.skipif(not shutil.which("flock"), reason="no flock(1)")
def test_compose_scheduler_refuses_overlap_and_shows_a_failed_run(tmp_path):
    svc = compose()["services"]["scheduler"]
    lines = unescape(svc["command"][0]).strip().splitlines()
    assert lines[0].strip() == "while :; do" and lines[-1].strip() == "done"
    body = "\n".join(lines[1:-1]).replace("/data/", f"{tmp_path}/")
    health = unescape(svc["healthcheck"]["test"][-1]).replace("/data/", f"{tmp_path}/")
    marker = tmp_path / "ran"
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "CRAWL_INTERVAL": "0"}

    def one_round(code: int):
        marker.unlink(missing_ok=True)
        fake_corpus(tmp_path / "bin", code, marker)
        done = subprocess.run(["sh", "-c", body], env=env, capture_output=True, text=True, timeout=30)
        healthy = subprocess.run(["sh", "-c", health], env=env, timeout=30).returncode == 0
        return done, healthy

    assert subprocess.run(["sh", "-c", health], timeout=30).returncode == 0  # no run yet: healthy
    done, healthy = one_round(exitcodes.STORE)
    assert f"exited {exitcodes.STORE}" in done.stdout and not healthy and marker.exists()
    assert marker.read_text().split()[:1] == ["crawl"]
    done, healthy = one_round(exitcodes.OK)
    assert f"exited {exitcodes.OK}" in done.stdout and healthy
    with open(tmp_path / "crawl.lock", "w") as held:  # a run still going holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        done, healthy = one_round(exitcodes.OK)
    assert f"exited {exitcodes.LOCKED}" in done.stdout and not healthy and not marker.exists()


# --- Kubernetes -------------------------------------------------------------------------------------------
def manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_kubernetes_cronjob_and_its_references():
    docs = manifests()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs)
    assert not any(d["kind"] == "Secret" for d in docs), "no Secret values in the repository"
    (cron,) = [d for d in docs if d["kind"] == "CronJob"]
    assert cron["apiVersion"] == "batch/v1"
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert len(spec["schedule"].split()) == 5
    job = spec["jobTemplate"]["spec"]
    assert 0 <= job["backoffLimit"] <= 2
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    uid = dict(dockerfile()[-1]["steps"])["USER"].split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True and str(pod["securityContext"]["runAsUser"]) == uid
    assert pod["terminationGracePeriodSeconds"] >= 60  # README: time to exit 5 on SIGTERM
    (container,) = pod["containers"]
    image, _, tag = container["image"].rpartition(":")
    assert image.endswith("/asean-russia-corpus") and tag == VERSION
    assert container["args"][0] == "crawl"
    assert {"requests", "limits"} <= set(container["resources"])
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][part])
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    volumes = {v["name"] for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts.values()) <= volumes
    if container["securityContext"].get("readOnlyRootFilesystem"):  # the image writes /data (HOME, spools) and /tmp
        assert {"/data", "/tmp"} <= set(mounts)
    for source in container.get("envFrom", []):
        assert ("ConfigMap", source["configMapRef"]["name"]) in kinds
    secrets = set()
    for var in container.get("env", []):
        if SECRETISH.search(var["name"]):
            assert "value" not in var, f"{var['name']}: by reference to a Secret only"
            secrets.add(var["valueFrom"]["secretKeyRef"]["name"])
    readme = (DEPLOY / "README.md").read_text()
    for name in secrets:
        assert f"kubectl create secret generic {name}" in readme, f"deploy/README.md: how to create {name}"
    # the failure policy names real exit codes; causes a retry cannot cure fail the Job at once
    rules = job["podFailurePolicy"]["rules"]
    fail_now = set()
    for rule in rules:
        if "onExitCodes" in rule:
            assert rule["onExitCodes"]["containerName"] == container["name"]
            assert set(rule["onExitCodes"]["values"]) <= set(exitcodes.NAMES)
            if rule["action"] == "FailJob":
                fail_now |= set(rule["onExitCodes"]["values"])
    assert {exitcodes.USAGE, exitcodes.STORE, exitcodes.LOCKED, exitcodes.INTERNAL} <= fail_now
    assert exitcodes.OK not in fail_now


def test_kubernetes_workers_and_redis_fit_together():
    """The worker Deployment runs `corpus worker` with the CronJob's settings and secrets; Redis is where
    CORPUS_REDIS_URL points, reachable by the CronJob's and the workers' pods only."""
    docs = manifests()
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    (deployment,) = by_kind["Deployment"]
    (cron,) = by_kind["CronJob"]
    (config,) = by_kind["ConfigMap"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert deployment["spec"]["replicas"] >= 2
    (worker,) = pod["spec"]["containers"]
    (crawl,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert worker["args"] == ["worker"] and worker["image"] == crawl["image"]
    assert worker["envFrom"] == crawl["envFrom"] and worker["env"] == crawl["env"]
    assert pod["spec"]["securityContext"] == cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["securityContext"]
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 60
    mounts = {m["mountPath"] for m in worker["volumeMounts"]}
    assert {"/data", "/tmp"} <= mounts and {v["name"] for v in pod["spec"]["volumes"]} >= {
        m["name"] for m in worker["volumeMounts"]}
    # CORPUS_REDIS_URL names the Service in front of the Redis StatefulSet
    host, _, port = config["data"]["CORPUS_REDIS_URL"].removeprefix("redis://").split("/")[0].partition(":")
    (service,) = [d for d in by_kind["Service"] if d["metadata"]["name"] == host]
    (redis_set,) = by_kind["StatefulSet"]
    assert service["spec"]["selector"].items() <= redis_set["spec"]["template"]["metadata"]["labels"].items()
    assert int(port) == service["spec"]["ports"][0]["port"]
    (redis_container,) = redis_set["spec"]["template"]["spec"]["containers"]
    assert redis_container["image"].startswith("redis:") and "noeviction" in redis_container["args"]
    # the NetworkPolicy lets exactly the crawl pods in: the CronJob's and the workers'
    (policy,) = by_kind["NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= redis_set["spec"]["template"]["metadata"]["labels"].items()
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items()
    assert allowed <= pod["metadata"]["labels"].items()
    assert allowed <= cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"].items()


def test_deployment_settings_are_accepted_by_corpus():
    """Every CORPUS_* value the deployment files set passes `corpus`'s own settings check (names, types)."""
    values = {}
    for doc in manifests():
        if doc["kind"] == "ConfigMap":
            values.update(doc["data"])
    for svc in compose()["services"].values():
        values.update({k: unescape(str(v)) for k, v in svc.get("environment", {}).items()})
    for line in (DEPLOY / "corpus-crawl.service").read_text().splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            values[name] = value
    values.update(env_of(dockerfile()[-1]))
    corpus_values = {k: v for k, v in values.items() if k.startswith("CORPUS_")}
    assert corpus_values and set(corpus_values) <= declared_settings()
    check = ("from crawler.commands.common import check_settings; from crawler.runner import project_settings; "
             "check_settings(project_settings({}), {})")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}, **corpus_values}
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    bad = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**env, "CORPUS_MAX_ERROR_RATE": "a tenth"})
    assert bad.returncode != 0 and "CORPUS_MAX_ERROR_RATE" in bad.stderr  # the check does check


# --- systemd and cron -------------------------------------------------------------------------------------
@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path):
    """`systemd-analyze verify` wants ExecStart to exist: the units are copied with it pointed at this
    checkout's `corpus`. Any warning about the units fails the test (verify alone exits 0 on them)."""
    corpus = Path(sys.executable).with_name("corpus")
    service = (DEPLOY / "corpus-crawl.service").read_text()
    exec_start = re.search(r"^ExecStart=(\S+)", service, re.M).group(1)
    assert exec_start.endswith("/bin/corpus") and re.search(r"^ExecStart=\S+ crawl\b", service, re.M)
    assert re.search(r"^Type=oneshot$", service, re.M)  # a timer never starts it again while it runs
    success = re.search(r"^SuccessExitStatus=(.*)$", service, re.M)
    assert success is None or set(map(int, success.group(1).split())) <= {exitcodes.INTERRUPTED}
    (tmp_path / "corpus-crawl.service").write_text(
        service.replace(exec_start, os.fspath(corpus)).replace("WorkingDirectory=/opt/asean-russia-corpus",
                                                                f"WorkingDirectory={tmp_path}"))
    shutil.copy(DEPLOY / "corpus-crawl.timer", tmp_path)
    done = subprocess.run(["systemd-analyze", "verify", "corpus-crawl.service", "corpus-crawl.timer"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if "corpus-crawl" in line]
    assert not complaints, complaints
    # and verify does catch a broken unit here
    (tmp_path / "corpus-crawl.service").write_text(service)
    assert subprocess.run(["systemd-analyze", "verify", "corpus-crawl.service"], cwd=tmp_path,
                          capture_output=True, timeout=60).returncode != 0


def cron_jobs() -> list[tuple[list[str], str]]:
    jobs = []
    for line in (DEPLOY / "crontab.example").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"^\w+=", line):
            continue
        fields = line.split(None, 5)
        jobs.append((fields[:5], fields[5]))
    return jobs


def test_crontab_line_parses():
    jobs = cron_jobs()
    assert len(jobs) == 1
    (times, command), = jobs
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for field, (low, high) in zip(times, ranges):
        for part in field.split(","):
            base, _, step = part.partition("/")
            assert not step or step.isdigit()
            if base != "*":
                for number in base.split("-"):
                    assert low <= int(number) <= high, field
    assert "%" not in command  # cron turns % into a newline
    words = shlex.split(command)
    assert words[words.index("flock") + 1] == "-n"
    assert subprocess.run(["sh", "-n", "-c", command]).returncode == 0


@pytest.mark.skipif(not shutil.which("flock"), reason="no flock(1)")
def test_crontab_line_refuses_overlap_and_reports_failure(tmp_path):
    """The cron command run by sh as cron would, /opt/asean-russia-corpus and the lock file moved into
    tmp_path, `.venv/bin/corpus` a stand-in that exits with a chosen status."""
    (_, command), = cron_jobs()
    lock = re.search(r"flock -n(?: -E \d+)? (\S+)", command).group(1)
    command = command.replace("/opt/asean-russia-corpus", os.fspath(tmp_path)).replace(lock, f"{tmp_path}/crawl.lock")
    marker = tmp_path / "ran"
    env = {"PATH": "/usr/bin:/bin"}

    def run(code: int):
        marker.unlink(missing_ok=True)
        fake_corpus(tmp_path / ".venv" / "bin", code, marker)
        return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=30)

    done = run(exitcodes.OK)
    assert done.returncode == 0 and done.stdout == "" and marker.exists()  # nothing to mail
    done = run(exitcodes.DISCOVERY)
    assert done.returncode == exitcodes.DISCOVERY and f"exit {exitcodes.DISCOVERY}" in done.stdout
    with open(tmp_path / "crawl.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = run(exitcodes.OK)
    assert done.returncode == exitcodes.LOCKED and f"exit {exitcodes.LOCKED}" in done.stdout
    assert not marker.exists()  # the overlapping run never started
