//! Running Anthropy Works safely: environments and the production guard, readiness
//! (`works check`), and the rules of backups (what a backup records, how a restore is
//! confirmed, the safety backup taken before it, retention).
//!
//! Everything here is a rule. The mechanics of copying a database live in the store
//! adapter, behind [`BackupEngine`]; the command line fills [`ServerSettings`] and makes
//! one call per command.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Via};
use crate::audit::{AuditDraft, AuditRecord, AuditVerification, ChainVerifier, Outcome};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::model::Role;
use crate::store::Store;

// ---------------------------------------------------------------------------------------
// Environments
// ---------------------------------------------------------------------------------------

/// Where a server runs. Production refuses unsafe settings, staging warns about them,
/// local says nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    #[default]
    Local,
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "local" => Ok(Environment::Local),
            "staging" => Ok(Environment::Staging),
            "production" => Ok(Environment::Production),
            _ => Err(Error::invalid("env", "must be local, staging or production (from --env or WORKS_ENV)")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Server settings and the production guard
// ---------------------------------------------------------------------------------------

/// The names under which settings are given, used in every problem so a person knows
/// what to change.
pub mod setting {
    pub const ADMIN_PASSWORD: &str = "WORKS_ADMIN_PASSWORD";
    pub const MASTER_KEY: &str = "WORKS_MASTER_KEY";
    pub const SECURE_COOKIES: &str = "WORKS_SECURE_COOKIES (--secure-cookies)";
    pub const LISTEN: &str = "WORKS_LISTEN (--listen)";
    pub const DEBUG: &str = "WORKS_DEBUG (--debug)";
    pub const DATABASE: &str = "WORKS_DATABASE_URL (--database)";
}

/// What a server is about to run with, as the command line read it.
#[derive(Clone, Default)]
pub struct ServerSettings {
    pub environment: Environment,
    /// The address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// The database URL (may hold a password; never shown).
    pub database_url: String,
    /// The first admin's password, when given (`WORKS_ADMIN_PASSWORD`).
    pub admin_password: Option<String>,
    /// The master key as given (`WORKS_MASTER_KEY`), base64 or hex of 32 bytes.
    pub master_key: Option<String>,
    /// Whether session cookies are marked Secure.
    pub secure_cookies: bool,
    /// Log filters in force, as (variable name, value), e.g. `("WORKS_LOG", "debug")`.
    pub log_filters: Vec<(String, String)>,
    /// `--debug` / `WORKS_DEBUG`.
    pub debug: bool,
    /// The OpenClaw image repository (`WORKS_OPENCLAW_IMAGE`), when given.
    pub openclaw_image: Option<String>,
}

impl fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |o: &Option<String>| if o.is_some() { "<given>" } else { "<not given>" };
        f.debug_struct("ServerSettings")
            .field("environment", &self.environment)
            .field("listen", &self.listen)
            .field("database_url", &display_url(&self.database_url))
            .field("admin_password", &hidden(&self.admin_password))
            .field("master_key", &hidden(&self.master_key))
            .field("secure_cookies", &self.secure_cookies)
            .field("log_filters", &self.log_filters)
            .field("debug", &self.debug)
            .field("openclaw_image", &self.openclaw_image)
            .finish()
    }
}

/// One unsafe setting, in plain English: which setting, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The setting's name as a person gives it, e.g. `WORKS_MASTER_KEY`.
    pub setting: String,
    pub problem: String,
    pub fix: String,
}

impl Problem {
    fn new(setting: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Problem { setting: setting.to_owned(), problem: problem.into(), fix: fix.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} Next: {}", self.setting, self.problem, self.fix)
    }
}

/// Every setting that production must not run with. The rules do not depend on the
/// environment; [`start_decision`] decides what the environment makes of them.
pub fn check_production(settings: &ServerSettings) -> Vec<Problem> {
    let mut problems = Vec::new();

    if let Some(password) = &settings.admin_password {
        if let Some(weakness) = password_weakness(password) {
            problems.push(Problem::new(
                setting::ADMIN_PASSWORD,
                format!("the first admin's password {weakness}."),
                "Use a long random password, for example the output of `openssl rand -base64 24`, or leave it unset to have one generated and shown once.",
            ));
        }
    }

    if let Some(problem) = master_key_problem(settings.master_key.as_deref()) {
        problems.push(problem);
    }

    if settings.debug {
        problems.push(Problem::new(
            setting::DEBUG,
            "debug mode is on: the log would record request details that production must not keep.",
            "Remove --debug and unset WORKS_DEBUG.",
        ));
    }
    for (name, value) in &settings.log_filters {
        if let Some(level) = verbose_level(value) {
            problems.push(Problem::new(
                name,
                format!("asks for {level} logging ({name}={value}): the log would record request details that production must not keep."),
                format!("Set {name} to info or warn, or unset it."),
            ));
        }
    }

    if !settings.secure_cookies {
        problems.push(Problem::new(
            setting::SECURE_COOKIES,
            "session cookies are not marked Secure: browsers would send sign-ins over plain HTTP.",
            "Serve over HTTPS (directly or behind a reverse proxy) and set WORKS_SECURE_COOKIES=true.",
        ));
        if !is_loopback_listen(&settings.listen) {
            problems.push(Problem::new(
                setting::LISTEN,
                format!(
                    "the server listens on {}, which other machines can reach, while cookies are not Secure: sign-ins would cross the network unprotected.",
                    settings.listen.trim()
                ),
                "Listen on 127.0.0.1 behind an HTTPS reverse proxy, or turn on Secure cookies and serve over HTTPS.",
            ));
        }
    }

    if let Some(password) = url_password(&settings.database_url) {
        if is_known_default(&password) {
            problems.push(Problem::new(
                setting::DATABASE,
                "the database password in the URL is a well-known default.",
                "Give the database user a long random password and put it in the URL.",
            ));
        }
    }

    problems
}

/// What start-up does with the problems of its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartDecision {
    /// Start; nothing to say (local, or no problems).
    Start,
    /// Start, but show these warnings first (staging).
    StartWithWarnings(Vec<Problem>),
    /// Do not start (production): every problem is listed.
    Refuse(Vec<Problem>),
}

/// Production refuses to start with any problem; staging warns; local is silent.
pub fn start_decision(settings: &ServerSettings) -> StartDecision {
    let problems = check_production(settings);
    if problems.is_empty() {
        return StartDecision::Start;
    }
    match settings.environment {
        Environment::Local => StartDecision::Start,
        Environment::Staging => StartDecision::StartWithWarnings(problems),
        Environment::Production => StartDecision::Refuse(problems),
    }
}

/// Passwords that people and documents use as examples. Compared after lowering case,
/// reading common look-alike digits as letters and dropping everything but letters, so
/// `Admin123!`, `P@ssw0rd` and `change-me` all match; a password made only of these words
/// (`adminadmin`, `changemechangeme`) matches too.
const KNOWN_PASSWORDS: [&str; 22] = [
    "admin",
    "administrator",
    "password",
    "passwd",
    "changeme",
    "change",
    "me",
    "example",
    "secret",
    "supersecret",
    "works",
    "anthropy",
    "letmein",
    "welcome",
    "default",
    "qwerty",
    "test",
    "root",
    "pass",
    "my",
    "your",
    "here",
];

/// The minimum length of a password production accepts.
pub const MIN_PASSWORD_CHARS: usize = 16;

/// Why a password is unsafe, as the end of a sentence ("… is shorter than 16
/// characters"), or `None` when it is acceptable.
pub fn password_weakness(password: &str) -> Option<String> {
    if password.trim().is_empty() {
        return Some("is empty".to_owned());
    }
    if is_known_default(password) {
        return Some("is a well-known default or example password".to_owned());
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!("is shorter than {MIN_PASSWORD_CHARS} characters ({chars})"));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 6 {
        return Some("repeats too few different characters".to_owned());
    }
    None
}

/// True when the password is one of [`KNOWN_PASSWORDS`] or made only of them, read two
/// ways: with digits and symbols dropped (`Admin123!`), and with look-alikes read as
/// letters (`P@ssw0rd`).
fn is_known_default(password: &str) -> bool {
    let letters_only: String =
        password.chars().map(|c| c.to_ascii_lowercase()).filter(char::is_ascii_lowercase).collect();
    let look_alikes: String = password
        .chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '1' | '!' | '|' => 'i',
            '3' => 'e',
            '$' | '5' => 's',
            '7' => 't',
            c => c.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_lowercase)
        .collect();
    // A password of digits and symbols alone is judged by its length and variety instead.
    [letters_only, look_alikes].iter().any(|s| !s.is_empty() && made_of_known_words(s))
}

/// Whether `s` splits completely into known words (a word-break check).
fn made_of_known_words(s: &str) -> bool {
    let n = s.len();
    let mut reachable = vec![false; n + 1];
    if let Some(first) = reachable.first_mut() {
        *first = true;
    }
    for start in 0..n {
        if !reachable.get(start).copied().unwrap_or(false) {
            continue;
        }
        let Some(rest) = s.get(start..) else { continue };
        for word in KNOWN_PASSWORDS {
            if rest.starts_with(word) {
                if let Some(slot) = reachable.get_mut(start + word.len()) {
                    *slot = true;
                }
            }
        }
    }
    reachable.get(n).copied().unwrap_or(false)
}

/// `debug` or `trace` when a log filter asks for that much, e.g. `debug`,
/// `info,sqlx=trace`, `works=DEBUG`.
fn verbose_level(filter: &str) -> Option<&'static str> {
    let mut found = None;
    for directive in filter.split(',') {
        let level = directive.rsplit('=').next().unwrap_or("").trim().to_ascii_lowercase();
        match level.as_str() {
            "trace" => return Some("trace"),
            "debug" => found = Some("debug"),
            _ => {}
        }
    }
    found
}

/// Whether an address to listen on is reachable from this machine only.
pub fn is_loopback_listen(listen: &str) -> bool {
    let listen = listen.trim();
    let host = if let Some(rest) = listen.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match listen.rsplit_once(':') {
            Some((host, _port)) if !host.contains(':') => host,
            Some(_) => listen,
            None => listen,
        }
    };
    let host = host.trim();
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------
// The master key
// ---------------------------------------------------------------------------------------

/// The 32-byte key secrets are sealed with. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<hidden>)")
    }
}

/// Reads a master key given as base64 (standard or URL-safe, padded or not) or as 64 hex
/// digits. The error is the end of a sentence about the key and never contains it.
pub fn parse_master_key(text: &str) -> std::result::Result<MasterKey, String> {
    use base64::Engine as _;
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    let decoded: Option<Vec<u8>> = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).ok()
    } else {
        [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
    };
    let lower = text.to_ascii_lowercase();
    let placeholder = ["change", "example", "placeholder", "secret", "todo", "xxxx", "your", "replace", "insert", "key"]
        .iter()
        .find(|w| lower.contains(**w));
    let bytes = match decoded {
        Some(bytes) if bytes.len() == 32 => bytes,
        other => {
            if let Some(word) = placeholder {
                return Err(format!("looks like a placeholder (it contains \"{word}\"), not a generated key"));
            }
            return Err(match other {
                Some(bytes) => format!("decodes to {} bytes; it must be exactly 32", bytes.len()),
                None => "is neither base64 nor 64 hexadecimal digits".to_owned(),
            });
        }
    };
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    if let Some(pattern) = pattern_in(&key) {
        return Err(format!("is not random: its bytes {pattern}"));
    }
    Ok(MasterKey(key))
}

/// Describes an obvious pattern in key bytes (all equal, counting up or down, a short
/// repeated block, little variety), or `None`.
fn pattern_in(key: &[u8; 32]) -> Option<&'static str> {
    let first = key.first().copied().unwrap_or(0);
    if key.iter().all(|b| *b == first) {
        return Some("are all the same");
    }
    let steps: Vec<u8> = key.windows(2).map(|w| match w {
        [a, b] => b.wrapping_sub(*a),
        _ => 0,
    }).collect();
    if steps.iter().all(|s| *s == 1) || steps.iter().all(|s| *s == 255) {
        return Some("count up or down one by one");
    }
    for period in 1..=16 {
        if key.iter().enumerate().all(|(i, b)| key.get(i % period) == Some(b)) {
            return Some("repeat a short block");
        }
    }
    let mut distinct = key.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 12 {
        return Some("take too few different values");
    }
    None
}

/// The problem with the master key as given, if any.
fn master_key_problem(given: Option<&str>) -> Option<Problem> {
    let fix = "Generate one with `openssl rand -base64 32` and set WORKS_MASTER_KEY to it; keep a copy with the backups, which cannot be read without it once secrets are stored.";
    match given.map(str::trim) {
        None | Some("") => Some(Problem::new(
            setting::MASTER_KEY,
            "is not set: stored secrets (SSH keys, connection credentials) could not be sealed.",
            fix,
        )),
        Some(text) => match parse_master_key(text) {
            Ok(_) => None,
            Err(why) => Some(Problem::new(setting::MASTER_KEY, format!("{why}."), fix)),
        },
    }
}

// ---------------------------------------------------------------------------------------
// URLs shown to people
// ---------------------------------------------------------------------------------------

/// A database URL as it may be shown and recorded: the password replaced by `***`.
pub fn display_url(url: &str) -> String {
    let url = url.trim();
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{head}{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The password in a URL's user information, percent-decoded, if there is one.
pub fn url_password(url: &str) -> Option<String> {
    let rest = url.trim().split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _host) = authority.rsplit_once('@')?;
    let (_user, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| percent_decode(password))
}

/// Decodes `%XX` escapes; anything malformed is kept as it is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex_pair = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex_pair.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Readiness (`works check`)
// ---------------------------------------------------------------------------------------

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Warning,
    Failure,
}

impl CheckStatus {
    /// The mark shown before the line: ✓, ! or ✗.
    pub fn symbol(self) -> &'static str {
        match self {
            CheckStatus::Ok => "✓",
            CheckStatus::Warning => "!",
            CheckStatus::Failure => "✗",
        }
    }

    /// 0 all fine, 1 warnings, 2 failures.
    pub fn exit_code(self) -> u8 {
        match self {
            CheckStatus::Ok => 0,
            CheckStatus::Warning => 1,
            CheckStatus::Failure => 2,
        }
    }
}

/// One line of a readiness report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLine {
    /// What was checked: `configuration`, `database`, `migrations`, `master_key`.
    pub check: String,
    pub status: CheckStatus,
    /// What was found, in plain English.
    pub message: String,
    /// What to do about it, when something is to be done.
    pub next_action: Option<String>,
}

/// The answer of `works check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessReport {
    pub environment: Environment,
    /// The worst status of any line.
    pub status: CheckStatus,
    pub checks: Vec<CheckLine>,
}

impl ReadinessReport {
    pub fn exit_code(&self) -> u8 {
        self.status.exit_code()
    }
}

/// The migrations of a database compared with the ones this version knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationStatus {
    /// Versions recorded as applied successfully.
    pub applied: Vec<i64>,
    /// Versions recorded but not finished (a migration that failed half-way).
    pub failed: Vec<i64>,
    /// Versions this build carries.
    pub known: Vec<i64>,
}

impl MigrationStatus {
    /// Known versions not applied yet.
    pub fn pending(&self) -> Vec<i64> {
        self.known.iter().copied().filter(|v| !self.applied.contains(v)).collect()
    }
    /// Applied versions this build does not know (the database is newer than the build).
    pub fn unknown(&self) -> Vec<i64> {
        self.applied.iter().copied().filter(|v| !self.known.contains(v)).collect()
    }
}

/// What was found at the database URL, without changing anything there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseProbe {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Where it is, as shown to people (no password).
    pub location: String,
    /// `None` when there is no database there yet (a SQLite file not created).
    pub migrations: Option<MigrationStatus>,
}

fn backend_label(backend: &str) -> &str {
    match backend {
        "sqlite" => "SQLite",
        "postgres" => "PostgreSQL",
        other => other,
    }
}

fn join_versions(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// Judges configuration, database, migrations and master key. In production every
/// configuration problem is a failure; elsewhere a warning.
pub fn readiness(settings: &ServerSettings, database: &Result<DatabaseProbe>) -> ReadinessReport {
    let production = settings.environment == Environment::Production;
    let config_status = if production { CheckStatus::Failure } else { CheckStatus::Warning };
    let mut checks = Vec::new();

    let problems = check_production(settings);
    let (key_problems, config_problems): (Vec<&Problem>, Vec<&Problem>) =
        problems.iter().partition(|p| p.setting == setting::MASTER_KEY);
    if config_problems.is_empty() {
        checks.push(CheckLine {
            check: "configuration".into(),
            status: CheckStatus::Ok,
            message: format!("no unsafe settings for {}.", settings.environment),
            next_action: None,
        });
    }
    for p in config_problems {
        checks.push(CheckLine {
            check: "configuration".into(),
            status: config_status,
            message: format!("{}: {}", p.setting, p.problem),
            next_action: Some(p.fix.clone()),
        });
    }

    match database {
        Err(e) => {
            checks.push(CheckLine {
                check: "database".into(),
                status: CheckStatus::Failure,
                message: format!("cannot be reached: {e}"),
                next_action: Some("Check that the database is running and that WORKS_DATABASE_URL (or --database, --data-dir) names it.".into()),
            });
            checks.push(CheckLine {
                check: "migrations".into(),
                status: CheckStatus::Warning,
                message: "not checked, because the database cannot be reached.".into(),
                next_action: None,
            });
        }
        Ok(probe) => {
            let label = backend_label(&probe.backend);
            match &probe.migrations {
                None => {
                    checks.push(CheckLine {
                        check: "database".into(),
                        status: CheckStatus::Warning,
                        message: format!("there is no {label} database at {} yet.", probe.location),
                        next_action: Some("Start the server once (works serve); it creates the database on first start.".into()),
                    });
                }
                Some(status) => {
                    checks.push(CheckLine {
                        check: "database".into(),
                        status: CheckStatus::Ok,
                        message: format!("{label} at {} answers.", probe.location),
                        next_action: None,
                    });
                    checks.push(migration_line(status));
                }
            }
        }
    }

    let key_line = match (key_problems.first(), settings.master_key.as_deref().map(str::trim)) {
        (None, _) => CheckLine {
            check: "master_key".into(),
            status: CheckStatus::Ok,
            message: "WORKS_MASTER_KEY is set and is 32 random-looking bytes.".into(),
            next_action: Some("Keep a copy of it with the backups, stored apart from them.".into()),
        },
        (Some(p), None | Some("")) => CheckLine {
            check: "master_key".into(),
            status: config_status,
            message: if production {
                "WORKS_MASTER_KEY is not set; production requires it.".into()
            } else {
                "WORKS_MASTER_KEY is not set (production requires it).".into()
            },
            next_action: Some(p.fix.clone()),
        },
        (Some(p), Some(_)) => CheckLine {
            check: "master_key".into(),
            status: config_status,
            message: format!("WORKS_MASTER_KEY {}", p.problem),
            next_action: Some(p.fix.clone()),
        },
    };
    checks.push(key_line);
    checks.push(openclaw_line(settings.openclaw_image.as_deref()));

    let status = checks.iter().map(|c| c.status).max().unwrap_or(CheckStatus::Ok);
    ReadinessReport { environment: settings.environment, status, checks }
}

/// The OpenClaw bundle deployed to nodes: its image reference, made of the repository
/// (`WORKS_OPENCLAW_IMAGE`, or the default) and the version this build pins.
pub fn openclaw_line(repository: Option<&str>) -> CheckLine {
    let version = crate::openclaw::DEFAULT_VERSION;
    match crate::openclaw::image_reference(version, repository) {
        Ok(reference) => CheckLine {
            check: "openclaw".into(),
            status: CheckStatus::Ok,
            message: format!(
                "deploys {reference} (version {version}, pinned by this build; repository {}).",
                if repository.map(str::trim).is_some_and(|r| !r.is_empty()) { "from WORKS_OPENCLAW_IMAGE" } else { "the default" }
            ),
            next_action: None,
        },
        Err(e) => CheckLine {
            check: "openclaw".into(),
            status: CheckStatus::Failure,
            message: format!("the image is not usable: {e}"),
            next_action: Some(format!(
                "Set {} to an image repository without a tag, e.g. registry.example.net/openclaw/openclaw (the version {version} is added to it), or unset it to use {}.",
                crate::openclaw::IMAGE_ENV,
                crate::openclaw::DEFAULT_IMAGE_REPOSITORY
            )),
        },
    }
}

fn migration_line(status: &MigrationStatus) -> CheckLine {
    let unknown = status.unknown();
    if !status.failed.is_empty() {
        return CheckLine {
            check: "migrations".into(),
            status: CheckStatus::Failure,
            message: format!("migration {} started but did not finish.", join_versions(&status.failed)),
            next_action: Some("Restore the backup taken before the upgrade (works backup restore), then start the server again.".into()),
        };
    }
    if !unknown.is_empty() {
        return CheckLine {
            check: "migrations".into(),
            status: CheckStatus::Failure,
            message: format!(
                "the database has migration {} that this version does not know: a newer version of Anthropy Works upgraded it.",
                join_versions(&unknown)
            ),
            next_action: Some("Run the newer version, or restore a backup made before the upgrade.".into()),
        };
    }
    let pending = status.pending();
    if status.applied.is_empty() {
        return CheckLine {
            check: "migrations".into(),
            status: CheckStatus::Warning,
            message: "the database is empty: no migration has run yet.".into(),
            next_action: Some("Start the server once (works serve); migrations run on start.".into()),
        };
    }
    if !pending.is_empty() {
        return CheckLine {
            check: "migrations".into(),
            status: CheckStatus::Warning,
            message: format!("{} of {} are not applied yet (version {}).", pending.len(), status.known.len(), join_versions(&pending)),
            next_action: Some("Back up first (works backup create), then start the server: migrations run on start.".into()),
        };
    }
    CheckLine {
        check: "migrations".into(),
        status: CheckStatus::Ok,
        message: format!(
            "all {} applied (latest {}).",
            status.known.len(),
            status.known.iter().max().map(i64::to_string).unwrap_or_else(|| "none".into())
        ),
        next_action: None,
    }
}

// ---------------------------------------------------------------------------------------
// Backups: what they record
// ---------------------------------------------------------------------------------------

/// The format marker every manifest carries.
pub const BACKUP_FORMAT: &str = "anthropy-works-backup";
/// The manifest version this build writes and reads.
pub const BACKUP_FORMAT_VERSION: u32 = 1;
/// The file name suffix of a manifest, after the backup's own file name.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// Why a backup was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    /// Asked for (`works backup create`, or on a schedule).
    Regular,
    /// Taken automatically just before a restore replaced the database.
    Safety,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Regular => "regular",
            BackupKind::Safety => "safety",
        }
    }
}

/// One table of a backup: how many rows, and a SHA-256 over its rows in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSummary {
    pub name: String,
    pub rows: u64,
    pub sha256: String,
}

/// The JSON file next to a backup that says what it holds and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Always [`BACKUP_FORMAT`].
    pub format: String,
    pub format_version: u32,
    pub kind: BackupKind,
    pub created_at: DateTime<Utc>,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The database it was taken from, without password.
    pub source: String,
    /// The backup file's name (the manifest sits next to it).
    pub file_name: String,
    /// `gzip` (SQLite) or `pg_dump custom` (PostgreSQL, compressed by pg_dump).
    pub compression: String,
    pub file_bytes: u64,
    pub file_sha256: String,
    /// For SQLite, the database file before compression.
    pub uncompressed_bytes: Option<u64>,
    pub uncompressed_sha256: Option<String>,
    /// The newest migration applied to the database when it was backed up.
    pub schema_version: Option<i64>,
    /// The version of Anthropy Works that made it.
    pub software_version: String,
    /// Every table, by name.
    pub tables: Vec<TableSummary>,
}

impl BackupManifest {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Checks the fields a reader relies on; the problem is plain English.
    pub fn check_format(&self) -> std::result::Result<(), String> {
        if self.format != BACKUP_FORMAT {
            return Err(format!("its manifest is not an Anthropy Works backup manifest (format \"{}\")", self.format));
        }
        if self.format_version > BACKUP_FORMAT_VERSION {
            return Err(format!(
                "its manifest has format version {}, newer than this version of Anthropy Works reads ({BACKUP_FORMAT_VERSION}); use a newer version",
                self.format_version
            ));
        }
        Ok(())
    }
}

/// A backup on disk: its file and what its manifest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    pub path: PathBuf,
    pub manifest: BackupManifest,
}

impl BackupFile {
    /// The name a person types to confirm a restore of it.
    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| self.manifest.file_name.clone())
    }
}

/// Compares table summaries; the differences in plain English (empty when equal).
pub fn table_differences(expected: &[TableSummary], found: &[TableSummary]) -> Vec<String> {
    let mut out = Vec::new();
    for e in expected {
        match found.iter().find(|f| f.name == e.name) {
            None => out.push(format!("table {} is missing", e.name)),
            Some(f) if f.rows != e.rows => {
                out.push(format!("table {} has {} rows where the manifest says {}", e.name, f.rows, e.rows))
            }
            Some(f) if f.sha256 != e.sha256 => {
                out.push(format!("table {} has the right number of rows ({}) but different contents", e.name, e.rows))
            }
            Some(_) => {}
        }
    }
    for f in found {
        if !expected.iter().any(|e| e.name == f.name) {
            out.push(format!("table {} is not in the manifest", f.name));
        }
    }
    out
}

/// What verifying a backup found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub backup: BackupFile,
    /// Each check that passed, in plain English.
    pub checks: Vec<String>,
}

/// What a restore into a temporary database found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreTest {
    pub backup: BackupFile,
    pub checks: Vec<String>,
    /// The audit hash chain of the restored copy.
    pub audit_chain: AuditVerification,
}

/// What a restore did to the live database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    pub checks: Vec<String>,
    /// Tables in the live database that the backup does not hold, left as they were.
    pub left_alone: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Backups: the mechanics the core needs from an adapter
// ---------------------------------------------------------------------------------------

/// Copies one database to and from backup files. `works-store` implements it for SQLite
/// and PostgreSQL. Every method checks what it can and answers in plain English; the
/// order of the steps and the rules around them are [`BackupService`]'s.
#[async_trait]
pub trait BackupEngine: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The live database, as shown to people (no password).
    fn location(&self) -> String;
    /// Whether there is a live database to back up (a SQLite file may not exist yet).
    async fn live_exists(&self) -> Result<bool>;
    /// Writes a consistent backup of the live database and its manifest into `dir`.
    async fn create(&self, dir: &Path, kind: BackupKind, at: DateTime<Utc>) -> Result<BackupFile>;
    /// Checks a backup file against its manifest without touching any database. A damaged,
    /// truncated or altered file is `Error::InvalidInput` on the field `backup`, naming
    /// what is wrong.
    async fn verify(&self, file: &Path) -> Result<Verified>;
    /// Restores into a temporary database, checks it and removes it.
    async fn restore_test(&self, file: &Path) -> Result<RestoreTest>;
    /// `Error::Conflict` when anything else has the live database open.
    async fn ensure_not_in_use(&self) -> Result<()>;
    /// Replaces the live database with the backup's contents.
    async fn restore(&self, backup: &BackupFile) -> Result<Restored>;
    /// The backups in `dir` (files with a readable manifest), in no particular order.
    async fn list(&self, dir: &Path) -> Result<Vec<BackupFile>>;
    /// Deletes a backup and its manifest.
    async fn remove(&self, backup: &BackupFile) -> Result<()>;
    /// Appends a record to the live database's audit log; `None` when there is no live
    /// database to record into.
    async fn append_audit(&self, draft: AuditDraft) -> Result<Option<AuditRecord>>;
}

/// Checks the audit hash chain of any store (used on restored copies).
pub async fn verify_audit_chain(store: &dyn Store) -> Result<AuditVerification> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let batch = store.audit_chain(after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for r in &batch {
            if !verifier.push(r) {
                return Ok(verifier.finish());
            }
        }
    }
    Ok(verifier.finish())
}

// ---------------------------------------------------------------------------------------
// Backups: the rules
// ---------------------------------------------------------------------------------------

/// The refusal of a restore without the exact confirmation.
pub fn confirm_restore(file_name: &str, confirmation: Option<&str>) -> Result<()> {
    match confirmation {
        Some(given) if given == file_name => Ok(()),
        Some(given) => Err(Error::invalid(
            "confirm",
            format!(
                "\"{given}\" is not the backup's file name. Restoring replaces every record in the live database; to go ahead, type exactly: --confirm {file_name}"
            ),
        )),
        None => Err(Error::invalid(
            "confirm",
            format!(
                "is needed: restoring replaces every record in the live database. To go ahead, type exactly: --confirm {file_name}"
            ),
        )),
    }
}

/// How many backups to keep and for how long. The newest backup is never removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Keep at most this many (the newest ones).
    pub keep: Option<u32>,
    /// Remove backups older than this many days.
    pub max_age_days: Option<u32>,
}

impl RetentionPolicy {
    /// A policy from its two settings; `None` when neither is given.
    pub fn new(keep: Option<u32>, max_age_days: Option<u32>) -> Result<Option<Self>> {
        if keep == Some(0) {
            return Err(Error::invalid("keep", "must be at least 1: the newest backup is always kept"));
        }
        if max_age_days == Some(0) {
            return Err(Error::invalid("max_age_days", "must be at least 1 day"));
        }
        if keep.is_none() && max_age_days.is_none() {
            return Ok(None);
        }
        Ok(Some(RetentionPolicy { keep, max_age_days }))
    }

    pub fn describe(&self) -> String {
        match (self.keep, self.max_age_days) {
            (Some(k), Some(d)) => format!("keep the newest {k}, none older than {d} days"),
            (Some(k), None) => format!("keep the newest {k}"),
            (None, Some(d)) => format!("none older than {d} days"),
            (None, None) => "keep everything".into(),
        }
    }
}

/// Which backups a policy removes: indexes into `backups`. The newest backup (by
/// creation time, then file name) is never among them.
pub fn retention_plan(backups: &[BackupFile], policy: &RetentionPolicy, now: DateTime<Utc>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..backups.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (backups.get(a), backups.get(b));
        let key = |f: Option<&BackupFile>| f.map(|f| (f.manifest.created_at, f.file_name()));
        key(b).cmp(&key(a))
    });
    let mut remove = Vec::new();
    for (rank, &index) in order.iter().enumerate() {
        if rank == 0 {
            continue;
        }
        let Some(backup) = backups.get(index) else { continue };
        let over_count = policy.keep.is_some_and(|k| rank >= k as usize);
        let too_old = policy
            .max_age_days
            .is_some_and(|d| now.signed_duration_since(backup.manifest.created_at) > Duration::days(i64::from(d)));
        if over_count || too_old {
            remove.push(index);
        }
    }
    remove.sort_unstable();
    remove
}

/// Whether the audit record of an operation was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AuditNote {
    Recorded { seq: i64 },
    /// There is no live database to record into (nothing was set up there yet).
    NoDatabase,
    /// Recording failed; the operation itself stands.
    Failed { problem: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub backup: BackupFile,
    /// What the configured retention removed afterwards, when one is configured.
    pub pruned: Option<Pruned>,
    pub audit: AuditNote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pruned {
    pub policy: RetentionPolicy,
    pub removed: Vec<BackupFile>,
    pub kept: usize,
    pub audit: AuditNote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyOutcome {
    #[serde(flatten)]
    pub verified: Verified,
    pub audit: AuditNote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreTestOutcome {
    #[serde(flatten)]
    pub test: RestoreTest,
    pub audit: AuditNote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreOutcome {
    pub restored: BackupFile,
    /// The copy of the database as it was just before, when there was one.
    pub safety: Option<BackupFile>,
    pub report: Restored,
    pub audit: AuditNote,
}

/// The one who runs backup commands on the machine with the database.
pub fn local_operator() -> Actor {
    Actor { id: "system".into(), name: "works backup (local)".into(), role: Role::MspAdmin, org_id: None, via: Via::Local }
}

/// Backups with their rules: every action is recorded in the audit log; a restore needs
/// the exact confirmation, verifies first, refuses while the database is in use, and
/// saves the current database before replacing it; retention never removes the newest.
pub struct BackupService<'a> {
    engine: &'a dyn BackupEngine,
    clock: &'a dyn Clock,
    actor: Actor,
}

impl<'a> BackupService<'a> {
    pub fn new(engine: &'a dyn BackupEngine, clock: &'a dyn Clock, actor: Actor) -> Self {
        BackupService { engine, clock, actor }
    }

    fn now(&self) -> DateTime<Utc> {
        crate::audit::truncate_to_millis(self.clock.now())
    }

    async fn record(&self, action: &str, target: Option<&str>, outcome: Outcome, reason: String) -> AuditNote {
        let draft = AuditDraft {
            at: self.now(),
            actor_id: self.actor.id.clone(),
            actor_name: self.actor.name.clone(),
            org_id: None,
            action: action.to_owned(),
            target_kind: "backup".to_owned(),
            target_id: target.map(str::to_owned),
            outcome,
            reason,
        };
        match self.engine.append_audit(draft).await {
            Ok(Some(record)) => AuditNote::Recorded { seq: record.seq },
            Ok(None) => AuditNote::NoDatabase,
            Err(e) => {
                tracing::error!(error = %e, action, "could not record a backup action in the audit log");
                AuditNote::Failed { problem: e.to_string() }
            }
        }
    }

    /// Records a refusal and hands the error back.
    async fn refused<T>(&self, action: &str, target: Option<&str>, e: Error) -> Result<T> {
        let outcome = if e.is_denial() { Outcome::Denied } else { Outcome::Rejected };
        let _ = self.record(action, target, outcome, e.to_string()).await;
        Err(e)
    }

    /// Backs up the live database into `dir`, then applies `retention` if given.
    pub async fn create(&self, dir: &Path, retention: Option<RetentionPolicy>) -> Result<Created> {
        let backup = match self.engine.create(dir, BackupKind::Regular, self.now()).await {
            Ok(b) => b,
            Err(e) => return self.refused("backup.create", None, e).await,
        };
        let name = backup.file_name();
        let audit = self
            .record(
                "backup.create",
                Some(&name),
                Outcome::Succeeded,
                format!(
                    "Backed up the {} database to {} ({} tables, {} rows).",
                    backend_label(&backup.manifest.backend),
                    backup.path.display(),
                    backup.manifest.tables.len(),
                    backup.manifest.total_rows()
                ),
            )
            .await;
        let pruned = match retention {
            Some(policy) => Some(self.prune(dir, policy).await?),
            None => None,
        };
        Ok(Created { backup, pruned, audit })
    }

    /// Checks a backup against its manifest.
    pub async fn verify(&self, file: &Path) -> Result<VerifyOutcome> {
        let target = file_label(file);
        match self.engine.verify(file).await {
            Ok(verified) => {
                let audit = self
                    .record("backup.verify", Some(&target), Outcome::Succeeded, format!("Verified backup {}.", file.display()))
                    .await;
                Ok(VerifyOutcome { verified, audit })
            }
            Err(e) => self.refused("backup.verify", Some(&target), e).await,
        }
    }

    /// Restores into a temporary database and checks it; nothing live changes.
    pub async fn restore_test(&self, file: &Path) -> Result<RestoreTestOutcome> {
        let target = file_label(file);
        let test = match self.engine.restore_test(file).await {
            Ok(t) => t,
            Err(e) => return self.refused("backup.restore_test", Some(&target), e).await,
        };
        if !test.audit_chain.intact {
            let e = Error::invalid(
                "backup",
                format!(
                    "{} restores, but the audit log inside it is broken: {}",
                    file.display(),
                    test.audit_chain.problem.clone().unwrap_or_else(|| "the hash chain does not verify".into())
                ),
            );
            return self.refused("backup.restore_test", Some(&target), e).await;
        }
        let audit = self
            .record(
                "backup.restore_test",
                Some(&target),
                Outcome::Succeeded,
                format!("Restored {} into a temporary database, checked it and removed it.", file.display()),
            )
            .await;
        Ok(RestoreTestOutcome { test, audit })
    }

    /// Replaces the live database with a backup. Needs `confirmation` equal to the
    /// backup's file name; verifies the backup; refuses while the database is in use;
    /// saves the current database into `safety_dir` first.
    pub async fn restore(&self, file: &Path, confirmation: Option<&str>, safety_dir: &Path) -> Result<RestoreOutcome> {
        let target = file_label(file);
        if let Err(e) = confirm_restore(&target, confirmation) {
            return self.refused("backup.restore", Some(&target), e).await;
        }
        let verified = match self.engine.verify(file).await {
            Ok(v) => v,
            Err(e) => {
                let e = match e {
                    Error::InvalidInput { field, problem } => {
                        Error::InvalidInput { field, problem: format!("{problem}. Nothing was restored.") }
                    }
                    other => other,
                };
                return self.refused("backup.restore", Some(&target), e).await;
            }
        };
        let backup = verified.backup;
        if backup.manifest.backend != self.engine.backend() {
            let e = Error::invalid(
                "backup",
                format!(
                    "is a {} backup, but the database to restore into is {}. Nothing was restored.",
                    backend_label(&backup.manifest.backend),
                    backend_label(self.engine.backend())
                ),
            );
            return self.refused("backup.restore", Some(&target), e).await;
        }
        if let Err(e) = self.engine.ensure_not_in_use().await {
            return self.refused("backup.restore", Some(&target), e).await;
        }
        let safety = if self.engine.live_exists().await? {
            match self.engine.create(safety_dir, BackupKind::Safety, self.now()).await {
                Ok(s) => Some(s),
                Err(e) => {
                    let e = Error::internal(format!(
                        "Could not save the current database before restoring, so nothing was restored: {e}"
                    ));
                    return self.refused("backup.restore", Some(&target), e).await;
                }
            }
        } else {
            None
        };
        let report = match self.engine.restore(&backup).await {
            Ok(r) => r,
            Err(e) => {
                let kept = match &safety {
                    Some(s) => format!(" The database as it was before is saved in {}.", s.path.display()),
                    None => String::new(),
                };
                let e = match e {
                    Error::InvalidInput { field, problem } => Error::InvalidInput { field, problem: format!("{problem}.{kept}") },
                    Error::Conflict { field, message } => Error::Conflict { field, message: format!("{message}{kept}") },
                    Error::Unavailable { message } => Error::Unavailable { message: format!("{message}{kept}") },
                    other => Error::internal(format!("The restore failed: {other}{kept}")),
                };
                return self.refused("backup.restore", Some(&target), e).await;
            }
        };
        let saved = match &safety {
            Some(s) => format!("the database before it was saved as {}", s.path.display()),
            None => "there was no database before it to save".to_owned(),
        };
        let audit = self
            .record(
                "backup.restore",
                Some(&target),
                Outcome::Succeeded,
                format!(
                    "Restored the {} database from {} (made {}); {saved}.",
                    backend_label(self.engine.backend()),
                    backup.path.display(),
                    backup.manifest.created_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            )
            .await;
        Ok(RestoreOutcome { restored: backup, safety, report, audit })
    }

    /// Removes the backups in `dir` that `policy` does not keep; never the newest.
    pub async fn prune(&self, dir: &Path, policy: RetentionPolicy) -> Result<Pruned> {
        let backups = self.engine.list(dir).await?;
        let plan = retention_plan(&backups, &policy, self.now());
        let mut removed = Vec::new();
        for index in &plan {
            if let Some(b) = backups.get(*index) {
                self.engine.remove(b).await?;
                removed.push(b.clone());
            }
        }
        let names: Vec<String> = removed.iter().map(BackupFile::file_name).collect();
        let reason = if names.is_empty() {
            format!("Retention ({}) in {}: nothing to remove.", policy.describe(), dir.display())
        } else {
            format!("Retention ({}) in {}: removed {}.", policy.describe(), dir.display(), names.join(", "))
        };
        let audit = self.record("backup.prune", None, Outcome::Succeeded, reason).await;
        Ok(Pruned { policy, kept: backups.len() - removed.len(), removed, audit })
    }
}

fn file_label(file: &Path) -> String {
    file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const GOOD_KEY: &str = "q3Zp8m0Vb1xY7LwR2nKc4tGh9sJd6fEa5uIo0PlMkNw=";

    fn safe() -> ServerSettings {
        ServerSettings {
            environment: Environment::Production,
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite:///srv/works/works.db".into(),
            admin_password: Some("vX9!kq2#Lm7pR4zT8wY".into()),
            master_key: Some(GOOD_KEY.into()),
            secure_cookies: true,
            log_filters: vec![("WORKS_LOG".into(), "info".into())],
            debug: false,
            openclaw_image: None,
        }
    }

    fn settings_named(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.setting.as_str()).collect()
    }

    #[test]
    fn safe_settings_have_no_problem_and_start() {
        assert_eq!(check_production(&safe()), vec![]);
        assert_eq!(start_decision(&safe()), StartDecision::Start);
        let mut no_password = safe();
        no_password.admin_password = None;
        assert_eq!(check_production(&no_password), vec![], "an unset admin password is generated");
    }

    #[test]
    fn default_and_example_passwords_are_named() {
        for bad in [
            "admin",
            "password",
            "changeme",
            "change-me",
            "example",
            "secret",
            "works",
            "Admin123!",
            "P@ssw0rd",
            "changemechangemechangeme",
            "password-password-password",
            "your-password-here",
        ] {
            let mut s = safe();
            s.admin_password = Some(bad.into());
            let problems = check_production(&s);
            assert_eq!(settings_named(&problems), vec![setting::ADMIN_PASSWORD], "{bad}");
            assert!(problems[0].problem.contains("well-known default"), "{bad}: {}", problems[0].problem);
            if bad.len() > 8 {
                assert!(!problems[0].to_string().contains(bad), "the password is never repeated: {}", problems[0]);
            }
        }
    }

    #[test]
    fn short_and_monotonous_passwords_are_named() {
        let mut s = safe();
        s.admin_password = Some("Tr0ub4dor&3".into());
        let p = check_production(&s);
        assert!(p[0].problem.contains("shorter than 16 characters (11)"), "{}", p[0].problem);
        s.admin_password = Some("abababababababababab".into());
        let p = check_production(&s);
        assert!(p[0].problem.contains("too few different characters"), "{}", p[0].problem);
        assert_eq!(password_weakness("the admin password 42"), None, "a long sentence is fine");
    }

    #[test]
    fn master_key_missing_short_placeholder_or_patterned_is_named() {
        let cases: [(Option<&str>, &str); 9] = [
            (None, "is not set"),
            (Some("  "), "is not set"),
            (Some("changeme"), "placeholder"),
            (Some("your-master-key-here"), "placeholder"),
            (Some("c2hvcnQ="), "decodes to 5 bytes"),
            (Some("not base64 at all!!"), "neither base64 nor"),
            (Some(&"00".repeat(32)), "all the same"),
            (Some("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"), "count up"),
            (Some("AQIDBAECAwQBAgMEAQIDBAECAwQBAgMEAQIDBAECAwQ="), "repeat a short block"),
        ];
        for (given, expected) in cases {
            let mut s = safe();
            s.master_key = given.map(str::to_owned);
            let problems = check_production(&s);
            assert_eq!(settings_named(&problems), vec![setting::MASTER_KEY], "{given:?}");
            assert!(problems[0].problem.contains(expected), "{given:?}: {}", problems[0].problem);
            if let Some(key) = given.filter(|k| k.trim().len() > 3) {
                assert!(!problems[0].to_string().contains(key), "the key is never repeated");
            }
        }
    }

    #[test]
    fn master_keys_are_read_as_base64_or_hex() {
        let b64 = parse_master_key(GOOD_KEY).unwrap();
        assert_eq!(b64.bytes().len(), 32);
        let hex_key = hex::encode(b64.bytes());
        assert_eq!(parse_master_key(&hex_key).unwrap(), b64);
        assert_eq!(parse_master_key(GOOD_KEY.trim_end_matches('=')).unwrap(), b64);
        assert_eq!(format!("{b64:?}"), "MasterKey(<hidden>)");
    }

    #[test]
    fn debug_settings_are_named() {
        let mut s = safe();
        s.debug = true;
        s.log_filters = vec![("RUST_LOG".into(), "info,sqlx=trace".into()), ("WORKS_LOG".into(), "works=DEBUG".into())];
        let problems = check_production(&s);
        assert_eq!(settings_named(&problems), vec![setting::DEBUG, "RUST_LOG", "WORKS_LOG"]);
        assert!(problems[1].problem.contains("trace logging"), "{}", problems[1].problem);
        assert!(problems[2].problem.contains("debug logging"), "{}", problems[2].problem);
        s.debug = false;
        s.log_filters = vec![("WORKS_LOG".into(), "warn,works=info".into())];
        assert_eq!(check_production(&s), vec![]);
    }

    #[test]
    fn insecure_cookies_are_named_and_worse_when_reachable() {
        let mut s = safe();
        s.secure_cookies = false;
        assert_eq!(settings_named(&check_production(&s)), vec![setting::SECURE_COOKIES]);
        s.listen = "0.0.0.0:8080".into();
        let problems = check_production(&s);
        assert_eq!(settings_named(&problems), vec![setting::SECURE_COOKIES, setting::LISTEN]);
        assert!(problems[1].problem.contains("0.0.0.0:8080"), "{}", problems[1].problem);
        s.secure_cookies = true;
        assert_eq!(check_production(&s), vec![], "reachable with Secure cookies is fine");
    }

    #[test]
    fn loopback_addresses_are_recognised() {
        for yes in ["127.0.0.1:8080", "localhost:80", "[::1]:8080", "127.1.2.3:0"] {
            assert!(is_loopback_listen(yes), "{yes}");
        }
        for no in ["0.0.0.0:8080", "[::]:8080", "192.168.1.10:8080", "works.example:443", ""] {
            assert!(!is_loopback_listen(no), "{no}");
        }
    }

    #[test]
    fn a_default_database_password_is_named_and_never_shown() {
        let mut s = safe();
        s.database_url = "postgres://works:changeme@db:5432/works".into();
        let problems = check_production(&s);
        assert_eq!(settings_named(&problems), vec![setting::DATABASE]);
        assert!(!format!("{s:?}").contains("changeme"), "{s:?}");
        s.database_url = "postgres://works:q8vN2kLx7RzPw4Tm@db/works".into();
        assert_eq!(check_production(&s), vec![]);
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let s = ServerSettings {
            environment: Environment::Production,
            listen: "0.0.0.0:8080".into(),
            database_url: "sqlite://works.db".into(),
            admin_password: Some("admin".into()),
            master_key: None,
            secure_cookies: false,
            log_filters: vec![("RUST_LOG".into(), "debug".into())],
            debug: true,
            openclaw_image: None,
        };
        let StartDecision::Refuse(problems) = start_decision(&s) else { panic!("production must refuse") };
        assert_eq!(problems.len(), 6, "{problems:#?}");
        let staging = ServerSettings { environment: Environment::Staging, ..s.clone() };
        assert!(matches!(start_decision(&staging), StartDecision::StartWithWarnings(p) if p.len() == 6));
        let local = ServerSettings { environment: Environment::Local, ..s };
        assert_eq!(start_decision(&local), StartDecision::Start);
    }

    #[test]
    fn environments_parse_plainly() {
        assert_eq!("Production".parse::<Environment>().unwrap(), Environment::Production);
        assert_eq!(" staging ".parse::<Environment>().unwrap(), Environment::Staging);
        assert_eq!("".parse::<Environment>().unwrap(), Environment::Local);
        let e = "prod".parse::<Environment>().unwrap_err();
        assert_eq!(e.field(), Some("env"));
    }

    #[test]
    fn urls_are_shown_without_password() {
        assert_eq!(display_url("postgres://works:s3cret@db:5432/works?sslmode=require"), "postgres://works:***@db:5432/works?sslmode=require");
        assert_eq!(display_url("postgres://works@db/works"), "postgres://works@db/works");
        assert_eq!(display_url("sqlite:///srv/works/works.db?mode=rwc"), "sqlite:///srv/works/works.db?mode=rwc");
        assert_eq!(url_password("postgres://u:p%40ss@h/db").as_deref(), Some("p@ss"));
        assert_eq!(url_password("postgres://u@h/db"), None);
    }

    fn probe(migrations: Option<MigrationStatus>) -> Result<DatabaseProbe> {
        Ok(DatabaseProbe { backend: "sqlite".into(), location: "/srv/works/works.db".into(), migrations })
    }

    fn migrated() -> MigrationStatus {
        MigrationStatus { applied: vec![1, 2], failed: vec![], known: vec![1, 2] }
    }

    #[test]
    fn readiness_is_ok_only_when_everything_is() {
        let report = readiness(&safe(), &probe(Some(migrated())));
        assert_eq!(report.status, CheckStatus::Ok, "{report:#?}");
        assert_eq!(report.exit_code(), 0);
        let names: Vec<&str> = report.checks.iter().map(|c| c.check.as_str()).collect();
        assert_eq!(names, ["configuration", "database", "migrations", "master_key", "openclaw"]);
        let oc = report.checks.last().unwrap();
        assert!(oc.message.contains(&format!("anthropy/openclaw:{}", crate::openclaw::DEFAULT_VERSION)), "{}", oc.message);
    }

    #[test]
    fn readiness_reports_the_openclaw_image() {
        let mut s = safe();
        s.openclaw_image = Some("registry.example.net/oc/openclaw".into());
        let r = readiness(&s, &probe(Some(migrated())));
        let oc = r.checks.iter().find(|c| c.check == "openclaw").unwrap();
        assert_eq!(oc.status, CheckStatus::Ok);
        assert!(oc.message.contains(&format!("registry.example.net/oc/openclaw:{}", crate::openclaw::DEFAULT_VERSION)), "{}", oc.message);
        assert!(oc.message.contains("WORKS_OPENCLAW_IMAGE"), "{}", oc.message);
        for bad in ["registry.example.net/oc/openclaw:latest", "oc@sha256:abc", "a b"] {
            s.openclaw_image = Some(bad.into());
            let r = readiness(&s, &probe(Some(migrated())));
            let oc = r.checks.iter().find(|c| c.check == "openclaw").unwrap();
            assert_eq!((oc.status, r.status), (CheckStatus::Failure, CheckStatus::Failure), "{bad}");
            assert!(oc.message.contains("WORKS_OPENCLAW_IMAGE") && oc.next_action.is_some(), "{bad}: {}", oc.message);
        }
    }

    #[test]
    fn readiness_warns_outside_production_and_fails_in_it() {
        let mut s = safe();
        s.master_key = None;
        s.environment = Environment::Local;
        let local = readiness(&s, &probe(Some(migrated())));
        assert_eq!((local.status, local.exit_code()), (CheckStatus::Warning, 1));
        let key = local.checks.iter().find(|c| c.check == "master_key").unwrap();
        assert_eq!(key.status, CheckStatus::Warning);
        assert!(key.message.contains("not set"), "{}", key.message);
        s.environment = Environment::Production;
        let prod = readiness(&s, &probe(Some(migrated())));
        assert_eq!((prod.status, prod.exit_code()), (CheckStatus::Failure, 2));
        assert_eq!(
            prod.checks.iter().filter(|c| c.check == "master_key").count(),
            1,
            "the key is reported once, not also as configuration"
        );
    }

    #[test]
    fn readiness_judges_database_and_migrations() {
        let unreachable = readiness(&safe(), &Err(Error::unavailable("connection refused")));
        assert_eq!(unreachable.status, CheckStatus::Failure);
        assert!(unreachable.checks[1].message.contains("connection refused"));

        let missing = readiness(&safe(), &probe(None));
        assert_eq!(missing.status, CheckStatus::Warning);
        assert!(missing.checks[1].message.contains("no SQLite database"), "{}", missing.checks[1].message);

        let pending = MigrationStatus { applied: vec![1], failed: vec![], known: vec![1, 2] };
        let r = readiness(&safe(), &probe(Some(pending)));
        assert_eq!(r.status, CheckStatus::Warning);
        assert!(r.checks[2].message.contains("1 of 2 are not applied yet (version 2)"), "{}", r.checks[2].message);

        let newer = MigrationStatus { applied: vec![1, 2, 3], failed: vec![], known: vec![1, 2] };
        let r = readiness(&safe(), &probe(Some(newer)));
        assert_eq!(r.status, CheckStatus::Failure);
        assert!(r.checks[2].message.contains("migration 3"), "{}", r.checks[2].message);

        let failed = MigrationStatus { applied: vec![1], failed: vec![2], known: vec![1, 2] };
        assert_eq!(readiness(&safe(), &probe(Some(failed))).status, CheckStatus::Failure);
    }

    #[test]
    fn restore_needs_the_exact_file_name() {
        let name = "works-sqlite-20250131T090500123Z.sqlite.gz";
        assert!(confirm_restore(name, Some(name)).is_ok());
        for given in [None, Some("yes"), Some(" works-sqlite-20250131T090500123Z.sqlite.gz")] {
            let e = confirm_restore(name, given).unwrap_err();
            assert_eq!(e.field(), Some("confirm"));
            assert!(e.to_string().contains(&format!("--confirm {name}")), "{e}");
        }
    }

    fn backup(name: &str, at: DateTime<Utc>) -> BackupFile {
        BackupFile {
            path: PathBuf::from(name),
            manifest: BackupManifest {
                format: BACKUP_FORMAT.into(),
                format_version: 1,
                kind: BackupKind::Regular,
                created_at: at,
                backend: "sqlite".into(),
                source: "sqlite://x".into(),
                file_name: name.into(),
                compression: "gzip".into(),
                file_bytes: 1,
                file_sha256: String::new(),
                uncompressed_bytes: None,
                uncompressed_sha256: None,
                schema_version: Some(2),
                software_version: "0".into(),
                tables: vec![],
            },
        }
    }

    #[test]
    fn retention_keeps_the_newest_by_count_and_age() {
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
        let days = |d: i64| now - Duration::days(d);
        // Listed out of order on purpose.
        let all = vec![backup("c", days(3)), backup("a", days(40)), backup("d", days(1)), backup("b", days(10))];
        let names = |idx: Vec<usize>| idx.into_iter().map(|i| all[i].file_name()).collect::<Vec<_>>();
        let keep2 = RetentionPolicy::new(Some(2), None).unwrap().unwrap();
        assert_eq!(names(retention_plan(&all, &keep2, now)), vec!["a", "b"]);
        let week = RetentionPolicy::new(None, Some(7)).unwrap().unwrap();
        assert_eq!(names(retention_plan(&all, &week, now)), vec!["a", "b"]);
        let both = RetentionPolicy::new(Some(3), Some(30)).unwrap().unwrap();
        assert_eq!(names(retention_plan(&all, &both, now)), vec!["a"]);
        // Everything is old: the newest stays all the same.
        let stale = vec![backup("x", days(100)), backup("y", days(90))];
        let day = RetentionPolicy::new(Some(1), Some(1)).unwrap().unwrap();
        assert_eq!(retention_plan(&stale, &day, now), vec![0]);
    }

    #[test]
    fn retention_settings_are_checked() {
        assert_eq!(RetentionPolicy::new(None, None).unwrap(), None);
        assert_eq!(RetentionPolicy::new(Some(0), None).unwrap_err().field(), Some("keep"));
        assert_eq!(RetentionPolicy::new(None, Some(0)).unwrap_err().field(), Some("max_age_days"));
    }

    #[test]
    fn table_differences_name_the_table() {
        let t = |name: &str, rows, sha: &str| TableSummary { name: name.into(), rows, sha256: sha.into() };
        let expected = vec![t("orgs", 2, "aa"), t("users", 3, "bb"), t("audit_log", 5, "cc")];
        let found = vec![t("orgs", 2, "aa"), t("users", 3, "xx"), t("extra", 0, "")];
        let diff = table_differences(&expected, &found);
        assert_eq!(
            diff,
            vec![
                "table users has the right number of rows (3) but different contents",
                "table audit_log is missing",
                "table extra is not in the manifest"
            ]
        );
        assert!(table_differences(&expected, &expected).is_empty());
    }
}
