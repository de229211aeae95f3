"""Fixtures: the same tests run against a database opened directly (embedded: SQLite,
and PostgreSQL when WORKS_TEST_POSTGRES_URL is set) and against a real `works serve`
process (remote)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import works

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-password-for-tests"
USER_PASSWORD = "user-password-for-tests"
POSTGRES_URL_VAR = "WORKS_TEST_POSTGRES_URL"
RUNNING = re.compile(r"Anthropy Works is running at (http://\S+)")

# The variables a `works` process or `works.open` would otherwise pick up from the
# environment of whoever runs the tests.
_SCRUBBED = ("WORKS_DATABASE_URL", "WORKS_SERVER", "WORKS_TOKEN", "WORKS_DATA_DIR", "WORKS_LISTEN")


def works_bin() -> Path:
    path = Path(os.environ.get("WORKS_BIN", "target/debug/works"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.fail(f"The works binary is missing at {path}: build it with `cargo build -p works-cli` or set WORKS_BIN.")
    return path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD)


_counter = itertools.count()


def unique(prefix: str) -> str:
    """A name no other test uses, on a server shared by many tests."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}-{secrets.token_hex(3)}"


class Server:
    """A `works serve` process on 127.0.0.1 with a port the OS picked."""

    def __init__(self, data_dir: Path, database_url: str | None = None, env: dict[str, str] | None = None) -> None:
        args = [str(works_bin())]
        if database_url is not None:
            args += ["--database", database_url]
        else:
            args += ["--data-dir", str(data_dir)]
        args += ["serve", "--listen", "127.0.0.1:0"]
        self.output: list[str] = []
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=clean_env(WORKS_ADMIN_PASSWORD=ADMIN_PASSWORD, WORKS_LOG="warn", **(env or {})),
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        self.url = self._wait_for_address(lines)

    def _wait_for_address(self, lines: queue.Queue[str | None]) -> str:
        while True:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                self.stop()
                pytest.fail("works serve did not say where it is running within 60 seconds:\n" + "".join(self.output))
            if line is None:
                self.stop()
                pytest.fail("works serve exited before it was running:\n" + "".join(self.output))
            match = RUNNING.search(line)
            if match:
                return match.group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def fresh_postgres_database() -> str:
    """A new, empty database on the test PostgreSQL server; its URL."""
    admin_url = os.environ[POSTGRES_URL_VAR].strip()
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail(f"{POSTGRES_URL_VAR} is set but psql is not installed to create a test database.")
    name = f"works_py_{secrets.token_hex(6)}"
    subprocess.run(
        [psql, admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", f"CREATE DATABASE {name}"],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Backend:
    """Where a test's calls go, and how it gets clients acting as other principals."""

    mode: str
    admin: works.Client
    as_user: Callable[[str, str], works.Client]
    with_token: Callable[[str], works.Client]
    server_url: str | None = None
    database_url: str | None = None


def embedded_backend(mode: str, database_url: str) -> Backend:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", works.FirstStart)  # test_open.py checks it
        admin = works.open(database_url, admin_password=ADMIN_PASSWORD)
    return Backend(
        mode=mode,
        admin=admin,
        # Opening the database is having its keys: the password is not needed.
        as_user=lambda username, _password: works.open(database_url, as_user=username),
        with_token=lambda token: works.open(database_url, token=token),
        database_url=database_url,
    )


def remote_backend(server: Server) -> Backend:
    url = server.url
    return Backend(
        mode="remote",
        admin=works.connect(url, username="admin", password=ADMIN_PASSWORD),
        as_user=lambda username, password: works.connect(url, username=username, password=password),
        with_token=lambda token: works.connect(url, token=token),
        server_url=url,
    )


def _postgres_configured() -> bool:
    """Whether to run the embedded tests on PostgreSQL too. As in the Rust suites, CI
    never skips PostgreSQL silently: there a missing server is an error."""
    if os.environ.get(POSTGRES_URL_VAR, "").strip():
        return True
    ci = os.environ.get("CI", "").strip()
    if ci and ci != "0" and ci.lower() != "false":
        raise pytest.UsageError(
            f"{POSTGRES_URL_VAR} is not set, but CI is: PostgreSQL tests must not be skipped in CI. "
            'Start a server with `eval "$(scripts/test-postgres start)"` first.'
        )
    return False


BACKENDS = ["embedded", "remote"] + (["embedded-postgres"] if _postgres_configured() else [])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("server-data"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return fresh_postgres_database()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "remote":
        return remote_backend(request.getfixturevalue("server"))
    if request.param == "embedded-postgres":
        return embedded_backend("embedded-postgres", request.getfixturevalue("postgres_url"))
    return embedded_backend("embedded", f"sqlite://{tmp_path}/works.db")


@pytest.fixture
def client(backend: Backend) -> works.Client:
    """An MSP admin."""
    return backend.admin


@pytest.fixture
def agent_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """Where a node's agent reaches the backend's database: the remote backend's
    server, or a `works serve` started on the embedded backend's database."""
    if backend.server_url is not None:
        yield backend.server_url
        return
    assert backend.database_url is not None
    running = Server(tmp_path / "agent-server", database_url=backend.database_url)
    yield running.url
    running.stop()


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """One HTTP request with a JSON body; the status and the decoded JSON answer."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def enroll(server_url: str, enrollment_token: str) -> tuple[int, Any]:
    return http_json(
        "POST",
        f"{server_url}/api/v1/agent/enroll",
        {"token": enrollment_token, "hostname": "test-host", "agent_version": "test"},
    )


HEALTH = {
    "uptime_secs": 86400,
    "load1": 0.25,
    "memory_total_bytes": 8 * 1024**3,
    "memory_available_bytes": 3 * 1024**3,
    "disk_total_bytes": 100 * 1024**3,
    "disk_available_bytes": 40 * 1024**3,
    "agent_version": "0.1.0-test",
    "docker_reachable": True,
    "docker_version": "27.3.1",
}


class Agent:
    """A node's agent, reduced to the HTTP calls the real one makes: enrolled with a
    one-time token, then checking in and working through its node's jobs."""

    def __init__(self, server_url: str, enrollment_token: str) -> None:
        self.url = server_url
        status, body = enroll(server_url, enrollment_token)
        assert status == 200, body
        self.node_id: str = body["node_id"]
        self.credential: str = body["credential"]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, f"{self.url}/api/v1/agent/{path}", body, token=self.credential)

    def check_in(self, containers: list[dict[str, Any]] | None = None, **health: Any) -> int:
        status, body = self.call("POST", "checkin", {"health": {**HEALTH, **health}, "containers": containers})
        assert status in (200, 401), body
        return status

    def claim(self) -> dict[str, Any] | None:
        status, body = self.call("POST", "jobs/claim")
        assert status in (200, 204), body
        return body if status == 200 else None

    def finish(
        self,
        job_id: str,
        *,
        succeeded: bool,
        result: Any = None,
        output: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        status, body = self.call("POST", f"jobs/{job_id}/start")
        assert status == 200, body
        report = {"succeeded": succeeded, "result": result, "output": output, "reason": reason}
        status, body = self.call("POST", f"jobs/{job_id}/complete", report)
        assert status == 200, body
        return body


def run_python(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        timeout=timeout,
        env=env if env is not None else clean_env(),
    )


# The master key of the PostgreSQL backend, which has no key file beside it.
SEALING_MASTER_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def sealing(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> works.Client:
    """An MSP admin whose backend can seal secrets (SSH keys, connection credentials,
    webhook signing secrets): a SQLite database keeps its master key in a file beside
    it, a server has its own, PostgreSQL takes it from WORKS_MASTER_KEY."""
    if backend.mode == "embedded-postgres":
        assert backend.database_url is not None
        monkeypatch.setenv("WORKS_MASTER_KEY", SEALING_MASTER_KEY)
        return works.open(backend.database_url)
    return backend.admin
