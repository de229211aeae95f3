//! Shared by the agent's tests: the real Docker engine they use.

/// The engine started by `scripts/docker-engine start` (`WORKS_TEST_DOCKER_HOST`). None
/// (with a message) when it is not set outside CI; under `CI=true` a missing engine
/// fails the test instead of skipping it.
pub fn docker_host(test: &str) -> Option<String> {
    match std::env::var("WORKS_TEST_DOCKER_HOST") {
        Ok(h) if !h.trim().is_empty() => Some(h.trim().to_owned()),
        _ => {
            let ci = std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false);
            if ci {
                panic!("{test}: WORKS_TEST_DOCKER_HOST is not set and CI is: run `eval \"$(scripts/docker-engine start)\"` first");
            }
            eprintln!("{test}: skipped: WORKS_TEST_DOCKER_HOST is not set; run `eval \"$(scripts/docker-engine start)\"` to test against a real Docker engine");
            None
        }
    }
}

/// The local test image `scripts/docker-engine` builds.
pub const TEST_IMAGE: &str = "works-test/busybox:1";
