"""Nodes, their agents and their jobs, run against each backend: embedded (SQLite, and
PostgreSQL when configured) and remote (a real `works serve`). Where an agent takes
part, it talks to a real server on the same database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import works
from conftest import HEALTH, USER_PASSWORD, Agent, Backend, enroll, unique


def assert_aware_and_recent(at: datetime | None) -> None:
    assert isinstance(at, datetime)
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0), at
    assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5), at


def node_name(prefix: str) -> str:
    return unique(prefix).lower()


def test_nodes_are_created_listed_read_renamed_and_retired(client: works.Client) -> None:
    org = client.orgs.create(unique("Acme Dental"))
    name = node_name("acme-web")
    node = client.nodes.create(f"  {name}  ", org_id=org.id)
    assert isinstance(node, works.Node)
    assert (node.name, node.org_id, node.status) == (name, org.id, "offline")
    assert node.status_reason.startswith("No agent has enrolled yet.")
    assert (node.health, node.last_checkin_at, node.enrolled_at, node.retired_at) == (None, None, None, None)
    assert node.retired is False
    assert_aware_and_recent(node.created_at)
    assert client.nodes.get(node.id) == node

    shared = client.nodes.create(node_name("msp-backup"))
    assert shared.org_id is None
    assert [n.id for n in client.nodes.list(org_id=org.id)] == [node.id]
    everything = {n.id for n in client.nodes.list()}
    assert {node.id, shared.id} <= everything

    renamed = client.nodes.rename(node.id, name + "-new")
    assert (renamed.id, renamed.name) == (node.id, name + "-new")
    assert renamed.updated_at >= node.updated_at
    assert client.nodes.get(node.id) == renamed

    retired = client.nodes.retire(node.id)
    assert retired.retired is True
    assert_aware_and_recent(retired.retired_at)
    assert node.id not in {n.id for n in client.nodes.list()}
    assert retired in list(client.nodes.list(org_id=org.id, include_retired=True))
    with pytest.raises(works.Conflict) as again:
        client.nodes.retire(node.id)
    assert "already retired" in str(again.value)
    with pytest.raises(works.Conflict):
        client.nodes.enrollment_token(node.id)
    with pytest.raises(works.Conflict) as no_work:
        client.jobs.request(node.id, "health_check")
    assert no_work.value.field == "node_id"

    archived = client.orgs.create(unique("Gone Ltd"))
    client.orgs.archive(archived.id)
    with pytest.raises(works.InvalidInput) as e:
        client.nodes.create(node_name("gone"), org_id=archived.id)
    assert e.value.field == "org_id"


@pytest.mark.parametrize("bad", ["web 01", "-oProxyCommand=x", "web;rm", "$(id)", ".hidden", "   ", "x" * 101])
def test_a_bad_node_name_names_the_field(client: works.Client, bad: str) -> None:
    with pytest.raises(works.InvalidInput) as e:
        client.nodes.create(bad)
    assert e.value.field == "name"
    assert str(e.value).startswith("name: ")
    assert e.value.next_action == "Correct the named field and try again."
    node = client.nodes.create(node_name("good"))
    with pytest.raises(works.InvalidInput) as e:
        client.nodes.rename(node.id, bad)
    assert e.value.field == "name"
    assert client.nodes.get(node.id).name == node.name


def test_an_enrollment_token_is_shown_once_and_works_once(client: works.Client, agent_url: str) -> None:
    node = client.nodes.create(node_name("enrolled"))
    made = client.nodes.enrollment_token(node.id)
    assert isinstance(made, works.EnrollmentToken)
    assert made.token.startswith("wke_") and made.node_id == node.id
    expected = datetime.now(timezone.utc) + timedelta(minutes=30)
    assert abs(made.expires_at - expected) < timedelta(minutes=1)
    assert made.token not in repr(made) and "shown once" in repr(made)
    # Nothing else ever shows it: not the node, not the audit log.
    assert made.token not in repr(client.nodes.get(node.id))
    assert all(made.token not in r.reason for r in client.audit.query(target_id=node.id))
    assert any(r.action == "node.enrollment_token" for r in client.audit.query(target_id=node.id))
    second = client.nodes.enrollment_token(node.id)
    assert second.token != made.token

    status, body = enroll(agent_url, made.token)
    assert status == 200, body
    assert body["node_id"] == node.id and body["credential"].startswith("wka_")
    status, body = enroll(agent_url, made.token)
    assert status == 401, body
    assert_aware_and_recent(client.nodes.get(node.id).enrolled_at)


def test_an_agent_check_in_shows_health_and_containers(client: works.Client, agent_url: str) -> None:
    node = client.nodes.create(node_name("checked-in"))
    assert client.nodes.containers(node.id) == []
    agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)
    containers = [
        {
            "id": "c0ffee",
            "name": "openclaw",
            "image": "openclaw/openclaw:1.4",
            "state": "running",
            "health": "healthy",
            "labels": {"com.example.customer": "acme", "works.managed": "true"},
            "ports": [{"container_port": 8080, "host_port": 80, "host_ip": "0.0.0.0", "protocol": "tcp"}],
            "mounts": [{"kind": "volume", "source": "openclaw-data", "destination": "/data"}],
        },
        {"id": "beef", "name": "sidecar", "image": "busybox", "state": "exited", "health": None},
    ]
    assert agent.check_in(containers, load1=1.5) == 200

    seen = client.nodes.get(node.id)
    assert seen.status == "online"
    assert seen.status_reason.startswith("The agent checked in ")
    assert_aware_and_recent(seen.last_checkin_at)
    health = seen.health
    assert isinstance(health, works.NodeHealth)
    assert (health.uptime_secs, health.load1, health.agent_version) == (86400, 1.5, "0.1.0-test")
    assert (health.memory_total_bytes, health.memory_available_bytes) == (HEALTH["memory_total_bytes"], HEALTH["memory_available_bytes"])
    assert (health.disk_total_bytes, health.disk_available_bytes) == (HEALTH["disk_total_bytes"], HEALTH["disk_available_bytes"])
    assert (health.docker_reachable, health.docker_version) == (True, "27.3.1")
    assert "load1=1.5" in repr(health)

    listed = {c.name: c for c in client.nodes.containers(node.id)}
    assert set(listed) == {"openclaw", "sidecar"}
    app = listed["openclaw"]
    assert isinstance(app, works.Container)
    assert (app.id, app.image, app.state, app.health) == ("c0ffee", "openclaw/openclaw:1.4", "running", "healthy")
    assert app.labels == {"com.example.customer": "acme", "works.managed": "true"}
    app.labels["changed"] = "here"  # a copy: the record does not change
    assert "changed" not in app.labels
    assert isinstance(app.ports, tuple) and len(app.ports) == 1
    port = app.ports[0]
    assert isinstance(port, works.PublishedPort)
    assert (port.container_port, port.host_port, port.host_ip, port.protocol) == (8080, 80, "0.0.0.0", "tcp")
    mount = app.mounts[0]
    assert isinstance(mount, works.ContainerMount)
    assert (mount.kind, mount.source, mount.destination) == ("volume", "openclaw-data", "/data")
    assert (listed["sidecar"].labels, listed["sidecar"].ports, listed["sidecar"].mounts) == ({}, (), ())
    assert "'works.managed': 'true'" in repr(app)

    client.nodes.revoke_agent(node.id)
    assert agent.check_in() == 401
    assert client.nodes.get(node.id).retired is False


def test_safe_work_is_queued_and_risky_work_waits_for_its_phrase(client: works.Client) -> None:
    node = client.nodes.create(node_name("acme-app"))
    safe = client.jobs.request(node.id, "health_check")
    assert isinstance(safe, works.Job)
    assert (safe.kind, safe.risk, safe.state, safe.state_label) == ("health_check", "safe", "queued", "Waiting for the agent")
    assert (safe.attempts, safe.max_attempts, safe.timeout_secs) == (0, 3, 60)
    assert (safe.approval_phrase, safe.reason, safe.params, safe.result, safe.output) == (None, None, {}, None, None)
    assert safe.requested_by.startswith("admin") and safe.node_id == node.id
    assert_aware_and_recent(safe.created_at)
    assert safe.expires_at - safe.created_at == timedelta(hours=24)

    params = {"image": "openclaw/openclaw:1.5", "env": {"MODE": "prod"}, "ports": [80, 443], "pull": True, "note": None}
    risky = client.jobs.request(node.id, "restart", params)
    assert (risky.risk, risky.state, risky.state_label) == ("risky", "awaiting_approval", "Waiting for approval")
    assert risky.approval_phrase == f"restart openclaw on {node.name}"
    assert risky.reason == "Risky work waits for a person to approve it."
    assert (risky.max_attempts, risky.timeout_secs) == (1, 300)
    assert risky.params == params
    risky.params["image"] = "changed"  # a copy: the record does not change
    assert client.jobs.get(risky.id).params == params
    assert client.jobs.get(risky.id) == risky

    pending = list(client.jobs.list(node_id=node.id, state="awaiting_approval"))
    assert pending == [risky]
    assert [j.id for j in client.jobs.list(node_id=node.id)] == [risky.id, safe.id]  # newest first

    with pytest.raises(works.InvalidInput) as wrong:
        client.jobs.approve(risky.id, f"restart openclaw on {node.name} ")
    assert wrong.value.field == "phrase"
    assert str(wrong.value) == f"phrase: does not match; type exactly: {risky.approval_phrase}"
    assert client.jobs.get(risky.id).state == "awaiting_approval"
    refused = list(client.audit.query(action="job.approve", target_id=risky.id, outcome="rejected"))
    assert len(refused) == 1

    approved = client.jobs.approve(risky.id, risky.approval_phrase)
    assert (approved.id, approved.state) == (risky.id, "queued")
    assert approved.approved_by is not None and approved.approved_by.startswith("admin")
    assert_aware_and_recent(approved.approved_at)
    with pytest.raises(works.Conflict) as twice:
        client.jobs.approve(risky.id, risky.approval_phrase)
    assert "not waiting for approval" in str(twice.value)
    with pytest.raises(works.Conflict):
        client.jobs.approve(safe.id, "check health")

    cancelled = client.jobs.cancel(approved.id)
    assert (cancelled.state, cancelled.state_label) == ("cancelled", "Cancelled")
    assert cancelled.reason is not None and cancelled.reason.startswith("Cancelled by admin")
    assert_aware_and_recent(cancelled.finished_at)
    with pytest.raises(works.Conflict):
        client.jobs.cancel(approved.id)
    with pytest.raises(works.Conflict) as not_failed:
        client.jobs.retry(safe.id)
    assert "Only a failed or timed-out job" in str(not_failed.value)
    assert [j.id for j in client.jobs.list(node_id=node.id, state="cancelled")] == [risky.id]


def test_bad_job_requests_name_the_field(client: works.Client) -> None:
    node = client.nodes.create(node_name("bad-jobs"))
    with pytest.raises(works.InvalidInput) as e:
        client.jobs.request(node.id, "reboot")
    assert e.value.field == "kind" and "health_check" in str(e.value)
    with pytest.raises(works.InvalidInput) as e:
        client.jobs.request(node.id, "deploy", ["not", "an", "object"])  # type: ignore[arg-type]
    assert e.value.field == "params" and str(e.value) == "params: must be a JSON object"
    with pytest.raises(works.InvalidInput) as e:
        client.jobs.request(node.id, "deploy", {"when": datetime.now(timezone.utc)})
    assert e.value.field == "params" and "datetime" in str(e.value)
    with pytest.raises(works.InvalidInput) as e:
        client.jobs.request(node.id, "deploy", {1: "x"})  # type: ignore[dict-item]
    assert e.value.field == "params"
    with pytest.raises(works.InvalidInput) as e:
        client.jobs.request(node.id, "deploy", {"x": float("nan")})
    assert e.value.field == "params"
    looped: dict[str, object] = {}
    looped["self"] = looped
    with pytest.raises(works.InvalidInput) as e:
        client.jobs.request(node.id, "deploy", looped)
    assert e.value.field == "params"
    with pytest.raises(works.InvalidInput) as e:
        list(client.jobs.list(state="sleeping"))
    assert e.value.field == "state"
    with pytest.raises(works.NotFound):
        client.jobs.request("no-such-node", "health_check")
    with pytest.raises(works.NotFound):
        client.jobs.get("no-such-job")
    assert list(client.jobs.list(node_id=node.id)) == []


def test_the_agent_reports_and_a_person_retries(client: works.Client, agent_url: str) -> None:
    node = client.nodes.create(node_name("worker"))
    agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)
    check = client.jobs.request(node.id, "health_check", {"verbose": True})
    claimed = agent.claim()
    assert claimed is not None and claimed["id"] == check.id
    result = {"containers": 2, "healthy": True, "load": [0.5, 0.25], "notes": None}
    agent.finish(check.id, succeeded=True, result=result, output="all good\npassword=hunter2\n")
    done = client.jobs.get(check.id)
    assert (done.state, done.attempts, done.reason) == ("succeeded", 1, None)
    assert done.result == result
    assert done.output is not None and "all good" in done.output and "hunter2" not in done.output
    assert_aware_and_recent(done.claimed_at)
    assert_aware_and_recent(done.finished_at)

    restart = client.jobs.request(node.id, "restart", {"service": "openclaw"})
    client.jobs.approve(restart.id, restart.approval_phrase or "")
    claimed = agent.claim()
    assert claimed is not None and claimed["id"] == restart.id
    agent.finish(restart.id, succeeded=False, output="exit status 1", reason="docker: permission denied")
    failed = client.jobs.get(restart.id)
    assert (failed.state, failed.state_label, failed.reason, failed.result) == ("failed", "Failed", "docker: permission denied", None)
    assert [j.id for j in client.jobs.list(state="failed", node_id=node.id)] == [restart.id]

    again = client.jobs.retry(restart.id)
    assert again.id != restart.id and again.retry_of == restart.id
    assert (again.kind, again.params, again.state) == ("restart", {"service": "openclaw"}, "awaiting_approval")
    assert client.jobs.get(again.id).retry_of == restart.id


def test_other_tenants_nodes_and_jobs_are_not_found(client: works.Client, backend: Backend) -> None:
    a = client.orgs.create(unique("Tenant A"))
    b = client.orgs.create(unique("Tenant B"))
    admin_a, user_a = unique("admin-a").lower(), unique("user-a").lower()
    client.users.create(admin_a, role="org_admin", password=USER_PASSWORD, org_id=a.id)
    client.users.create(user_a, role="org_user", password=USER_PASSWORD, org_id=a.id)
    node_a = client.nodes.create(node_name("a-web"), org_id=a.id)
    node_b = client.nodes.create(node_name("b-web"), org_id=b.id)
    shared = client.nodes.create(node_name("msp-infra"))
    job_b = client.jobs.request(node_b.id, "restart")

    as_admin_a = backend.as_user(admin_a, USER_PASSWORD)
    assert [n.id for n in as_admin_a.nodes.list()] == [node_a.id]
    assert as_admin_a.nodes.get(node_a.id) == client.nodes.get(node_a.id)
    with pytest.raises(works.NotFound) as other:
        as_admin_a.nodes.get(node_b.id)
    with pytest.raises(works.NotFound) as missing:
        as_admin_a.nodes.get("no-such-node")
    # Another tenant's node reads exactly like one that does not exist.
    assert str(other.value).replace(node_b.id, "X") == str(missing.value).replace("no-such-node", "X")
    with pytest.raises(works.NotFound):
        as_admin_a.nodes.get(shared.id)
    with pytest.raises(works.NotFound):
        as_admin_a.jobs.get(job_b.id)
    with pytest.raises(works.NotFound):
        as_admin_a.jobs.approve(job_b.id, job_b.approval_phrase or "")
    with pytest.raises(works.NotFound):
        as_admin_a.jobs.cancel(job_b.id)
    with pytest.raises(works.NotFound):
        as_admin_a.jobs.request(node_b.id, "health_check")
    with pytest.raises(works.NotFound):
        as_admin_a.nodes.rename(node_b.id, "taken-over")
    with pytest.raises(works.NotFound):
        as_admin_a.nodes.enrollment_token(node_b.id)
    with pytest.raises(works.NotFound):
        as_admin_a.nodes.containers(node_b.id)
    with pytest.raises(works.Forbidden):
        as_admin_a.nodes.create(node_name("sneaky"), org_id=b.id)
    with pytest.raises(works.Forbidden):
        as_admin_a.nodes.create(node_name("sneaky"))
    assert client.jobs.get(job_b.id).state == "awaiting_approval"

    # Tenant A's admin runs their own organization's nodes and approves its work.
    own = as_admin_a.jobs.request(node_a.id, "deploy", {"image": "openclaw/openclaw:1.5"})
    assert as_admin_a.jobs.approve(own.id, own.approval_phrase or "").state == "queued"
    assert [j.id for j in as_admin_a.jobs.list()] == [own.id]
    assert as_admin_a.nodes.create(node_name("a-db"), org_id=a.id).org_id == a.id

    as_user_a = backend.as_user(user_a, USER_PASSWORD)
    assert list(as_user_a.nodes.list()) == []
    assert list(as_user_a.jobs.list()) == []
    with pytest.raises(works.NotFound):
        as_user_a.nodes.get(node_a.id)
    with pytest.raises(works.NotFound):
        as_user_a.jobs.get(own.id)
    with pytest.raises(works.Forbidden):
        as_user_a.nodes.create(node_name("mine"), org_id=a.id)


def test_node_and_job_lists_page_transparently(client: works.Client) -> None:
    org = client.orgs.create(unique("Paged Nodes"))
    made = [client.nodes.create(f"paged-{i}", org_id=org.id) for i in range(5)]
    assert [n.id for n in client.nodes.list(org_id=org.id, page_size=2)] == [n.id for n in made]
    assert len(list(client.nodes.list(org_id=org.id, page_size=2, limit=3))) == 3
    jobs = [client.jobs.request(made[0].id, "logs", {"n": i}) for i in range(5)]
    listed = list(client.jobs.list(node_id=made[0].id, page_size=2))
    assert [j.id for j in listed] == [j.id for j in reversed(jobs)]
    assert [j.params["n"] for j in listed] == [4, 3, 2, 1, 0]
    with pytest.raises(works.InvalidInput) as e:
        client.nodes.list(page_size=501)
    assert e.value.field == "limit"


def test_fleet_records_are_frozen_hashable_and_readable(client: works.Client) -> None:
    node = client.nodes.create(node_name("repr-node"))
    text = repr(node)
    assert text.startswith(f"Node(id='{node.id}', name='{node.name}', org_id=None, status='offline', status_reason=")
    assert "last_checkin_at=None, retired_at=None)" in text
    job = client.jobs.request(node.id, "remove", {"purge": False})
    assert repr(job) == (
        f"Job(id='{job.id}', kind='remove', node_id='{node.id}', state='awaiting_approval', attempts=0, "
        f"max_attempts=1, approval_phrase='remove openclaw on {node.name}', "
        "reason='Risky work waits for a person to approve it.')"
    )
    with pytest.raises(AttributeError):
        node.name = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        job.state = "queued"  # type: ignore[misc]
    assert {node, client.nodes.get(node.id)} == {node}
    assert {job, client.jobs.get(job.id)} == {job}
    for record in (node, job):
        assert type(record).__module__ == "works"
