#!/usr/bin/env python3
"""Nightly health report: every organization with its users, refused attempts of the
last day, and whether the audit log's hash chain is intact.

    python examples/python/nightly_health_report.py --server http://127.0.0.1:8080 --token wkt_...
    python examples/python/nightly_health_report.py --database sqlite:///var/lib/works/works.db

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
    parser.add_argument("--hours", type=int, default=24, help="how far back to count refused attempts (default 24)")
    return parser.parse_args(argv)


def report(client: works.Client, hours: int) -> int:
    now = datetime.now(timezone.utc)
    me = client.whoami()
    print(f"Anthropy Works nightly report, {now:%Y-%m-%d %H:%M} UTC, as {me.username} ({me.role})")

    orgs = list(client.orgs.list(include_archived=True))
    users_by_org: dict[str | None, list[works.User]] = defaultdict(list)
    for user in client.users.list(include_disabled=True):
        users_by_org[user.org_id].append(user)

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
        for u in members:
            flag = "  DISABLED" if u.disabled else ""
            print(f"      {u.username:<20} {u.role:<13} {u.display_name}{flag}")

    msp_users = sorted(users_by_org.get(None, []), key=lambda u: u.username)
    print(f"\nMSP staff: {len(msp_users)}")
    for u in msp_users:
        flag = "  DISABLED" if u.disabled else ""
        print(f"      {u.username:<20} {u.role:<13} {u.display_name}{flag}")

    since = now - timedelta(hours=hours)
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
