#!/usr/bin/env python3
"""Fleet health report: the health answer with its issues, and the OpenClaw instances
that need attention, organization by organization.

    python examples/python/fleet_health_report.py --server http://127.0.0.1:8080 --token wkt_...
    python examples/python/fleet_health_report.py --database sqlite:///var/lib/works/works.db

The answer (healthy, degraded or critical) comes first, then each current issue with
why, what to do next and where to look, then the issues a person already reviewed.
Then, for every organization you can see (and shared MSP infrastructure), how many
OpenClaw instances it has and each one that needs attention: a managed instance whose
last health check was not healthy, a discovered one whose container is not running
well or is gone, a deploy that failed.

Exits like `works health`: 0 healthy, 1 degraded, 2 critical; 3 when the report could
not be made (the message says why). Run it from cron or a monitoring check.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from datetime import datetime, timezone

import works

#: What an instance's health reads like when all is well.
WELL = ("healthy", "running", "running, healthy")


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
    return parser.parse_args(argv)


def trouble(instance: works.Instance) -> str | None:
    """What is wrong with an instance, in a few words, or None when nothing is."""
    if instance.state == "failed":
        return f"deploy failed: {instance.reason or 'no reason was given'}"
    if instance.state in ("deploying", "removed"):
        return None
    health = instance.health or "not checked yet"
    if health in WELL:
        return None
    detail = instance.health_detail or {}
    summary = detail.get("summary") if isinstance(detail, dict) else None
    return f"{health}: {summary}" if summary else health


def print_issue(issue: works.HealthIssue) -> None:
    print(f"  [{issue.severity}] {issue.title}")
    print(f"      why:   {issue.why}")
    print(f"      next:  {issue.next_action}")
    print(f"      see:   {issue.link}")
    print(f"      issue: {issue.id}")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def report(client: works.Client) -> int:
    now = datetime.now(timezone.utc)
    me = client.whoami()
    print(f"Anthropy Works fleet health, {now:%Y-%m-%d %H:%M} UTC, as {me.username} ({me.role})")

    health = client.health()
    print(f"\n{health.state_label}: {health.summary}")
    if health.issues:
        print(f"\nIssues ({len(health.issues)}):")
        for issue in health.issues:
            print_issue(issue)
    if health.acknowledged:
        print(f"\nReviewed ({len(health.acknowledged)}):")
        for issue in health.acknowledged:
            ack = issue.acknowledgement
            by = f" (by {ack.acknowledged_by}: {ack.note or 'no note'})" if ack else ""
            print(f"  {issue.title}{by}")

    orgs = sorted(client.orgs.list(), key=lambda o: o.name.lower())
    node_names = {n.id: n.name for n in client.nodes.list(include_retired=True)}
    instances = list(client.instances.list())
    by_org: dict[str | None, list[works.Instance]] = defaultdict(list)
    for instance in instances:
        by_org[instance.org_id].append(instance)

    needing = [i for i in instances if trouble(i)]
    print(f"\nOpenClaw instances: {len(instances)}, {len(needing)} needing attention")
    groups: list[tuple[str, str | None]] = [(org.name, org.id) for org in orgs]
    if me.org_id is None:
        groups.append(("Shared MSP infrastructure", None))
    for name, org_id in groups:
        mine = sorted(by_org.get(org_id, []), key=lambda i: (node_names.get(i.node_id, i.node_id), i.container_name))
        bad = [(i, trouble(i)) for i in mine if trouble(i)]
        if not mine:
            print(f"  {name}: no instances")
            continue
        status = "all well" if not bad else f"{len(bad)} needing attention"
        print(f"  {name}: {plural(len(mine), 'instance')}, {status}")
        for instance, problem in bad:
            node = node_names.get(instance.node_id, instance.node_id)
            print(f"      {node:<16} {instance.container_name:<20} {instance.state:<10} {problem}")
    return health.code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return report(connect(args))
    except works.WorksError as e:
        print(f"The report could not be made: {e}\n{e.next_action}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
