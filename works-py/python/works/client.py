"""The client: the same methods whether the database is opened directly or a server is
reached over HTTP. Each method is one call of the core's API; lists fetch page after
page as you iterate."""

from __future__ import annotations

import os as _os
import warnings
from datetime import datetime
from typing import Any, Callable, Iterator, TypeVar

from . import _works
from ._works import (
    ApiToken,
    AuditRecord,
    AuditVerification,
    Container,
    CreatedToken,
    Deployment,
    EnrollmentToken,
    HealthIssue,
    HealthReport,
    Instance,
    Job,
    Node,
    Org,
    PasswordReset,
    User,
)
from ._areas import AccessAttempts, Alerts, Connections, Hosts, Jumpboxes, Policy, Schedules, SshCredentials, Workflows
from ._records import Assignment, CliCommand, FleetMap, Layout, MetricHistory, StatusSummary, UpgradePlan, VersionReport, load
from .errors import FirstStart

__all__ = [
    "Client",
    "Orgs",
    "Users",
    "Tokens",
    "Audit",
    "Nodes",
    "Jobs",
    "Instances",
    "open",
    "connect",
    "DEFAULT_PAGE_SIZE",
]

# Before os.fork() the native runtime stops its threads and SQLite's process-wide locks
# are held, so the child inherits no lock a thread held mid-way; connections are made
# again on first use on both sides.
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(
        before=_works.before_fork, after_in_parent=_works.after_fork, after_in_child=_works.after_fork
    )

T = TypeVar("T")
C = TypeVar("C")

#: Records fetched per request when iterating a list (the core allows 1 to 500).
DEFAULT_PAGE_SIZE = 100


def _paged(
    fetch: Callable[[C | None, int], tuple[list[T], C | None]],
    limit: int | None,
    page_size: int,
) -> Iterator[T]:
    """Fetches the first page now, so a refusal is raised by the call itself, and the
    following pages as the iterator reaches them. At most ``limit`` records in all."""
    size = page_size if limit is None else min(page_size, limit)
    items, cursor = fetch(None, size)
    return _rest(fetch, items, cursor, limit, page_size)


def _rest(
    fetch: Callable[[C | None, int], tuple[list[T], C | None]],
    items: list[T],
    cursor: C | None,
    limit: int | None,
    page_size: int,
) -> Iterator[T]:
    remaining = limit
    while True:
        for item in items:
            if remaining is not None:
                if remaining <= 0:
                    return
                remaining -= 1
            yield item
        if cursor is None or (remaining is not None and remaining <= 0):
            return
        size = page_size if remaining is None else min(page_size, remaining)
        items, cursor = fetch(cursor, size)


class Orgs:
    """Customer organizations: ``client.orgs``."""

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def create(self, name: str) -> Org:
        """Creates an organization. MSP admins only.

        Raises InvalidInput (field ``name``) for an empty or too long name, Conflict
        when another organization has that name (ignoring case), Forbidden for other roles.
        """
        return self._native.org_create(name)

    def list(
        self,
        include_archived: bool = False,
        *,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Org]:
        """The organizations you can see, oldest first, fetched ``page_size`` at a time.

        MSP roles see every organization; organization roles see their own. Archived
        organizations are left out unless ``include_archived``. ``limit`` caps how many
        are returned in all.
        """
        return _paged(
            lambda offset, size: self._native.org_list(include_archived, offset, size),
            limit,
            page_size,
        )

    def get(self, id: str) -> Org:
        """One organization. Raises NotFound when it does not exist or is not yours to see."""
        return self._native.org_get(id)

    def rename(self, id: str, name: str) -> Org:
        """Renames an organization and returns it as it now is."""
        return self._native.org_rename(id, name)

    def archive(self, id: str) -> Org:
        """Archives an organization: its records stay, its users can no longer sign in."""
        return self._native.org_archive(id)


class Users:
    """People who sign in: ``client.users``."""

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def create(
        self,
        username: str,
        *,
        role: str,
        password: str,
        org_id: str | None = None,
        display_name: str | None = None,
    ) -> User:
        """Creates a user.

        ``role`` is one of ``msp_admin``, ``msp_operator``, ``org_admin``, ``org_user``;
        organization roles need ``org_id``. ``password`` needs at least 10 characters.
        ``display_name`` defaults to the username. You can grant only roles your own
        role allows (Forbidden otherwise).
        """
        return self._native.user_create(username, role, password, org_id, display_name)

    def list(
        self,
        org_id: str | None = None,
        include_disabled: bool = False,
        *,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[User]:
        """The users you can see, optionally of one organization, fetched ``page_size``
        at a time. Disabled users are left out unless ``include_disabled``. ``limit``
        caps how many are returned in all."""
        return _paged(
            lambda offset, size: self._native.user_list(org_id, include_disabled, offset, size),
            limit,
            page_size,
        )

    def get(self, id: str) -> User:
        """One user. Raises NotFound when they do not exist or are not yours to see."""
        return self._native.user_get(id)

    def update(
        self,
        id: str,
        *,
        display_name: str | None = None,
        role: str | None = None,
        org_id: str | None = None,
    ) -> User:
        """Changes a user's display name and/or role (with ``org_id`` for an
        organization role). A change of role ends the user's sessions and tokens."""
        return self._native.user_update(id, display_name, role, org_id)

    def disable(self, id: str) -> User:
        """Disables a user and, in the same step, ends their sessions and revokes their tokens."""
        return self._native.user_disable(id)

    def enable(self, id: str) -> User:
        """Lets a disabled user sign in again."""
        return self._native.user_enable(id)

    def reset_password(self, id: str, new_password: str | None = None) -> PasswordReset:
        """Sets a new password and ends the user's sessions and tokens. Without
        ``new_password`` one is generated and returned once, as ``generated_password``."""
        return self._native.user_reset_password(id, new_password)


class Tokens:
    """API tokens for automation: ``client.tokens``."""

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def create(self, name: str, *, expires_in_days: int | None = None) -> CreatedToken:
        """Creates an API token for yourself. The secret is ``.token`` of the result:
        it is stored only as a hash and cannot be shown again. ``expires_in_days`` is
        1 to 3650, or None for a token that does not expire."""
        return self._native.token_create(name, expires_in_days)

    def list(
        self,
        user_id: str | None = None,
        *,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[ApiToken]:
        """Your tokens, or those of a user you manage, fetched ``page_size`` at a time.
        ``limit`` caps how many are returned in all."""
        return _paged(
            lambda offset, size: self._native.token_list(user_id, offset, size),
            limit,
            page_size,
        )

    def revoke(self, id: str) -> ApiToken:
        """Revokes a token at once; it stops working for every later call."""
        return self._native.token_revoke(id)


class Audit:
    """The audit log: ``client.audit``."""

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def query(
        self,
        *,
        actor_id: str | None = None,
        org_id: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[AuditRecord]:
        """The audit records you can see, newest first, fetched ``page_size`` at a time.

        ``action`` is an exact action (``"org.create"``) or a family ending in a dot
        (``"org."``); ``outcome`` is ``succeeded``, ``denied``, ``rejected`` or ``failed``;
        ``since``/``until`` are timezone-aware datetimes. ``limit`` caps how many
        records are returned in all.
        """
        return _paged(
            lambda before_seq, size: self._native.audit_query(
                actor_id, org_id, action, outcome, target_id, since, until, before_seq, size
            ),
            limit,
            page_size,
        )

    def verify(self) -> AuditVerification:
        """Walks the whole hash chain and says whether it is intact. MSP roles only."""
        return self._native.audit_verify()


class Nodes:
    """The machines the MSP manages, and their agents: ``client.nodes``."""

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def create(self, name: str, *, org_id: str | None = None) -> Node:
        """Adds a node for the organization ``org_id``, or, without one, as shared MSP
        infrastructure. It starts ``offline`` until an agent enrolls and checks in.

        ``name`` is host-like: letters, digits, dots, hyphens and underscores, starting
        with a letter or digit (InvalidInput, field ``name``, otherwise). MSP roles may
        add any node; an organization admin only their own organization's.
        """
        return self._native.node_create(name, org_id)

    def list(
        self,
        org_id: str | None = None,
        include_retired: bool = False,
        *,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Node]:
        """The nodes you can see, optionally of one organization, fetched ``page_size``
        at a time. Retired nodes are left out unless ``include_retired``. ``limit`` caps
        how many are returned in all.

        MSP roles see every node; an organization admin sees their organization's; an
        organization user sees none.
        """
        return _paged(
            lambda offset, size: self._native.node_list(org_id, include_retired, offset, size),
            limit,
            page_size,
        )

    def get(self, id: str) -> Node:
        """One node, with its status as of now. Raises NotFound when it does not exist
        or is not yours to see."""
        return self._native.node_get(id)

    def rename(self, id: str, name: str) -> Node:
        """Renames a node and returns it as it now is. Approval phrases of later work
        use the new name."""
        return self._native.node_rename(id, name)

    def retire(self, id: str) -> Node:
        """Retires a node: it stays on record, its agent credential stops working, and
        it takes no new work. Raises Conflict when it is already retired."""
        return self._native.node_retire(id)

    def containers(self, id: str) -> list[Container]:
        """The node's containers as its agent last reported them (empty before the
        first report)."""
        return self._native.node_containers(id)

    def enrollment_token(self, id: str) -> EnrollmentToken:
        """Makes a one-time enrollment token for the node's agent. The secret is
        ``.token`` of the result: run ``works agent enroll --server URL --token TOKEN``
        on the machine before ``.expires_at``. It is stored only as a hash and cannot
        be shown again."""
        return self._native.enrollment_token_create(id)

    def revoke_agent(self, id: str) -> None:
        """Revokes the node's agent credential: the agent is refused from its next
        call. The node stays; enroll an agent again with a new enrollment token."""
        self._native.agent_revoke(id)


class Jobs:
    """Work on nodes: ``client.jobs``."""

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def request(self, node_id: str, kind: str, params: dict[str, Any] | None = None) -> Job:
        """Requests work on a node.

        ``kind`` is one of ``health_check``, ``logs``, ``inventory_refresh`` (safe:
        queued at once) or ``deploy``, ``restart``, ``remove``, ``takeover``,
        ``agent_install`` (risky: the job waits in ``awaiting_approval`` until someone
        types its ``approval_phrase``). ``params`` is a dict of JSON values (str, int,
        float, bool, None, lists and dicts of them).
        """
        return self._native.job_request(node_id, kind, params)

    def list(
        self,
        node_id: str | None = None,
        state: str | None = None,
        *,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Job]:
        """The jobs you can see, newest first, optionally of one node and in one
        ``state`` (e.g. ``"awaiting_approval"``, ``"failed"``), fetched ``page_size``
        at a time. ``limit`` caps how many are returned in all."""
        return _paged(
            lambda offset, size: self._native.job_list(node_id, state, offset, size),
            limit,
            page_size,
        )

    def get(self, id: str) -> Job:
        """One job. Raises NotFound when it does not exist or is not yours to see."""
        return self._native.job_get(id)

    def approve(self, id: str, phrase: str) -> Job:
        """Approves risky work by typing its ``approval_phrase`` exactly; the job is
        then queued for the node's agent.

        Raises InvalidInput (field ``phrase``) when the phrase does not match, Conflict
        when the job is not waiting for approval or the request expired, and Forbidden
        when your role may not approve work on that node.
        """
        return self._native.job_approve(id, phrase)

    def cancel(self, id: str) -> Job:
        """Cancels work no agent has picked up yet. Raises Conflict once it has been."""
        return self._native.job_cancel(id)

    def retry(self, id: str) -> Job:
        """Requests a failed or timed-out job again, as a new job of the same kind and
        parameters (``retry_of`` names the old one). Risky work needs approval again."""
        return self._native.job_retry(id)


class Instances:
    """OpenClaw instances on nodes, and their lifecycle: ``client.instances``.

    Every change is a job for the node's agent, returned as a :class:`works.Job`.
    Deploys, restarts and removals are risky: they wait in ``awaiting_approval`` until
    someone types the job's ``approval_phrase`` with ``client.jobs.approve``.
    """

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def list(
        self,
        node_id: str | None = None,
        *,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Instance]:
        """The instances you can see, optionally of one node, managed ones first, then
        by container name, fetched ``page_size`` at a time. ``limit`` caps how many are
        returned in all.

        MSP roles see every instance; an organization admin their organization's; an
        organization user none.
        """
        return _paged(
            lambda offset, size: self._native.instance_list(node_id, offset, size),
            limit,
            page_size,
        )

    def get(self, id: str) -> Instance:
        """One instance. Raises NotFound when it does not exist or is not yours to see."""
        return self._native.instance_get(id)

    def takeover(self, id: str, phrase: str) -> Instance:
        """Takes over a discovered instance: it becomes a managed record. Type its
        ``takeover_phrase`` exactly. The container is not restarted or changed and
        nothing is sent to the agent.

        Raises InvalidInput (field ``phrase``) when the phrase does not match, Conflict
        when the instance is not ``discovered``, Forbidden when your role may not
        approve work on its node.
        """
        return self._native.instance_takeover(id, phrase)

    def deploy(
        self, node_id: str, version: str | None = None, *, with_cli: bool = False, gateway_port: int | None = None
    ) -> Deployment:
        """Requests OpenClaw on a node: a new instance (``deploying``) and its deploy job,
        which waits for approval. Approve it with
        ``client.jobs.approve(d.job.id, d.job.approval_phrase)``; the node's agent then
        creates the containers and the instance follows the job.

        ``version`` is an OpenClaw version (CalVer, e.g. ``"2026.9.6"``; the pinned
        default when None); ``with_cli`` also runs the optional CLI container;
        ``gateway_port`` publishes the gateway on that loopback port of the node (a free
        one is picked when None). The
        gateway token is generated and sealed on the server; it is handed only to the
        agent running the deploy and is never part of anything returned here.
        Raises Unavailable when no master key is configured to seal it.
        """
        return self._native.instance_deploy(node_id, version, with_cli, gateway_port)

    def health_check(self, id: str) -> Job:
        """Asks the agent for a managed instance's health (its containers, ``/healthz``
        and ``/readyz``). Safe: queued at once; the instance's ``health`` follows the job."""
        return self._native.instance_health_check(id)

    def logs(self, id: str, lines: int | None = None) -> Job:
        """Asks the agent for the last ``lines`` lines (1 to 2000, default 100) of the
        gateway's output; they arrive, redacted, as the job's ``output``. Safe."""
        return self._native.instance_logs(id, lines)

    def restart(self, id: str) -> Job:
        """Requests a restart of a managed instance's gateway. Risky: waits for approval."""
        return self._native.instance_restart(id)

    def remove(self, id: str) -> Job:
        """Requests removal of the instance's containers; its volumes are kept. Risky:
        waits for approval. Works on managed instances and failed deploys."""
        return self._native.instance_remove(id)

    # --- operations: the OpenClaw CLI, versions and upgrade plans, assignments ---

    def cli_commands(self) -> list[CliCommand]:
        """The OpenClaw CLI commands the product knows, runnable or not (and why not)."""
        return [load(CliCommand, c) for c in self._native.call("openclaw_cli_commands", {})]

    def cli_run(self, id: str, command_id: str) -> Job:
        """Runs a read-only OpenClaw CLI command (an id from :meth:`cli_commands`) on a
        managed instance: a job for the node's agent; its output arrives, redacted, as
        the job's ``output``."""
        return self._native.call("instance_cli_run", {"id": id, "command_id": command_id})

    def cli_runs(self, id: str, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Job]:
        """The CLI runs of an instance, newest first."""

        def fetch(offset: int | None, size: int) -> tuple[list[Job], int | None]:
            page = self._native.call("instance_cli_runs", {"id": id, "offset": offset, "limit": size})
            return page["items"], page["next_offset"]

        return _paged(fetch, limit, page_size)

    def cli_run_get(self, id: str, job_id: str) -> Job:
        """One CLI run of an instance, by its job id. NotFound for a job of another
        instance."""
        return self._native.call("instance_cli_run_get", {"id": id, "job_id": job_id})

    def versions(self, id: str, to_version: str | None = None, *, channel: str | None = None) -> VersionReport:
        """The instance's current, pinned and desired OpenClaw versions, and whether a
        move to ``to_version`` (default the desired one) on ``channel`` is eligible."""
        return load(
            VersionReport,
            self._native.call("instance_versions", {"id": id, "to_version": to_version, "channel": channel}),
        )

    def plan_upgrade(self, id: str, to_version: str, *, channel: str | None = None) -> UpgradePlan:
        """Makes an upgrade (or downgrade) plan; it waits until someone types its
        ``approval_phrase`` with :meth:`approve_upgrade`."""
        return load(
            UpgradePlan,
            self._native.call("upgrade_plan_create", {"id": id, "to_version": to_version, "channel": channel}),
        )

    def upgrade_plans(
        self, id: str, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[UpgradePlan]:
        """An instance's upgrade plans, newest first."""

        def fetch(offset: int | None, size: int) -> tuple[list[UpgradePlan], int | None]:
            page = self._native.call("upgrade_plan_list", {"id": id, "offset": offset, "limit": size})
            return [load(UpgradePlan, p) for p in page["items"]], page["next_offset"]

        return _paged(fetch, limit, page_size)

    def upgrade_plan(self, id: str, plan_id: str) -> UpgradePlan:
        return load(UpgradePlan, self._native.call("upgrade_plan_get", {"id": id, "plan_id": plan_id}))

    def approve_upgrade(self, id: str, plan_id: str, phrase: str) -> UpgradePlan:
        """Approves a plan by typing its ``approval_phrase`` (InvalidInput on field
        ``phrase`` otherwise)."""
        return load(
            UpgradePlan,
            self._native.call("upgrade_plan_approve", {"id": id, "plan_id": plan_id, "phrase": phrase}),
        )

    def cancel_upgrade(self, id: str, plan_id: str) -> UpgradePlan:
        return load(UpgradePlan, self._native.call("upgrade_plan_cancel", {"id": id, "plan_id": plan_id}))

    def assign(self, id: str, user_id: str) -> Assignment:
        """Assigns a user of the instance's organization to it."""
        return load(Assignment, self._native.call("instance_assign", {"id": id, "user_id": user_id}))

    def unassign(self, id: str, user_id: str) -> None:
        self._native.call("instance_unassign", {"id": id, "user_id": user_id})

    def assignments(self, id: str) -> list[Assignment]:
        """The users assigned to an instance."""
        return [load(Assignment, a) for a in self._native.call("instance_assignments", {"id": id})]


class Client:
    """A client of Anthropy Works. Get one from :func:`works.open` (a database opened
    directly) or :func:`works.connect` (a running server); both have the same methods
    and raise the same errors.

    A client may be shared by threads: every call releases the GIL while it waits.
    """

    orgs: Orgs
    users: Users
    tokens: Tokens
    audit: Audit
    nodes: Nodes
    jobs: Jobs
    instances: Instances
    alerts: Alerts
    ssh_credentials: SshCredentials
    jumpboxes: Jumpboxes
    hosts: Hosts
    access_attempts: AccessAttempts
    policy: Policy
    connections: Connections
    workflows: Workflows
    schedules: Schedules

    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native
        self.orgs = Orgs(native)
        self.users = Users(native)
        self.tokens = Tokens(native)
        self.audit = Audit(native)
        self.nodes = Nodes(native)
        self.jobs = Jobs(native)
        self.instances = Instances(native)
        self.alerts = Alerts(native)
        self.ssh_credentials = SshCredentials(native)
        self.jumpboxes = Jumpboxes(native)
        self.hosts = Hosts(native)
        self.access_attempts = AccessAttempts(native)
        self.policy = Policy(native)
        self.connections = Connections(native)
        self.workflows = Workflows(native)
        self.schedules = Schedules(native)

    @property
    def mode(self) -> str:
        """``"embedded"`` (a database opened directly) or ``"remote"`` (a server)."""
        return self._native.mode

    @property
    def generated_admin_password(self) -> str | None:
        """Set only when this ``works.open`` created the first MSP admin with a generated
        password: that password, which is shown nowhere else."""
        return self._native.generated_admin_password

    def whoami(self) -> User:
        """The user this client acts as."""
        return self._native.whoami()

    def health(self) -> HealthReport:
        """The one answer about everything you may see: ``healthy``, ``degraded`` or
        ``critical`` (``.code`` 0, 1, 2, as ``works health`` exits), a ``summary``, and
        the ``issues`` that make it, each with why, what to do next and where to look.
        Issues a person acknowledged are in ``acknowledged``; those of test and
        validation records in ``validation``; neither counts.

        MSP roles see every issue; an organization admin their organization's; an
        organization user none.
        """
        return self._native.health()

    def health_acknowledge(self, issue_id: str, note: str = "") -> HealthIssue:
        """Marks a current issue reviewed, with a note saying why it is fine or what is
        being done: it leaves the answer until its condition changes. Audited.

        MSP roles may acknowledge any issue, an organization admin their organization's.
        Raises NotFound for an issue you cannot see (or that is gone), InvalidInput
        (field ``note``) for a note over 1000 characters.
        """
        return self._native.health_acknowledge(issue_id, note)

    def metrics_history(self, hours: int | None = None) -> MetricHistory:
        """Samples of the health answer and fleet counts over the last ``hours`` (1 to
        168, default 24), oldest first: what the dashboard's chart shows. MSP roles."""
        return load(MetricHistory, self._native.call("metrics_history", {"hours": hours}))

    def map(self) -> FleetMap:
        """The fleet as this person may see it — organizations, nodes, OpenClaw
        instances, active jobs, workflows and connections, their relationships and the
        problems (hotspots) with why and what to do: what the Command Center draws."""
        return load(FleetMap, self._native.call("map", {}))

    def status_summary(self) -> StatusSummary:
        """The read-only executive status of what this person may see — the health
        answer, counts, recent incidents and OpenClaw versions in use: what the printable
        status page shows."""
        return load(StatusSummary, self._native.call("status_summary", {}))

    def layout(self) -> Layout:
        """This person's Command Center layout (the default until they change it)."""
        return load(Layout, self._native.call("layout_get", {}))

    def set_layout(self, layout: Layout) -> Layout:
        """Keeps ``layout`` as this person's Command Center layout. Raises InvalidInput
        naming the field (``roster_side``, ``activity``, a width …) that is out of range."""
        fields = {k: (list(v) if isinstance(v, tuple) else v) for k, v in layout.__dict__.items()}
        return load(Layout, self._native.call("layout_put", fields))

    def logout(self) -> None:
        """Ends the session this client signed in with (``works.connect`` with a
        username and password). Raises Conflict for an API token or an embedded client:
        revoke a token instead."""
        self._native.logout()

    def __repr__(self) -> str:
        target = self._native.target
        if self.mode == "embedded":
            who = f"as {target!r}" if target is not None else "as a token's owner"
            return f"<works.Client embedded {who}>"
        return f"<works.Client remote {target!r}>"


def open(
    database_url: str,
    as_user: str | None = None,
    *,
    token: str | None = None,
    admin_password: str | None = None,
) -> Client:
    """Opens a database directly: ``sqlite:///path/works.db`` (created when missing) or
    ``postgres://user@host/db``.

    Acts as the user ``as_user`` (default ``admin``), or as the owner of the API
    ``token``. Having the database is having its keys, so no password is asked, but
    the user must exist and be enabled, and every action is recorded in the audit log
    under their name, marked local.

    On an empty database the first MSP admin ``admin`` is created, as ``works serve``
    does: with ``admin_password`` (default: the ``WORKS_ADMIN_PASSWORD`` environment
    variable), or with a generated password that is shown once, in a
    :class:`works.FirstStart` warning and as ``client.generated_admin_password``.
    """
    native = _works.open(database_url, as_user, token, admin_password)
    if native.first_start_message is not None:
        warnings.warn(native.first_start_message, FirstStart, stacklevel=2)
    return Client(native)


def connect(
    url: str,
    token: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
) -> Client:
    """Connects to a running server, e.g. ``http://127.0.0.1:8080``.

    With ``token`` (an API token), every call carries it. With ``username`` and
    ``password``, signs in first and uses the new session. With neither, the
    ``WORKS_TOKEN`` environment variable is used.
    """
    return Client(_works.connect(url, token, username, password))
