"""Typed records of the later areas of the API: alerts and metrics history, instance
operations, SSH access, policy and workflows, and backups.

Each record is a frozen dataclass: read-only attributes, equality, a readable ``repr``,
datetimes as timezone-aware ``datetime`` (UTC), lists as tuples, and JSON documents
(parameters, outputs) as dicts. No record carries a secret: an SSH private key, a
connection's credential and a webhook's signing secret are write-only; the records say
only whether one is set (``Webhook.signed``, ``Connection.has_credential``) or give
its public facts (``SshCredential.fingerprint``, ``.public_key``)."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "Schedule",
    "MapNode",
    "MapEdge",
    "MapGroup",
    "MapHotspot",
    "FleetMap",
    "StatusCounts",
    "StatusIncident",
    "VersionCount",
    "StatusSummary",
    "Layout",
    "Webhook",
    "Delivery",
    "FleetCounts",
    "MetricSample",
    "MetricHistory",
    "CliCommand",
    "Eligibility",
    "VersionReport",
    "UpgradePlan",
    "Assignment",
    "SshCredential",
    "Jumpbox",
    "Host",
    "Stage",
    "TranscriptEntry",
    "FoundContainer",
    "Discovery",
    "AccessAttempt",
    "CapabilityAction",
    "Capability",
    "CapabilityPack",
    "Permission",
    "Connection",
    "WorkflowStep",
    "Workflow",
    "Approval",
    "RunStep",
    "WorkflowRun",
    "TableSummary",
    "BackupManifest",
    "BackupFile",
    "AuditNote",
    "BackupPruned",
    "BackupCreated",
    "BackupVerified",
    "BackupRestoreTest",
    "BackupRestored",
]


def _doc() -> Any:
    """A JSON document: left out of hashing (dicts are not hashable)."""
    return field(default=None, hash=False)


def _long() -> Any:
    """A long field: left out of the repr, still an attribute."""
    return field(default=None, repr=False, hash=False)


# --- alerts and history ---


@dataclass(frozen=True)
class Webhook:
    """Where health changes are POSTed. ``signed``: bodies carry a signature made with
    a shared secret, which is never shown again."""

    id: str
    name: str
    url: str
    signed: bool
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One notification of a health change to one webhook, with its retries.
    ``status`` is ``pending``, ``delivered`` or ``failed``; ``last_error`` says why the
    last attempt failed, in plain English."""

    id: str
    webhook_id: str
    webhook_name: str
    event_id: str
    from_state: str
    to_state: str
    status: str
    attempts: int
    max_attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    body: str = _long()


@dataclass(frozen=True)
class FleetCounts:
    """Counts of one moment: organizations, current issues, and nodes, jobs and
    OpenClaw instances by status (dicts of status to count)."""

    orgs: int
    issues: int
    nodes: dict[str, int] = _doc()
    jobs: dict[str, int] = _doc()
    instances: dict[str, int] = _doc()


@dataclass(frozen=True)
class MetricSample:
    """The health state and the fleet counts at one moment."""

    at: datetime
    state: str
    counts: FleetCounts


@dataclass(frozen=True)
class MetricHistory:
    """Samples of the health answer over a window (``from_`` to ``to``), oldest first."""

    from_: datetime
    to: datetime
    sample_every_secs: int
    retention_days: int
    samples: tuple[MetricSample, ...] = _long()


# --- instance operations ---


@dataclass(frozen=True)
class CliCommand:
    """One OpenClaw CLI command the product knows. ``runnable`` ones run with
    ``client.instances.cli_run``; otherwise ``why_not`` says why not."""

    id: str
    command: str
    class_: str
    description: str
    runnable: bool
    why_not: str | None


@dataclass(frozen=True)
class Eligibility:
    """Whether moving an instance from ``current`` to ``target`` is allowed, and why."""

    current: str | None
    target: str
    channel: str
    direction: str
    eligible: bool
    summary: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class VersionReport:
    """An instance's current, pinned and desired OpenClaw versions."""

    instance_id: str
    current: str | None
    pinned: str
    desired: str
    desired_source: str
    eligibility: Eligibility


@dataclass(frozen=True)
class UpgradePlan:
    """A planned move of an instance to another OpenClaw version. It is approved by
    typing its ``approval_phrase``; ``state`` is ``proposed``, ``approved`` or
    ``cancelled``."""

    id: str
    instance_id: str
    node_id: str
    org_id: str | None
    from_version: str | None
    to_version: str
    channel: str
    direction: str
    warnings: tuple[str, ...]
    steps: tuple[str, ...]
    state: str
    approval_phrase: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    note: str = _long()


@dataclass(frozen=True)
class Assignment:
    """A user of the instance's organization assigned to an OpenClaw instance."""

    instance_id: str
    user_id: str
    username: str
    org_id: str
    assigned_by: str
    assigned_at: datetime


# --- SSH access ---


@dataclass(frozen=True)
class SshCredential:
    """A shared MSP SSH key. Only its public facts: the private key is sealed on the
    server when uploaded and never returned."""

    id: str
    name: str
    key_type: str
    fingerprint: str
    public_key: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Jumpbox:
    """MSP infrastructure that hosts are reached through. ``host_key`` is pinned at
    the first verified contact."""

    id: str
    name: str
    address: str
    port: int
    user: str
    credential_id: str
    host_key: str | None
    host_key_fingerprint: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Host:
    """A machine of a customer organization reached over SSH, directly or through a
    jumpbox. ``verified_at``: when Test Access last succeeded; ``node_id``: the node it
    was registered as."""

    id: str
    org_id: str
    name: str
    address: str
    port: int
    user: str
    credential_id: str
    jumpbox_id: str | None
    host_key: str | None
    host_key_fingerprint: str | None
    verified_at: datetime | None
    node_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Stage:
    """Where an attempt is: ``hop`` (``jumpbox`` or ``target``) and ``step``
    (``connect``, ``host_key``, ``authenticate``, ``discover``, ``docker``, ``done``)."""

    hop: str
    step: str


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of an attempt's transcript, in plain English."""

    at: datetime
    hop: str
    step: str
    message: str


@dataclass(frozen=True)
class FoundContainer:
    """A container found running on a host."""

    name: str
    image: str
    status: str
    likely_openclaw: bool


@dataclass(frozen=True)
class Discovery:
    """What the built-in checks of Test Access found on a host."""

    os: str | None = None
    kernel: str | None = None
    arch: str | None = None
    cpus: int | None = None
    memory_mib: int | None = None
    disk_total_mib: int | None = None
    disk_free_mib: int | None = None
    docker_installed: bool | None = None
    docker_version: str | None = None
    docker_permitted: bool | None = None
    containers: tuple[FoundContainer, ...] = ()
    openclaw_likely: bool | None = None


@dataclass(frozen=True)
class AccessAttempt:
    """One Test Access attempt. ``status`` is ``running``, ``succeeded`` or ``failed``;
    a failed one has a ``failure`` kind (e.g. ``connection_refused``), a plain-English
    ``reason`` and a ``next_action``. ``transcript`` says what happened, step by step."""

    id: str
    host_id: str
    org_id: str
    host_name: str
    jumpbox_id: str | None
    route: str
    status: str
    stage: Stage
    failure: str | None
    reason: str | None
    next_action: str | None
    transcript: tuple[TranscriptEntry, ...] = _long()
    discovery: Discovery = _long()
    technical: str = _long()
    requested_by: str = ""
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None


# --- policy and workflows ---


@dataclass(frozen=True)
class CapabilityAction:
    """One action of a capability and its risk (``low``, ``medium``, ``high``)."""

    name: str
    label: str
    risk: str
    live: bool


@dataclass(frozen=True)
class Capability:
    """Something a workflow step can use, from the catalog."""

    id: str
    kind: str
    name: str
    description: str
    provider: str | None
    actions: tuple[CapabilityAction, ...]


@dataclass(frozen=True)
class CapabilityPack:
    """A named set of capabilities to grant an organization in one step."""

    id: str
    name: str
    description: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class Permission:
    """What an organization may do with one capability: which actions, up to which
    risk, whether a person confirms each step, and how many approvers (1 or 2)."""

    id: str
    org_id: str
    capability_id: str
    allowed_actions: tuple[str, ...]
    max_risk: str
    require_confirmation: bool
    approvers_required: int
    enabled: bool
    created_at: datetime
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Connection:
    """An organization's account with an outside system. The credential is write-only:
    ``has_credential`` says whether one is stored, nothing returns it."""

    id: str
    org_id: str
    owner_id: str
    name: str
    provider: str
    status: str
    status_reason: str | None
    capabilities: tuple[str, ...]
    has_credential: bool
    created_at: datetime
    updated_at: datetime
    #: OpenClaw instances (ids) of the organization that use the connection.
    instances: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowStep:
    """One step of a workflow: a capability's action, with its connection and
    parameters. Pass ``works.WorkflowStep(...)`` or a dict with these keys."""

    capability_id: str
    action: str
    connection_id: str | None = None
    parameters: dict[str, Any] = _doc()


@dataclass(frozen=True)
class Workflow:
    """Steps an organization runs, in simulation or live."""

    id: str
    org_id: str
    owner_id: str
    owner_name: str
    name: str
    description: str
    steps: tuple[WorkflowStep, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Approval:
    """Who approved a step, and when."""

    by_id: str
    by_name: str
    at: datetime


@dataclass(frozen=True)
class RunStep:
    """One step of a run: its ``outcome`` (``pending``, ``running``,
    ``awaiting_approval``, ``simulated``, ``succeeded``, ``blocked``, ``failed``,
    ``not_run``), why (``reason``), and, when it waits, the ``approval_phrase`` to type."""

    number: int
    capability_id: str
    action: str
    connection_id: str | None
    outcome: str
    reason: str
    rule: str | None
    risk: str | None
    label: str | None
    approval_phrase: str | None
    approvers_required: int
    approvals: tuple[Approval, ...]
    started_at: datetime | None
    finished_at: datetime | None
    parameters: dict[str, Any] = _doc()
    output: Any = _doc()


@dataclass(frozen=True)
class WorkflowRun:
    """One run of a workflow. ``state`` is ``running``, ``awaiting_approval``,
    ``blocked``, ``succeeded`` or ``failed``; ``reason`` says why, in plain English.
    ``awaiting`` is the step waiting for approval, if any."""

    id: str
    workflow_id: str
    workflow_name: str
    org_id: str
    owner_id: str
    started_by_id: str
    started_by: str
    mode: str
    state: str
    reason: str
    current_step: int
    approval_expires_at: datetime | None
    heartbeat_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    steps: tuple[RunStep, ...] = _long()

    @property
    def awaiting(self) -> RunStep | None:
        """The step waiting for approval, when the run waits for one."""
        if self.state != "awaiting_approval" or self.current_step >= len(self.steps):
            return None
        return self.steps[self.current_step]


# --- backups ---


@dataclass(frozen=True)
class TableSummary:
    """One table of a backup: its rows and a SHA-256 over them."""

    name: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class BackupManifest:
    """What a backup holds and how to check it (the JSON file beside it)."""

    format: str
    format_version: int
    kind: str
    created_at: datetime
    backend: str
    source: str
    file_name: str
    compression: str
    file_bytes: int
    file_sha256: str
    uncompressed_bytes: int | None
    uncompressed_sha256: str | None
    schema_version: int | None
    software_version: str
    tables: tuple[TableSummary, ...] = _long()

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass(frozen=True)
class BackupFile:
    """A backup on disk and its manifest."""

    path: Path
    manifest: BackupManifest

    @property
    def file_name(self) -> str:
        """The name to type to confirm a restore of it."""
        return self.path.name


@dataclass(frozen=True)
class AuditNote:
    """Whether the audit record of a backup operation was written: ``state`` is
    ``recorded`` (with ``seq``), ``no_database`` or ``failed`` (with ``problem``)."""

    state: str
    seq: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class BackupPruned:
    """What a retention pass removed and kept."""

    removed: tuple[BackupFile, ...]
    kept: int
    audit: AuditNote
    policy: dict[str, Any] = _doc()


@dataclass(frozen=True)
class BackupCreated:
    """A new backup, and what retention removed afterwards when configured."""

    backup: BackupFile
    pruned: BackupPruned | None
    audit: AuditNote


@dataclass(frozen=True)
class BackupVerified:
    """A backup checked against its manifest; ``checks`` are those that passed."""

    backup: BackupFile
    checks: tuple[str, ...]
    audit: AuditNote


@dataclass(frozen=True)
class BackupRestoreTest:
    """A backup restored into a temporary database and checked; nothing live touched."""

    backup: BackupFile
    checks: tuple[str, ...]
    audit: AuditNote
    audit_chain: dict[str, Any] = _doc()


@dataclass(frozen=True)
class BackupRestored:
    """A restore of the live database: the backup restored, the safety backup taken
    first (None when there was no database), the checks that passed and the tables
    left alone."""

    restored: BackupFile
    safety: BackupFile | None
    checks: tuple[str, ...]
    left_alone: tuple[str, ...]
    audit: AuditNote


# --- from JSON ---

# JSON keys that are Python keywords or builtins get a trailing underscore.
@dataclass(frozen=True)
class Schedule:
    """A workflow run, or read-only work on a set of nodes, started by a five-field cron
    expression read in an IANA time zone. ``target`` is ``{"type": "workflow",
    "workflow_id": …, "mode": …}`` or ``{"type": "job", "job_kind": …, "node_ids": [...]}``.
    A schedule never approves anything: a run that reaches a confirmation step waits."""

    id: str
    org_id: str
    owner_id: str
    owner_name: str
    name: str
    target: dict[str, Any]
    cron: str
    time_zone: str
    enabled: bool
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    last_outcome: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MapNode:
    """One object on the fleet map (``kind``: organization, node, instance, job,
    workflow or connection), with its status in plain words, why, and what to do next."""

    id: str
    kind: str
    record_id: str
    label: str
    status: str
    status_label: str
    why: str
    next_action: str | None
    group: str
    parent: str | None
    hotspot: bool
    link: str


@dataclass(frozen=True)
class MapEdge:
    """A relationship: ``runs_on``, ``works_on``, ``uses``, ``used_by``."""

    from_: str
    to: str
    relation: str


@dataclass(frozen=True)
class MapGroup:
    """An organization (or the MSP's shared machines) and how many of its objects need attention."""

    id: str
    org_id: str | None
    label: str
    status: str
    objects: int
    hotspots: int


@dataclass(frozen=True)
class MapHotspot:
    """A problem on the map: the object it marks, why, and the next action."""

    id: str
    target: str | None
    severity: str
    title: str
    why: str
    next_action: str
    link: str
    since: datetime | None


@dataclass(frozen=True)
class FleetMap:
    """The fleet as the signed-in person may see it: what the Command Center draws."""

    nodes: tuple[MapNode, ...]
    edges: tuple[MapEdge, ...]
    groups: tuple[MapGroup, ...]
    hotspots: tuple[MapHotspot, ...]
    state: str
    summary: str
    generated_at: datetime


@dataclass(frozen=True)
class StatusCounts:
    """The counts of an executive status summary."""

    organizations: int
    nodes_online: int
    nodes_stale: int
    nodes_offline: int
    nodes_waiting: int
    instances_healthy: int
    instances_unhealthy: int
    instances_other: int
    jobs_failed_24h: int
    runs_awaiting_approval: int


@dataclass(frozen=True)
class StatusIncident:
    """One recent incident, in plain English."""

    severity: str
    title: str
    why: str
    next_action: str
    since: datetime | None


@dataclass(frozen=True)
class VersionCount:
    """How many OpenClaw instances run one version (``unknown`` when not reported)."""

    version: str
    instances: int


@dataclass(frozen=True)
class StatusSummary:
    """The read-only executive status of what the signed-in person may see: the health
    answer, counts, recent incidents and OpenClaw versions in use."""

    state: str
    summary: str
    counts: StatusCounts
    incidents: tuple[StatusIncident, ...]
    versions: tuple[VersionCount, ...]
    generated_at: datetime


@dataclass(frozen=True)
class Layout:
    """A person's Command Center layout, kept on the server."""

    roster_side: str
    activity: str
    roster_width: int
    inspector_width: int
    activity_height: int
    collapsed_groups: tuple[str, ...]


_RENAMED = {"from": "from_", "class": "class_"}


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if hint is datetime:
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    if hint is Path:
        return Path(value)
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        return tuple(_convert(item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return load(hint, value)
    return value


def load(cls: type[Any], data: dict[str, Any]) -> Any:
    """A record of type ``cls`` from the JSON object the core answered. Keys a newer
    server adds are ignored."""
    if isinstance(data, cls):
        return data
    hints = _hints(cls)
    kwargs = {}
    for key, value in data.items():
        name = _RENAMED.get(key, key)
        if name in hints:
            kwargs[name] = _convert(hints[name], value)
    return cls(**kwargs)
