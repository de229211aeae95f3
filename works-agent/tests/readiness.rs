//! Readiness for OpenClaw against the real Docker engine: each check answers plainly,
//! and a missing image or a taken port makes the node not ready.

#[allow(dead_code)]
mod common;

use works_agent::openclaw::check_readiness;
use works_agent::Engine;

#[tokio::test]
async fn readiness_names_each_check_and_each_problem() {
    let Some(host) = common::docker_host("readiness") else { return };
    let engine = Engine::new(&host).unwrap();

    let ready = check_readiness(&engine, "works-test/busybox:1", None).await;
    let names: Vec<&str> = ready.checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(names, ["docker", "image", "port", "disk", "memory"], "{ready:?}");
    for c in ready.checks.iter().filter(|c| ["docker", "image", "port"].contains(&c.check.as_str())) {
        assert!(c.ok, "{c:?}");
    }
    assert!(ready.text().contains("The image works-test/busybox:1 is on this node."), "{}", ready.text());

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let not_ready = check_readiness(&engine, "works-test/no-such-image:1", Some(port)).await;
    assert!(!not_ready.ready);
    let problems: Vec<&str> = not_ready.checks.iter().filter(|c| !c.ok).map(|c| c.check.as_str()).collect();
    assert!(problems.contains(&"image") && problems.contains(&"port"), "{not_ready:?}");
    assert!(not_ready.text().contains(&format!("Port {port} on 127.0.0.1 is in use")), "{}", not_ready.text());
    assert!(not_ready.text().contains("scripts/openclaw-image"), "{}", not_ready.text());
}
