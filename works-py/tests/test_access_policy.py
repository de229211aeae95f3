"""SSH access (credentials, jumpboxes, hosts, Test Access, attempts) and policy
(capabilities, packs, permissions, connections, workflows and their runs), run against
each backend: embedded (SQLite, and PostgreSQL when configured) and remote (a real
`works serve`)."""

from __future__ import annotations

import secrets
import socket
import subprocess
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

import works
from conftest import USER_PASSWORD, Backend, unique

def private_key(tmp_path: Path) -> str:
    """A new ed25519 key in OpenSSH format, made by ssh-keygen."""
    path = tmp_path / f"id_{secrets.token_hex(4)}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "works-py-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return path.read_text()


def closed_port() -> int:
    """A loopback port nothing listens on: bound by the OS, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def every_text(record: Any) -> str:
    """A record's repr and the repr of every field, nested records included."""
    parts = [repr(record)]
    if is_dataclass(record):
        for f in fields(record):
            parts.append(every_text(getattr(record, f.name)))
    elif isinstance(record, (tuple, list)):
        parts.extend(every_text(v) for v in record)
    else:
        parts.append(repr(record))
    return "\n".join(parts)


def assert_aware_and_recent(at: datetime | None) -> None:
    assert isinstance(at, datetime)
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0), at
    assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5), at


def org_admin(backend: Backend, client: works.Client, org_id: str) -> works.Client:
    name = unique("orgadmin")
    client.users.create(name, role="org_admin", password=USER_PASSWORD, org_id=org_id)
    return backend.as_user(name, USER_PASSWORD)


# --- SSH access ---


def test_an_ssh_key_is_write_only_and_test_access_explains_a_refusal(
    sealing: works.Client, backend: Backend, tmp_path: Path
) -> None:
    client = sealing
    key = private_key(tmp_path)
    secret_line = key.strip().splitlines()[1]
    cred = client.ssh_credentials.create(unique("msp-key"), key)
    assert isinstance(cred, works.SshCredential)
    assert cred.key_type == "ssh-ed25519" and cred.fingerprint.startswith("SHA256:")
    assert cred.public_key.startswith("ssh-ed25519 ")
    assert_aware_and_recent(cred.created_at)
    listed = [c for c in client.ssh_credentials.list() if c.id == cred.id]
    for record in (cred, client.ssh_credentials.get(cred.id), *listed):
        text = every_text(record)
        assert "PRIVATE KEY" not in text and secret_line not in text and secret_line[:24] not in text
        assert not any("private" in f.name for f in fields(record))

    org = client.orgs.create(unique("Ssh Org"))
    port = closed_port()
    host = client.hosts.create(
        unique("web"), org_id=org.id, address="127.0.0.1", port=port, user="root", credential_id=cred.id
    )
    assert (host.org_id, host.port, host.jumpbox_id, host.verified_at, host.node_id) == (org.id, port, None, None, None)
    assert host in list(client.hosts.list(org_id=org.id))

    started = client.hosts.test_access(host.id)
    assert isinstance(started, works.AccessAttempt) and started.host_id == host.id
    attempt = client.access_attempts.wait(started.id, timeout=60)
    assert attempt.status == "failed", attempt
    assert attempt.failure == "connection_refused", attempt
    assert attempt.reason is not None and "refused the connection" in attempt.reason, attempt.reason
    assert attempt.next_action
    assert attempt.transcript and all(isinstance(t.at, datetime) for t in attempt.transcript)
    assert isinstance(attempt.stage, works.Stage) and isinstance(attempt.discovery, works.Discovery)
    assert_aware_and_recent(attempt.finished_at)
    assert attempt.id in [a.id for a in client.access_attempts.list(host_id=host.id)]
    assert secret_line not in every_text(attempt)
    with pytest.raises(works.Conflict):
        client.hosts.register(host.id)  # never verified

    # Another organization's admin sees none of it.
    other = client.orgs.create(unique("Other Org"))
    outsider = org_admin(backend, client, other.id)
    with pytest.raises(works.NotFound):
        outsider.hosts.get(host.id)
    with pytest.raises(works.NotFound):
        outsider.access_attempts.get(attempt.id)
    with pytest.raises((works.NotFound, works.Forbidden)):
        outsider.hosts.test_access(host.id)
    assert host.id not in [h.id for h in outsider.hosts.list()]
    with pytest.raises(works.Forbidden):
        outsider.ssh_credentials.create(unique("theirs"), key)


def test_ssh_access_input_is_checked_by_field(sealing: works.Client, tmp_path: Path) -> None:
    client = sealing
    with pytest.raises(works.InvalidInput) as bad_key:
        client.ssh_credentials.create(unique("k"), "not a key")
    assert bad_key.value.field == "private_key"
    assert "not a key" not in str(bad_key.value)
    cred = client.ssh_credentials.create(unique("k"), private_key(tmp_path))
    org = client.orgs.create(unique("Field Org"))
    with pytest.raises(works.InvalidInput) as bad_address:
        client.hosts.create("web", org_id=org.id, address="", user="root", credential_id=cred.id)
    assert bad_address.value.field == "address"
    with pytest.raises(works.InvalidInput) as bad_port:
        client.jumpboxes.create(unique("jb"), address="10.0.0.1", user="ops", credential_id=cred.id, port="22")  # type: ignore[arg-type]
    assert bad_port.value.field == "port"
    jump = client.jumpboxes.create(unique("jb"), address="10.0.0.1", user="ops", credential_id=cred.id)
    assert (jump.port, jump.host_key) == (22, None)
    assert client.jumpboxes.get(jump.id) == jump
    via = client.hosts.create(
        unique("db"), org_id=org.id, address="10.0.0.5", user="root", credential_id=cred.id, jumpbox=jump.name
    )
    assert via.jumpbox_id == jump.id
    with pytest.raises(works.Conflict):
        client.ssh_credentials.delete(cred.id)  # in use
    with pytest.raises(works.NotFound):
        client.hosts.get("no-such-host")


# --- policy and workflows ---


def summarize_step() -> works.WorkflowStep:
    return works.WorkflowStep(capability_id="summarize", action="summarize_text")


def test_the_catalog_packs_and_permissions(client: works.Client, backend: Backend) -> None:
    catalog = client.policy.capabilities()
    assert catalog and all(isinstance(c, works.Capability) for c in catalog)
    summarize = client.policy.capability("summarize")
    assert any(a.name == "summarize_text" for a in summarize.actions)
    packs = client.policy.packs()
    assert packs and all(isinstance(p, works.CapabilityPack) for p in packs)

    org = client.orgs.create(unique("Policy Org"))
    attached = client.policy.attach_pack(packs[0].id, org_id=org.id)
    assert attached and all(p.org_id == org.id for p in attached)
    granted = {p.capability_id for p in client.policy.permissions(org_id=org.id)}
    assert set(packs[0].capabilities) <= granted

    perm = next(p for p in client.policy.permissions(org_id=org.id))
    changed = client.policy.update_permission(perm.id, require_confirmation=True, approvers_required=2)
    assert (changed.require_confirmation, changed.approvers_required) == (True, 2)
    assert client.policy.disable_permission(perm.id).enabled is False
    assert client.policy.enable_permission(perm.id).enabled is True
    with pytest.raises(works.InvalidInput) as bad:
        client.policy.update_permission(perm.id, approvers_required=3)
    assert bad.value.field == "approvers_required"
    with pytest.raises(works.InvalidInput) as risk:
        client.policy.grant(org.id, "summarize", max_risk="extreme")
    assert risk.value.field == "max_risk"

    other = client.orgs.create(unique("Other Policy Org"))
    outsider = org_admin(backend, client, other.id)
    with pytest.raises(works.NotFound):
        outsider.policy.permission(perm.id)
    with pytest.raises((works.NotFound, works.Forbidden)):
        outsider.policy.update_permission(perm.id, enabled=False)
    with pytest.raises((works.NotFound, works.Forbidden)):
        outsider.policy.grant(org.id, "summarize")
    assert perm.id not in [p.id for p in outsider.policy.permissions()]


def test_a_connection_credential_is_write_only(sealing: works.Client, backend: Backend) -> None:
    client = sealing
    org = client.orgs.create(unique("Conn Org"))
    credential = "ya29." + secrets.token_hex(16)
    conn = client.connections.create(
        "Acme Drive", provider="google_drive", org_id=org.id, capabilities=["google_drive"], credential=credential
    )
    assert isinstance(conn, works.Connection)
    assert (conn.status, conn.has_credential, conn.provider) == ("connected", True, "google_drive")
    for record in (conn, client.connections.get(conn.id), *client.connections.list(org_id=org.id)):
        assert credential not in every_text(record)
    cleared = client.connections.update(conn.id, credential="")
    assert cleared.has_credential is False
    # Linked to the organization's own OpenClaw instances only.
    inst = client.instances.deploy(client.nodes.create(unique("conn-node").lower(), org_id=org.id).id).instance
    linked = client.connections.update(conn.id, instances=[inst.id])
    assert linked.instances == (inst.id,)
    elsewhere = client.orgs.create(unique("Conn Elsewhere Org"))
    foreign = client.instances.deploy(client.nodes.create(unique("conn-far").lower(), org_id=elsewhere.id).id).instance
    with pytest.raises(works.InvalidInput) as not_ours:
        client.connections.update(conn.id, instances=[foreign.id])
    assert not_ours.value.field == "instances[0]"
    assert client.connections.get(conn.id).instances == (inst.id,)
    with pytest.raises(works.InvalidInput) as bad:
        client.connections.create("x", provider="dropbox", org_id=org.id)
    assert bad.value.field == "provider"
    outsider = org_admin(backend, client, client.orgs.create(unique("Other Conn Org")).id)
    with pytest.raises(works.NotFound):
        outsider.connections.get(conn.id)
    with pytest.raises((works.NotFound, works.Forbidden)):
        outsider.connections.update(conn.id, credential="stolen")
    assert client.connections.delete(conn.id).id == conn.id


def test_a_live_run_waits_for_its_typed_phrase(client: works.Client, backend: Backend) -> None:
    org = client.orgs.create(unique("Flow Org"))
    client.policy.grant(org.id, "summarize", require_confirmation=True)
    with pytest.raises(works.InvalidInput) as typo:
        client.workflows.create("Bad", [{"capability_id": "summarize", "action": "summarise_text"}], org_id=org.id)
    assert typo.value.field == "steps[0].action"
    with pytest.raises(works.InvalidInput) as missing:
        client.workflows.create("Bad", [{"capability_id": "summarize"}], org_id=org.id)
    assert missing.value.field == "steps[0].action"

    flow = client.workflows.create("Needs a person", [summarize_step()], org_id=org.id, description="demo")
    assert isinstance(flow, works.Workflow) and flow.steps[0].action == "summarize_text"
    assert client.workflows.get(flow.id) == flow

    run = client.workflows.start(flow.id, "live")
    assert run.state == "awaiting_approval", run.reason
    step = run.awaiting
    assert step is not None and step.approval_phrase
    assert_aware_and_recent(run.created_at)
    waiting = list(client.workflows.runs(flow.id, "awaiting_approval"))
    assert [r.id for r in waiting] == [run.id]
    assert [(w.id, r.id) for w, r in client.workflows.awaiting_approval(org.id)] == [(flow.id, run.id)]

    with pytest.raises(works.InvalidInput) as wrong:
        client.workflows.approve(flow.id, run.id, "summarize text")
    assert wrong.value.field == "phrase"
    assert step.approval_phrase in str(wrong.value)
    done = client.workflows.approve(flow.id, run.id, step.approval_phrase)
    assert done.state == "succeeded", done.reason
    assert len(done.steps[0].approvals) == 1 and isinstance(done.steps[0].approvals[0].at, datetime)
    assert client.workflows.run(flow.id, run.id) == done
    with pytest.raises(works.InvalidInput) as mode:
        client.workflows.start(flow.id, "dry")
    assert mode.value.field == "mode"

    outsider = org_admin(backend, client, client.orgs.create(unique("Other Flow Org")).id)
    with pytest.raises(works.NotFound):
        outsider.workflows.get(flow.id)
    with pytest.raises(works.NotFound):
        outsider.workflows.run(flow.id, run.id)
    with pytest.raises(works.NotFound):
        outsider.workflows.start(flow.id, "live")
    assert flow.id not in [w.id for w in outsider.workflows.list()]


def test_workflow_runs_page_transparently(client: works.Client) -> None:
    org = client.orgs.create(unique("Paging Org"))
    client.policy.grant(org.id, "summarize")
    flow = client.workflows.create("Many runs", [summarize_step()], org_id=org.id)
    runs = [client.workflows.start(flow.id) for _ in range(5)]
    assert {(r.mode, r.state) for r in runs} == {("simulation", "succeeded")}, runs[0].reason
    made = [r.id for r in runs]
    seen = [r.id for r in client.workflows.runs(flow.id, page_size=2)]
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert len(list(client.workflows.runs(flow.id, page_size=2, limit=3))) == 3
