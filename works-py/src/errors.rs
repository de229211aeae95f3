//! `works_core::Error` as the Python exceptions of `works.errors`: one class per kind,
//! carrying the core's plain-English message, its next action and the field it names.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use works_core::Error;

/// The class in `works.errors` for each kind of core error.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "NotFound",
        Error::Forbidden { .. } => "Forbidden",
        Error::InvalidInput { .. } => "InvalidInput",
        Error::Conflict { .. } => "Conflict",
        Error::Unauthenticated { .. } => "Unauthenticated",
        Error::RateLimited { .. } => "RateLimited",
        Error::Unavailable { .. } => "Unavailable",
        Error::Internal { .. } => "InternalError",
    }
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let class = py.import("works.errors")?.getattr(class_name(e))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("kind", e.kind())?;
    kwargs.set_item("field", e.field())?;
    kwargs.set_item("next_action", e.next_action())?;
    if let Error::RateLimited { retry_after_secs, .. } = e {
        kwargs.set_item("retry_after", *retry_after_secs)?;
    }
    let instance = class.call((e.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// The Python exception for a core error.
pub fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    match build(py, &e) {
        Ok(err) => err,
        // Only when `works.errors` cannot be imported: still say what went wrong.
        Err(_) => PyRuntimeError::new_err(format!("{e} ({})", e.next_action())),
    }
}
