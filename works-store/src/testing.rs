//! Fresh, empty stores for tests of this and other crates.
//!
//! PostgreSQL tests need `WORKS_TEST_POSTGRES_URL`, an administrator URL of a server the
//! tests may create databases on (`scripts/test-postgres start` prints one). Without it
//! the PostgreSQL half of a test is skipped, except in CI (`CI` set), where a missing
//! server is an error: CI never silently skips PostgreSQL.

#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rand::Rng;
use sqlx::Connection;
use works_core::Store;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "WORKS_TEST_POSTGRES_URL";

/// An empty SQLite store in a new temporary directory. Keep the directory alive as long
/// as the store is used.
pub async fn fresh_sqlite() -> (tempfile::TempDir, Arc<dyn Store>, String) {
    let dir = tempfile::tempdir().expect("could not create a temporary directory for a test database");
    let url = crate::sqlite_url_for_dir(dir.path());
    let store = crate::open(&url).await.unwrap_or_else(|e| panic!("could not open the test SQLite database: {e}"));
    (dir, store, url)
}

/// An empty PostgreSQL store in a newly created database `works_t_<random hex>`, or
/// `None` when no test server is configured (outside CI).
pub async fn fresh_postgres() -> Option<(Arc<dyn Store>, String)> {
    let admin_url = postgres_admin_url()?;
    let name = format!("works_t_{:016x}", rand::thread_rng().gen::<u64>());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!("could not connect to the test PostgreSQL server named by {POSTGRES_URL_VAR}: {e}")
    });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("could not create the test database {name}: {e}"));
    if let Err(e) = admin.close().await {
        eprintln!("closing the admin connection failed: {e}");
    }
    let url = with_database(&admin_url, &name);
    let store = crate::open(&url).await.unwrap_or_else(|e| panic!("could not open the test database {name}: {e}"));
    Some((store, url))
}

/// The admin URL from the environment; `None` outside CI when unset, a panic in CI.
pub fn postgres_admin_url() -> Option<String> {
    admin_url_choice(std::env::var(POSTGRES_URL_VAR).ok(), std::env::var("CI").ok()).unwrap_or_else(|problem| panic!("{problem}"))
}

/// What to do given the two variables: a URL to use, skip (`Ok(None)`), or refuse.
fn admin_url_choice(url: Option<String>, ci: Option<String>) -> Result<Option<String>, String> {
    if let Some(url) = url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(Some(url.to_owned()));
    }
    let in_ci = ci.as_deref().map(str::trim).is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
    if in_ci {
        return Err(format!(
            "{POSTGRES_URL_VAR} is not set, but CI is: PostgreSQL tests must not be skipped in CI. \
             Start a server with `eval \"$(scripts/test-postgres start)\"` before running the tests."
        ));
    }
    Ok(None)
}

/// `url` with its database name replaced by `database`, keeping user, host and options.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base.get(authority_start..).and_then(|rest| rest.find('/')) {
        Some(slash) => base.get(..authority_start + slash).unwrap_or(base),
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_is_skipped_only_outside_ci() {
        let url = Some("postgres://postgres@127.0.0.1:55432/postgres".to_owned());
        assert_eq!(admin_url_choice(url.clone(), Some("true".into())), Ok(url.clone()));
        assert_eq!(admin_url_choice(url.clone(), None), Ok(url));
        assert_eq!(admin_url_choice(None, None), Ok(None));
        assert_eq!(admin_url_choice(Some("  ".into()), Some("false".into())), Ok(None));
        assert_eq!(admin_url_choice(None, Some("0".into())), Ok(None));
        let refused = admin_url_choice(None, Some("true".into())).expect_err("CI must not skip");
        assert!(refused.contains("WORKS_TEST_POSTGRES_URL"), "{refused}");
        assert!(admin_url_choice(Some(String::new()), Some("1".into())).is_err());
    }

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:55432/postgres", "works_t_1"),
            "postgres://postgres@127.0.0.1:55432/works_t_1"
        );
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgresql://h:5432", "x"), "postgresql://h:5432/x");
    }
}

/// A fresh random master key, for cores and servers under test.
pub fn test_master_key() -> works_core::MasterKey {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    match works_core::ops::parse_master_key(&hex::encode(bytes)) {
        Ok(key) => key,
        // 32 random bytes have no pattern but with negligible probability; try again.
        Err(_) => test_master_key(),
    }
}

/// PostgreSQL's one statement for the claims and reports written together (ten array
/// parameters: claim nodes, times and mosts; report ids, nodes, states, results,
/// outputs, reasons and times), for tests of how the server plans it.
pub const POSTGRES_SHARED_JOB_WRITE: &str = crate::sql::WRITE_JOBS_ARRAYS;
