"""The Python API, run against each backend: embedded (SQLite, and PostgreSQL when
configured) and remote (a real `works serve`)."""

from __future__ import annotations

import os
import pickle
import signal
import threading
from datetime import datetime, timedelta, timezone

import pytest

import works
from conftest import ADMIN_PASSWORD, USER_PASSWORD, Backend, unique


def assert_aware_and_recent(at: datetime) -> None:
    assert isinstance(at, datetime)
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0), at
    assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5), at


def test_whoami_is_the_signed_in_admin(client: works.Client, backend: Backend) -> None:
    me = client.whoami()
    assert isinstance(me, works.User)
    assert (me.username, me.role, me.org_id, me.disabled) == ("admin", "msp_admin", None, False)
    assert client.mode == ("remote" if backend.mode == "remote" else "embedded")


def test_organizations_are_created_listed_read_renamed_and_archived(client: works.Client) -> None:
    name = unique("Acme Dental")
    org = client.orgs.create(f"  {name}  ")
    assert isinstance(org, works.Org)
    assert org.name == name
    assert org.archived_at is None and org.archived is False
    assert_aware_and_recent(org.created_at)
    assert client.orgs.get(org.id) == org

    renamed = client.orgs.rename(org.id, name + " Group")
    assert renamed.id == org.id and renamed.name == name + " Group"
    assert renamed.updated_at >= org.updated_at
    assert client.orgs.get(org.id) == renamed
    assert renamed in list(client.orgs.list())

    archived = client.orgs.archive(org.id)
    assert archived.archived is True
    assert_aware_and_recent(archived.archived_at)
    assert org.id not in {o.id for o in client.orgs.list()}
    assert archived in list(client.orgs.list(include_archived=True))

    with pytest.raises(works.Conflict) as clash:
        client.orgs.archive(org.id)
    assert "already archived" in str(clash.value)


def test_bad_input_names_the_field(client: works.Client) -> None:
    with pytest.raises(works.InvalidInput) as e:
        client.orgs.create("   ")
    err = e.value
    assert isinstance(err, works.WorksError)
    assert err.field == "name"
    assert str(err) == "name: must not be empty"
    assert err.kind == "invalid_input"
    assert err.next_action == "Correct the named field and try again."

    with pytest.raises(works.InvalidInput) as e:
        client.orgs.create("x" * 101)
    assert e.value.field == "name"

    with pytest.raises(works.InvalidInput) as e:
        client.users.create(unique("u").lower(), role="wizard", password=USER_PASSWORD)
    assert e.value.field == "role"
    assert "msp_admin, msp_operator, org_admin, org_user" in str(e.value)

    with pytest.raises(works.InvalidInput) as e:
        client.users.create(unique("u").lower(), role="msp_operator", password="short")
    assert e.value.field == "password"

    with pytest.raises(works.InvalidInput) as e:
        list(client.audit.query(outcome="maybe"))
    assert e.value.field == "outcome"


def test_a_duplicate_name_is_a_conflict_on_that_field(client: works.Client) -> None:
    name = unique("Bayside Law")
    client.orgs.create(name)
    with pytest.raises(works.Conflict) as e:
        client.orgs.create(name.upper())
    assert e.value.field == "name"
    assert e.value.next_action == "Choose a different value, or refresh to see the current state."


def test_users_with_roles(client: works.Client, backend: Backend) -> None:
    org = client.orgs.create(unique("Acme"))
    admin_name, user_name = unique("alice").lower(), unique("bob").lower()
    alice = client.users.create(
        admin_name, role="org_admin", password=USER_PASSWORD, org_id=org.id, display_name="Alice Smith"
    )
    bob = client.users.create(user_name, role="org_user", password=USER_PASSWORD, org_id=org.id)
    assert (alice.role, alice.org_id, alice.display_name) == ("org_admin", org.id, "Alice Smith")
    assert (bob.role, bob.display_name) == ("org_user", user_name)
    assert_aware_and_recent(bob.created_at)
    assert client.users.get(alice.id) == alice
    assert {u.username for u in client.users.list(org_id=org.id)} == {admin_name, user_name}

    # The org admin manages their own organization's users.
    as_alice = backend.as_user(admin_name, USER_PASSWORD)
    assert as_alice.whoami() == alice
    renamed = as_alice.users.update(bob.id, display_name="Bob Jones")
    assert renamed.display_name == "Bob Jones" and renamed.role == "org_user"
    promoted = client.users.update(bob.id, role="org_admin", org_id=org.id)
    assert promoted.role == "org_admin"

    disabled = client.users.disable(bob.id)
    assert disabled.disabled is True
    assert bob.id not in {u.id for u in client.users.list(org_id=org.id)}
    assert disabled in list(client.users.list(org_id=org.id, include_disabled=True))
    with pytest.raises(works.Unauthenticated):
        backend.as_user(user_name, USER_PASSWORD).whoami()
    assert client.users.enable(bob.id).disabled is False

    reset = client.users.reset_password(bob.id)
    assert reset.user.id == bob.id
    assert reset.generated_password is not None and len(reset.generated_password) >= 10
    assert reset.generated_password not in repr(reset)
    assert backend.as_user(user_name, reset.generated_password).whoami().id == bob.id
    chosen = client.users.reset_password(bob.id, "another-chosen-password")
    assert chosen.generated_password is None
    assert backend.as_user(user_name, "another-chosen-password").whoami().id == bob.id


def test_tokens_are_shown_once_and_stop_working_when_revoked(client: works.Client, backend: Backend) -> None:
    created = client.tokens.create("nightly report", expires_in_days=30)
    assert isinstance(created, works.CreatedToken)
    assert created.token.startswith("wkt_") and created.token.startswith(created.info.prefix)
    assert created.token not in repr(created)
    info = created.info
    assert info.name == "nightly report" and info.revoked_at is None and info.revoked is False
    assert info.expires_at is not None and info.expires_at - info.created_at == timedelta(days=30)
    assert_aware_and_recent(info.created_at)

    listed = {t.id: t for t in client.tokens.list()}
    assert info.id in listed and not hasattr(listed[info.id], "token")

    as_token = backend.with_token(created.token)
    assert as_token.whoami() == client.whoami()
    with pytest.raises(works.Conflict):
        as_token.logout()  # a token is revoked, not signed out

    revoked = client.tokens.revoke(info.id)
    assert revoked.id == info.id and revoked.revoked is True
    assert_aware_and_recent(revoked.revoked_at)
    with pytest.raises(works.Unauthenticated) as e:
        backend.with_token(created.token).whoami()
    assert e.value.next_action == "Sign in again, or use a valid API token."
    with pytest.raises(works.Conflict):
        client.tokens.revoke(info.id)

    with pytest.raises(works.InvalidInput) as bad:
        client.tokens.create("forever and a day", expires_in_days=0)
    assert bad.value.field == "expires_in_days"


def test_audit_query_and_verify(client: works.Client) -> None:
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    org = client.orgs.create(unique("Audited"))
    records = list(client.audit.query(action="org.create", target_id=org.id))
    assert len(records) == 1
    record = records[0]
    assert isinstance(record, works.AuditRecord)
    assert (record.action, record.outcome, record.target_kind, record.org_id) == ("org.create", "succeeded", "org", org.id)
    assert record.actor_name.startswith("admin")
    assert org.name in record.reason
    assert_aware_and_recent(record.at)
    assert len(record.hash) == 64 and len(record.prev_hash) == 64

    with pytest.raises(works.NotFound):
        client.orgs.get("0000-no-such-org")
    denied = list(client.audit.query(outcome="denied", since=started))
    assert any(r.target_id == "0000-no-such-org" for r in denied)
    assert all(r.outcome == "denied" and r.at >= started.replace(microsecond=0) for r in denied)
    assert list(client.audit.query(since=datetime.now(timezone.utc) + timedelta(hours=1))) == []
    family = list(client.audit.query(action="org.", limit=5))
    assert family and all(r.action.startswith("org.") for r in family)

    verification = client.audit.verify()
    assert isinstance(verification, works.AuditVerification)
    assert verification.intact is True
    assert verification.checked >= record.seq
    assert (verification.broken_at_seq, verification.problem) == (None, None)


def test_other_tenants_records_are_not_found_and_org_roles_are_forbidden(client: works.Client, backend: Backend) -> None:
    a = client.orgs.create(unique("Tenant A"))
    b = client.orgs.create(unique("Tenant B"))
    admin_a, user_a, admin_b = unique("admin-a").lower(), unique("user-a").lower(), unique("admin-b").lower()
    client.users.create(admin_a, role="org_admin", password=USER_PASSWORD, org_id=a.id)
    client.users.create(user_a, role="org_user", password=USER_PASSWORD, org_id=a.id)
    in_b = client.users.create(admin_b, role="org_admin", password=USER_PASSWORD, org_id=b.id)

    as_admin_a = backend.as_user(admin_a, USER_PASSWORD)
    assert as_admin_a.orgs.get(a.id) == a
    with pytest.raises(works.NotFound) as other:
        as_admin_a.orgs.get(b.id)
    with pytest.raises(works.NotFound) as missing:
        as_admin_a.orgs.get("no-such-org")
    # Another tenant's record reads exactly like one that does not exist.
    assert str(other.value).replace(b.id, "X") == str(missing.value).replace("no-such-org", "X")
    with pytest.raises(works.NotFound):
        as_admin_a.users.get(in_b.id)
    with pytest.raises(works.NotFound):
        as_admin_a.orgs.rename(b.id, "Taken over")
    assert [o.id for o in as_admin_a.orgs.list()] == [a.id]
    assert {u.org_id for u in as_admin_a.users.list()} == {a.id}
    with pytest.raises(works.Forbidden):
        as_admin_a.users.create(unique("boss").lower(), role="msp_admin", password=USER_PASSWORD)
    with pytest.raises(works.Forbidden):
        as_admin_a.audit.verify()

    as_user_a = backend.as_user(user_a, USER_PASSWORD)
    with pytest.raises(works.Forbidden) as refused:
        as_user_a.orgs.create(unique("Shadow IT"))
    assert refused.value.next_action == "Ask an administrator with the right role to do this."
    assert str(refused.value)

    # Both refusals are in the audit log, which tenant A's admin can read for tenant A only.
    seen = list(as_admin_a.audit.query(outcome="denied"))
    assert {r.org_id for r in seen} <= {a.id}
    assert any(r.action == "org.get" and r.target_id == b.id for r in seen)


def test_lists_page_transparently(client: works.Client) -> None:
    prefix = unique("Paged")
    created = [client.orgs.create(f"{prefix} {i}") for i in range(5)]
    mine = [o for o in client.orgs.list(page_size=2) if o.name.startswith(prefix)]
    assert mine == created  # five records came over three or more pages of two, in order

    calls: list[tuple[object, int]] = []
    native_list = client._native.org_list

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(client._native, name)

        def org_list(self, include_archived: bool, offset: int | None, limit: int | None) -> object:
            calls.append((offset, limit))
            return native_list(include_archived, offset, limit)

    counted = works.Orgs(Counting())  # type: ignore[arg-type]
    first_three = list(counted.list(page_size=2, limit=3))
    assert len(first_three) == 3
    assert calls == [(None, 2), (2, 1)]

    records = list(client.audit.query(page_size=2, limit=5))
    assert len(records) == 5
    assert [r.seq for r in records] == sorted((r.seq for r in records), reverse=True)
    assert len({r.seq for r in records}) == 5

    # The first page is fetched by the call itself, so a refusal is raised there.
    with pytest.raises(works.InvalidInput) as e:
        client.orgs.list(page_size=0)
    assert e.value.field == "limit"


def test_calls_from_eight_threads_at_once(client: works.Client) -> None:
    prefix = unique("Threaded")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    made: list[works.Org] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(3):
                org = client.orgs.create(f"{prefix} {n}-{i}")
                assert client.orgs.get(org.id) == org
                with lock:
                    made.append(org)
            client.whoami()
            list(client.audit.query(limit=3))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(made) == 24
    listed = {o.id for o in client.orgs.list() if o.name.startswith(prefix)}
    assert listed == {o.id for o in made}


def test_repr_is_readable(client: works.Client, backend: Backend) -> None:
    name = unique("Repr & Co's")
    org = client.orgs.create(name)
    text = repr(org)
    assert text.startswith(f"Org(id='{org.id}', name=")
    assert repr(name) in text
    assert "archived_at=None" in text
    assert repr(client.whoami()).startswith("User(id=") and "role='msp_admin'" in repr(client.whoami())
    created = client.tokens.create("repr check")
    assert "ApiToken(id=" in repr(created) and created.token not in repr(created)
    assert "intact=True" in repr(client.audit.verify())
    assert repr(next(client.audit.query(limit=1))).startswith("AuditRecord(seq=")
    if backend.mode == "remote":
        assert repr(client) == f"<works.Client remote {backend.server_url!r}>"
    else:
        assert repr(client) == "<works.Client embedded as 'admin'>"


def test_records_are_frozen_and_hashable(client: works.Client) -> None:
    org = client.orgs.create(unique("Frozen"))
    with pytest.raises(AttributeError):
        org.name = "changed"  # type: ignore[misc]
    assert {org, client.orgs.get(org.id)} == {org}
    assert type(org).__module__ == "works"


def test_logout_ends_a_signed_in_session(backend: Backend) -> None:
    if backend.mode != "remote":
        with pytest.raises(works.Conflict) as e:
            backend.admin.logout()
        assert "Only a signed-in session can sign out" in str(e.value)
        return
    session = backend.as_user("admin", ADMIN_PASSWORD)
    assert session.whoami().username == "admin"
    session.logout()
    with pytest.raises(works.Unauthenticated):
        session.whoami()


def test_a_forked_child_reconnects_on_its_own(client: works.Client) -> None:
    client.whoami()  # the parent's runtime and connections exist before the fork
    name = unique("Forked")
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            signal.alarm(30)
            if client.orgs.create(name).name == name and client.whoami().username == "admin":
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert name in {o.name for o in client.orgs.list()}
    assert client.whoami().username == "admin"


def test_children_forked_one_after_another_each_reconnect(client: works.Client, backend: Backend) -> None:
    # Before a fork the client's runtime stops its threads: a thread caught inside a
    # lock of the runtime (parking_lot's table) left the child hanging or crashing on
    # its first call, with PostgreSQL most forks. SQLite connections are kept by the
    # parent across forks; a child can still inherit a lock of SQLite's shared state
    # for the file held by the parent's connection thread (rarely, right after a call),
    # so SQLite is left out here: the single fork above covers it.
    if backend.mode == "embedded":
        pytest.skip("SQLite: see the comment; covered by test_a_forked_child_reconnects_on_its_own")
    names = []
    for n in range(5):
        client.whoami()
        name = unique(f"Fork{n}")
        names.append(name)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.alarm(30)
                if client.orgs.create(name).name == name:
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, f"fork {n}"
    seen = {o.name for o in client.orgs.list()}
    assert set(names) <= seen


def test_the_exception_tree() -> None:
    kinds = {
        works.NotFound: "not_found",
        works.Forbidden: "forbidden",
        works.InvalidInput: "invalid_input",
        works.Conflict: "conflict",
        works.Unauthenticated: "unauthenticated",
        works.RateLimited: "rate_limited",
        works.Unavailable: "unavailable",
        works.InternalError: "internal",
    }
    for cls, kind in kinds.items():
        assert issubclass(cls, works.WorksError) and cls.kind == kind
    err = works.InvalidInput("name: must not be empty", field="name", next_action="Fix it.")
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), str(copy), copy.field, copy.next_action) == (works.InvalidInput, str(err), "name", "Fix it.")
    assert works.RateLimited("slow down", retry_after=900).retry_after == 900
