//! Operating commands: the production guard of `works serve`, `works check` and
//! `works backup …`. They work on this machine's configuration and database directly;
//! every rule is `works_core::ops`'s, every copy `works_store::backup`'s.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use works_core::ops::{
    self, AuditNote, BackupFile, BackupService, CheckStatus, Environment, Pruned, ReadinessReport, RetentionPolicy,
    ServerSettings, StartDecision,
};
use works_core::{Error, Result, SystemClock};

use crate::cli::{Cli, ServeArgs};
use crate::connect;
use crate::output;
use crate::secrets;

/// Where the server runs, and whether it runs in debug mode.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// local, staging or production. Production refuses to start with unsafe settings;
    /// staging warns about them
    #[arg(long = "env", env = "WORKS_ENV", value_name = "ENV", default_value = "local")]
    pub environment: String,

    /// Log at debug level (refused in production)
    #[arg(long, env = "WORKS_DEBUG")]
    pub debug: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// The address the server will listen on
    #[arg(long, env = "WORKS_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Session cookies will be marked Secure
    #[arg(long, env = "WORKS_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up the database: a compressed copy and a manifest of checksums and row counts
    ///
    /// SQLite is copied consistently while the server runs; PostgreSQL is dumped with
    /// pg_dump. When WORKS_BACKUP_KEEP or WORKS_BACKUP_MAX_AGE_DAYS is set, older
    /// backups are then pruned (never the newest).
    Create {
        /// Where to write it (default: the backups folder in --data-dir)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// List the backups in a folder, newest first
    List {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check a backup file against its manifest: checksums, and that it reads back whole
    Verify { file: PathBuf },
    /// Restore a backup into a temporary database and check it; nothing live is touched
    RestoreTest { file: PathBuf },
    /// Replace the database with a backup (stop the server first)
    ///
    /// Needs --confirm with the backup's file name. The backup is verified first, and the
    /// current database is saved as a safety backup before anything is replaced.
    Restore {
        file: PathBuf,
        /// The backup's file name, typed out, to confirm the restore
        #[arg(long, value_name = "FILE_NAME")]
        confirm: Option<String>,
        /// Where the safety backup goes (default: the backups folder in --data-dir)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Remove old backups by count and age; the newest is always kept
    Prune {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep at most this many (the newest)
        #[arg(long, value_name = "N", env = "WORKS_BACKUP_KEEP")]
        keep: Option<u32>,
        /// Remove backups older than this many days
        #[arg(long, value_name = "DAYS", env = "WORKS_BACKUP_MAX_AGE_DAYS")]
        max_age_days: Option<u32>,
    },
}

/// Whether `--debug` was asked for on `works serve`.
pub fn debug_requested(cli: &Cli) -> bool {
    matches!(&cli.command, crate::cli::Command::Serve(args) if args.env.debug)
}

/// The settings a server on this command line would run with.
fn settings(cli: &Cli, env: &EnvArgs, listen: &str, secure_cookies: bool) -> Result<ServerSettings> {
    let environment: Environment = env.environment.parse()?;
    let database_url = match cli.database.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ => works_store::sqlite_url_for_dir(&cli.data_dir),
    };
    let log_filters = ["WORKS_LOG", "RUST_LOG"]
        .iter()
        .filter_map(|name| secrets::from_env(name).map(|v| ((*name).to_owned(), v)))
        .collect();
    Ok(ServerSettings {
        environment,
        listen: listen.trim().to_owned(),
        database_url,
        admin_password: secrets::from_env("WORKS_ADMIN_PASSWORD"),
        master_key: std::env::var("WORKS_MASTER_KEY").ok(),
        secure_cookies,
        log_filters,
        debug: env.debug,
        openclaw_image: std::env::var(works_core::openclaw::IMAGE_ENV).ok(),
    })
}

fn problem_lines(mark: &str, problems: &[ops::Problem]) -> String {
    let mut out = String::new();
    for p in problems {
        let _ = writeln!(out, "  {mark} {}: {}\n      next: {}", p.setting, p.problem, p.fix);
    }
    out
}

/// Before `works serve` opens anything: production refuses unsafe settings (naming each),
/// staging warns, local says nothing.
pub fn guard_start(cli: &Cli, args: &ServeArgs) -> Result<()> {
    let settings = settings(cli, &args.env, &args.listen, args.secure_cookies)?;
    match ops::start_decision(&settings) {
        StartDecision::Start => Ok(()),
        StartDecision::StartWithWarnings(problems) => {
            eprint!(
                "warning: these settings would be refused in production ({}):\n{}",
                settings.environment,
                problem_lines("!", &problems)
            );
            Ok(())
        }
        StartDecision::Refuse(problems) => {
            eprint!("Anthropy Works will not start in production with these settings:\n{}", problem_lines("✗", &problems));
            Err(Error::invalid(
                "env",
                format!(
                    "production refuses to start until the {} problem{} above {} fixed",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" },
                    if problems.len() == 1 { "is" } else { "are" }
                ),
            ))
        }
    }
}

fn check_title(check: &str) -> &str {
    match check {
        "configuration" => "Configuration",
        "database" => "Database",
        "migrations" => "Migrations",
        "master_key" => "Master key",
        "openclaw" => "OpenClaw bundle",
        other => other,
    }
}

fn readiness_text(report: &ReadinessReport) -> String {
    let mut out = format!("Readiness of Anthropy Works (environment: {})\n", report.environment);
    for line in &report.checks {
        let _ = writeln!(out, "{} {}: {}", line.status.symbol(), check_title(&line.check), line.message);
        if let Some(next) = line.next_action.as_ref().filter(|_| line.status != CheckStatus::Ok) {
            let _ = writeln!(out, "    next: {next}");
        }
    }
    let count = |s: CheckStatus| report.checks.iter().filter(|c| c.status == s).count();
    let summary = match report.status {
        CheckStatus::Ok => "Ready: every check passed.".to_owned(),
        CheckStatus::Warning => format!("Ready with {} warning(s); see the lines marked !.", count(CheckStatus::Warning)),
        CheckStatus::Failure => format!("Not ready: {} check(s) failed; see the lines marked ✗.", count(CheckStatus::Failure)),
    };
    let _ = writeln!(out, "{summary}");
    out
}

/// `works check`: the report, and 0 all fine, 1 warnings, 2 failures.
pub async fn check(cli: &Cli, args: &CheckArgs) -> Result<(String, u8)> {
    if cli.server.is_some() {
        return Err(Error::invalid(
            "server",
            "does not apply to works check: it checks this machine's settings and database (use --database or --data-dir)",
        ));
    }
    let settings = settings(cli, &args.env, &args.listen, args.secure_cookies)?;
    let database = works_store::probe(&settings.database_url).await;
    let report = ops::readiness(&settings, &database);
    let text = if cli.json { output::json(&report)? } else { readiness_text(&report) };
    Ok((text, report.exit_code()))
}

fn audit_line(note: &AuditNote) -> String {
    match note {
        AuditNote::Recorded { seq } => format!("Recorded in the audit log as record {seq}.\n"),
        AuditNote::NoDatabase => "Not recorded in the audit log: there is no database here yet.\n".into(),
        AuditNote::Failed { problem } => format!("warning: this could not be recorded in the audit log: {problem}\n"),
    }
}

fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else {
        format!("{:.1} GiB", b / KIB / KIB / KIB)
    }
}

fn describe(b: &BackupFile) -> String {
    let m = &b.manifest;
    format!(
        "{} backup of {}, made {}: {} tables, {} rows, {}",
        m.kind.as_str(),
        m.source,
        output::time(&m.created_at),
        m.tables.len(),
        m.total_rows(),
        size(m.file_bytes)
    )
}

fn checks_text(checks: &[String]) -> String {
    checks.iter().map(|c| format!("  ✓ {c}\n")).collect()
}

fn pruned_text(p: &Pruned) -> String {
    let mut out = format!("Retention ({}): ", p.policy.describe());
    if p.removed.is_empty() {
        out.push_str(&format!("nothing to remove; {} backup(s) kept.\n", p.kept));
    } else {
        out.push_str(&format!("removed {} backup(s), kept {}:\n", p.removed.len(), p.kept));
        for b in &p.removed {
            out.push_str(&format!("  - {}\n", b.path.display()));
        }
    }
    out + &audit_line(&p.audit)
}

fn number_from_env(name: &str) -> Result<Option<u32>> {
    match secrets::from_env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| Error::invalid(name, "must be a whole number, such as 7")),
    }
}

fn backups_dir(cli: &Cli, dir: &Option<PathBuf>) -> PathBuf {
    dir.clone().unwrap_or_else(|| cli.data_dir.join("backups"))
}

/// `works backup …`: one call of the core's backup service per command.
pub async fn backup(cli: &Cli, cmd: &BackupCommand) -> Result<(String, u8)> {
    if cli.server.is_some() {
        return Err(Error::invalid(
            "server",
            "does not apply to works backup: backups run on the machine that reaches the database (use --database or --data-dir)",
        ));
    }
    let url = connect::database_url(cli)?;
    let engine = works_store::backup_engine(&url).await?;
    let clock = SystemClock;
    let service = BackupService::new(engine.as_ref(), &clock, ops::local_operator());
    let json = cli.json;
    let text = match cmd {
        BackupCommand::Create { dir } => {
            let policy = RetentionPolicy::new(number_from_env("WORKS_BACKUP_KEEP")?, number_from_env("WORKS_BACKUP_MAX_AGE_DAYS")?)?;
            let created = service.create(&backups_dir(cli, dir), policy).await?;
            if json {
                return output::json(&created).map(|t| (t, 0));
            }
            let mut out = format!(
                "Backed up the database to {}\n  {}\n  SHA-256 {}\n  manifest: {}{}\n",
                created.backup.path.display(),
                describe(&created.backup),
                created.backup.manifest.file_sha256,
                created.backup.path.display(),
                ops::MANIFEST_SUFFIX
            );
            out.push_str(&audit_line(&created.audit));
            if let Some(p) = &created.pruned {
                out.push_str(&pruned_text(p));
            }
            out
        }
        BackupCommand::List { dir } => {
            let dir = backups_dir(cli, dir);
            let mut all = engine.list(&dir).await?;
            all.sort_by_key(|b| std::cmp::Reverse((b.manifest.created_at, b.file_name())));
            if json {
                return output::json(&all).map(|t| (t, 0));
            }
            if all.is_empty() {
                format!("No backups in {}.\n", dir.display())
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|b| {
                        vec![
                            b.file_name(),
                            output::time(&b.manifest.created_at),
                            b.manifest.kind.as_str().into(),
                            size(b.manifest.file_bytes),
                            b.manifest.total_rows().to_string(),
                        ]
                    })
                    .collect();
                format!("Backups in {}, newest first:\n{}", dir.display(), output::table(&["FILE", "MADE", "KIND", "SIZE", "ROWS"], &rows))
            }
        }
        BackupCommand::Verify { file } => {
            let outcome = service.verify(file).await?;
            if json {
                return output::json(&outcome).map(|t| (t, 0));
            }
            format!(
                "✓ {} is intact.\n  {}\n{}{}",
                outcome.verified.backup.path.display(),
                describe(&outcome.verified.backup),
                checks_text(&outcome.verified.checks),
                audit_line(&outcome.audit)
            )
        }
        BackupCommand::RestoreTest { file } => {
            let outcome = service.restore_test(file).await?;
            if json {
                return output::json(&outcome).map(|t| (t, 0));
            }
            format!(
                "✓ The restore test of {} passed.\n  {}\n{}Nothing live was touched: the test ran in a temporary database, which is gone.\n{}",
                outcome.test.backup.path.display(),
                describe(&outcome.test.backup),
                checks_text(&outcome.test.checks),
                audit_line(&outcome.audit)
            )
        }
        BackupCommand::Restore { file, confirm, dir } => {
            let outcome = service.restore(file, confirm.as_deref(), &backups_dir(cli, dir)).await?;
            if json {
                return output::json(&outcome).map(|t| (t, 0));
            }
            let mut out = String::new();
            match &outcome.safety {
                Some(s) => {
                    let _ = writeln!(out, "Saved the database as it was before the restore to {}", s.path.display());
                    let _ = writeln!(
                        out,
                        "  To go back to it: works backup restore {} --confirm {}",
                        shell_word(&s.path),
                        s.file_name()
                    );
                }
                None => out.push_str("There was no database here before, so there was nothing to save first.\n"),
            }
            let _ = writeln!(
                out,
                "Restored {} into {}.\n  {}",
                outcome.restored.path.display(),
                engine.location(),
                describe(&outcome.restored)
            );
            out.push_str(&checks_text(&outcome.report.checks));
            if !outcome.report.left_alone.is_empty() {
                let _ = writeln!(
                    out,
                    "These tables are not in the backup and were left as they are: {}",
                    outcome.report.left_alone.join(", ")
                );
            }
            out.push_str(&audit_line(&outcome.audit));
            out.push_str("Start the server again when you are ready: works serve (migrations run on start).\n");
            out
        }
        BackupCommand::Prune { dir, keep, max_age_days } => {
            let policy = RetentionPolicy::new(*keep, *max_age_days)?.ok_or_else(|| {
                Error::invalid("keep", "is needed: give --keep N, --max-age-days DAYS, or both")
            })?;
            let pruned = service.prune(&backups_dir(cli, dir), policy).await?;
            if json {
                return output::json(&pruned).map(|t| (t, 0));
            }
            pruned_text(&pruned)
        }
    };
    Ok((text, 0))
}

/// A path as it can be pasted into a shell.
fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:=@".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_word(Path::new("/srv/works/backups/a.gz")), "/srv/works/backups/a.gz");
        assert_eq!(shell_word(Path::new("/my backups/it's.gz")), "'/my backups/it'\\''s.gz'");
    }

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(2048), "2.0 KiB");
        assert_eq!(size(5 * 1024 * 1024), "5.0 MiB");
    }
}
