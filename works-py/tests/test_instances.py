"""The health answer and OpenClaw instances, run against each backend: embedded (SQLite,
and PostgreSQL when configured) and remote (a real `works serve`). Where an agent takes
part, it talks to a real server on the same database."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

import works
from conftest import USER_PASSWORD, Agent, Backend, Server, unique

# The master key of the PostgreSQL backend, which has no key file beside it: the
# client that requests deploys and the server the agent reaches share it.
POSTGRES_MASTER_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
DEFAULT_VERSION = "2026.9.6"


def node_name(prefix: str) -> str:
    return unique(prefix).lower()


def assert_aware_and_recent(at: datetime | None) -> None:
    assert isinstance(at, datetime)
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0), at
    assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5), at


def gateway(container_id: str, *, health: str | None = "healthy", state: str = "running") -> dict[str, Any]:
    """An OpenClaw gateway container as an agent reports it in its inventory."""
    return {
        "id": container_id,
        "name": "/openclaw-gateway",
        "image": f"ghcr.io/openclaw/openclaw:{DEFAULT_VERSION}",
        "state": state,
        "health": health,
        "labels": {"com.example.customer": "acme"},
        "ports": [],
        "mounts": [],
    }


def instance_health(healthy: bool) -> dict[str, Any]:
    """What an agent reports about an instance after a health check, deploy or restart."""
    state = "running" if healthy else "exited"
    return {
        "healthy": healthy,
        "summary": "Healthy: the gateway is running and /healthz answers ok. /readyz: ready."
        if healthy
        else "Unhealthy: the gateway container openclaw-gateway is exited. Restart the gateway or look at its logs.",
        "components": [
            {"role": "gateway", "container_name": "openclaw-gateway", "required": True, "state": state, "health": None}
        ],
        "healthz": {"ok": healthy, "status": 200 if healthy else None, "detail": "ok" if healthy else "connection refused"},
        "readyz": {"ok": healthy, "status": 200 if healthy else None, "detail": "ready" if healthy else "connection refused"},
        "host_port": 18789,
    }


def every_text(record: Any) -> str:
    """A record's repr and every one of its public attributes, nested records included."""
    parts = [repr(record)]
    for name in dir(record):
        if name.startswith("_"):
            continue
        value = getattr(record, name)
        if callable(value):
            continue
        if isinstance(value, (tuple, list)):
            parts.extend(every_text(v) if type(v).__module__ == "works" else repr(v) for v in value)
        elif type(value).__module__ == "works":
            parts.append(every_text(value))
        else:
            parts.append(repr(value))
    return "\n".join(parts)


@pytest.fixture
def deployer(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[works.Client, str]]:
    """An MSP admin that can request deploys (a master key seals the gateway token), and
    where the agent of a node reaches the same database."""
    if backend.mode == "remote":
        assert backend.server_url is not None
        yield backend.admin, backend.server_url
        return
    assert backend.database_url is not None
    client = backend.admin
    if backend.mode == "embedded-postgres":
        monkeypatch.setenv("WORKS_MASTER_KEY", POSTGRES_MASTER_KEY)
        client = works.open(backend.database_url)
    # A SQLite database keeps its key in a file beside it, which the server reads too.
    running = Server(tmp_path / "agent-server", database_url=backend.database_url)
    yield client, running.url
    running.stop()


def test_the_health_answer_lists_issues_and_takes_acknowledgements(
    client: works.Client, backend: Backend, agent_url: str
) -> None:
    if backend.mode == "embedded":
        fresh = client.health()
        assert (fresh.state, fresh.code, fresh.healthy, fresh.state_label) == ("healthy", 0, True, "Healthy")
        assert fresh.summary == "Everything is working as expected."
        assert fresh.issues == () and fresh.acknowledged == () and fresh.validation == ()

    org = client.orgs.create(unique("Health Org"))
    node = client.nodes.create(node_name("health-web"), org_id=org.id)
    agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)
    assert agent.check_in() == 200
    check = client.jobs.request(node.id, "health_check")
    claimed = agent.claim()
    assert claimed is not None and claimed["id"] == check.id
    agent.finish(check.id, succeeded=False, reason="docker: cannot reach the engine")

    report = client.health()
    assert isinstance(report, works.HealthReport)
    assert report.state in ("degraded", "critical") and report.code in (1, 2) and not report.healthy
    assert_aware_and_recent(report.checked_at)
    issue_id = f"job-failed:{check.id}"
    issue = next(i for i in report.issues if i.id == issue_id)
    assert isinstance(issue, works.HealthIssue)
    assert (issue.severity, issue.kind, issue.subject_id, issue.org_id) == ("degraded", "job", check.id, org.id)
    assert issue.title == f"A check health job on {node.name} failed"
    assert issue.why == "docker: cannot reach the engine"
    assert issue.next_action.startswith("Open the job, read its output")
    assert issue.link == f"/ui/jobs/{check.id}"
    assert (issue.acknowledged, issue.acknowledgement) == (False, None)
    assert_aware_and_recent(issue.since)
    assert issue.detail["job_id"] == check.id and issue.detail["state"] == "failed"
    issue.detail["job_id"] = "changed"  # a copy: the record does not change
    assert issue.detail["job_id"] == check.id
    assert isinstance(report.issues, tuple)
    assert repr(issue).startswith(f"HealthIssue(id='{issue_id}', severity='degraded', title=")

    with pytest.raises(works.InvalidInput) as long_note:
        client.health_acknowledge(issue_id, "x" * 1001)
    assert long_note.value.field == "note"
    with pytest.raises(works.NotFound):
        client.health_acknowledge("job-failed:no-such-job", "")

    reviewed = client.health_acknowledge(issue_id, "  Docker is being reinstalled on this host.  ")
    assert (reviewed.id, reviewed.acknowledged) == (issue_id, True)
    ack = reviewed.acknowledgement
    assert isinstance(ack, works.HealthAck)
    assert (ack.issue_id, ack.note, ack.org_id) == (issue_id, "Docker is being reinstalled on this host.", org.id)
    assert ack.acknowledged_by.startswith("admin")
    assert_aware_and_recent(ack.acknowledged_at)
    after = client.health()
    assert issue_id not in {i.id for i in after.issues}
    assert reviewed in after.acknowledged
    assert len(list(client.audit.query(action="health.acknowledge", target_id=issue_id, outcome="succeeded"))) == 1
    assert len(list(client.audit.query(action="health.acknowledge", target_id=issue_id, outcome="rejected"))) == 1
    assert {after, after} == {after} and type(after).__module__ == "works"
    with pytest.raises(AttributeError):
        after.state = "healthy"  # type: ignore[misc]


def test_other_tenants_health_issues_are_not_found(client: works.Client, backend: Backend, agent_url: str) -> None:
    a = client.orgs.create(unique("Health A"))
    b = client.orgs.create(unique("Health B"))
    admin_a, user_a = unique("admin-a").lower(), unique("user-a").lower()
    client.users.create(admin_a, role="org_admin", password=USER_PASSWORD, org_id=a.id)
    client.users.create(user_a, role="org_user", password=USER_PASSWORD, org_id=a.id)
    failed = {}
    for org in (a, b):
        node = client.nodes.create(node_name("tenant-web"), org_id=org.id)
        agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)
        job = client.jobs.request(node.id, "logs")
        claimed = agent.claim()
        assert claimed is not None and claimed["id"] == job.id
        agent.finish(job.id, succeeded=False, reason="no such container")
        failed[org.id] = f"job-failed:{job.id}"

    as_admin_a = backend.as_user(admin_a, USER_PASSWORD)
    seen = {i.id for i in as_admin_a.health().issues}
    assert failed[a.id] in seen and failed[b.id] not in seen
    assert all(i.org_id == a.id for i in as_admin_a.health().issues)
    with pytest.raises(works.NotFound) as other:
        as_admin_a.health_acknowledge(failed[b.id], "not mine")
    with pytest.raises(works.NotFound) as missing:
        as_admin_a.health_acknowledge("job-failed:no-such-job", "not mine")
    # Another tenant's issue reads exactly like one that does not exist.
    assert str(other.value).replace(failed[b.id], "X") == str(missing.value).replace("job-failed:no-such-job", "X")
    assert as_admin_a.health_acknowledge(failed[a.id], "ours").acknowledged is True

    as_user_a = backend.as_user(user_a, USER_PASSWORD)
    assert as_user_a.health().issues == ()
    with pytest.raises(works.NotFound):
        as_user_a.health_acknowledge(failed[a.id], "")
    assert failed[b.id] in {i.id for i in client.health().issues}


def test_a_discovered_instance_is_taken_over_and_followed(client: works.Client, agent_url: str) -> None:
    org = client.orgs.create(unique("Claw Org"))
    node = client.nodes.create(node_name("claw-web"), org_id=org.id)
    agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)
    assert list(client.instances.list(node_id=node.id)) == []
    busybox = {"id": "bb01", "name": "/sidecar", "image": "busybox", "state": "running", "health": None}
    assert agent.check_in([gateway("c1a0", health="healthy"), busybox]) == 200

    (found,) = client.instances.list(node_id=node.id)
    assert isinstance(found, works.Instance)
    assert (found.state, found.state_label, found.node_id, found.org_id) == ("discovered", "Discovered", node.id, org.id)
    assert (found.container_id, found.container_name, found.version) == ("c1a0", "openclaw-gateway", DEFAULT_VERSION)
    assert found.image == f"ghcr.io/openclaw/openclaw:{DEFAULT_VERSION}"
    assert found.health == "running, healthy"
    assert isinstance(found.reasons, tuple) and any("openclaw" in r for r in found.reasons)
    assert found.takeover_phrase == f"take over openclaw openclaw-gateway on {node.name}"
    assert (found.taken_over_by, found.taken_over_at, found.job_id, found.health_detail) == (None, None, None, None)
    assert found.unhealthy is False
    assert_aware_and_recent(found.discovered_at)
    assert client.instances.get(found.id) == found

    with pytest.raises(works.Conflict) as not_managed:
        client.instances.health_check(found.id)
    assert "only a managed instance" in str(not_managed.value)
    with pytest.raises(works.InvalidInput) as wrong:
        client.instances.takeover(found.id, "take over openclaw")
    assert wrong.value.field == "phrase"
    assert str(wrong.value) == f"phrase: does not match; type exactly: {found.takeover_phrase}"
    assert client.instances.get(found.id).state == "discovered"

    managed = client.instances.takeover(found.id, found.takeover_phrase or "")
    assert (managed.id, managed.state, managed.takeover_phrase) == (found.id, "managed", None)
    assert managed.taken_over_by is not None and managed.taken_over_by.startswith("admin")
    assert_aware_and_recent(managed.taken_over_at)
    with pytest.raises(works.Conflict):
        client.instances.takeover(found.id, found.takeover_phrase or "")

    check = client.instances.health_check(found.id)
    assert isinstance(check, works.Job)
    assert (check.kind, check.risk, check.state, check.node_id) == ("health_check", "safe", "queued", node.id)
    assert check.params["instance_id"] == found.id and check.params["container_id"] == "c1a0"
    claimed = agent.claim()
    assert claimed is not None and claimed["id"] == check.id
    agent.finish(check.id, succeeded=True, result={"instance": instance_health(False)})
    checked = client.instances.get(found.id)
    assert (checked.health, checked.job_id, checked.unhealthy) == ("unhealthy", check.id, True)
    detail = checked.health_detail
    assert detail is not None and detail["healthy"] is False and detail["healthz"]["detail"] == "connection refused"

    logs = client.instances.logs(found.id, lines=5)
    assert (logs.kind, logs.state, logs.params) == ("logs", "queued", {"container": "openclaw-gateway", "lines": 5, "instance_id": found.id})
    assert client.instances.logs(found.id).params["lines"] == 100
    for bad in (0, 2001):
        with pytest.raises(works.InvalidInput) as e:
            client.instances.logs(found.id, lines=bad)
        assert e.value.field == "lines"

    restart = client.instances.restart(found.id)
    assert (restart.kind, restart.risk, restart.state) == ("restart", "risky", "awaiting_approval")
    assert restart.approval_phrase == f"restart openclaw openclaw-gateway on {node.name}"
    remove = client.instances.remove(found.id)
    assert (remove.kind, remove.state) == ("remove", "awaiting_approval")
    assert remove.approval_phrase == f"remove openclaw openclaw-gateway on {node.name}"
    with pytest.raises(works.InvalidInput) as wrong:
        client.jobs.approve(remove.id, "remove openclaw")
    assert wrong.value.field == "phrase"
    assert client.jobs.approve(restart.id, restart.approval_phrase or "").state == "queued"
    assert {j.id for j in client.jobs.list(node_id=node.id, state="awaiting_approval")} == {remove.id}
    with pytest.raises(works.NotFound):
        client.instances.get("no-such-instance")


def test_a_deploy_waits_for_its_phrase_and_never_shows_the_gateway_token(
    deployer: tuple[works.Client, str], backend: Backend
) -> None:
    client, agent_url = deployer
    org = client.orgs.create(unique("Deploy Org"))
    node = client.nodes.create(node_name("deploy-web"), org_id=org.id)
    agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)

    with pytest.raises(works.InvalidInput) as bad:
        client.instances.deploy(node.id, "latest")
    assert bad.value.field == "version"
    deployment = client.instances.deploy(node.id, with_cli=True)
    assert isinstance(deployment, works.Deployment)
    instance, job = deployment.instance, deployment.job
    assert isinstance(instance, works.Instance) and isinstance(job, works.Job)
    assert (instance.state, instance.version, instance.node_id, instance.org_id) == ("deploying", DEFAULT_VERSION, node.id, org.id)
    assert (instance.job_id, instance.reason) == (job.id, "Waiting for a person to approve the deploy.")
    assert (job.kind, job.risk, job.state, job.node_id) == ("deploy", "risky", "awaiting_approval", node.id)
    assert job.approval_phrase == f"deploy openclaw {DEFAULT_VERSION} on {node.name}"
    assert job.params["instance_id"] == instance.id and job.params["with_cli"] is True
    assert client.instances.get(instance.id) == instance
    assert repr(deployment).startswith(f"Deployment(instance=Instance(id='{instance.id}'")

    # No agent is needed to see that it waits: a wrong phrase is refused by name.
    with pytest.raises(works.InvalidInput) as wrong:
        client.jobs.approve(job.id, f"deploy openclaw on {node.name}")
    assert wrong.value.field == "phrase"
    assert str(wrong.value) == f"phrase: does not match; type exactly: {job.approval_phrase}"
    assert client.jobs.get(job.id).state == "awaiting_approval"
    assert client.instances.get(instance.id).state == "deploying"
    approved = client.jobs.approve(job.id, job.approval_phrase or "")
    assert approved.state == "queued"
    assert client.instances.get(instance.id).reason == "Approved; waiting for the node's agent to create it."

    # The agent running the deploy gets the gateway token, and only it.
    claimed = agent.claim()
    assert claimed is not None and claimed["id"] == job.id
    status, body = agent.call("POST", f"jobs/{job.id}/start")
    assert status == 200, body
    status, body = agent.call("POST", f"jobs/{job.id}/gateway-token")
    assert status == 200, body
    token = body["token"]
    assert isinstance(token, str) and len(token) >= 16
    result = {
        "container_id": "d3ad",
        "container_name": "openclaw-gateway",
        "version": DEFAULT_VERSION,
        "health": instance_health(True),
    }
    report = {"succeeded": True, "result": result, "output": "started openclaw-gateway", "reason": None}
    status, body = agent.call("POST", f"jobs/{job.id}/complete", report)
    assert status == 200, body

    deployed = client.instances.get(instance.id)
    assert (deployed.state, deployed.container_id, deployed.health, deployed.reason) == ("managed", "d3ad", "healthy", None)
    assert deployed.unhealthy is False
    done = client.jobs.get(job.id)
    assert done.state == "succeeded"
    seen = [deployment, deployed, done, *client.instances.list(node_id=node.id), *client.jobs.list(node_id=node.id)]
    seen += list(client.audit.query(org_id=org.id))
    seen += list(client.health().issues)
    for record in seen:
        assert token not in every_text(record), record

    # Removing a managed instance waits for its phrase too.
    removal = client.instances.remove(instance.id)
    assert (removal.state, removal.approval_phrase) == ("awaiting_approval", f"remove openclaw openclaw-gateway on {node.name}")


def test_other_tenants_instances_are_not_found(deployer: tuple[works.Client, str], backend: Backend) -> None:
    client, agent_url = deployer
    a = client.orgs.create(unique("Claw A"))
    b = client.orgs.create(unique("Claw B"))
    admin_a, user_a = unique("admin-a").lower(), unique("user-a").lower()
    client.users.create(admin_a, role="org_admin", password=USER_PASSWORD, org_id=a.id)
    client.users.create(user_a, role="org_user", password=USER_PASSWORD, org_id=a.id)
    node_a = client.nodes.create(node_name("claw-a"), org_id=a.id)
    node_b = client.nodes.create(node_name("claw-b"), org_id=b.id)
    shared = client.nodes.create(node_name("claw-msp"))
    agent_b = Agent(agent_url, client.nodes.enrollment_token(node_b.id).token)
    assert agent_b.check_in([gateway("cb01")]) == 200
    (found_b,) = client.instances.list(node_id=node_b.id)
    deployed_b = client.instances.deploy(node_b.id).instance

    as_admin_a = backend.as_user(admin_a, USER_PASSWORD)
    assert list(as_admin_a.instances.list()) == []
    with pytest.raises(works.NotFound) as other:
        as_admin_a.instances.get(found_b.id)
    with pytest.raises(works.NotFound) as missing:
        as_admin_a.instances.get("no-such-instance")
    assert str(other.value).replace(found_b.id, "X") == str(missing.value).replace("no-such-instance", "X")
    for attempt in (
        lambda: as_admin_a.instances.takeover(found_b.id, found_b.takeover_phrase or ""),
        lambda: as_admin_a.instances.health_check(deployed_b.id),
        lambda: as_admin_a.instances.logs(found_b.id),
        lambda: as_admin_a.instances.restart(found_b.id),
        lambda: as_admin_a.instances.remove(deployed_b.id),
        lambda: as_admin_a.instances.deploy(node_b.id),
        lambda: as_admin_a.instances.deploy(shared.id),
    ):
        with pytest.raises(works.NotFound):
            attempt()
    assert list(as_admin_a.instances.list(node_id=node_b.id)) == []
    assert client.instances.get(found_b.id).state == "discovered"

    # Tenant A's admin deploys to their own organization's node.
    own = as_admin_a.instances.deploy(node_a.id)
    assert own.job.state == "awaiting_approval"
    assert [i.id for i in as_admin_a.instances.list()] == [own.instance.id]

    as_user_a = backend.as_user(user_a, USER_PASSWORD)
    assert list(as_user_a.instances.list()) == []
    with pytest.raises(works.NotFound):
        as_user_a.instances.get(own.instance.id)
    with pytest.raises((works.NotFound, works.Forbidden)):
        as_user_a.instances.deploy(node_a.id)


def test_instance_lists_page_transparently(client: works.Client, agent_url: str) -> None:
    node = client.nodes.create(node_name("claw-paged"))
    agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)
    containers = [{**gateway(f"cp{i:02d}"), "name": f"/openclaw-gateway-{i}"} for i in range(5)]
    assert agent.check_in(containers) == 200
    listed = list(client.instances.list(node_id=node.id, page_size=2))
    assert [i.container_name for i in listed] == [f"openclaw-gateway-{i}" for i in range(5)]
    assert len(list(client.instances.list(node_id=node.id, page_size=2, limit=3))) == 3
    with pytest.raises(works.InvalidInput) as e:
        client.instances.list(page_size=501)
    assert e.value.field == "limit"
