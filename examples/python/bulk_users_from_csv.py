#!/usr/bin/env python3
"""Create users from a CSV file, one per line, and say for each line what happened.

    python examples/python/bulk_users_from_csv.py users.csv --server http://127.0.0.1:8080 --token wkt_...
    python examples/python/bulk_users_from_csv.py users.csv --database sqlite:///var/lib/works/works.db

The CSV has a header line with these columns (display_name and password may be empty):

    username,display_name,role,organization,password
    alice,Alice Smith,org_admin,Acme Dental,
    bob,,org_user,Acme Dental,a-long-chosen-password

`organization` is an organization's name (or id), empty for MSP roles. An empty
password is generated and printed once, for you to hand over. A bad line is reported
with the field at fault and the rest of the file is still processed. Exits 0 when
every line was created, 1 when some were not, 2 when the file could not be read.
"""

from __future__ import annotations

import argparse
import csv
import secrets
import sys

import works

COLUMNS = ("username", "display_name", "role", "organization", "password")


def connect(args: argparse.Namespace) -> works.Client:
    if args.server:
        return works.connect(args.server, token=args.token)
    return works.open(args.database, as_user=None if args.token else args.as_user, token=args.token)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv_file", help="the CSV file of users to create")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", metavar="URL", help="a running server, e.g. http://127.0.0.1:8080")
    where.add_argument("--database", metavar="URL", help="a database opened directly, e.g. sqlite:///path/works.db")
    parser.add_argument("--token", help="an API token (needed with --server unless WORKS_TOKEN is set)")
    parser.add_argument("--as", dest="as_user", default="admin", help="with --database: act as this user (default admin)")
    return parser.parse_args(argv)


def organization_ids(client: works.Client) -> dict[str, str]:
    """Organization names (ignoring case) and ids, to id."""
    ids: dict[str, str] = {}
    for org in client.orgs.list():
        ids[org.name.casefold()] = org.id
        ids[org.id.casefold()] = org.id
    return ids


def create_all(client: works.Client, rows: "csv.DictReader[str]") -> tuple[int, int]:
    orgs = organization_ids(client)
    created = failed = 0
    for row in rows:
        line = rows.line_num
        values = {column: (row.get(column) or "").strip() for column in COLUMNS}
        org_name = values["organization"]
        org_id = orgs.get(org_name.casefold()) if org_name else None
        if org_name and org_id is None:
            print(f"line {line}: not created: field organization: no organization named {org_name!r} that you can see")
            failed += 1
            continue
        password = values["password"] or secrets.token_urlsafe(15)
        try:
            user = client.users.create(
                values["username"],
                role=values["role"],
                password=password,
                org_id=org_id,
                display_name=values["display_name"] or None,
            )
        except works.WorksError as e:
            field = f"field {e.field}: " if e.field else ""
            print(f"line {line}: not created: {field}{e}")
            failed += 1
            continue
        where = f" in {org_name}" if org_name else ""
        shown = "" if values["password"] else f"; generated password {password} (shown once)"
        print(f"line {line}: created {user.username} as {user.role}{where}{shown}")
        created += 1
    return created, failed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with open(args.csv_file, newline="", encoding="utf-8") as f:
            rows = csv.DictReader(f)
            missing = [c for c in ("username", "role") if c not in (rows.fieldnames or [])]
            if missing:
                print(f"{args.csv_file}: the header line lacks the column(s) {', '.join(missing)}", file=sys.stderr)
                return 2
            created, failed = create_all(connect(args), rows)
    except OSError as e:
        print(f"{args.csv_file} could not be read: {e.strerror}", file=sys.stderr)
        return 2
    except works.WorksError as e:
        print(f"Stopped: {e}\n{e.next_action}", file=sys.stderr)
        return 2
    print(f"{created} created, {failed} not created")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
