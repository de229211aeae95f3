"""Alerts and metrics history, and the operations of OpenClaw instances (CLI runs,
versions and upgrade plans, assignments), run against each backend: embedded (SQLite,
and PostgreSQL when configured) and remote (a real `works serve`). Where an agent takes
part, it talks to a real server on the same database."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

import works
from conftest import USER_PASSWORD, Agent, Backend, unique
from test_instances import DEFAULT_VERSION, gateway, node_name


def assert_aware_and_recent(at: datetime | None) -> None:
    assert isinstance(at, datetime)
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0), at
    assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5), at


def test_webhooks_keep_their_secret_and_deliveries_page(sealing: works.Client, backend: Backend) -> None:
    client = sealing
    secret = "s3cret-" + secrets.token_hex(12)
    hook = client.alerts.create_webhook(unique("on-call"), "https://alerts.example.com/hook", secret=secret)
    assert isinstance(hook, works.Webhook) and hook.signed is True
    assert_aware_and_recent(hook.created_at)
    assert secret not in repr(hook) and secret not in repr(client.alerts.webhooks())
    assert hook in client.alerts.webhooks()
    with pytest.raises(works.InvalidInput) as bad_url:
        client.alerts.create_webhook(unique("bad"), "ftp://alerts.example.com")
    assert bad_url.value.field == "url"
    with pytest.raises(works.InvalidInput) as short:
        client.alerts.create_webhook(unique("short"), "https://alerts.example.com", secret="short")
    assert short.value.field == "secret"
    assert all(isinstance(d, works.Delivery) for d in client.alerts.deliveries(hook.id, page_size=1))

    org = client.orgs.create(unique("Alert Org"))
    name = unique("orgadmin")
    client.users.create(name, role="org_admin", password=USER_PASSWORD, org_id=org.id)
    outsider = backend.as_user(name, USER_PASSWORD)
    with pytest.raises(works.Forbidden):
        outsider.alerts.create_webhook(unique("theirs"), "https://alerts.example.com")
    with pytest.raises(works.Forbidden):
        outsider.alerts.delete_webhook(hook.id)
    with pytest.raises(works.Forbidden):
        outsider.metrics_history()
    assert client.alerts.delete_webhook(hook.id) == hook
    assert hook not in client.alerts.webhooks()
    with pytest.raises(works.NotFound):
        client.alerts.delete_webhook(hook.id)


def test_metrics_history_is_typed(client: works.Client) -> None:
    history = client.metrics_history(hours=2)
    assert isinstance(history, works.MetricHistory)
    assert history.to - history.from_ == timedelta(hours=2)
    assert_aware_and_recent(history.to)
    assert history.sample_every_secs > 0 and history.retention_days > 0
    for sample in history.samples:
        assert isinstance(sample.at, datetime) and isinstance(sample.counts, works.FleetCounts)
    with pytest.raises(works.InvalidInput) as bad:
        client.metrics_history(hours=0)
    assert bad.value.field == "hours"


def managed_instance(client: works.Client, agent_url: str, org_id: str) -> tuple[works.Instance, works.Node, Agent]:
    """An OpenClaw instance an agent reported and an admin took over."""
    node = client.nodes.create(node_name("ops-web"), org_id=org_id)
    agent = Agent(agent_url, client.nodes.enrollment_token(node.id).token)
    assert agent.check_in([gateway(secrets.token_hex(6), health="healthy")]) == 200
    (found,) = client.instances.list(node_id=node.id)
    return client.instances.takeover(found.id, found.takeover_phrase or ""), node, agent


def test_cli_runs_versions_upgrade_plans_and_assignments(
    client: works.Client, backend: Backend, agent_url: str
) -> None:
    org = client.orgs.create(unique("Ops Org"))
    instance, node, agent = managed_instance(client, agent_url, org.id)

    commands = client.instances.cli_commands()
    assert commands and all(isinstance(c, works.CliCommand) for c in commands)
    runnable = next(c for c in commands if c.runnable)
    refused = next((c for c in commands if not c.runnable), None)
    if refused is not None:
        assert refused.why_not
        with pytest.raises((works.InvalidInput, works.Forbidden)):
            client.instances.cli_run(instance.id, refused.id)
    with pytest.raises(works.InvalidInput) as unknown:
        client.instances.cli_run(instance.id, "rm-rf")
    assert unknown.value.field == "command_id"
    run = client.instances.cli_run(instance.id, runnable.id)
    assert isinstance(run, works.Job) and run.node_id == node.id
    assert client.instances.cli_run_get(instance.id, run.id) == run
    assert [j.id for j in client.instances.cli_runs(instance.id, page_size=1)] == [run.id]

    report = client.instances.versions(instance.id)
    assert isinstance(report, works.VersionReport) and isinstance(report.eligibility, works.Eligibility)
    assert report.current == DEFAULT_VERSION and report.pinned
    with pytest.raises(works.InvalidInput) as bad_version:
        client.instances.plan_upgrade(instance.id, "latest")
    assert bad_version.value.field == "to_version"
    plan = client.instances.plan_upgrade(instance.id, "2026.10.1")
    assert isinstance(plan, works.UpgradePlan) and plan.state == "proposed" and plan.approval_phrase
    assert_aware_and_recent(plan.created_at)
    with pytest.raises(works.InvalidInput) as wrong:
        client.instances.approve_upgrade(instance.id, plan.id, "approve")
    assert wrong.value.field == "phrase"
    approved = client.instances.approve_upgrade(instance.id, plan.id, plan.approval_phrase)
    assert approved.state == "approved" and approved.approved_at is not None
    assert client.instances.upgrade_plan(instance.id, plan.id) == approved
    assert [p.id for p in client.instances.upgrade_plans(instance.id)] == [plan.id]
    second = client.instances.plan_upgrade(instance.id, "2026.10.2")
    assert client.instances.cancel_upgrade(instance.id, second.id).state == "cancelled"

    member = client.users.create(unique("member"), role="org_user", password=USER_PASSWORD, org_id=org.id)
    assigned = client.instances.assign(instance.id, member.id)
    assert isinstance(assigned, works.Assignment) and assigned.username == member.username
    assert client.instances.assignments(instance.id) == [assigned]

    # Another organization's admin and user: refusals, never a glimpse.
    other = client.orgs.create(unique("Other Ops Org"))
    stranger = client.users.create(unique("stranger"), role="org_user", password=USER_PASSWORD, org_id=other.id)
    with pytest.raises(works.InvalidInput) as foreign:
        client.instances.assign(instance.id, stranger.id)
    assert foreign.value.field == "user_id"
    admin_name = unique("otheradmin")
    client.users.create(admin_name, role="org_admin", password=USER_PASSWORD, org_id=other.id)
    outsider = backend.as_user(admin_name, USER_PASSWORD)
    for attempt in (
        lambda: outsider.instances.cli_run(instance.id, runnable.id),
        lambda: outsider.instances.cli_run_get(instance.id, run.id),
        lambda: outsider.instances.versions(instance.id),
        lambda: outsider.instances.plan_upgrade(instance.id, "2026.10.1"),
        lambda: outsider.instances.upgrade_plan(instance.id, plan.id),
        lambda: outsider.instances.assignments(instance.id),
        lambda: outsider.instances.assign(instance.id, stranger.id),
    ):
        with pytest.raises(works.NotFound):
            attempt()

    client.instances.unassign(instance.id, member.id)
    assert client.instances.assignments(instance.id) == []
