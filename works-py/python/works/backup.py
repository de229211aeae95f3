"""Backups of a database this machine reaches, as ``works backup …`` makes them::

    import works.backup

    made = works.backup.create("sqlite:///var/lib/works/works.db", "/var/backups/works")
    print(made.backup.path, made.backup.manifest.file_sha256)
    works.backup.verify(made.backup.path)            # checksums, and it reads back whole
    works.backup.restore_test(made.backup.path)      # into a temporary database
    works.backup.restore(database_url, made.backup.path, confirm=made.backup.file_name,
                         safety_directory="/var/backups/works")   # server stopped first

Each call runs the core's backup service directly on the database (no server involved;
SQLite needs nothing else, PostgreSQL the ``pg_dump`` and ``pg_restore`` programs) and
records the operation in the audit log, acting as the local operator. Problems raise
the same exceptions as the client (``works.InvalidInput`` with ``.field``, …)."""

from __future__ import annotations

import os
from typing import Any

from . import _works
from ._records import (
    AuditNote,
    BackupCreated,
    BackupFile,
    BackupPruned,
    BackupRestored,
    BackupRestoreTest,
    BackupVerified,
    load,
)

__all__ = ["create", "list", "verify", "restore_test", "restore", "prune"]

PathLike = str | os.PathLike[str]


def _run(database_url: str, op: str, **args: Any) -> Any:
    args = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in args.items()}
    return _works.backup(database_url, op, args)


def create(
    database_url: str, directory: PathLike, *, keep: int | None = None, max_age_days: int | None = None
) -> BackupCreated:
    """Backs up the database into ``directory``: a compressed copy and a manifest with
    checksums beside it. With ``keep`` and/or ``max_age_days`` older backups are pruned
    afterwards (never the newest); the CLI reads these from ``WORKS_BACKUP_KEEP`` and
    ``WORKS_BACKUP_MAX_AGE_DAYS``."""
    return load(BackupCreated, _run(database_url, "create", directory=directory, keep=keep, max_age_days=max_age_days))


def list(database_url: str, directory: PathLike) -> list[BackupFile]:  # noqa: A001 - mirrors `works backup list`
    """The backups in ``directory``, newest first."""
    return [load(BackupFile, b) for b in _run(database_url, "list", directory=directory)]


def verify(database_url: str, file: PathLike) -> BackupVerified:
    """Checks a backup against its manifest: its checksums, and that it reads back whole.
    Raises InvalidInput (field ``file``) naming what is wrong."""
    return load(BackupVerified, _run(database_url, "verify", file=file))


def restore_test(database_url: str, file: PathLike) -> BackupRestoreTest:
    """Restores a backup into a temporary database and checks it (tables, rows, the
    audit hash chain); nothing live is touched."""
    return load(BackupRestoreTest, _run(database_url, "restore_test", file=file))


def restore(database_url: str, file: PathLike, *, confirm: str | None, safety_directory: PathLike) -> BackupRestored:
    """Replaces the database with a backup. Stop the server first. ``confirm`` is the
    backup's file name, typed out (InvalidInput on field ``confirm`` otherwise). The
    backup is verified first, and the current database is saved as a safety backup in
    ``safety_directory`` before anything is replaced."""
    data = _run(database_url, "restore", file=file, confirm=confirm, safety_directory=safety_directory)
    report = data.get("report") or {}
    return BackupRestored(
        restored=load(BackupFile, data["restored"]),
        safety=load(BackupFile, data["safety"]) if data.get("safety") else None,
        checks=tuple(report.get("checks", ())),
        left_alone=tuple(report.get("left_alone", ())),
        audit=load(AuditNote, data["audit"]),
    )


def prune(
    database_url: str, directory: PathLike, *, keep: int | None = None, max_age_days: int | None = None
) -> BackupPruned:
    """Removes old backups by count and age (give ``keep``, ``max_age_days`` or both);
    the newest is always kept."""
    return load(BackupPruned, _run(database_url, "prune", directory=directory, keep=keep, max_age_days=max_age_days))
