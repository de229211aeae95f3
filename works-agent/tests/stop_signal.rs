//! The stop signal is armed when it is asked for, not when it is first awaited: a
//! SIGTERM that arrives in between (a server that has just printed that it is running,
//! on a busy machine) must stop the process cleanly, not kill it.
//!
//! This file is its own test binary with one test, because it signals its own process.

#[tokio::test]
async fn a_sigterm_before_the_first_poll_is_caught_not_fatal() {
    let stopped = works_agent::stop_signal();
    // Nothing has polled `stopped` yet. Without a handler already installed, this
    // SIGTERM would end the test process with "signal: 15".
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill could signal this process");
    tokio::time::timeout(std::time::Duration::from_secs(10), stopped)
        .await
        .expect("the SIGTERM sent before the first poll resolves the stop signal");
}
