"""`works.backup`: the backups `works backup …` makes, from Python, on a database this
machine reaches: SQLite, and PostgreSQL when configured. (A remote client has no
backups: they run where the database is.)"""

from __future__ import annotations

import gc
import os
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import works
from conftest import ADMIN_PASSWORD, POSTGRES_URL_VAR, fresh_postgres_database, unique

DATABASES = ["sqlite"] + (["postgres"] if os.environ.get(POSTGRES_URL_VAR, "").strip() else [])


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return fresh_postgres_database()
    return f"sqlite://{tmp_path}/works.db"


def opened(url: str) -> works.Client:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", works.FirstStart)
        return works.open(url, admin_password=ADMIN_PASSWORD)


def test_create_verify_restore_test_and_restore(database_url: str, tmp_path: Path) -> None:
    client = opened(database_url)
    kept = client.orgs.create(unique("Kept Org"))
    backups = tmp_path / "backups"

    made = works.backup.create(database_url, backups)
    assert isinstance(made, works.BackupCreated) and isinstance(made.backup, works.BackupFile)
    assert made.backup.path.parent == backups and made.backup.path.exists()
    manifest = made.backup.manifest
    assert isinstance(manifest, works.BackupManifest) and manifest.kind == "regular"
    assert isinstance(manifest.created_at, datetime) and manifest.created_at.tzinfo is not None
    assert abs(datetime.now(timezone.utc) - manifest.created_at) < timedelta(minutes=5)
    assert manifest.total_rows > 0 and any(t.name == "orgs" for t in manifest.tables)
    assert made.audit.state == "recorded" and made.audit.seq
    assert made.pruned is None
    assert works.backup.list(database_url, backups) == [made.backup]

    verified = works.backup.verify(database_url, made.backup.path)
    assert verified.backup == made.backup and verified.checks
    tested = works.backup.restore_test(database_url, str(made.backup.path))
    assert tested.checks and tested.audit_chain["intact"] is True

    gone = client.orgs.create(unique("Made After The Backup"))
    with pytest.raises(works.InvalidInput) as unconfirmed:
        works.backup.restore(database_url, made.backup.path, confirm="yes", safety_directory=backups)
    assert unconfirmed.value.field == "confirm"
    assert made.backup.file_name in str(unconfirmed.value)
    # A restore refuses while anything has the database open: this client too.
    with pytest.raises(works.Conflict) as in_use:
        works.backup.restore(database_url, made.backup.path, confirm=made.backup.file_name, safety_directory=backups)
    assert "is in use" in str(in_use.value)
    del client
    gc.collect()
    restored = works.backup.restore(
        database_url, made.backup.path, confirm=made.backup.file_name, safety_directory=backups
    )
    assert isinstance(restored, works.BackupRestored) and restored.restored == made.backup
    assert restored.safety is not None and restored.safety.manifest.kind == "safety"
    assert restored.checks
    after = opened(database_url)
    ids = {o.id for o in after.orgs.list()}
    assert kept.id in ids and gone.id not in ids

    pruned = works.backup.prune(database_url, backups, keep=1)
    assert isinstance(pruned, works.BackupPruned) and pruned.kept == 1 and len(pruned.removed) == 1
    with pytest.raises(works.InvalidInput) as nothing:
        works.backup.prune(database_url, backups)
    assert nothing.value.field == "keep"


def test_a_damaged_backup_is_refused_in_plain_english(database_url: str, tmp_path: Path) -> None:
    opened(database_url)
    made = works.backup.create(database_url, tmp_path / "backups")
    data = bytearray(made.backup.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    made.backup.path.write_bytes(bytes(data))
    with pytest.raises(works.InvalidInput) as damaged:
        works.backup.verify(database_url, made.backup.path)
    assert damaged.value.field == "backup"
    assert "is damaged: its SHA-256 does not match the manifest" in str(damaged.value)
    with pytest.raises(works.InvalidInput) as empty:
        works.backup.create(database_url, "")
    assert empty.value.field == "directory"
