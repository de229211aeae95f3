//! `works serve` as a real process sends alerts and samples the history from its
//! background monitor: a webhook receiver on loopback gets the change of the answer,
//! signed; `works alert deliveries` and `works health history` show it remotely; the
//! server's JSON log lines parse and carry no secret.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Env, Server, ADMIN_PASSWORD};
use serde_json::{json, Value};
use works_core::{EnrollmentToken, Node};

const SECRET: &str = "a-shared-secret-for-the-pager";
const MASTER_KEY: &str = "q3Zp8m0Vb1xY7LwR2nKc4tGh9sJd6fEa5uIo0PlMkNw=";

/// One HTTP request: its header lines and body.
struct Received {
    headers: Vec<String>,
    body: String,
}

/// A loopback receiver answering 204 to every request; its URL and what it gets.
fn receiver() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push(line.trim_end().to_owned());
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            if tx.send(Received { headers, body: String::from_utf8_lossy(&body).into_owned() }).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

fn enroll_and_check_in(server: &str, token: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let enrolled: Value =
            http.post(format!("{server}/api/v1/agent/enroll")).json(&json!({ "token": token })).send().await.unwrap().json().await.unwrap();
        let credential = enrolled["credential"].as_str().unwrap().to_owned();
        let health = json!({
            "uptime_secs": 10, "load1": 0.1, "memory_total_bytes": 1, "memory_available_bytes": 1,
            "disk_total_bytes": 1, "disk_available_bytes": 1, "agent_version": "test",
            "docker_reachable": true, "docker_version": null
        });
        http.post(format!("{server}/api/v1/agent/checkin"))
            .bearer_auth(credential)
            .json(&json!({ "health": health, "containers": null }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    });
}

#[test]
fn the_served_monitor_alerts_once_and_samples_the_history() {
    let env = Env::new();
    let data = env.path("data");
    let (hook_url, received) = receiver();
    let server = Server::start_args(
        &env,
        &[
            "serve", "--listen", "127.0.0.1:0", "--data-dir", &data.to_string_lossy(),
            "--recovery-interval-secs", "1", "--node-stale-after-secs", "2", "--node-offline-after-secs", "3600",
            "--log-format", "json",
        ],
        &[("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WORKS_MASTER_KEY", MASTER_KEY), ("WORKS_LOG", "info")],
    );
    env.run_with(&["--server", &server.url, "login", "--username", "admin"], &[("WORKS_PASSWORD", ADMIN_PASSWORD)], None).ok();
    let remote = |args: &[&str], stdin: Option<&str>| {
        let all: Vec<&str> = ["--server", server.url.as_str()].iter().copied().chain(args.iter().copied()).collect();
        env.run_with(&all, &[], stdin)
    };

    let added = remote(&["alert", "add", "--name", "pager", "--url", &hook_url, "--secret-stdin"], Some(&format!("{SECRET}\n"))).ok();
    assert!(added.stdout.contains("Signed") && !added.stdout.contains(SECRET), "{}", added.stdout);
    let listed = remote(&["alert", "list"], None).ok();
    assert!(listed.stdout.contains("pager") && listed.stdout.contains(&hook_url), "{}", listed.stdout);

    // A node that checks in once, then goes quiet: the answer becomes degraded.
    let node: Node = remote(&["--json", "node", "create", "acme-web-01"], None).ok().typed();
    let token: EnrollmentToken = remote(&["--json", "node", "enrollment-token", &node.id], None).ok().typed();
    enroll_and_check_in(&server.url, &token.token);

    let got = received.recv_timeout(Duration::from_secs(60)).expect("no notification arrived from the server's monitor");
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("healthy"), Some("degraded")), "{body}");
    let signature = got.headers.iter().find_map(|h| h.to_ascii_lowercase().strip_prefix("x-works-signature:").map(|v| v.trim().to_owned()));
    assert_eq!(signature, Some(works_core::alerts::signature(SECRET, &got.body)), "{:?}", got.headers);

    // The delivery log says so; the same change is not sent again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = remote(&["alert", "deliveries"], None).ok();
        if log.stdout.contains("delivered (204)") {
            assert!(log.stdout.contains("healthy → degraded"), "{}", log.stdout);
            break;
        }
        assert!(Instant::now() < deadline, "the delivery was never marked delivered:\n{}", log.stdout);
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(received.try_recv().is_err(), "a change is notified once");

    // The history holds samples.
    let history = remote(&["--json", "health", "history", "--hours", "1"], None).ok().json();
    assert!(!history["samples"].as_array().unwrap().is_empty(), "{history}");
    let text = remote(&["health", "history"], None).ok();
    assert!(text.stdout.contains("ANSWER") && text.stdout.contains("healthy"), "{}", text.stdout);

    // Every log line is JSON; the webhook secret and the session token appear nowhere.
    let log_path = server.log.clone();
    let (status, _) = server.stop();
    assert!(status.success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(!log.trim().is_empty());
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(!log.contains(SECRET), "{log}");
    assert!(log.contains("health answer changed"), "{log}");
}
