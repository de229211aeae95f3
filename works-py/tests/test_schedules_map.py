"""Schedules and the fleet map, run against each backend: embedded (SQLite, and
PostgreSQL when configured) and remote (a real `works serve`)."""

from __future__ import annotations

from datetime import datetime

import pytest

import works
from conftest import USER_PASSWORD, Backend, unique


def org_admin(backend: Backend, client: works.Client, org_id: str) -> works.Client:
    name = unique("orgadmin")
    client.users.create(name, role="org_admin", password=USER_PASSWORD, org_id=org_id)
    return backend.as_user(name, USER_PASSWORD)


def test_a_schedule_is_typed_validated_and_tenant_checked(client: works.Client, backend: Backend) -> None:
    org = client.orgs.create(unique("Sched Org"))
    client.policy.grant(org.id, "summarize")
    flow = client.workflows.create("Morning summary", [works.WorkflowStep(capability_id="summarize", action="summarize_text")], org_id=org.id)
    admin = org_admin(backend, client, org.id)

    s = admin.schedules.create("Weekday mornings", cron="0 9 * * 1-5", time_zone="Europe/Berlin", workflow_id=flow.id)
    assert isinstance(s, works.Schedule) and "Weekday mornings" in repr(s)
    assert (s.org_id, s.enabled, s.target["type"], s.target["workflow_id"]) == (org.id, True, "workflow", flow.id)
    assert isinstance(s.next_fire_at, datetime) and s.next_fire_at.tzinfo is not None
    # 09:00 in Berlin is 07:00 or 08:00 UTC, never 09:00.
    assert s.next_fire_at.hour in (7, 8) and s.next_fire_at.minute == 0
    assert [x.id for x in admin.schedules.list()] == [s.id]
    assert client.schedules.get(s.id) == admin.schedules.get(s.id)

    off = admin.schedules.update(s.id, enabled=False)
    assert (off.enabled, off.next_fire_at) == (False, None)
    on = admin.schedules.update(s.id, enabled=True, cron="30 6 * * *")
    assert on.enabled and on.cron == "30 6 * * *" and on.next_fire_at is not None

    for kwargs, field in [
        ({"cron": "61 * * * *", "time_zone": "UTC", "workflow_id": flow.id}, "cron"),
        ({"cron": "0 9 * * *", "time_zone": "Mars/Olympus", "workflow_id": flow.id}, "time_zone"),
        ({"cron": "0 9 * * *", "time_zone": "UTC", "job_kind": "restart", "node_ids": []}, "target.job_kind"),
        ({"cron": "0 9 * * *", "time_zone": "UTC"}, "target"),
    ]:
        with pytest.raises(works.InvalidInput) as bad:
            admin.schedules.create("Bad", **kwargs)
        assert bad.value.field == field, (kwargs, bad.value)

    outsider = org_admin(backend, client, client.orgs.create(unique("Other Sched Org")).id)
    with pytest.raises(works.NotFound):
        outsider.schedules.get(s.id)
    with pytest.raises((works.NotFound, works.Forbidden)):
        outsider.schedules.update(s.id, enabled=False)
    with pytest.raises((works.NotFound, works.Forbidden)):
        outsider.schedules.delete(s.id)
    assert list(outsider.schedules.list()) == []
    assert admin.schedules.get(s.id).enabled is True

    assert admin.schedules.delete(s.id).id == s.id
    with pytest.raises(works.NotFound):
        admin.schedules.get(s.id)


def test_the_map_holds_what_the_person_may_see(client: works.Client, backend: Backend) -> None:
    a = client.orgs.create(unique("Map A"))
    b = client.orgs.create(unique("Map B"))
    node_a = client.nodes.create(unique("map-a").lower(), org_id=a.id)
    node_b = client.nodes.create(unique("map-b").lower(), org_id=b.id)

    whole = client.map()
    assert isinstance(whole, works.FleetMap) and isinstance(whole.generated_at, datetime)
    ids = {n.id for n in whole.nodes}
    assert {f"node:{node_a.id}", f"node:{node_b.id}", f"org:{a.id}", f"org:{b.id}"} <= ids
    assert all(isinstance(n, works.MapNode) for n in whole.nodes)
    assert all(isinstance(e, works.MapEdge) and e.from_ in ids for e in whole.edges)
    assert whole.state in ("healthy", "degraded", "critical") and whole.summary

    mine = org_admin(backend, client, a.id).map()
    mine_ids = {n.id for n in mine.nodes}
    assert f"node:{node_a.id}" in mine_ids
    assert not any(b.id in n.id or n.group == f"org:{b.id}" for n in mine.nodes), mine_ids
    assert [g.org_id for g in mine.groups if g.org_id] == [a.id]


def test_the_status_summary_and_layout_are_the_persons_own(client: works.Client, backend: Backend) -> None:
    a = client.orgs.create(unique("Status A"))
    b = client.orgs.create(unique("Status B"))
    client.nodes.create(unique("status-a").lower(), org_id=a.id)
    client.nodes.create(unique("status-b").lower(), org_id=b.id)

    whole = client.status_summary()
    assert isinstance(whole, works.StatusSummary) and isinstance(whole.counts, works.StatusCounts)
    assert whole.state in ("healthy", "degraded", "critical") and whole.summary
    assert isinstance(whole.generated_at, datetime)
    assert whole.counts.organizations >= 2 and whole.counts.nodes_waiting >= 2

    mine = org_admin(backend, client, a.id)
    scoped = mine.status_summary()
    assert (scoped.counts.organizations, scoped.counts.nodes_waiting) == (1, 1)

    default = mine.layout()
    assert isinstance(default, works.Layout) and default.roster_side == "left"
    moved = mine.set_layout(works.Layout(**{**default.__dict__, "roster_side": "right", "activity": "hidden", "collapsed_groups": (f"org:{a.id}",)}))
    assert (moved.roster_side, moved.activity, moved.collapsed_groups) == ("right", "hidden", (f"org:{a.id}",))
    assert mine.layout() == moved
    assert client.layout().roster_side == "left", "one person's layout is not another's"
    with pytest.raises(works.InvalidInput) as bad:
        mine.set_layout(works.Layout(**{**default.__dict__, "roster_width": 5}))
    assert bad.value.field == "roster_width"
