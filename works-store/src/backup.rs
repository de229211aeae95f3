//! The mechanics of backups, and the database facts they and `works check` rely on.
//!
//! [`backup_engine`] gives the [`BackupEngine`] of a database URL; the rules around it
//! (confirmation, the safety backup, retention, the audit record of each action) are
//! `works_core::ops::BackupService`'s.
//!
//! - SQLite: `VACUUM INTO` a temporary file (a consistent copy, also while a server runs),
//!   compressed with gzip. A restore replaces the database file by an atomic rename and
//!   only when nothing else has the database open (checked by taking SQLite's exclusive
//!   lock). A server that starts in the instant between that check and the rename is not
//!   detected: stop servers before restoring.
//! - PostgreSQL: `pg_dump --format=custom` (compressed by pg_dump) of a snapshot exported
//!   by the transaction that counts the rows, so the dump and the manifest describe the
//!   same moment. A restore runs `pg_restore --clean --if-exists --single-transaction`
//!   and only when no other client is connected to the database. Tables in the live
//!   database that the backup does not hold are left as they are and reported.
//!   `pg_dump` and `pg_restore` come from Debian's `postgresql-client`; they are looked
//!   for on `PATH`, then in `/usr/lib/postgresql/<version>/bin` (newest first).
//!
//! Every manifest lists each table's row count and a SHA-256 over its rows in a fixed
//! order, so a restored copy can be compared table by table.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteLockingMode};
use sqlx::{ConnectOptions, Connection, Executor};
use works_core::audit::{AuditDraft, AuditRecord};
use works_core::ops::{
    display_url, table_differences, url_password, verify_audit_chain, BackupEngine, BackupFile, BackupKind,
    BackupManifest, DatabaseProbe, MigrationStatus, RestoreTest, Restored, TableSummary, Verified, BACKUP_FORMAT,
    BACKUP_FORMAT_VERSION, MANIFEST_SUFFIX,
};
use works_core::{Error, Result, Store};

use crate::backend::{PgStore, SqliteStore, POSTGRES_MIGRATOR, SQLITE_MIGRATOR};

/// How long the exclusive-use checks wait for other connections to go away.
const IN_USE_WAIT: Duration = Duration::from_secs(3);

/// The backup engine of the database at `url`. Nothing is opened yet.
pub async fn backup_engine(url: &str) -> Result<Arc<dyn BackupEngine>> {
    match Backend::of(url)? {
        Backend::Sqlite => Ok(Arc::new(SqliteBackups { url: url.trim().to_owned(), path: sqlite_path(url)? })),
        Backend::Postgres => Ok(Arc::new(PgBackups { url: url.trim().to_owned() })),
    }
}

/// What is at `url`, without creating, migrating or changing anything.
pub async fn probe(url: &str) -> Result<DatabaseProbe> {
    match Backend::of(url)? {
        Backend::Sqlite => {
            let path = sqlite_path(url)?;
            let location = path.display().to_string();
            if !path.exists() {
                return Ok(DatabaseProbe { backend: "sqlite".into(), location, migrations: None });
            }
            let mut conn = sqlite_connect(&path, false).await?;
            let status = migration_status_sqlite(&mut conn).await;
            close_sqlite(conn).await;
            Ok(DatabaseProbe { backend: "sqlite".into(), location, migrations: Some(status?) })
        }
        Backend::Postgres => {
            let mut conn = pg_connect(url).await?;
            let status = migration_status_pg(&mut conn).await;
            close_pg(conn).await;
            Ok(DatabaseProbe { backend: "postgres".into(), location: display_url(url), migrations: Some(status?) })
        }
    }
}

/// Row counts and content hashes of every table of the database at `url`.
pub async fn table_summaries(url: &str) -> Result<Vec<TableSummary>> {
    match Backend::of(url)? {
        Backend::Sqlite => {
            let mut conn = sqlite_connect(&sqlite_path(url)?, false).await?;
            let out = sqlite_summaries(&mut conn).await;
            close_sqlite(conn).await;
            out
        }
        Backend::Postgres => {
            let mut conn = pg_connect(url).await?;
            let out = pg_summaries(&mut conn).await;
            close_pg(conn).await;
            out
        }
    }
}

/// The migration versions this build carries for `backend` (`sqlite` or `postgres`).
pub fn known_migrations(backend: &str) -> Vec<i64> {
    let migrator = if backend == "postgres" { &POSTGRES_MIGRATOR } else { &SQLITE_MIGRATOR };
    migrator.iter().filter(|m| !m.migration_type.is_down_migration()).map(|m| m.version).collect()
}

/// Checks a backup file against its manifest, whatever database it came from. Needs no
/// database (`pg_restore` for PostgreSQL backups).
pub async fn verify_file(file: &Path) -> Result<Verified> {
    let (verified, _copy) = verify_keeping_copy(file).await?;
    Ok(verified)
}

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Result<Self> {
        let url = url.trim();
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::invalid(
                "database",
                "must be a URL starting with sqlite:// (a database file) or postgres:// (a PostgreSQL server)",
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Plain-English errors
// ---------------------------------------------------------------------------------------

fn bad_backup(file: &Path, problem: impl std::fmt::Display) -> Error {
    Error::invalid("backup", format!("{}: {problem}", file.display()))
}

fn io_error(what: &str, path: &Path) -> impl Fn(std::io::Error) -> Error {
    let (what, path) = (what.to_owned(), path.display().to_string());
    move |e| Error::internal(format!("Could not {what} {path}: {e}"))
}

fn db_fail(what: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| {
        tracing::warn!(error = %e, what, "database step of a backup failed");
        match &e {
            sqlx::Error::Database(db) if db.message().contains("locked") || db.message().contains("busy") => {
                Error::conflict(None, format!("Could not {what}: the database is busy or locked ({}).", db.message()))
            }
            sqlx::Error::Database(db) => Error::internal(format!("Could not {what}: {}", db.message())),
            sqlx::Error::Io(io) => Error::unavailable(format!("Could not {what}: {io}")),
            other => Error::internal(format!("Could not {what}: {other}")),
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::internal(format!("A backup step stopped unexpectedly: {e}")))?
}

// ---------------------------------------------------------------------------------------
// Files: names, manifests, hashes, compression
// ---------------------------------------------------------------------------------------

fn random_hex() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// `works-sqlite-20250131T090500123Z.sqlite.gz`, `works-postgres-safety-….pgdump`.
fn backup_name(backend: &str, kind: BackupKind, at: DateTime<Utc>, n: u32) -> String {
    let stamp = at.format("%Y%m%dT%H%M%S%3fZ");
    let kind = match kind {
        BackupKind::Regular => String::new(),
        BackupKind::Safety => "-safety".to_owned(),
    };
    let ext = if backend == "postgres" { "pgdump" } else { "sqlite.gz" };
    let n = if n > 1 { format!("-{n}") } else { String::new() };
    format!("works-{backend}{kind}-{stamp}{n}.{ext}")
}

fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(MANIFEST_SUFFIX);
    file.with_file_name(name)
}

/// The backup file a path names: the file itself, or the one a manifest sits next to.
fn backup_path(given: &Path) -> PathBuf {
    let name = given.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.strip_suffix(MANIFEST_SUFFIX) {
        Some(stem) if !stem.is_empty() => given.with_file_name(stem),
        _ => given.to_path_buf(),
    }
}

/// Creates `dir` (owner-only) when missing.
fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::invalid("dir", format!("{} could not be created: {e}", dir.display())))
}

/// Opens a new file readable by its owner only (backups hold password and token hashes).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn make_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A file's size and SHA-256.
fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Counts and hashes what passes through to the file underneath.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or_default();
        self.hasher.update(written);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct Digests {
    raw_bytes: u64,
    raw_sha256: String,
    file_bytes: u64,
    file_sha256: String,
}

/// Gzips `src` into the new file `dest`, hashing both sides.
fn compress(src: &Path, dest: &Path) -> std::io::Result<Digests> {
    let mut input = std::fs::File::open(src)?;
    let out = HashingWriter { inner: create_private(dest)?, hasher: Sha256::new(), bytes: 0 };
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut raw = Sha256::new();
    let mut raw_bytes = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        raw.update(chunk);
        raw_bytes += n as u64;
        encoder.write_all(chunk)?;
    }
    let mut out = encoder.finish()?;
    out.flush()?;
    out.inner.sync_all()?;
    Ok(Digests {
        raw_bytes,
        raw_sha256: hex::encode(raw.finalize()),
        file_bytes: out.bytes,
        file_sha256: hex::encode(out.hasher.finalize()),
    })
}

/// Un-gzips `src` into the new file `dest`; the size and SHA-256 of what came out.
fn decompress(src: &Path, dest: &Path) -> std::io::Result<(u64, String)> {
    let input = std::io::BufReader::new(std::fs::File::open(src)?);
    let mut decoder = flate2::read::GzDecoder::new(input);
    let mut out = HashingWriter { inner: create_private(dest)?, hasher: Sha256::new(), bytes: 0 };
    std::io::copy(&mut decoder, &mut out)?;
    out.flush()?;
    out.inner.sync_all()?;
    Ok((out.bytes, hex::encode(out.hasher.finalize())))
}

fn write_manifest(file: &Path, manifest: &BackupManifest) -> Result<PathBuf> {
    let path = manifest_path(file);
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::internal(format!("Could not write the backup manifest: {e}")))?;
    let tmp = path.with_file_name(format!(".manifest-{}.tmp", random_hex()));
    let written = create_private(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::internal(format!("Could not write the backup manifest {}: {e}", path.display())));
    }
    Ok(path)
}

fn read_manifest(file: &Path) -> Result<BackupManifest> {
    let path = manifest_path(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad_backup(
                file,
                format!(
                    "has no manifest next to it (expected {}): it was not made by works backup create, or the manifest was moved away from it",
                    path.display()
                ),
            ))
        }
        Err(e) => return Err(bad_backup(file, format!("its manifest {} cannot be read: {e}", path.display()))),
    };
    let manifest: BackupManifest = serde_json::from_str(&text)
        .map_err(|e| bad_backup(file, format!("its manifest {} is damaged or not a backup manifest ({e})", path.display())))?;
    manifest.check_format().map_err(|p| bad_backup(file, p))?;
    Ok(manifest)
}

/// Moves a finished backup into place under a free name and writes its manifest.
fn publish(tmp: &Path, dir: &Path, mut manifest: BackupManifest) -> Result<BackupFile> {
    let mut n = 1;
    let path = loop {
        let name = backup_name(&manifest.backend, manifest.kind, manifest.created_at, n);
        let candidate = dir.join(&name);
        if !candidate.exists() && !manifest_path(&candidate).exists() {
            manifest.file_name = name;
            break candidate;
        }
        n += 1;
    };
    std::fs::rename(tmp, &path).map_err(io_error("move the backup into", &path))?;
    write_manifest(&path, &manifest)?;
    sync_dir(dir);
    Ok(BackupFile { path, manifest })
}

/// The backups in `dir`: files with a readable manifest of this format.
fn list_dir(dir: &Path) -> Result<Vec<BackupFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::invalid("dir", format!("{} cannot be read: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(MANIFEST_SUFFIX) else { continue };
        if stem.is_empty() || stem.starts_with('.') {
            continue;
        }
        let path = dir.join(stem);
        if !path.is_file() {
            continue;
        }
        match read_manifest(&path) {
            Ok(manifest) => out.push(BackupFile { path, manifest }),
            Err(e) => tracing::warn!(error = %e, "skipping a file that is not a readable backup"),
        }
    }
    Ok(out)
}

fn remove_backup(backup: &BackupFile) -> Result<()> {
    for path in [backup.path.clone(), manifest_path(&backup.path)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::internal(format!("Could not remove {}: {e}", path.display()))),
        }
    }
    Ok(())
}

fn new_manifest(backend: &str, source: String, kind: BackupKind, at: DateTime<Utc>, compression: &str) -> BackupManifest {
    BackupManifest {
        format: BACKUP_FORMAT.into(),
        format_version: BACKUP_FORMAT_VERSION,
        kind,
        created_at: at,
        backend: backend.into(),
        source,
        file_name: String::new(),
        compression: compression.into(),
        file_bytes: 0,
        file_sha256: String::new(),
        uncompressed_bytes: None,
        uncompressed_sha256: None,
        schema_version: None,
        software_version: env!("CARGO_PKG_VERSION").into(),
        tables: Vec::new(),
    }
}

fn describe_tables(tables: &[TableSummary]) -> String {
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    format!("{} tables hold the {rows} rows and the contents the manifest lists", tables.len())
}

// ---------------------------------------------------------------------------------------
// Verification of a file, for both backends
// ---------------------------------------------------------------------------------------

/// A decompressed SQLite copy in a temporary folder, removed when dropped.
struct CheckedCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// Verifies `given`; for a SQLite backup also hands back the checked, decompressed copy.
async fn verify_keeping_copy(given: &Path) -> Result<(Verified, Option<CheckedCopy>)> {
    let file = backup_path(given);
    if !file.is_file() {
        return Err(bad_backup(&file, "no such backup file"));
    }
    let manifest = read_manifest(&file)?;
    let mut checks = Vec::new();

    let (bytes, sha) = {
        let f = file.clone();
        blocking(move || sha256_file(&f).map_err(|e| bad_backup(&f, format!("cannot be read: {e}")))).await?
    };
    if bytes < manifest.file_bytes {
        return Err(bad_backup(
            &file,
            format!("is truncated: it is {bytes} bytes, but its manifest says {}", manifest.file_bytes),
        ));
    }
    if bytes > manifest.file_bytes {
        return Err(bad_backup(
            &file,
            format!("is {bytes} bytes, but its manifest says {}: something was added to it", manifest.file_bytes),
        ));
    }
    if sha != manifest.file_sha256 {
        return Err(bad_backup(
            &file,
            "is damaged: its SHA-256 does not match the manifest, so it was changed after it was written",
        ));
    }
    checks.push(format!("the file is {bytes} bytes and its SHA-256 matches the manifest"));

    let backup = BackupFile { path: file.clone(), manifest };
    match backup.manifest.backend.as_str() {
        "sqlite" => {
            let copy = sqlite_checked_copy(&backup, &mut checks).await?;
            Ok((Verified { backup, checks }, Some(copy)))
        }
        "postgres" => {
            pg_list_check(&backup, &mut checks).await?;
            Ok((Verified { backup, checks }, None))
        }
        other => Err(bad_backup(&file, format!("its manifest names an unknown database kind \"{other}\""))),
    }
}

/// Decompresses a SQLite backup into a temporary folder and checks it against the manifest.
async fn sqlite_checked_copy(backup: &BackupFile, checks: &mut Vec<String>) -> Result<CheckedCopy> {
    let dir = tempfile::tempdir().map_err(|e| Error::internal(format!("Could not create a temporary folder: {e}")))?;
    let path = dir.path().join("restored.db");
    let (src, dest) = (backup.path.clone(), path.clone());
    let (bytes, sha) = blocking(move || {
        decompress(&src, &dest).map_err(|e| {
            bad_backup(&src, format!("cannot be decompressed: it is truncated or damaged (gzip: {e})"))
        })
    })
    .await?;
    let m = &backup.manifest;
    if Some(bytes) != m.uncompressed_bytes || Some(&sha) != m.uncompressed_sha256.as_ref() {
        return Err(bad_backup(
            &backup.path,
            "decompresses to a database that differs from the one backed up (size or SHA-256 does not match the manifest)",
        ));
    }
    checks.push(format!("it decompresses to {bytes} bytes whose SHA-256 matches the manifest"));
    let mut conn = sqlite_connect(&path, false).await?;
    let result = async {
        sqlite_integrity(&mut conn).await.map_err(|p| bad_backup(&backup.path, p))?;
        checks.push("SQLite's integrity check of the database inside passes".into());
        let found = sqlite_summaries(&mut conn).await?;
        compare_tables(&backup.path, &m.tables, &found)?;
        checks.push(describe_tables(&found));
        Ok(())
    }
    .await;
    close_sqlite(conn).await;
    result.map(|()| CheckedCopy { _dir: dir, path })
}

fn compare_tables(file: &Path, expected: &[TableSummary], found: &[TableSummary]) -> Result<()> {
    let differences = table_differences(expected, found);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(bad_backup(file, format!("does not hold what its manifest lists: {}", differences.join("; "))))
    }
}

// ---------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------

pub(crate) fn sqlite_file(url: &str) -> Result<PathBuf> {
    sqlite_path(url)
}

fn sqlite_path(url: &str) -> Result<PathBuf> {
    let url = url.trim();
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(Error::invalid("database", "is an in-memory database, which cannot be backed up or restored"));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::invalid("database", format!("is not a usable SQLite URL: {e}")))?;
    Ok(options.get_filename().to_path_buf())
}

/// Backup steps are long on purpose (a copy, a lock wait): their statements are not
/// logged as slow.
fn sqlite_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5))
        .disable_statement_logging()
}

async fn sqlite_connect(path: &Path, exclusive: bool) -> Result<SqliteConnection> {
    let mut options = sqlite_options(path);
    if exclusive {
        options = options.locking_mode(SqliteLockingMode::Exclusive).busy_timeout(IN_USE_WAIT);
    }
    options.connect().await.map_err(|e| {
        tracing::warn!(error = %e, path = %path.display(), "could not open a SQLite file");
        Error::unavailable(format!("Could not open the SQLite database {}: {e}", path.display()))
    })
}

async fn close_sqlite(conn: SqliteConnection) {
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "closing a SQLite connection failed");
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn sqlite_tables(conn: &mut SqliteConnection) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_fail("list the tables"))
}

/// Each table's rows, each rendered with `quote()` column by column, sorted, hashed.
async fn sqlite_summaries(conn: &mut SqliteConnection) -> Result<Vec<TableSummary>> {
    let mut out = Vec::new();
    for table in sqlite_tables(conn).await? {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
            .bind(&table)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_fail("read a table's columns"))?;
        let row = if columns.is_empty() {
            "''".to_owned()
        } else {
            columns.iter().map(|c| format!("quote({})", quote_ident(c))).collect::<Vec<_>>().join(" || ',' || ")
        };
        let sql = format!("SELECT {row} AS r FROM {} ORDER BY r", quote_ident(&table));
        let (rows, sha256) = hash_rows(sqlx::query_scalar::<_, String>(&sql).fetch(&mut *conn)).await?;
        out.push(TableSummary { name: table, rows, sha256 });
    }
    Ok(out)
}

async fn hash_rows<'a>(
    mut rows: futures_util::stream::BoxStream<'a, std::result::Result<String, sqlx::Error>>,
) -> Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    while let Some(row) = rows.try_next().await.map_err(db_fail("read a table"))? {
        hasher.update(row.as_bytes());
        hasher.update(b"\n");
        count += 1;
    }
    Ok((count, hex::encode(hasher.finalize())))
}

/// `Ok` when `PRAGMA integrity_check` says `ok`; else what it said, as a sentence end.
async fn sqlite_integrity(conn: &mut SqliteConnection) -> std::result::Result<(), String> {
    let lines: Vec<String> = match sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut *conn).await {
        Ok(lines) => lines,
        Err(e) => return Err(format!("the database inside cannot be read by SQLite ({e})")),
    };
    if lines.len() == 1 && lines.first().map(String::as_str) == Some("ok") {
        return Ok(());
    }
    let shown: Vec<&str> = lines.iter().take(3).map(String::as_str).collect();
    Err(format!("the database inside fails SQLite's integrity check: {}", shown.join("; ")))
}

async fn sqlite_has_table(conn: &mut SqliteConnection, name: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_fail("read the schema"))?;
    Ok(n > 0)
}

async fn migration_status_sqlite(conn: &mut SqliteConnection) -> Result<MigrationStatus> {
    let known = known_migrations("sqlite");
    if !sqlite_has_table(conn, "_sqlx_migrations").await? {
        return Ok(MigrationStatus { applied: vec![], failed: vec![], known });
    }
    let rows: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_fail("read the applied migrations"))?;
    Ok(split_migrations(rows, known))
}

fn split_migrations(rows: Vec<(i64, bool)>, known: Vec<i64>) -> MigrationStatus {
    let applied = rows.iter().filter(|(_, ok)| *ok).map(|(v, _)| *v).collect();
    let failed = rows.iter().filter(|(_, ok)| !*ok).map(|(v, _)| *v).collect();
    MigrationStatus { applied, failed, known }
}

fn newest(status: &MigrationStatus) -> Option<i64> {
    status.applied.iter().copied().max()
}

fn sqlite_url_of(path: &Path) -> String {
    let mut out = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

struct SqliteBackups {
    url: String,
    path: PathBuf,
}

impl SqliteBackups {
    fn not_in_use_error(&self) -> Error {
        Error::conflict(
            None,
            format!(
                "The database {} is in use: a running works serve (or another program) has it open. Stop the server, then run the restore again.",
                self.path.display()
            ),
        )
    }

    /// Takes SQLite's exclusive lock (which fails while any other connection has the file
    /// open) and leaves WAL mode, so the file alone holds every committed change.
    async fn take_exclusive(&self) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let mut conn = match sqlite_connect(&self.path, true).await {
            Ok(c) => c,
            Err(_) => return Err(self.not_in_use_error()),
        };
        let result = async {
            conn.execute("BEGIN EXCLUSIVE").await.map_err(|_| self.not_in_use_error())?;
            conn.execute("COMMIT").await.map_err(|_| self.not_in_use_error())?;
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
                .fetch_one(&mut conn)
                .await
                .map_err(|_| self.not_in_use_error())?;
            if !mode.eq_ignore_ascii_case("delete") {
                return Err(self.not_in_use_error());
            }
            Ok(())
        }
        .await;
        close_sqlite(conn).await;
        result
    }
}

#[async_trait]
impl BackupEngine for SqliteBackups {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn live_exists(&self) -> Result<bool> {
        Ok(self.path.is_file())
    }

    async fn create(&self, dir: &Path, kind: BackupKind, at: DateTime<Utc>) -> Result<BackupFile> {
        if !self.path.is_file() {
            return Err(Error::not_found("database", self.path.display().to_string()));
        }
        ensure_dir(dir)?;
        let copy = dir.join(format!(".works-backup-{}.sqlite.tmp", random_hex()));
        let partial = dir.join(format!(".works-backup-{}.gz.tmp", random_hex()));
        let result = async {
            // A consistent copy, taken through SQLite while others may read and write.
            let mut live = sqlite_connect(&self.path, false).await?;
            let vacuum = sqlx::query("VACUUM INTO $1")
                .bind(copy.to_string_lossy().into_owned())
                .execute(&mut live)
                .await
                .map_err(db_fail("copy the database"));
            close_sqlite(live).await;
            vacuum?;
            make_private(&copy).map_err(io_error("protect", &copy))?;

            let mut manifest = new_manifest("sqlite", self.path.display().to_string(), kind, at, "gzip");
            let mut conn = sqlite_connect(&copy, false).await?;
            let facts = async {
                sqlite_integrity(&mut conn).await.map_err(Error::internal)?;
                let tables = sqlite_summaries(&mut conn).await?;
                let status = migration_status_sqlite(&mut conn).await?;
                Ok::<_, Error>((tables, newest(&status)))
            }
            .await;
            close_sqlite(conn).await;
            let (tables, schema_version) = facts?;
            manifest.tables = tables;
            manifest.schema_version = schema_version;

            let (src, dest) = (copy.clone(), partial.clone());
            let digests = blocking(move || compress(&src, &dest).map_err(io_error("compress the backup into", &dest))).await?;
            manifest.uncompressed_bytes = Some(digests.raw_bytes);
            manifest.uncompressed_sha256 = Some(digests.raw_sha256);
            manifest.file_bytes = digests.file_bytes;
            manifest.file_sha256 = digests.file_sha256;
            publish(&partial, dir, manifest)
        }
        .await;
        let _ = std::fs::remove_file(&copy);
        let _ = std::fs::remove_file(&partial);
        result
    }

    async fn verify(&self, file: &Path) -> Result<Verified> {
        verify_file(file).await
    }

    async fn restore_test(&self, file: &Path) -> Result<RestoreTest> {
        sqlite_restore_test(file).await
    }

    async fn ensure_not_in_use(&self) -> Result<()> {
        self.take_exclusive().await
    }

    async fn restore(&self, backup: &BackupFile) -> Result<Restored> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        ensure_dir(&dir)?;
        let (verified, copy) = verify_keeping_copy(&backup.path).await?;
        let copy = copy.ok_or_else(|| bad_backup(&backup.path, "is not a SQLite backup"))?;
        let mut checks = verified.checks;

        // The new file, next to the live one so the final rename is atomic.
        let incoming = dir.join(format!(".works-restore-{}.db.tmp", random_hex()));
        std::fs::copy(&copy.path, &incoming).map_err(io_error("prepare the restored database at", &incoming))?;
        let result = async {
            make_private(&incoming).map_err(io_error("protect", &incoming))?;
            let mut conn = sqlite_connect(&incoming, false).await?;
            let mode = sqlx::query_scalar::<_, String>("PRAGMA journal_mode = DELETE").fetch_one(&mut conn).await;
            close_sqlite(conn).await;
            mode.map_err(db_fail("prepare the restored database"))?;

            self.take_exclusive().await?;
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut name = self.path.as_os_str().to_os_string();
                name.push(suffix);
                let leftover = PathBuf::from(name);
                match std::fs::remove_file(&leftover) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::internal(format!("Could not remove {}: {e}", leftover.display()))),
                }
            }
            std::fs::rename(&incoming, &self.path).map_err(io_error("replace the database file", &self.path))?;
            sync_dir(&dir);
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&incoming);
        }
        result?;

        let mut conn = sqlite_connect(&self.path, false).await?;
        let found = sqlite_summaries(&mut conn).await;
        close_sqlite(conn).await;
        let found = found?;
        compare_tables(&backup.path, &backup.manifest.tables, &found)?;
        checks.push(format!("the database file {} was replaced; {}", self.path.display(), describe_tables(&found)));
        Ok(Restored { checks, left_alone: Vec::new() })
    }

    async fn list(&self, dir: &Path) -> Result<Vec<BackupFile>> {
        list_dir(dir)
    }

    async fn remove(&self, backup: &BackupFile) -> Result<()> {
        remove_backup(backup)
    }

    async fn append_audit(&self, draft: AuditDraft) -> Result<Option<AuditRecord>> {
        if !self.path.is_file() {
            return Ok(None);
        }
        let store = SqliteStore::open(&self.url).await?;
        let record = store.append_audit(draft).await;
        store.close().await;
        record.map(Some)
    }
}

/// Restores a SQLite backup into a temporary file, opens it as this version's store and
/// checks it; the file is deleted afterwards.
async fn sqlite_restore_test(file: &Path) -> Result<RestoreTest> {
    let (verified, copy) = verify_keeping_copy(file).await?;
    let Some(copy) = copy else {
        return Err(bad_backup(
            &verified.backup.path,
            "is a PostgreSQL backup: run the restore test with --database naming the PostgreSQL server (a temporary database is created there and dropped)",
        ));
    };
    let mut checks = verified.checks;
    let store = SqliteStore::open(&sqlite_url_of(&copy.path)).await?;
    let result = async {
        store.ping().await?;
        checks.push(format!(
            "this version of Anthropy Works opens the restored copy (schema version {})",
            verified.backup.manifest.schema_version.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
        ));
        let audit = verify_audit_chain(&store).await?;
        if audit.intact {
            checks.push(format!("its audit log's hash chain is intact ({} records)", audit.checked));
        }
        Ok(audit)
    }
    .await;
    store.close().await;
    let audit = result?;
    drop(copy);
    checks.push("the temporary copy was deleted; nothing live was touched".into());
    Ok(RestoreTest { backup: verified.backup, checks, audit_chain: audit })
}

// ---------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------

async fn pg_connect(url: &str) -> Result<PgConnection> {
    let options = PgConnectOptions::from_str(url.trim())
        .map_err(|_| Error::invalid("database", "is not a usable PostgreSQL URL"))?
        .disable_statement_logging();
    options.connect().await.map_err(|e| {
        tracing::warn!(error = %e, "could not connect to PostgreSQL for a backup step");
        let detail = match &e {
            sqlx::Error::Database(db) => db.message().to_owned(),
            sqlx::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        Error::unavailable(format!(
            "Could not connect to the PostgreSQL database {} ({detail}). Check that it is running and that the URL is right.",
            display_url(url)
        ))
    })
}

async fn close_pg(conn: PgConnection) {
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "closing a PostgreSQL connection failed");
    }
}

async fn pg_tables(conn: &mut PgConnection) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_fail("list the tables"))
}

/// Each table's rows as PostgreSQL renders a row as text, sorted bytewise, hashed.
async fn pg_summaries(conn: &mut PgConnection) -> Result<Vec<TableSummary>> {
    let mut out = Vec::new();
    for table in pg_tables(conn).await? {
        let sql = format!("SELECT t::text FROM {} AS t ORDER BY (t::text) COLLATE \"C\"", quote_ident(&table));
        let (rows, sha256) = hash_rows(sqlx::query_scalar::<_, String>(&sql).fetch(&mut *conn)).await?;
        out.push(TableSummary { name: table, rows, sha256 });
    }
    Ok(out)
}

async fn migration_status_pg(conn: &mut PgConnection) -> Result<MigrationStatus> {
    let known = known_migrations("postgres");
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_fail("read the schema"))?;
    if !exists {
        return Ok(MigrationStatus { applied: vec![], failed: vec![], known });
    }
    let rows: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_fail("read the applied migrations"))?;
    Ok(split_migrations(rows, known))
}

/// The URL without its password, and the password (given to the tools by environment,
/// so it never shows in a process list).
fn split_password(url: &str) -> (String, Option<String>) {
    let url = url.trim();
    let password = url_password(url);
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return (url.to_owned(), password) };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let stripped = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{head}{user}@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    (stripped, password)
}

/// Where a PostgreSQL client program is: `PATH`, then the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn find_tool(name: &str) -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().split('.').next()?.parse::<u32>().ok()?;
                    let candidate = e.path().join("bin").join(name);
                    candidate.is_file().then_some((version, candidate))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().map(|(_, p)| p).ok_or_else(|| {
        Error::unavailable(format!(
            "{name} was not found on PATH or under /usr/lib/postgresql/*/bin. Install the PostgreSQL client programs (Debian package postgresql-client) and try again."
        ))
    })
}

/// Runs a PostgreSQL client program; on failure, the end of what it said.
async fn run_tool(name: &str, args: &[String], password: Option<&str>) -> Result<String> {
    let program = find_tool(name)?;
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd.env("PGCONNECT_TIMEOUT", "10");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| Error::internal(format!("Could not run {}: {e}", program.display())))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail.get(tail.len().saturating_sub(4)..).unwrap_or_default().join(" / ");
    tracing::warn!(tool = name, status = %out.status, output = %works_core::redact(&stderr), "a PostgreSQL tool failed");
    Err(Error::internal(format!("{name} failed ({}): {}", out.status, works_core::redact(&tail))))
}

/// `pg_restore --list` reads the whole table of contents and finds every table's data.
async fn pg_list_check(backup: &BackupFile, checks: &mut Vec<String>) -> Result<()> {
    let listing = run_tool("pg_restore", &["--list".into(), backup.path.to_string_lossy().into_owned()], None)
        .await
        .map_err(|e| match e {
            Error::Internal { message } => bad_backup(&backup.path, format!("pg_restore cannot read it: {message}")),
            other => other,
        })?;
    let missing: Vec<&str> = backup
        .manifest
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .filter(|name| {
            !listing.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.windows(4).any(|w| matches!(w, ["TABLE", "DATA", _, n] if n == name))
            })
        })
        .collect();
    if !missing.is_empty() {
        return Err(bad_backup(&backup.path, format!("does not hold the data of table {}", missing.join(", "))));
    }
    checks.push(format!(
        "pg_restore reads its table of contents, which holds the data of all {} tables",
        backup.manifest.tables.len()
    ));
    Ok(())
}

struct PgBackups {
    url: String,
}

impl PgBackups {
    async fn other_connections(&self, conn: &mut PgConnection) -> Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(db_fail("see who is connected"))
    }

    /// Restores into a new temporary database and checks it. The caller drops it.
    async fn test_into(&self, temp_url: &str, verified: &Verified, checks: &mut Vec<String>) -> Result<RestoreTest> {
        let (plain, password) = split_password(temp_url);
        run_tool(
            "pg_restore",
            &[
                "--no-owner".into(),
                "--no-privileges".into(),
                "--exit-on-error".into(),
                format!("--dbname={plain}"),
                verified.backup.path.to_string_lossy().into_owned(),
            ],
            password.as_deref(),
        )
        .await?;
        checks.push("pg_restore restored it into a temporary database".into());
        let mut conn = pg_connect(temp_url).await?;
        let found = pg_summaries(&mut conn).await;
        close_pg(conn).await;
        let found = found?;
        compare_tables(&verified.backup.path, &verified.backup.manifest.tables, &found)?;
        checks.push(describe_tables(&found));
        let store = PgStore::open(temp_url).await?;
        let result = async {
            store.ping().await?;
            checks.push("this version of Anthropy Works opens the restored copy".into());
            verify_audit_chain(&store).await
        }
        .await;
        store.close().await;
        let audit = result?;
        if audit.intact {
            checks.push(format!("its audit log's hash chain is intact ({} records)", audit.checked));
        }
        Ok(RestoreTest { backup: verified.backup.clone(), checks: checks.clone(), audit_chain: audit })
    }
}

#[async_trait]
impl BackupEngine for PgBackups {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        display_url(&self.url)
    }

    async fn live_exists(&self) -> Result<bool> {
        Ok(true)
    }

    async fn create(&self, dir: &Path, kind: BackupKind, at: DateTime<Utc>) -> Result<BackupFile> {
        ensure_dir(dir)?;
        find_tool("pg_dump")?;
        let partial = dir.join(format!(".works-backup-{}.pgdump.tmp", random_hex()));
        let mut conn = pg_connect(&self.url).await?;
        let result = async {
            // One snapshot for the row counts and the dump.
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(db_fail("start a snapshot"))?;
            let snapshot: String =
                sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut conn).await.map_err(db_fail("export a snapshot"))?;
            let tables = pg_summaries(&mut conn).await?;
            let status = migration_status_pg(&mut conn).await?;
            let (plain, password) = split_password(&self.url);
            run_tool(
                "pg_dump",
                &[
                    "--format=custom".into(),
                    format!("--snapshot={snapshot}"),
                    "--no-password".into(),
                    format!("--file={}", partial.to_string_lossy()),
                    format!("--dbname={plain}"),
                ],
                password.as_deref(),
            )
            .await?;
            conn.execute("COMMIT").await.map_err(db_fail("end the snapshot"))?;
            make_private(&partial).map_err(io_error("protect", &partial))?;
            let f = partial.clone();
            let (bytes, sha) = blocking(move || sha256_file(&f).map_err(io_error("read", &f))).await?;
            let mut manifest = new_manifest("postgres", display_url(&self.url), kind, at, "pg_dump custom");
            manifest.tables = tables;
            manifest.schema_version = newest(&status);
            manifest.file_bytes = bytes;
            manifest.file_sha256 = sha;
            publish(&partial, dir, manifest)
        }
        .await;
        close_pg(conn).await;
        let _ = std::fs::remove_file(&partial);
        result
    }

    async fn verify(&self, file: &Path) -> Result<Verified> {
        verify_file(file).await
    }

    async fn restore_test(&self, file: &Path) -> Result<RestoreTest> {
        let (verified, copy) = verify_keeping_copy(file).await?;
        if copy.is_some() {
            drop(copy);
            return sqlite_restore_test(file).await;
        }
        let mut checks = verified.checks.clone();
        let name = format!("works_restore_test_{}", random_hex());
        let mut admin = pg_connect(&self.url).await?;
        let created = admin.execute(format!("CREATE DATABASE {}", quote_ident(&name)).as_str()).await;
        if let Err(e) = created {
            close_pg(admin).await;
            return Err(db_fail("create a temporary database for the restore test (the database user needs the CREATEDB right)")(e));
        }
        let temp_url = crate::testing::with_database(&self.url, &name);
        let result = self.test_into(&temp_url, &verified, &mut checks).await;
        let dropped = admin.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&name)).as_str()).await;
        close_pg(admin).await;
        let mut test = result?;
        match dropped {
            Ok(_) => test.checks.push(format!("the temporary database {name} was dropped; nothing live was touched")),
            Err(e) => {
                return Err(Error::internal(format!(
                    "The restore test passed, but the temporary database {name} could not be dropped ({e}); drop it by hand."
                )))
            }
        }
        Ok(test)
    }

    async fn ensure_not_in_use(&self) -> Result<()> {
        let mut conn = pg_connect(&self.url).await?;
        let deadline = tokio::time::Instant::now() + IN_USE_WAIT;
        let result = loop {
            match self.other_connections(&mut conn).await {
                Ok(0) => break Ok(()),
                Ok(n) if tokio::time::Instant::now() >= deadline => {
                    break Err(Error::conflict(
                        None,
                        format!(
                            "The database {} is in use: {n} other connection(s) are open (a running works serve?). Stop the server (every works serve using this database), then run the restore again.",
                            display_url(&self.url)
                        ),
                    ))
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(e) => break Err(e),
            }
        };
        close_pg(conn).await;
        result
    }

    async fn restore(&self, backup: &BackupFile) -> Result<Restored> {
        let verified = verify_file(&backup.path).await?;
        let mut checks = verified.checks;
        let (plain, password) = split_password(&self.url);
        run_tool(
            "pg_restore",
            &[
                "--clean".into(),
                "--if-exists".into(),
                "--no-owner".into(),
                "--no-privileges".into(),
                "--single-transaction".into(),
                "--exit-on-error".into(),
                format!("--dbname={plain}"),
                backup.path.to_string_lossy().into_owned(),
            ],
            password.as_deref(),
        )
        .await
        .map_err(|e| Error::internal(format!("The restore did not happen, and the database is as it was: {e}")))?;
        let mut conn = pg_connect(&self.url).await?;
        let found = pg_summaries(&mut conn).await;
        close_pg(conn).await;
        let found = found?;
        let left_alone: Vec<String> = found
            .iter()
            .filter(|f| !backup.manifest.tables.iter().any(|t| t.name == f.name))
            .map(|f| f.name.clone())
            .collect();
        let restored: Vec<TableSummary> = found.into_iter().filter(|f| !left_alone.contains(&f.name)).collect();
        compare_tables(&backup.path, &backup.manifest.tables, &restored)?;
        checks.push(format!("pg_restore replaced the database's tables; {}", describe_tables(&restored)));
        Ok(Restored { checks, left_alone })
    }

    async fn list(&self, dir: &Path) -> Result<Vec<BackupFile>> {
        list_dir(dir)
    }

    async fn remove(&self, backup: &BackupFile) -> Result<()> {
        remove_backup(backup)
    }

    async fn append_audit(&self, draft: AuditDraft) -> Result<Option<AuditRecord>> {
        let store = PgStore::open(&self.url).await?;
        let record = store.append_audit(draft).await;
        store.close().await;
        record.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_sort_by_time_and_say_what_they_are() {
        let at = Utc.with_ymd_and_hms(2025, 1, 31, 9, 5, 0).unwrap() + chrono::Duration::milliseconds(123);
        assert_eq!(backup_name("sqlite", BackupKind::Regular, at, 1), "works-sqlite-20250131T090500123Z.sqlite.gz");
        assert_eq!(backup_name("postgres", BackupKind::Safety, at, 2), "works-postgres-safety-20250131T090500123Z-2.pgdump");
    }

    #[test]
    fn a_manifest_path_names_its_backup() {
        let file = Path::new("/b/works-sqlite-1.sqlite.gz");
        assert_eq!(manifest_path(file), Path::new("/b/works-sqlite-1.sqlite.gz.manifest.json"));
        assert_eq!(backup_path(&manifest_path(file)), file);
        assert_eq!(backup_path(file), file);
    }

    #[test]
    fn passwords_leave_the_url_for_the_environment() {
        assert_eq!(
            split_password("postgres://works:p%40ss@db:5432/works?sslmode=require"),
            ("postgres://works@db:5432/works?sslmode=require".to_owned(), Some("p@ss".to_owned()))
        );
        assert_eq!(split_password("postgres://works@db/works"), ("postgres://works@db/works".to_owned(), None));
    }

    #[test]
    fn compression_round_trips_and_hashes_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a");
        std::fs::write(&src, b"hello hello hello hello").unwrap();
        let gz = dir.path().join("a.gz");
        let d = compress(&src, &gz).unwrap();
        assert_eq!(d.raw_bytes, 23);
        assert_eq!(sha256_file(&gz).unwrap(), (d.file_bytes, d.file_sha256.clone()));
        let back = dir.path().join("b");
        assert_eq!(decompress(&gz, &back).unwrap(), (23, d.raw_sha256));
        assert_eq!(std::fs::read(&back).unwrap(), b"hello hello hello hello");

        let bytes = std::fs::read(&gz).unwrap();
        let cut = dir.path().join("cut.gz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert!(decompress(&cut, &dir.path().join("c")).is_err(), "a truncated file does not decompress");
    }
}
