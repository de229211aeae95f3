//! The one tokio runtime of the process, and running a core call on it with the GIL
//! released.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::to_py_err;

struct Owned {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

/// The runtime of this process, created on first use. After `os.fork()` the child has
/// none of the parent's worker threads, so the child builds its own; the parent's is
/// left untouched (dropping it would wait for threads that do not exist here).
pub fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(owned) = slot.as_ref() {
        if owned.pid == pid {
            return Ok(owned.runtime.clone());
        }
    }
    if let Some(inherited) = slot.take() {
        std::mem::forget(inherited.runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("works-py")
        .build()
        .map(Arc::new)
        .map_err(|e| PyRuntimeError::new_err(format!("Could not start the async runtime: {e}")))?;
    *slot = Some(Owned { pid, runtime: runtime.clone() });
    Ok(runtime)
}

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Runs `fut` to completion on the runtime without holding the GIL, so other Python
/// threads run meanwhile, and turns a core error into the matching Python exception.
/// A signal (Ctrl-C) raises its exception (`KeyboardInterrupt`) in the waiting thread
/// and abandons the call, as it would for a blocking call written in Python.
pub fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = works_core::Result<T>> + Send,
    T: Send,
{
    let runtime = runtime()?;
    let outcome: PyResult<works_core::Result<T>> = py.detach(|| {
        runtime.block_on(async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    result = &mut fut => return Ok(result),
                    _ = tokio::time::sleep(SIGNAL_CHECK_INTERVAL) => {
                        Python::attach(|py| py.check_signals())?;
                    }
                }
            }
        })
    });
    outcome?.map_err(|e| to_py_err(py, e))
}
