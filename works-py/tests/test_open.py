"""Opening a database and connecting to a server: first start, and what goes wrong."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import warnings
from importlib import resources
from pathlib import Path

import pytest

import works
from conftest import ADMIN_PASSWORD, Server


def test_first_start_shows_a_generated_password_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKS_ADMIN_PASSWORD")
    url = f"sqlite://{tmp_path}/first.db"
    with pytest.warns(works.FirstStart) as caught:
        client = works.open(url)
    password = client.generated_admin_password
    assert password is not None and len(password) >= 10
    # Only the first-start notice counts: another library's warning (a resource
    # collected meanwhile) may be recorded too.
    first = [w for w in caught if issubclass(w.category, works.FirstStart)]
    assert len(first) == 1, [str(w.message) for w in caught]
    assert str(first[0].message) == (
        f"First start: created the MSP admin 'admin' with password {password}; it will not be shown again."
    )
    assert client.whoami().role == "msp_admin"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = works.open(url)
    assert again.generated_admin_password is None


def test_first_start_with_a_given_password(tmp_path: Path, server: Server) -> None:
    with pytest.warns(works.FirstStart, match="with the given admin_password"):
        client = works.open(f"sqlite://{tmp_path}/given.db", admin_password="a-given-admin-password")
    assert client.generated_admin_password is None
    with pytest.warns(works.FirstStart, match="with the password from WORKS_ADMIN_PASSWORD"):
        works.open(f"sqlite://{tmp_path}/from-env.db")
    with pytest.raises(works.InvalidInput) as e:
        works.open(f"sqlite://{tmp_path}/weak.db", admin_password="short")
    assert e.value.field == "WORKS_ADMIN_PASSWORD"


def test_opening_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(works.InvalidInput) as e:
        works.open("mysql://db.invalid/works")
    assert e.value.field == "database"
    with pytest.warns(works.FirstStart):
        works.open(f"sqlite://{tmp_path}/w.db")
    with pytest.raises(works.InvalidInput) as e:
        works.open(f"sqlite://{tmp_path}/w.db", as_user="nobody")
    assert e.value.field == "as" and "no user named nobody" in str(e.value)
    with pytest.raises(works.InvalidInput) as e:
        works.open(f"sqlite://{tmp_path}/w.db", as_user="admin", token="wkt_x")
    assert e.value.field == "token"
    with pytest.raises(works.Unauthenticated):
        works.open(f"sqlite://{tmp_path}/w.db", token="wkt_not_a_real_token")


def test_connecting_errors(server: Server) -> None:
    with pytest.raises(works.InvalidInput) as e:
        works.connect("not an address", token="wkt_x")
    assert e.value.field == "server"
    with pytest.raises(works.Unauthenticated) as missing:
        works.connect(server.url)
    assert "pass token=" in str(missing.value)
    with pytest.raises(works.InvalidInput) as e:
        works.connect(server.url, username="admin")
    assert e.value.field == "password"
    with pytest.raises(works.InvalidInput) as e:
        works.connect(server.url, token="wkt_x", username="admin", password=ADMIN_PASSWORD)
    assert e.value.field == "token"
    with pytest.raises(works.Unauthenticated) as wrong:
        works.connect(server.url, username="admin", password="not the password at all")
    assert str(wrong.value) == "The username or password is not correct."
    with pytest.raises(works.Unauthenticated):
        works.connect(server.url, token="wkt_not_a_real_token").whoami()


def test_a_token_from_the_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = works.connect(server.url, username="admin", password=ADMIN_PASSWORD)
    monkeypatch.setenv("WORKS_TOKEN", admin.tokens.create("from the environment").token)
    assert works.connect(server.url).whoami().username == "admin"


def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = works.connect(f"http://127.0.0.1:{port}", token="wkt_x")
    with pytest.raises(works.Unavailable) as e:
        client.whoami()
    assert str(e.value).startswith(f"Cannot reach the Anthropy Works server at http://127.0.0.1:{port}")


def test_the_package_is_typed_and_documented() -> None:
    package = resources.files("works")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("_works.pyi").is_file()
    assert works.__version__
    for namespace in (works.Client, works.Orgs, works.Users, works.Tokens, works.Audit):
        for name, member in vars(namespace).items():
            if callable(member) and not name.startswith("_"):
                assert member.__doc__, f"{namespace.__name__}.{name} has no docstring"
    assert works.open.__doc__ and works.connect.__doc__
    for record in (works.Org, works.User, works.ApiToken, works.CreatedToken, works.AuditRecord):
        assert record.__doc__


def test_ctrl_c_interrupts_a_call_that_waits() -> None:
    # Ctrl-C as an interactive interpreter takes it, whatever this process inherited: a
    # process started in the background by a non-interactive shell starts with SIGINT
    # ignored, and would then wait out the client's timeout instead.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    # A server that accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = works.connect(f"http://127.0.0.1:{silent.getsockname()[1]}", token="wkt_x")
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        started = time.monotonic()
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.whoami()
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, previous)
        assert time.monotonic() - started < 10


def test_a_waiting_call_lets_other_threads_run(server: Server) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    stuck = works.connect(f"http://127.0.0.1:{silent.getsockname()[1]}", token="wkt_x")
    outcome: list[BaseException] = []

    def wait_for_the_silent_server() -> None:
        try:
            stuck.whoami()
        except BaseException as e:  # noqa: BLE001 - checked below
            outcome.append(e)

    started = time.monotonic()
    waiting = threading.Thread(target=wait_for_the_silent_server)
    waiting.start()
    time.sleep(0.3)
    assert waiting.is_alive()
    # While that thread waits inside a call, this one runs Python and makes calls.
    assert works.connect(server.url, username="admin", password=ADMIN_PASSWORD).whoami().username == "admin"
    silent.close()  # the waiting connection is reset
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], works.Unavailable), outcome
    assert time.monotonic() - started < 20


def _checked_in_seconds_ago(db_file: Path, node_id: str, seconds: int) -> None:
    """Stands in for an agent that enrolled and last checked in `seconds` ago."""
    import sqlite3
    from contextlib import closing

    at = int(time.time() * 1000) - seconds * 1000
    with closing(sqlite3.connect(db_file, timeout=30)) as db, db:
        changed = db.execute(
            "UPDATE nodes SET enrolled_at = ?, last_checkin_at = ? WHERE id = ?", (at, at, node_id)
        ).rowcount
        assert changed == 1


def test_open_honours_the_node_thresholds_of_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_file = tmp_path / "thresholds.db"
    url = f"sqlite://{db_file}"
    with pytest.warns(works.FirstStart):
        client = works.open(url)
    node = client.nodes.create("quiet-web-01")
    _checked_in_seconds_ago(db_file, node.id, 30)
    issue_ids = lambda c: {i.id for i in c.health().issues}  # noqa: E731

    # By default (as `works serve` and `works health`), 30 seconds is online.
    assert works.open(url).nodes.get(node.id).status == "online"
    assert f"node-stale:{node.id}" not in issue_ids(works.open(url))

    monkeypatch.setenv("WORKS_NODE_STALE_AFTER_SECS", "10")
    monkeypatch.setenv("WORKS_NODE_OFFLINE_AFTER_SECS", "3600")
    stale = works.open(url)
    assert stale.nodes.get(node.id).status == "stale"
    assert f"node-stale:{node.id}" in issue_ids(stale)

    monkeypatch.setenv("WORKS_NODE_OFFLINE_AFTER_SECS", "10")
    offline = works.open(url)
    assert offline.nodes.get(node.id).status == "offline"
    report = offline.health()
    issue = next(i for i in report.issues if i.id == f"node-offline:{node.id}")
    assert (issue.severity, report.state, report.code) == ("critical", "critical", 2)  # its only node is offline

    monkeypatch.setenv("WORKS_NODE_OFFLINE_AFTER_SECS", "5")
    with pytest.raises(works.InvalidInput) as e:
        works.open(url)
    assert e.value.field == "WORKS_NODE_OFFLINE_AFTER_SECS"
    assert "at least the stale threshold (10 seconds)" in str(e.value)
    monkeypatch.setenv("WORKS_NODE_STALE_AFTER_SECS", "ninety")
    with pytest.raises(works.InvalidInput) as e:
        works.open(url)
    assert e.value.field == "WORKS_NODE_STALE_AFTER_SECS"
    monkeypatch.setenv("WORKS_NODE_STALE_AFTER_SECS", "0")
    with pytest.raises(works.InvalidInput) as e:
        works.open(url)
    assert e.value.field == "WORKS_NODE_STALE_AFTER_SECS"
    # A client opened earlier keeps the thresholds it was opened with.
    assert stale.nodes.get(node.id).status == "stale"
