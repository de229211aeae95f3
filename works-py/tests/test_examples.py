"""The example scripts in examples/python, run against a seeded server and a seeded
database, with what they print checked."""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Iterator

import pytest

import works
from conftest import ADMIN_PASSWORD, REPO_ROOT, USER_PASSWORD, Agent, Server, enroll, run_python

EXAMPLES = REPO_ROOT / "examples" / "python"


def openclaw(container_id: str, name: str, state: str, health: str | None) -> dict[str, object]:
    return {"id": container_id, "name": name, "image": "ghcr.io/openclaw/openclaw:2026.9.6", "state": state, "health": health}


# OpenClaw containers the agents find on their nodes: discovered instances.
OPENCLAW_CONTAINERS = {
    "acme-web-01": [openclaw("c-acme-gw", "/openclaw-gateway", "running", "healthy"), openclaw("c-acme-cell", "/openclaw-cell-2", "exited", None)],
    "bayside-fw-01": [openclaw("c-bay-gw", "/openclaw-gateway", "running", "unhealthy")],
    "msp-backup-01": [openclaw("c-msp-gw", "/openclaw-gateway", "running", "healthy")],
}

# What the agent reports when a health check finds the gateway down.
GATEWAY_DOWN = {
    "healthy": False,
    "summary": "Unhealthy: the gateway container openclaw-gateway is exited. Restart the gateway or look at its logs.",
    "components": [{"role": "gateway", "container_name": "openclaw-gateway", "required": True, "state": "exited", "health": None}],
    "healthz": {"ok": False, "status": None, "detail": "connection refused"},
    "readyz": {"ok": False, "status": None, "detail": "connection refused"},
    "host_port": 18789,
}


class Seeded:
    """A fresh backend with two active organizations, one archived, their users, a
    refused attempt, and a fleet: nodes online, stale, offline and retired, a failed and
    a timed-out job. Agents talk to a real server; a script reaches the same database
    through that server (remote) or by opening it directly (embedded)."""

    def __init__(self, mode: str, tmp_path: Path) -> None:
        self.mode = mode
        self.db_file = tmp_path / "works.db"
        self.database = f"sqlite://{self.db_file}"
        # Recovery passes every second, so an expired job times out while the test waits.
        self.server = Server(tmp_path / "data", database_url=self.database, env={"WORKS_RECOVERY_INTERVAL_SECS": "1"})
        if mode == "remote":
            self.admin = works.connect(self.server.url, username="admin", password=ADMIN_PASSWORD)
        else:
            self.admin = works.open(self.database)
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
        self.nodes = self.seed_fleet(acme.id, bayside.id)
        self.admin_token = admin.tokens.create("examples").token

    def seed_fleet(self, acme_id: str, bayside_id: str) -> dict[str, works.Node]:
        admin = self.admin
        nodes = {
            name: admin.nodes.create(name, org_id=org_id)
            for name, org_id in [
                ("acme-web-01", acme_id),
                ("acme-db-01", acme_id),
                ("acme-nas-01", acme_id),  # never enrolled: offline
                ("acme-old-01", acme_id),
                ("bayside-fw-01", bayside_id),
                ("msp-backup-01", None),
            ]
        }
        admin.nodes.retire(nodes["acme-old-01"].id)
        agents = {}
        for name in ("acme-web-01", "acme-db-01", "bayside-fw-01", "msp-backup-01"):
            agents[name] = Agent(self.server.url, admin.nodes.enrollment_token(nodes[name].id).token)
            assert agents[name].check_in(OPENCLAW_CONTAINERS.get(name)) == 200
        self.agents = agents
        # Time passes for two of them: one was last heard from two minutes ago (stale),
        # the other three hours ago (offline).
        now_ms = int(time.time() * 1000)
        self.sql("UPDATE nodes SET last_checkin_at = ? WHERE id = ?", now_ms - 121_000, nodes["acme-db-01"].id)
        self.sql("UPDATE nodes SET last_checkin_at = ? WHERE id = ?", now_ms - 3 * 3600_000, nodes["bayside-fw-01"].id)

        # A restart that the agent of acme-web-01 reports as failed.
        restart = admin.jobs.request(nodes["acme-web-01"].id, "restart")
        admin.jobs.approve(restart.id, restart.approval_phrase or "")
        claimed = agents["acme-web-01"].claim()
        assert claimed is not None and claimed["id"] == restart.id
        agents["acme-web-01"].finish(restart.id, succeeded=False, reason="docker: permission denied while restarting openclaw")

        # A health check bayside-fw-01 never picked up: its waiting window ends now, and
        # the server's recovery times it out.
        check = admin.jobs.request(nodes["bayside-fw-01"].id, "health_check")
        self.sql("UPDATE jobs SET expires_at = ? WHERE id = ?", int(time.time() * 1000) - 1000, check.id)
        deadline = time.monotonic() + 30
        while admin.jobs.get(check.id).state != "timed_out":
            assert time.monotonic() < deadline, "the server's recovery did not time the expired job out"
            time.sleep(0.2)
        return {name: admin.nodes.get(node.id) for name, node in nodes.items()}

    def sql(self, statement: str, *params: object) -> None:
        """Changes the database under the server, standing in for time passing."""
        with closing(sqlite3.connect(self.db_file, timeout=30)) as db, db:
            assert db.execute(statement, params).rowcount == 1

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
        self.server.stop()


@pytest.fixture(params=["remote", "embedded"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    backend = Seeded(request.param, tmp_path)
    yield backend
    backend.stop()


def block(out: str, start: str) -> str:
    """The lines of the report from the one starting with `start` to the next blank line."""
    at = out.index(start)
    end = out.find("\n\n", at)
    return out[at : end if end != -1 else len(out)]


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

    # Nodes per organization by status, with the reason for each one not online.
    acme, bayside, old = (block(out, f"  {name} [") for name in ("Acme Dental", "Bayside Law", "Old Client"))
    assert "    nodes: 3 (1 online, 1 stale, 1 offline; 1 retired)" in acme
    assert re.search(r"^      acme-web-01\s+online$", acme, re.M)
    assert re.search(
        r"^      acme-db-01\s+stale\s+The agent last checked in [234] minutes ago; it may be slow or restarting\.$", acme, re.M
    )
    assert re.search(r"^      acme-nas-01\s+offline\s+No agent has enrolled yet\. Create an enrollment token", acme, re.M)
    assert "acme-old-01" not in out  # retired: counted, not listed
    assert "    nodes: 1 (0 online, 0 stale, 1 offline)" in bayside
    assert re.search(r"^      bayside-fw-01\s+offline\s+The agent last checked in 3 hours ago\. Check that", bayside, re.M)
    assert "    nodes: 0 (0 online, 0 stale, 0 offline)" in old
    assert "Shared MSP infrastructure nodes: 1 (1 online, 0 stale, 0 offline)" in out
    assert re.search(r"^      msp-backup-01\s+online$", out, re.M)
    assert "All nodes: 5 (2 online, 1 stale, 2 offline; 1 retired)" in out

    # Work that failed or timed out, most recent first.
    assert "Failed or timed-out jobs in the last 24 hours: 2" in out
    timed_out = re.search(
        r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d timed_out health_check on bayside-fw-01 \(Bayside Law\): "
        r"The node did not pick this job up before it expired",
        out,
        re.M,
    )
    failed = re.search(
        r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d failed    restart on acme-web-01 \(Acme Dental\): "
        r"docker: permission denied while restarting openclaw$",
        out,
        re.M,
    )
    assert timed_out and failed and timed_out.start() < failed.start()


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
    # Only her organization's nodes and work.
    assert "    nodes: 3 (1 online, 1 stale, 1 offline; 1 retired)" in out
    assert "Shared MSP infrastructure nodes: 0 (0 online, 0 stale, 0 offline)" in out
    assert "All nodes: 3 (1 online, 1 stale, 1 offline; 1 retired)" in out
    assert "bayside-fw-01" not in out and "msp-backup-01" not in out
    assert "Failed or timed-out jobs in the last 24 hours: 1" in out
    assert "restart on acme-web-01 (Acme Dental): docker: permission denied" in out


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


def test_bulk_nodes_from_csv(seeded: Seeded, tmp_path: Path) -> None:
    admin = seeded.admin
    csv_file = tmp_path / "nodes.csv"
    csv_file.write_text(
        "name,organization\n"
        "acme-web-02,acme dental\n"
        "msp-monitor-01,\n"
        "bad name,Acme Dental\n"
        "bayside-nas-01,Nowhere Inc\n"
        "old-client-01,Old Client\n"
        "-dash,Bayside Law\n"
        "bayside-nas-01,Bayside Law\n",
        encoding="utf-8",
    )
    agent_server = seeded.server.url
    where = seeded.args(seeded.admin_token)
    if seeded.mode == "embedded":
        where += ["--agent-server", agent_server]
    run = run_python(str(EXAMPLES / "bulk_nodes_from_csv.py"), str(csv_file), *where)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    added = r"line {line}: added {name} {where}; enrollment token valid until \d{{4}}-\d\d-\d\d \d\d:\d\d UTC"
    enroll_line = rf"  works agent enroll --server {re.escape(agent_server)} --token (wke_\S+) --state-dir /var/lib/works-agent"
    assert re.fullmatch(added.format(line=2, name="acme-web-02", where="for acme dental"), lines[0]), lines[0]
    first = re.fullmatch(enroll_line, lines[1])
    assert re.fullmatch(added.format(line=3, name="msp-monitor-01", where="as shared MSP infrastructure"), lines[2])
    second = re.fullmatch(enroll_line, lines[3])
    assert lines[4] == "line 4: not added: field name: name: may contain only letters, digits, dots, hyphens and underscores"
    assert lines[5] == "line 5: not added: field organization: no organization named 'Nowhere Inc' that you can see"
    # Archived organizations are not offered, so their name is unknown.
    assert lines[6] == "line 6: not added: field organization: no organization named 'Old Client' that you can see"
    assert lines[7] == "line 7: not added: field name: name: must start with a letter or a digit"
    assert re.fullmatch(added.format(line=8, name="bayside-nas-01", where="for Bayside Law"), lines[8])
    third = re.fullmatch(enroll_line, lines[9])
    assert lines[10] == "3 added, 4 not added"
    assert len(lines) == 11
    assert first and second and third

    nodes = {n.name: n for n in admin.nodes.list()}
    assert nodes["acme-web-02"].org_id == seeded.nodes["acme-web-01"].org_id
    assert nodes["msp-monitor-01"].org_id is None
    assert nodes["bayside-nas-01"].org_id == seeded.nodes["bayside-fw-01"].org_id
    assert not {"bad name", "old-client-01", "-dash"} & set(nodes)
    # Each printed line enrolls its own node's agent, once.
    for name, match in [("acme-web-02", first), ("msp-monitor-01", second), ("bayside-nas-01", third)]:
        status, body = enroll(agent_server, match.group(1))
        assert status == 200 and body["node_id"] == nodes[name].id, body
        assert enroll(agent_server, match.group(1))[0] == 401


def test_bulk_nodes_from_csv_as_an_org_admin(seeded: Seeded, tmp_path: Path) -> None:
    token = seeded.as_user("alice").tokens.create("acme nodes").token
    csv_file = tmp_path / "nodes.csv"
    csv_file.write_text("name,organization\nacme-pc-01,Acme Dental\nmsp-spare-01,\nbayside-pc-01,Bayside Law\n", encoding="utf-8")
    run = run_python(str(EXAMPLES / "bulk_nodes_from_csv.py"), str(csv_file), *seeded.args(token))
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("line 2: added acme-pc-01 for Acme Dental; enrollment token valid until ")
    server = re.escape(seeded.server.url) if seeded.mode == "remote" else re.escape("<this server's address>")
    assert re.fullmatch(rf"  works agent enroll --server {server} --token wke_\S+ --state-dir /var/lib/works-agent", lines[1])
    assert lines[2] == "line 3: not added: Shared MSP infrastructure is managed by the MSP."
    assert lines[3] == "line 4: not added: field organization: no organization named 'Bayside Law' that you can see"
    assert lines[4] == "1 added, 2 not added"


def request_risky_work(seeded: Seeded) -> list[works.Job]:
    """Three risky jobs waiting for approval, oldest first."""
    jobs = []
    for node, kind, params in [
        ("acme-web-01", "restart", None),
        ("msp-backup-01", "deploy", {"image": "openclaw/openclaw:1.5"}),
        ("acme-nas-01", "remove", None),
    ]:
        jobs.append(seeded.admin.jobs.request(seeded.nodes[node].id, kind, params))
        time.sleep(0.01)  # distinct request times, so the newest-first order is certain
    return jobs


def test_approve_pending(seeded: Seeded) -> None:
    restart, deploy, remove = request_risky_work(seeded)
    typed = "\n".join(
        [
            "",  # remove on acme-nas-01 (newest): skipped
            "deploy openclaw on msp-backup",  # a typo: refused, asked again
            "deploy openclaw on msp-backup-01",
            "restart openclaw on acme-web-01",
        ]
    )
    run = run_python(str(EXAMPLES / "approve_pending.py"), *seeded.args(seeded.admin_token), input=typed + "\n")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert out.startswith("Jobs waiting for approval: 3\n")
    assert out.index("remove on acme-nas-01 (Acme Dental)") < out.index("deploy on msp-backup-01 (shared MSP infrastructure)")
    assert out.index("deploy on msp-backup-01") < out.index("restart on acme-web-01 (Acme Dental)")
    assert f"  job {deploy.id}, requested by admin" in out
    assert "  parameters: image='openclaw/openclaw:1.5'" in out
    assert "Type the phrase to approve, or press Enter to skip:\n  remove openclaw on acme-nas-01\n> " in out
    assert "  skipped; it is still waiting" in out
    assert "  not approved: phrase: does not match; type exactly: deploy openclaw on msp-backup-01" in out
    assert out.count("  approved: waiting for the agent (queued)") == 2
    assert out.endswith("\n2 approved, 1 skipped, 0 refused\n")

    admin = seeded.admin
    assert admin.jobs.get(remove.id).state == "awaiting_approval"
    for job in (deploy, restart):
        approved = admin.jobs.get(job.id)
        assert approved.state == "queued" and approved.approved_by == "admin"
    rejected = list(admin.audit.query(action="job.approve", target_id=deploy.id, outcome="rejected"))
    assert len(rejected) == 1


def test_approve_pending_as_an_org_admin_until_input_ends(seeded: Seeded) -> None:
    restart, deploy, remove = request_risky_work(seeded)
    token = seeded.as_user("alice").tokens.create("approvals").token
    run = run_python(str(EXAMPLES / "approve_pending.py"), *seeded.args(token), input="remove openclaw on acme-nas-01\n")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    # Alice sees her organization's work only.
    assert out.startswith("Jobs waiting for approval: 2\n")
    assert "msp-backup-01" not in out
    assert "  approved: waiting for the agent (queued)" in out
    assert "End of input: 1 left waiting." in out
    assert out.endswith("\n1 approved, 1 skipped, 0 refused\n")
    admin = seeded.admin
    assert admin.jobs.get(remove.id).approved_by == "alice"
    assert admin.jobs.get(restart.id).state == "awaiting_approval"
    assert admin.jobs.get(deploy.id).state == "awaiting_approval"


def runs_waiting_for_a_person(seeded: Seeded) -> dict[str, tuple[works.Workflow, works.WorkflowRun]]:
    """A live run of a workflow of Acme Dental and one of Bayside Law, each stopped at a
    step whose permission asks for confirmation."""
    admin = seeded.admin
    orgs = {o.name: o for o in admin.orgs.list()}
    waiting = {}
    for name in ("Acme Dental", "Bayside Law"):
        org = orgs[name]
        admin.policy.grant(org.id, "summarize", require_confirmation=True)
        flow = admin.workflows.create(
            f"Weekly summary for {name}", [works.WorkflowStep("summarize", "summarize_text")], org_id=org.id
        )
        run = admin.workflows.start(flow.id, "live")
        assert run.state == "awaiting_approval", run.reason
        waiting[name] = (flow, run)
    return waiting


def test_approve_pending_workflow_runs_as_an_org_admin(seeded: Seeded) -> None:
    waiting = runs_waiting_for_a_person(seeded)
    acme_flow, acme_run = waiting["Acme Dental"]
    bay_flow, bay_run = waiting["Bayside Law"]
    phrase = acme_run.awaiting.approval_phrase if acme_run.awaiting else None
    assert phrase
    token = seeded.as_user("alice").tokens.create("approvals").token
    typed = "\n".join(["summarize", phrase])  # a wrong phrase first: refused, asked again
    run = run_python(str(EXAMPLES / "approve_pending.py"), *seeded.args(token), input=typed + "\n")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert out.startswith("Jobs waiting for approval: 0\n")
    # Alice sees her organization's run only.
    assert "\nWorkflow runs waiting for approval: 1\n" in out
    assert "workflow 'Weekly summary for Acme Dental' (Acme Dental)" in out
    assert f"  run {acme_run.id}, live, started by admin" in out
    assert "  step 1: summarize_text with summarize (" in out
    assert f"  why it waits: {acme_run.reason}" in out
    assert "Bayside" not in out
    assert f"Type the phrase to approve, or press Enter to skip:\n  {phrase}\n> " in out
    assert "  not approved: phrase: " in out and phrase in out.split("  not approved: phrase: ")[1].splitlines()[0]
    assert "  approved: the run is succeeded: " in out
    assert out.endswith("\n1 approved, 0 skipped, 0 refused\n")

    admin = seeded.admin
    done = admin.workflows.run(acme_flow.id, acme_run.id)
    assert done.state == "succeeded" and done.steps[0].approvals[0].by_name.startswith("alice")
    assert admin.workflows.run(bay_flow.id, bay_run.id).state == "awaiting_approval"


def test_approve_pending_jobs_then_runs_until_input_ends(seeded: Seeded) -> None:
    runs_waiting_for_a_person(seeded)
    request_risky_work(seeded)
    run = run_python(str(EXAMPLES / "approve_pending.py"), *seeded.args(seeded.admin_token), input="\n")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert out.startswith("Jobs waiting for approval: 3\n")
    assert "End of input: 2 left waiting." in out
    assert "\nWorkflow runs waiting for approval: 2\n" in out
    assert out.endswith("\n0 approved, 5 skipped, 0 refused\n")


def manage_the_acme_gateway(seeded: Seeded) -> None:
    """Takes over the gateway found on acme-web-01; its health check then finds it down."""
    admin = seeded.admin
    web = seeded.nodes["acme-web-01"]
    gateway = next(i for i in admin.instances.list(node_id=web.id) if i.container_name == "openclaw-gateway")
    admin.instances.takeover(gateway.id, gateway.takeover_phrase or "")
    check = admin.instances.health_check(gateway.id)
    claimed = seeded.agents["acme-web-01"].claim()
    assert claimed is not None and claimed["id"] == check.id
    seeded.agents["acme-web-01"].finish(check.id, succeeded=True, result={"instance": GATEWAY_DOWN})
    assert admin.instances.get(gateway.id).health == "unhealthy"


def test_fleet_health_report(seeded: Seeded) -> None:
    manage_the_acme_gateway(seeded)
    admin = seeded.admin
    timed_out = next(i for i in admin.health().issues if i.title == "A check health job on bayside-fw-01 timed out")
    admin.health_acknowledge(timed_out.id, "the firewall is being replaced")

    run = run_python(str(EXAMPLES / "fleet_health_report.py"), *seeded.args(seeded.admin_token))
    assert run.returncode == 1, run.stdout + run.stderr  # degraded
    out = run.stdout
    assert re.search(r"^Anthropy Works fleet health, \d{4}-\d\d-\d\d \d\d:\d\d UTC, as admin \(msp_admin\)$", out, re.M)
    # Two nodes, one failed job, and the three OpenClaw instances needing attention.
    assert "\nDegraded: 6 issues need attention. One reviewed issue is set aside.\n" in out
    issues = block(out, "Issues (6):")
    assert "  [degraded] OpenClaw openclaw-gateway on acme-web-01 is not healthy\n" in issues
    assert "  [degraded] OpenClaw openclaw-gateway on bayside-fw-01 is not healthy\n" in issues
    assert "  [degraded] Node acme-db-01 has gone quiet\n" in issues
    assert "  [degraded] Node bayside-fw-01 is offline\n" in issues
    assert "  [degraded] A restart openclaw job on acme-web-01 failed\n" in issues
    assert "      why:   docker: permission denied while restarting openclaw\n" in issues
    assert f"      see:   /ui/nodes/{seeded.nodes['acme-db-01'].id}\n" in issues
    assert f"      issue: node-offline:{seeded.nodes['bayside-fw-01'].id}" in issues
    assert "timed out" not in issues and "acme-nas-01" not in issues  # reviewed; never enrolled
    reviewed = block(out, "Reviewed (1):")
    assert re.search(
        r"^  A check health job on bayside-fw-01 timed out \(by admin[^:]*: the firewall is being replaced\)$", reviewed, re.M
    )

    instances = block(out, "OpenClaw instances:")
    assert instances.startswith("OpenClaw instances: 4, 3 needing attention\n")
    assert "  Acme Dental: 2 instances, 2 needing attention\n" in instances
    assert re.search(r"^      acme-web-01\s+openclaw-cell-2\s+discovered exited$", instances, re.M)
    assert re.search(
        r"^      acme-web-01\s+openclaw-gateway\s+managed\s+unhealthy: Unhealthy: the gateway container openclaw-gateway is exited\.",
        instances,
        re.M,
    )
    assert instances.index("openclaw-cell-2") < instances.index("openclaw-gateway  ")
    assert "  Bayside Law: 1 instance, 1 needing attention\n" in instances
    assert re.search(r"^      bayside-fw-01\s+openclaw-gateway\s+discovered running, unhealthy$", instances, re.M)
    assert instances.rstrip("\n").endswith("  Shared MSP infrastructure: 1 instance, all well")
    assert "msp-backup-01" not in instances and "Old Client" not in instances


def test_fleet_health_report_as_an_org_admin(seeded: Seeded) -> None:
    manage_the_acme_gateway(seeded)
    token = seeded.as_user("alice").tokens.create("acme health").token
    run = run_python(str(EXAMPLES / "fleet_health_report.py"), *seeded.args(token))
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "as alice (org_admin)" in out
    assert "\nDegraded: 4 issues need attention.\n" in out
    assert "Node acme-db-01 has gone quiet" in out and "acme-web-01 failed" in out
    assert "bayside" not in out.lower() and "Shared MSP infrastructure" not in out
    assert "OpenClaw instances: 2, 2 needing attention\n  Acme Dental: 2 instances, 2 needing attention\n" in out


def test_fleet_health_report_with_a_revoked_token(seeded: Seeded) -> None:
    created = seeded.admin.tokens.create("revoked soon")
    seeded.admin.tokens.revoke(created.info.id)
    run = run_python(str(EXAMPLES / "fleet_health_report.py"), *seeded.args(created.token))
    assert run.returncode == 3
    assert run.stderr == (
        "The report could not be made: Your sign-in is not valid or has ended. Sign in again.\n"
        "Sign in again, or use a valid API token.\n"
    )
