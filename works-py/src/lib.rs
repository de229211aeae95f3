//! `works._works`: the native half of the `works` Python package.
//!
//! A thin adapter over `works-core`: every method of the client is one call of
//! `works_core::Api`, made on one process-wide tokio runtime with the GIL released.
//! The pure-Python package `works` (in `python/works`) wraps it with paging,
//! keyword arguments, docstrings and the exception classes.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod dispatch;
mod errors;
mod fleet_records;
mod fork;
mod instance_records;
mod json;
mod records;
mod runtime;

use pyo3::prelude::*;

#[pymodule]
fn _works(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<records::Org>()?;
    m.add_class::<records::User>()?;
    m.add_class::<records::ApiToken>()?;
    m.add_class::<records::CreatedToken>()?;
    m.add_class::<records::PasswordReset>()?;
    m.add_class::<records::AuditRecord>()?;
    m.add_class::<records::AuditVerification>()?;
    m.add_class::<fleet_records::Node>()?;
    m.add_class::<fleet_records::NodeHealth>()?;
    m.add_class::<fleet_records::Container>()?;
    m.add_class::<fleet_records::PublishedPort>()?;
    m.add_class::<fleet_records::ContainerMount>()?;
    m.add_class::<fleet_records::EnrollmentToken>()?;
    m.add_class::<fleet_records::Job>()?;
    m.add_class::<instance_records::HealthAck>()?;
    m.add_class::<instance_records::HealthIssue>()?;
    m.add_class::<instance_records::HealthReport>()?;
    m.add_class::<instance_records::Instance>()?;
    m.add_class::<instance_records::Deployment>()?;
    m.add_function(wrap_pyfunction!(client::open, m)?)?;
    m.add_function(wrap_pyfunction!(client::connect, m)?)?;
    m.add_function(wrap_pyfunction!(client::backup, m)?)?;
    m.add_function(wrap_pyfunction!(fork::before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(fork::after_fork, m)?)?;
    Ok(())
}
