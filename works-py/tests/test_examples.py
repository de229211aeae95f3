"""The example scripts in examples/python, run against a seeded server and a seeded
database, with what they print checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

import works
from conftest import ADMIN_PASSWORD, REPO_ROOT, USER_PASSWORD, Server, run_python

EXAMPLES = REPO_ROOT / "examples" / "python"


class Seeded:
    """A fresh backend with two active organizations, one archived, their users and a
    refused attempt, and how a script reaches it."""

    def __init__(self, mode: str, tmp_path: Path) -> None:
        self.mode = mode
        if mode == "remote":
            self.server = Server(tmp_path / "data")
            self.admin = works.connect(self.server.url, username="admin", password=ADMIN_PASSWORD)
        else:
            self.database = f"sqlite://{tmp_path}/works.db"
            with pytest.warns(works.FirstStart):
                self.admin = works.open(self.database, admin_password=ADMIN_PASSWORD)
        admin = self.admin
        acme = admin.orgs.create("Acme Dental")
        bayside = admin.orgs.create("Bayside Law")
        old = admin.orgs.create("Old Client")
        admin.users.create("alice", role="org_admin", password=USER_PASSWORD, org_id=acme.id, display_name="Alice Smith")
        admin.users.create("bob", role="org_user", password=USER_PASSWORD, org_id=acme.id)
        admin.users.create("carol", role="org_admin", password=USER_PASSWORD, org_id=bayside.id)
        dave = admin.users.create("dave", role="org_user", password=USER_PASSWORD, org_id=bayside.id)
        admin.users.disable(dave.id)
        admin.users.create("opsbot", role="msp_operator", password=USER_PASSWORD)
        admin.orgs.archive(old.id)
        with pytest.raises(works.NotFound):
            admin.orgs.get("no-such-org")
        self.admin_token = admin.tokens.create("examples").token

    def as_user(self, username: str) -> works.Client:
        if self.mode == "remote":
            return works.connect(self.server.url, username=username, password=USER_PASSWORD)
        return works.open(self.database, as_user=username)

    def args(self, token: str) -> list[str]:
        """The command-line arguments that reach this backend with an API token."""
        if self.mode == "remote":
            return ["--server", self.server.url, "--token", token]
        return ["--database", self.database, "--token", token]

    def stop(self) -> None:
        if self.mode == "remote":
            self.server.stop()


@pytest.fixture(params=["remote", "embedded"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    backend = Seeded(request.param, tmp_path)
    yield backend
    backend.stop()


def test_nightly_health_report(seeded: Seeded) -> None:
    run = run_python(str(EXAMPLES / "nightly_health_report.py"), *seeded.args(seeded.admin_token))
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert re.search(r"^Anthropy Works nightly report, \d{4}-\d\d-\d\d \d\d:\d\d UTC, as admin \(msp_admin\)$", out, re.M)
    assert "Organizations: 3 (2 active, 1 archived)" in out
    assert re.search(r"^  Acme Dental \[active\] since \d{4}-", out, re.M)
    assert "    users: 2 (1 org_admin, 1 org_user; 0 disabled)" in out
    assert re.search(r"^      alice\s+org_admin\s+Alice Smith$", out, re.M)
    assert "    users: 2 (1 org_admin, 1 org_user; 1 disabled)" in out
    assert re.search(r"^      dave\s+org_user\s+dave  DISABLED$", out, re.M)
    assert re.search(r"^  Old Client \[archived \d{4}-\d\d-\d\d\]", out, re.M)
    assert "    users: 0 (no users; 0 disabled)" in out
    assert "MSP staff: 2" in out and re.search(r"^      opsbot\s+msp_operator", out, re.M)
    assert "Refused attempts in the last 24 hours: 1" in out
    assert "org.get: No organization with id no-such-org exists" in out
    assert re.search(r"^Audit chain: intact \(\d+ records checked\)$", out, re.M)
    # Organizations in name order.
    assert out.index("Acme Dental") < out.index("Bayside Law") < out.index("Old Client")


def test_nightly_health_report_as_an_org_admin(seeded: Seeded) -> None:
    token = seeded.as_user("alice").tokens.create("acme report").token
    run = run_python(str(EXAMPLES / "nightly_health_report.py"), *seeded.args(token))
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "as alice (org_admin)" in out
    assert "Organizations: 1 (1 active, 0 archived)" in out
    assert "Acme Dental" in out and "Bayside Law" not in out and "carol" not in out
    assert "MSP staff: 0" in out
    assert "Audit chain: not checked: " in out


def test_nightly_health_report_with_a_revoked_token(seeded: Seeded) -> None:
    created = seeded.admin.tokens.create("revoked soon")
    seeded.admin.tokens.revoke(created.info.id)
    run = run_python(str(EXAMPLES / "nightly_health_report.py"), *seeded.args(created.token))
    assert run.returncode == 2
    assert run.stderr == (
        "The report could not be made: Your sign-in is not valid or has ended. Sign in again.\n"
        "Sign in again, or use a valid API token.\n"
    )


def test_bulk_users_from_csv(seeded: Seeded, tmp_path: Path) -> None:
    admin, where = seeded.admin, seeded.args(seeded.admin_token)
    csv_file = tmp_path / "users.csv"
    csv_file.write_text(
        "username,display_name,role,organization,password\n"
        "erin,Erin Example,org_admin,acme dental,erin-chosen-password\n"
        "frank,,org_user,Bayside Law,\n"
        "gina,Gina,org_user,Acme Dental,short\n"
        "hank,Hank,wizard,Acme Dental,hank-chosen-password\n"
        "ivan,Ivan,org_user,Nowhere Inc,ivan-chosen-password\n"
        "alice,Alice Again,org_user,Acme Dental,alice-chosen-password\n"
        "Bad Name,,org_user,Acme Dental,bad-name-password\n"
        "judy,Judy,org_user,Old Client,judy-chosen-password\n"
        "kim,,msp_operator,,kim-chosen-password\n",
        encoding="utf-8",
    )
    run = run_python(str(EXAMPLES / "bulk_users_from_csv.py"), str(csv_file), *where)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "line 2: created erin as org_admin in acme dental"
    assert re.fullmatch(r"line 3: created frank as org_user in Bayside Law; generated password (\S+) \(shown once\)", lines[1])
    assert lines[2] == "line 4: not created: field password: password: must be at least 10 characters"
    assert lines[3].startswith("line 5: not created: field role: role: must be one of msp_admin")
    assert lines[4] == "line 6: not created: field organization: no organization named 'Nowhere Inc' that you can see"
    assert lines[5] == "line 7: not created: field username: A user named alice already exists."
    assert lines[6].startswith("line 8: not created: field username: username: ")
    # Archived organizations are not offered, so their name is unknown.
    assert lines[7] == "line 9: not created: field organization: no organization named 'Old Client' that you can see"
    assert lines[8] == "line 10: created kim as msp_operator"
    assert lines[9] == "3 created, 6 not created"

    users = {u.username: u for u in admin.users.list()}
    assert users["erin"].display_name == "Erin Example" and users["erin"].role == "org_admin"
    assert users["frank"].display_name == "frank" and users["kim"].org_id is None
    assert not {"gina", "hank", "ivan", "judy"} & set(users)


def test_bulk_users_from_a_missing_file(seeded: Seeded, tmp_path: Path) -> None:
    run = run_python(str(EXAMPLES / "bulk_users_from_csv.py"), str(tmp_path / "nope.csv"), *seeded.args(seeded.admin_token))
    assert run.returncode == 2
    assert "nope.csv could not be read: No such file or directory" in run.stderr
