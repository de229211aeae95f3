//! `os.fork()` with the native half loaded: what must be still when the process is
//! copied. The runtime's threads are stopped (see `runtime::before_fork`), and SQLite's
//! process-wide locks are held by the forking thread across the fork, so no other
//! thread (a connection's worker finishing or opening) is inside one: a child that
//! inherited such a lock would hang on its first SQLite call (every allocation of
//! SQLite takes one of them).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;
use pyo3::prelude::*;

/// SQLite's static mutexes, all of them.
const STATIC_MUTEXES: [i32; 12] = [
    ffi::SQLITE_MUTEX_STATIC_MAIN,
    ffi::SQLITE_MUTEX_STATIC_MEM,
    ffi::SQLITE_MUTEX_STATIC_OPEN,
    ffi::SQLITE_MUTEX_STATIC_PRNG,
    ffi::SQLITE_MUTEX_STATIC_LRU,
    ffi::SQLITE_MUTEX_STATIC_PMEM,
    ffi::SQLITE_MUTEX_STATIC_APP1,
    ffi::SQLITE_MUTEX_STATIC_APP2,
    ffi::SQLITE_MUTEX_STATIC_APP3,
    ffi::SQLITE_MUTEX_STATIC_VFS1,
    ffi::SQLITE_MUTEX_STATIC_VFS2,
    ffi::SQLITE_MUTEX_STATIC_VFS3,
];

/// How long the fork waits for other threads to leave SQLite's locks.
const WAIT: Duration = Duration::from_secs(2);

/// The mutexes held across the fork (as addresses), in the order taken.
static HELD: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Takes every static mutex of SQLite. Each is only tried, and on a busy one all taken
/// so far are let go and the whole set is tried again, so this never waits on a lock
/// while holding another (SQLite takes them in its own order). After `WAIT` it gives
/// up and the fork goes ahead as it would have.
fn hold_sqlite() {
    // SAFETY: sqlite3_initialize may be called any number of times; the static mutexes
    // exist once it succeeded, and are only tried and released here.
    unsafe {
        if ffi::sqlite3_initialize() != ffi::SQLITE_OK {
            return;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let mut taken: Vec<*mut ffi::sqlite3_mutex> = Vec::with_capacity(STATIC_MUTEXES.len());
            let mut all = true;
            for id in STATIC_MUTEXES {
                let m = ffi::sqlite3_mutex_alloc(id);
                if m.is_null() {
                    continue;
                }
                if ffi::sqlite3_mutex_try(m) == ffi::SQLITE_OK {
                    taken.push(m);
                } else {
                    all = false;
                    break;
                }
            }
            if all {
                let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
                *held = taken.into_iter().map(|m| m as usize).collect();
                return;
            }
            for m in taken.into_iter().rev() {
                ffi::sqlite3_mutex_leave(m);
            }
            if Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Lets go of what `hold_sqlite` took, in the parent and in the child.
fn release_sqlite() {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    for m in held.drain(..).rev() {
        // SAFETY: each was taken by this thread in `hold_sqlite` (in the child, by the
        // thread the child was forked from); static mutexes are never freed.
        unsafe { ffi::sqlite3_mutex_leave(m as *mut ffi::sqlite3_mutex) };
    }
}

/// `os.register_at_fork(before=...)`: stops the runtime, then holds SQLite's locks.
#[pyfunction]
pub fn before_fork(py: Python<'_>) {
    crate::runtime::stop_for_fork(py);
    py.detach(hold_sqlite);
}

/// `os.register_at_fork(after_in_parent=..., after_in_child=...)`.
#[pyfunction]
pub fn after_fork() {
    release_sqlite();
}
