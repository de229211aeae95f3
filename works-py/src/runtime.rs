//! The one tokio runtime of the process, and running a core call on it with the GIL
//! released.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Counts the runtimes stopped before a fork: a connection made on an earlier one is
/// made again on first use.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The generation of the current runtime.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// How long a fork waits for the runtime's threads to finish.
const FORK_SHUTDOWN: Duration = Duration::from_secs(2);

/// Called (through `fork::before_fork`) just before `os.fork()`: stops the runtime's
/// threads, so that none is inside a lock when the process is copied. Otherwise the
/// child can inherit a lock held by a thread that does not exist there (the global
/// table of `parking_lot`, which tokio parks its threads with, and the locks of the
/// libraries below), and hang or crash on its first call. Connections made on the
/// stopped runtime are made again on first use, in the parent and in the child.
/// Background work of the parent's embedded core (a running Test Access attempt) ends
/// with it. When another thread is in a call at that moment the runtime is left
/// running: it cannot be stopped under that call.
pub fn stop_for_fork(py: Python<'_>) {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(owned) = slot.take() else { return };
    if owned.pid != pid {
        // Inherited from a parent: it has no threads here, and is left untouched.
        *slot = Some(owned);
        return;
    }
    match Arc::try_unwrap(owned.runtime) {
        Ok(runtime) => {
            GENERATION.fetch_add(1, Ordering::SeqCst);
            py.detach(|| runtime.shutdown_timeout(FORK_SHUTDOWN));
        }
        Err(in_use) => *slot = Some(Owned { pid, runtime: in_use }),
    }
}

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
