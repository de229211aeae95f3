//! Integration tests of the HTTP adapter against a real server (works-testkit) over a
//! real store. One test binary: each story below runs on SQLite, and again on
//! PostgreSQL when `WORKS_TEST_POSTGRES_URL` names a server (CI always does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod admin_routes;
mod alerts;
mod bad_input;
mod browser;
mod browser_session;
mod command_center;
mod command_center_layout;
mod fleet;
mod health;
mod instance_ops;
mod hosts;
mod instances;
mod layout;
mod schedules;
mod shell_browser;
mod status;
mod sweep;
mod tenancy;
mod workflow_browser;
mod workflow_forms;
mod workflows;
