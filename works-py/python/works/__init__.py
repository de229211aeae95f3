"""Anthropy Works from Python: the operations center of an MSP, for automation scripts.

Open a database directly, or talk to a running server; both give the same client::

    import works

    client = works.connect("http://127.0.0.1:8080", token="wkt_...")
    # or: client = works.open("sqlite:///var/lib/works/works.db")

    acme = client.orgs.create("Acme Dental")
    client.users.create("alice", role="org_admin", password="a long password", org_id=acme.id)
    for org in client.orgs.list():
        print(org.name, org.created_at.isoformat())

    web = client.nodes.create("acme-web-01", org_id=acme.id)
    print(client.nodes.enrollment_token(web.id).token)   # for `works agent enroll`
    job = client.jobs.request(web.id, "restart")          # risky: waits for approval
    client.jobs.approve(job.id, input(f"Type '{job.approval_phrase}' to approve: "))

    print(client.health().summary)                        # healthy, degraded or critical
    for instance in client.instances.list():              # OpenClaw on the nodes
        print(instance.container_name, instance.state, instance.health)

    # Later areas, same style: typed, frozen records; lists page as you iterate.
    client.instances.plan_upgrade(instance_id, "2026.10.1")   # then .approve_upgrade(...)
    client.hosts.test_access(host_id)                         # SSH: client.access_attempts.wait(...)
    client.policy.grant(acme.id, "summarize", require_confirmation=True)
    run = client.workflows.start(flow_id, "live")             # awaiting_approval: type
    client.workflows.approve(flow_id, run.id, run.awaiting.approval_phrase)
    works.backup.create("sqlite:///var/lib/works/works.db", "/var/backups/works")

Errors are subclasses of :class:`works.WorksError` (``works.NotFound``,
``works.Forbidden``, ``works.InvalidInput`` with ``.field`` …), each with the core's
plain-English message and a ``next_action``.
"""

from __future__ import annotations

from ._works import (
    ApiToken,
    AuditRecord,
    AuditVerification,
    Container,
    ContainerMount,
    CreatedToken,
    Deployment,
    EnrollmentToken,
    HealthAck,
    HealthIssue,
    HealthReport,
    Instance,
    Job,
    Node,
    NodeHealth,
    Org,
    PasswordReset,
    PublishedPort,
    User,
    __version__,
)
from . import backup
from ._areas import AccessAttempts, Alerts, Connections, Hosts, Jumpboxes, Policy, Schedules, SshCredentials, Workflows
from ._records import (
    AccessAttempt,
    Approval,
    Assignment,
    AuditNote,
    BackupCreated,
    BackupFile,
    BackupManifest,
    BackupPruned,
    BackupRestored,
    BackupRestoreTest,
    BackupVerified,
    Capability,
    CapabilityAction,
    CapabilityPack,
    CliCommand,
    Connection,
    Delivery,
    Discovery,
    Eligibility,
    FleetCounts,
    FleetMap,
    Layout,
    StatusCounts,
    StatusIncident,
    StatusSummary,
    VersionCount,
    FoundContainer,
    Host,
    Jumpbox,
    MapEdge,
    MapGroup,
    MapHotspot,
    MapNode,
    MetricHistory,
    MetricSample,
    Permission,
    RunStep,
    Schedule,
    SshCredential,
    Stage,
    TableSummary,
    TranscriptEntry,
    UpgradePlan,
    VersionReport,
    Webhook,
    Workflow,
    WorkflowRun,
    WorkflowStep,
)
from .client import DEFAULT_PAGE_SIZE, Audit, Client, Instances, Jobs, Nodes, Orgs, Tokens, Users, connect, open
from .errors import (
    Conflict,
    FirstStart,
    Forbidden,
    InternalError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    WorksError,
)

__all__ = [
    "__version__",
    "open",
    "connect",
    "Client",
    "Orgs",
    "Users",
    "Tokens",
    "Audit",
    "Nodes",
    "Jobs",
    "Instances",
    "Alerts",
    "SshCredentials",
    "Jumpboxes",
    "Hosts",
    "AccessAttempts",
    "Policy",
    "Connections",
    "Workflows",
    "Schedules",
    "backup",
    "DEFAULT_PAGE_SIZE",
    "Org",
    "User",
    "ApiToken",
    "CreatedToken",
    "PasswordReset",
    "AuditRecord",
    "AuditVerification",
    "Node",
    "NodeHealth",
    "Container",
    "PublishedPort",
    "ContainerMount",
    "EnrollmentToken",
    "Job",
    "HealthReport",
    "HealthIssue",
    "HealthAck",
    "Instance",
    "Deployment",
    "Webhook",
    "Delivery",
    "FleetCounts",
    "FleetMap",
    "Layout",
    "StatusCounts",
    "StatusIncident",
    "StatusSummary",
    "VersionCount",
    "MapNode",
    "MapEdge",
    "MapGroup",
    "MapHotspot",
    "Schedule",
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
    "Capability",
    "CapabilityAction",
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
    "WorksError",
    "NotFound",
    "Forbidden",
    "InvalidInput",
    "Conflict",
    "Unauthenticated",
    "RateLimited",
    "Unavailable",
    "InternalError",
    "FirstStart",
]
