#!/usr/bin/env python3
"""Nightly health report: every organization with its users and nodes, failed work and
refused attempts of the last day, and whether the audit log's hash chain is intact.

    python examples/python/nightly_health_report.py --server http://127.0.0.1:8080 --token wkt_...
    python examples/python/nightly_health_report.py --database sqlite:///var/lib/works/works.db

Nodes are counted by status (online, stale, offline; retired ones apart), with the
reason for each node that is not online. Failed and timed-out jobs are those that ended
in the last --hours hours.

Exits 0 when the audit chain is intact, 1 when it is broken, 2 when the report could
not be made (the message says why). Run it from cron and mail yourself the output.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import works


def connect(args: argparse.Namespace) -> works.Client:
    if args.server:
        return works.connect(args.server, token=args.token)
    return works.open(args.database, as_user=None if args.token else args.as_user, token=args.token)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", metavar="URL", help="a running server, e.g. http://127.0.0.1:8080")
    where.add_argument("--database", metavar="URL", help="a database opened directly, e.g. sqlite:///path/works.db")
    parser.add_argument("--token", help="an API token (needed with --server unless WORKS_TOKEN is set)")
    parser.add_argument("--as", dest="as_user", default="admin", help="with --database: act as this user (default admin)")
    parser.add_argument(
        "--hours", type=int, default=24, help="how far back to count failed jobs and refused attempts (default 24)"
    )
    return parser.parse_args(argv)


STATUSES = ("online", "stale", "offline")


def print_users(members: list[works.User]) -> None:
    for u in members:
        flag = "  DISABLED" if u.disabled else ""
        print(f"      {u.username:<20} {u.role:<13} {u.display_name}{flag}")


def node_summary(nodes: list[works.Node]) -> str:
    """`3 (1 online, 1 stale, 1 offline; 1 retired)`, retired nodes counted apart."""
    active = [n for n in nodes if not n.retired]
    by_status = Counter(n.status for n in active)
    counts = ", ".join(f"{by_status[s]} {s}" for s in STATUSES)
    retired = len(nodes) - len(active)
    return f"{len(active)} ({counts}{f'; {retired} retired' if retired else ''})"


def print_nodes(nodes: list[works.Node]) -> None:
    """Every node that is not retired, with the reason when it is not online."""
    for n in sorted(nodes, key=lambda n: n.name):
        if n.retired:
            continue
        line = f"      {n.name:<20} {n.status:<8}"
        print(line.rstrip() if n.status == "online" else f"{line} {n.status_reason}")


def report(client: works.Client, hours: int) -> int:
    now = datetime.now(timezone.utc)
    me = client.whoami()
    print(f"Anthropy Works nightly report, {now:%Y-%m-%d %H:%M} UTC, as {me.username} ({me.role})")

    orgs = list(client.orgs.list(include_archived=True))
    users_by_org: dict[str | None, list[works.User]] = defaultdict(list)
    for user in client.users.list(include_disabled=True):
        users_by_org[user.org_id].append(user)
    nodes = list(client.nodes.list(include_retired=True))
    nodes_by_org: dict[str | None, list[works.Node]] = defaultdict(list)
    for node in nodes:
        nodes_by_org[node.org_id].append(node)

    archived = sum(1 for org in orgs if org.archived)
    print(f"\nOrganizations: {len(orgs)} ({len(orgs) - archived} active, {archived} archived)")
    for org in sorted(orgs, key=lambda o: o.name.lower()):
        state = f"archived {org.archived_at:%Y-%m-%d}" if org.archived_at else "active"
        members = sorted(users_by_org.get(org.id, []), key=lambda u: u.username)
        roles = Counter(u.role for u in members)
        disabled = sum(1 for u in members if u.disabled)
        summary = ", ".join(f"{n} {role}" for role, n in sorted(roles.items())) or "no users"
        print(f"\n  {org.name} [{state}] since {org.created_at:%Y-%m-%d}")
        print(f"    users: {len(members)} ({summary}; {disabled} disabled)")
        print_users(members)
        org_nodes = nodes_by_org.get(org.id, [])
        print(f"    nodes: {node_summary(org_nodes)}")
        print_nodes(org_nodes)

    msp_users = sorted(users_by_org.get(None, []), key=lambda u: u.username)
    print(f"\nMSP staff: {len(msp_users)}")
    print_users(msp_users)
    shared = nodes_by_org.get(None, [])
    print(f"\nShared MSP infrastructure nodes: {node_summary(shared)}")
    print_nodes(shared)
    print(f"\nAll nodes: {node_summary(nodes)}")

    since = now - timedelta(hours=hours)
    names = {n.id: n.name for n in nodes}
    org_names = {o.id: o.name for o in orgs}
    ended = [
        job
        for state in ("failed", "timed_out")
        for job in client.jobs.list(state=state)
        if job.finished_at is not None and job.finished_at >= since
    ]
    ended.sort(key=lambda j: j.finished_at or j.updated_at, reverse=True)
    print(f"\nFailed or timed-out jobs in the last {hours} hours: {len(ended)}")
    for job in ended:
        where = names.get(job.node_id, job.node_id)
        owner = org_names.get(job.org_id, job.org_id) if job.org_id else "shared"
        at = job.finished_at or job.updated_at
        print(f"  {at:%Y-%m-%d %H:%M:%S} {job.state:<9} {job.kind} on {where} ({owner}): {job.reason}")

    refused = list(client.audit.query(outcome="denied", since=since))
    print(f"\nRefused attempts in the last {hours} hours: {len(refused)}")
    for record in refused[:10]:
        print(f"  {record.at:%Y-%m-%d %H:%M:%S} {record.actor_name}: {record.action}: {record.reason}")

    try:
        chain = client.audit.verify()
    except works.Forbidden as e:
        print(f"\nAudit chain: not checked: {e}")
        return 0
    if chain.intact:
        print(f"\nAudit chain: intact ({chain.checked} records checked)")
        return 0
    print(f"\nAudit chain: BROKEN at record {chain.broken_at_seq}: {chain.problem}")
    return 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return report(connect(args), args.hours)
    except works.WorksError as e:
        print(f"The report could not be made: {e}\n{e.next_action}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
