#!/usr/bin/env python3
"""Add nodes from a CSV file, make a one-time enrollment token for each, and print the
command that enrolls its agent.

    python examples/python/bulk_nodes_from_csv.py nodes.csv --server http://works.example:8080 --token wkt_...
    python examples/python/bulk_nodes_from_csv.py nodes.csv --database sqlite:///var/lib/works/works.db \\
        --agent-server http://works.example:8080

The CSV has a header line with these columns (organization may be empty):

    name,organization
    acme-web-01,Acme Dental
    acme-db-01,Acme Dental
    msp-backup-01,

`organization` is an organization's name (or id); empty adds the node as shared MSP
infrastructure. For every node added, the script prints a `works agent enroll` line to
run on that machine. Each token works once and only for a short time (the line says
until when), and is shown nowhere else: hand the lines over straight away.

`--agent-server` is the address the machines reach the server at (default: the
`--server` address). A bad line is reported with the field at fault and the rest of
the file is still processed. Exits 0 when every line was added, 1 when some were not,
2 when the file could not be read.
"""

from __future__ import annotations

import argparse
import csv
import sys

import works

STATE_DIR = "/var/lib/works-agent"


def connect(args: argparse.Namespace) -> works.Client:
    if args.server:
        return works.connect(args.server, token=args.token)
    return works.open(args.database, as_user=None if args.token else args.as_user, token=args.token)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv_file", help="the CSV file of nodes to add")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", metavar="URL", help="a running server, e.g. http://127.0.0.1:8080")
    where.add_argument("--database", metavar="URL", help="a database opened directly, e.g. sqlite:///path/works.db")
    parser.add_argument("--token", help="an API token (needed with --server unless WORKS_TOKEN is set)")
    parser.add_argument("--as", dest="as_user", default="admin", help="with --database: act as this user (default admin)")
    parser.add_argument("--agent-server", metavar="URL", help="the address agents reach the server at (default: --server)")
    return parser.parse_args(argv)


def organization_ids(client: works.Client) -> dict[str, str]:
    """Organization names (ignoring case) and ids, to id."""
    ids: dict[str, str] = {}
    for org in client.orgs.list():
        ids[org.name.casefold()] = org.id
        ids[org.id.casefold()] = org.id
    return ids


def refused(line: int, what: str, e: works.WorksError) -> None:
    field = f"field {e.field}: " if e.field else ""
    print(f"line {line}: {what}: {field}{e}")


def add_all(client: works.Client, rows: "csv.DictReader[str]", agent_server: str) -> tuple[int, int]:
    orgs = organization_ids(client)
    added = failed = 0
    for row in rows:
        line = rows.line_num
        name = (row.get("name") or "").strip()
        org_name = (row.get("organization") or "").strip()
        org_id = orgs.get(org_name.casefold()) if org_name else None
        if org_name and org_id is None:
            print(f"line {line}: not added: field organization: no organization named {org_name!r} that you can see")
            failed += 1
            continue
        try:
            node = client.nodes.create(name, org_id=org_id)
        except works.WorksError as e:
            refused(line, "not added", e)
            failed += 1
            continue
        where = f"for {org_name}" if org_name else "as shared MSP infrastructure"
        try:
            enrollment = client.nodes.enrollment_token(node.id)
        except works.WorksError as e:
            refused(line, f"added {node.name} {where}, but no enrollment token", e)
            failed += 1
            continue
        print(f"line {line}: added {node.name} {where}; enrollment token valid until {enrollment.expires_at:%Y-%m-%d %H:%M} UTC")
        print(f"  works agent enroll --server {agent_server} --token {enrollment.token} --state-dir {STATE_DIR}")
        added += 1
    return added, failed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    agent_server = (args.agent_server or args.server or "<this server's address>").rstrip("/")
    try:
        with open(args.csv_file, newline="", encoding="utf-8") as f:
            rows = csv.DictReader(f)
            if "name" not in (rows.fieldnames or []):
                print(f"{args.csv_file}: the header line lacks the column name", file=sys.stderr)
                return 2
            added, failed = add_all(connect(args), rows, agent_server)
    except OSError as e:
        print(f"{args.csv_file} could not be read: {e.strerror}", file=sys.stderr)
        return 2
    except works.WorksError as e:
        print(f"Stopped: {e}\n{e.next_action}", file=sys.stderr)
        return 2
    print(f"{added} added, {failed} not added")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
