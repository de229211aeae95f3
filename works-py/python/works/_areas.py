"""The later areas of the client: alerts, SSH access, policy and workflows. Each method
is one call of the core's API (through ``NativeClient.call``), answered as the typed
records of :mod:`works._records`; lists fetch page after page as you iterate."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from . import _works
from ._records import (
    AccessAttempt,
    Capability,
    CapabilityPack,
    Connection,
    Delivery,
    Host,
    Jumpbox,
    Permission,
    Schedule,
    SshCredential,
    Webhook,
    Workflow,
    WorkflowRun,
    WorkflowStep,
    load,
)

__all__ = ["Alerts", "SshCredentials", "Jumpboxes", "Hosts", "AccessAttempts", "Policy", "Connections", "Workflows", "Schedules"]


class _Area:
    def __init__(self, native: _works.NativeClient) -> None:
        self._native = native

    def _call(self, op: str, **args: Any) -> Any:
        return self._native.call(op, args)

    def _one(self, cls: type, op: str, **args: Any) -> Any:
        return load(cls, self._call(op, **args))

    def _many(self, cls: type, op: str, **args: Any) -> list[Any]:
        return [load(cls, item) for item in self._call(op, **args)]

    def _list(self, cls: type, op: str, limit: int | None, page_size: int, **args: Any) -> Iterator[Any]:
        from .client import _paged

        def fetch(offset: int | None, size: int) -> tuple[list[Any], int | None]:
            page = self._call(op, offset=offset, limit=size, **args)
            return [load(cls, item) for item in page["items"]], page["next_offset"]

        return _paged(fetch, limit, page_size)


def _steps(steps: Iterable[WorkflowStep | Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    if steps is None:
        return None
    out = []
    for step in steps:
        if isinstance(step, WorkflowStep):
            step = {
                "capability_id": step.capability_id,
                "action": step.action,
                "connection_id": step.connection_id,
                "parameters": step.parameters if step.parameters is not None else {},
            }
        out.append({k: v for k, v in dict(step).items() if v is not None})
    return out


class Alerts(_Area):
    """Webhooks told about health changes, and their deliveries: ``client.alerts``.
    MSP admins manage webhooks; MSP roles read deliveries."""

    def create_webhook(self, name: str, url: str, *, secret: str | None = None) -> Webhook:
        """Adds a webhook. ``url`` is ``https://…`` (``http://`` only on a private
        network). ``secret`` (16 to 512 characters, optional) signs each body; it is
        write-only and the webhook shows only ``signed=True``."""
        return self._one(Webhook, "webhook_create", name=name, url=url, secret=secret)

    def webhooks(self) -> list[Webhook]:
        """Every webhook."""
        return self._many(Webhook, "webhook_list")

    def delete_webhook(self, id: str) -> Webhook:
        """Removes a webhook; its deliveries stay in the log."""
        return self._one(Webhook, "webhook_delete", id=id)

    def deliveries(
        self, webhook_id: str | None = None, *, limit: int | None = None, page_size: int = 100
    ) -> Iterator[Delivery]:
        """The delivery log, newest first, optionally of one webhook."""
        return self._list(Delivery, "delivery_list", limit, page_size, webhook_id=webhook_id)


class SshCredentials(_Area):
    """Shared MSP SSH keys: ``client.ssh_credentials``. MSP admins only."""

    def create(self, name: str, private_key: str) -> SshCredential:
        """Uploads a private key (OpenSSH format, no passphrase). The key is sealed on
        the server and never returned: the answer has its fingerprint and public key."""
        return self._one(SshCredential, "ssh_credential_create", name=name, private_key=private_key)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> Iterator[SshCredential]:
        """Every credential, fetched ``page_size`` at a time."""
        return self._list(SshCredential, "ssh_credential_list", limit, page_size)

    def get(self, id: str) -> SshCredential:
        """One credential."""
        return self._one(SshCredential, "ssh_credential_get", id=id)

    def delete(self, id: str) -> SshCredential:
        """Removes a credential no host or jumpbox uses (Conflict otherwise)."""
        return self._one(SshCredential, "ssh_credential_delete", id=id)


class Jumpboxes(_Area):
    """MSP jumpboxes that hosts are reached through: ``client.jumpboxes``."""

    def create(self, name: str, *, address: str, user: str, credential_id: str, port: int | None = None) -> Jumpbox:
        """Adds a jumpbox (port 22 unless given). MSP admins only."""
        return self._one(
            Jumpbox, "jumpbox_create", name=name, address=address, port=port, user=user, credential_id=credential_id
        )

    def list(self, *, limit: int | None = None, page_size: int = 100) -> Iterator[Jumpbox]:
        """Every jumpbox, fetched ``page_size`` at a time."""
        return self._list(Jumpbox, "jumpbox_list", limit, page_size)

    def get(self, id: str) -> Jumpbox:
        """One jumpbox."""
        return self._one(Jumpbox, "jumpbox_get", id=id)

    def forget_host_key(self, id: str) -> Jumpbox:
        """Forgets the pinned host key, to pin the next one seen (after a rebuild)."""
        return self._one(Jumpbox, "jumpbox_forget_host_key", id=id)


class Hosts(_Area):
    """Customer machines reached over SSH: ``client.hosts``."""

    def create(
        self,
        name: str,
        *,
        org_id: str,
        address: str,
        user: str,
        credential_id: str,
        port: int | None = None,
        jumpbox: str | None = None,
    ) -> Host:
        """Adds a host of an organization, reached directly or through ``jumpbox`` (its
        id or name). MSP admins only."""
        return self._one(
            Host,
            "host_create",
            org_id=org_id,
            name=name,
            address=address,
            port=port,
            user=user,
            credential_id=credential_id,
            jumpbox=jumpbox,
        )

    def list(self, org_id: str | None = None, *, limit: int | None = None, page_size: int = 100) -> Iterator[Host]:
        """The hosts you can see, optionally of one organization."""
        return self._list(Host, "host_list", limit, page_size, org_id=org_id)

    def get(self, id: str) -> Host:
        """One host. NotFound when it does not exist or is another organization's."""
        return self._one(Host, "host_get", id=id)

    def test_access(self, id: str) -> AccessAttempt:
        """Starts a Test Access attempt and returns it running; it goes on in the
        background: follow it with ``client.access_attempts.get(attempt.id)`` (or
        ``wait``). MSP roles only."""
        return self._one(AccessAttempt, "host_test_access", id=id)

    def register(self, id: str) -> _works.Node:
        """Registers a host whose access was verified as a node of its organization."""
        return self._call("host_register", id=id)

    def forget_host_key(self, id: str) -> Host:
        """Forgets the pinned host key, to pin the next one seen."""
        return self._one(Host, "host_forget_host_key", id=id)


class AccessAttempts(_Area):
    """Test Access attempts, their transcripts and findings: ``client.access_attempts``."""

    def list(
        self, host_id: str | None = None, *, limit: int | None = None, page_size: int = 100
    ) -> Iterator[AccessAttempt]:
        """Attempts, newest first, optionally of one host."""
        return self._list(AccessAttempt, "access_attempt_list", limit, page_size, host_id=host_id)

    def get(self, id: str) -> AccessAttempt:
        """One attempt as it is now."""
        return self._one(AccessAttempt, "access_attempt_get", id=id)

    def wait(self, id: str, *, timeout: float = 60.0, interval: float = 0.2) -> AccessAttempt:
        """Reads an attempt until it is no longer ``running`` (or ``timeout`` seconds
        pass; then the running attempt is returned)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            attempt = self.get(id)
            if attempt.status != "running" or time.monotonic() >= deadline:
                return attempt
            time.sleep(interval)


class Policy(_Area):
    """What organizations may do: the capability catalog, packs and permissions
    (``client.policy``)."""

    def capabilities(self) -> list[Capability]:
        """The capability catalog."""
        return self._many(Capability, "capability_list")

    def capability(self, id: str) -> Capability:
        """One capability of the catalog."""
        return self._one(Capability, "capability_get", id=id)

    def packs(self) -> list[CapabilityPack]:
        """The capability packs."""
        return self._many(CapabilityPack, "pack_list")

    def attach_pack(self, id: str, *, org_id: str) -> list[Permission]:
        """Grants an organization every capability of a pack; the permissions made."""
        return self._many(Permission, "pack_attach", id=id, org_id=org_id)

    def grant(
        self,
        org_id: str,
        capability_id: str,
        *,
        allowed_actions: list[str] | None = None,
        max_risk: str | None = None,
        require_confirmation: bool | None = None,
        approvers_required: int | None = None,
    ) -> Permission:
        """Lets an organization use a capability: ``allowed_actions`` (default every
        action up to ``max_risk``, default ``medium``), ``require_confirmation`` (a
        person types each step's phrase), ``approvers_required`` (1 or 2)."""
        return self._one(
            Permission,
            "permission_create",
            org_id=org_id,
            capability_id=capability_id,
            allowed_actions=allowed_actions,
            max_risk=max_risk,
            require_confirmation=require_confirmation,
            approvers_required=approvers_required,
        )

    def permissions(
        self,
        org_id: str | None = None,
        capability_id: str | None = None,
        *,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[Permission]:
        """The permissions you can see."""
        return self._list(
            Permission, "permission_list", limit, page_size, org_id=org_id, capability_id=capability_id
        )

    def permission(self, id: str) -> Permission:
        """One permission."""
        return self._one(Permission, "permission_get", id=id)

    def update_permission(
        self,
        id: str,
        *,
        allowed_actions: list[str] | None = None,
        max_risk: str | None = None,
        require_confirmation: bool | None = None,
        approvers_required: int | None = None,
        enabled: bool | None = None,
    ) -> Permission:
        """Changes a permission; arguments left out stay as they are."""
        return self._one(
            Permission,
            "permission_update",
            id=id,
            allowed_actions=allowed_actions,
            max_risk=max_risk,
            require_confirmation=require_confirmation,
            approvers_required=approvers_required,
            enabled=enabled,
        )

    def disable_permission(self, id: str) -> Permission:
        return self._one(Permission, "permission_disable", id=id)

    def enable_permission(self, id: str) -> Permission:
        return self._one(Permission, "permission_enable", id=id)

    def revoke(self, id: str) -> Permission:
        """Deletes a permission."""
        return self._one(Permission, "permission_delete", id=id)


class Connections(_Area):
    """Organizations' accounts with outside systems: ``client.connections``."""

    def create(
        self,
        name: str,
        *,
        provider: str,
        org_id: str | None = None,
        capabilities: list[str] | None = None,
        instances: list[str] | None = None,
        credential: str | None = None,
        status: str | None = None,
    ) -> Connection:
        """Adds a connection (``provider``: ``google_drive``, ``servicetitan``,
        ``quickbooks``, ``composio``, ``generic``). ``instances`` are OpenClaw instances
        of the organization that use it. ``credential`` is write-only: sealed, never
        returned (``has_credential`` says it is there)."""
        return self._one(
            Connection,
            "connection_create",
            org_id=org_id,
            name=name,
            provider=provider,
            capabilities=capabilities,
            instances=instances,
            credential=credential,
            status=status,
        )

    def list(self, org_id: str | None = None, *, limit: int | None = None, page_size: int = 100) -> Iterator[Connection]:
        return self._list(Connection, "connection_list", limit, page_size, org_id=org_id)

    def get(self, id: str) -> Connection:
        return self._one(Connection, "connection_get", id=id)

    def update(
        self,
        id: str,
        *,
        name: str | None = None,
        capabilities: list[str] | None = None,
        instances: list[str] | None = None,
        status: str | None = None,
        credential: str | None = None,
    ) -> Connection:
        """Changes a connection; ``instances`` replaces the linked OpenClaw instances
        (``[]`` unlinks them all); ``credential`` replaces the stored one ("" removes it)."""
        return self._one(
            Connection,
            "connection_update",
            id=id,
            name=name,
            capabilities=capabilities,
            instances=instances,
            status=status,
            credential=credential,
        )

    def delete(self, id: str) -> Connection:
        return self._one(Connection, "connection_delete", id=id)


class Workflows(_Area):
    """Workflows and their runs: ``client.workflows``. A live run stops at each step
    that needs a person, in ``awaiting_approval``, until someone types the step's
    ``approval_phrase`` with :meth:`approve`."""

    def create(
        self,
        name: str,
        steps: Iterable[WorkflowStep | Mapping[str, Any]],
        *,
        org_id: str | None = None,
        description: str | None = None,
    ) -> Workflow:
        """Adds a workflow. Each step is a :class:`works.WorkflowStep` or a dict with
        ``capability_id``, ``action``, and optionally ``connection_id`` and ``parameters``.
        A problem names the step, e.g. field ``steps[0].action``."""
        return self._one(
            Workflow, "workflow_create", org_id=org_id, name=name, description=description, steps=_steps(steps)
        )

    def list(self, org_id: str | None = None, *, limit: int | None = None, page_size: int = 100) -> Iterator[Workflow]:
        return self._list(Workflow, "workflow_list", limit, page_size, org_id=org_id)

    def get(self, id: str) -> Workflow:
        return self._one(Workflow, "workflow_get", id=id)

    def update(
        self,
        id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        steps: Iterable[WorkflowStep | Mapping[str, Any]] | None = None,
    ) -> Workflow:
        return self._one(
            Workflow, "workflow_update", id=id, name=name, description=description, steps=_steps(steps)
        )

    def delete(self, id: str) -> Workflow:
        return self._one(Workflow, "workflow_delete", id=id)

    def start(self, workflow_id: str, mode: str = "simulation") -> WorkflowRun:
        """Runs a workflow: ``simulation`` (touches nothing outside) or ``live``. The
        run is returned as it stands when it finished or stopped to wait."""
        return self._one(WorkflowRun, "run_start", workflow_id=workflow_id, mode=mode)

    def runs(
        self,
        workflow_id: str,
        state: str | None = None,
        *,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[WorkflowRun]:
        """A workflow's runs, newest first, optionally in one ``state``."""
        return self._list(WorkflowRun, "run_list", limit, page_size, workflow_id=workflow_id, state=state)

    def run(self, workflow_id: str, run_id: str) -> WorkflowRun:
        return self._one(WorkflowRun, "run_get", workflow_id=workflow_id, run_id=run_id)

    def approve(self, workflow_id: str, run_id: str, phrase: str) -> WorkflowRun:
        """Approves the step a run waits on by typing its ``approval_phrase``; a wrong
        phrase is InvalidInput on field ``phrase``."""
        return self._one(WorkflowRun, "run_approve", workflow_id=workflow_id, run_id=run_id, phrase=phrase)

    def awaiting_approval(self, org_id: str | None = None) -> Iterator[tuple[Workflow, WorkflowRun]]:
        """Every run you can see that waits for approval, with its workflow."""
        for workflow in self.list(org_id):
            for run in self.runs(workflow.id, "awaiting_approval"):
                yield workflow, run


class Schedules(_Area):
    """Workflow runs and read-only node work started by cron: ``client.schedules``. Each
    fire acts with its creator's rights at that moment and never approves anything."""

    def create(
        self,
        name: str,
        *,
        cron: str,
        time_zone: str,
        workflow_id: str | None = None,
        mode: str = "simulation",
        job_kind: str | None = None,
        node_ids: list[str] | None = None,
        org_id: str | None = None,
        enabled: bool | None = None,
    ) -> Schedule:
        """Adds a schedule of a workflow's run (``workflow_id`` and ``mode``:
        ``simulation`` or ``live``) or of read-only work on nodes (``job_kind``:
        ``health_check``, ``logs`` or ``inventory_refresh``, and ``node_ids``). ``cron``
        has five fields and is read in ``time_zone`` (e.g. ``Europe/Berlin``). A problem
        names its field (``cron``, ``time_zone``, ``target.job_kind`` …)."""
        if (workflow_id is None) == (job_kind is None):
            from .errors import InvalidInput

            raise InvalidInput("give either workflow_id or job_kind (with node_ids)", field="target")
        if workflow_id is not None:
            target: dict[str, Any] = {"type": "workflow", "workflow_id": workflow_id, "mode": mode}
        else:
            target = {"type": "job", "job_kind": job_kind, "node_ids": list(node_ids or [])}
        return self._one(
            Schedule, "schedule_create", org_id=org_id, name=name, target=target, cron=cron, time_zone=time_zone, enabled=enabled
        )

    def list(self, org_id: str | None = None, *, limit: int | None = None, page_size: int = 100) -> Iterator[Schedule]:
        return self._list(Schedule, "schedule_list", limit, page_size, org_id=org_id)

    def get(self, id: str) -> Schedule:
        return self._one(Schedule, "schedule_get", id=id)

    def update(
        self,
        id: str,
        *,
        name: str | None = None,
        cron: str | None = None,
        time_zone: str | None = None,
        enabled: bool | None = None,
    ) -> Schedule:
        """Changes a schedule; ``enabled=False`` stops it, ``True`` plans its next fire
        from now (missed fires are not made up)."""
        return self._one(Schedule, "schedule_update", id=id, name=name, cron=cron, time_zone=time_zone, enabled=enabled)

    def delete(self, id: str) -> Schedule:
        return self._one(Schedule, "schedule_delete", id=id)

