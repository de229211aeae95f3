//! What a check-in carries, with the engine's answers under the test's control: a small
//! stand-in for the Docker Engine API on 127.0.0.1 serving `/version`, `/_ping` and
//! `/containers/json`, and a real server in this process.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use works_agent::{Agent, AgentClient, CancellationToken};
use works_core::{EnrollRequest, NewNode};
use works_testkit::TestServer;

/// Serves the engine calls the agent makes; the container list is what `containers` holds.
async fn stand_in_engine(containers: Arc<Mutex<Value>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let containers = containers.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("").to_owned();
                let (kind, body) = if path.contains("/containers/json") {
                    assert!(!path.contains("size=true"), "the agent asked for sizes");
                    ("application/json", containers.lock().unwrap().to_string())
                } else if path.contains("/version") {
                    ("application/json", json!({"Version": "20.10.99-standin", "ApiVersion": "1.41"}).to_string())
                } else if path.contains("/_ping") {
                    ("text/plain", "OK".to_owned())
                } else {
                    panic!("the agent called an engine route it should not need: {path}");
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("tcp://{addr}")
}

fn container(i: usize) -> Value {
    json!({
        "Id": format!("{i:064x}"),
        "Names": [format!("/c{i:05}")],
        "Image": "works-test/busybox:1",
        "State": "running",
        "Status": "Up 2 minutes (healthy)",
        "Labels": {"n": i.to_string()},
        "Ports": [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8000 + (i % 1000), "Type": "tcp"}],
        "Mounts": [{"Type": "bind", "Source": "/srv/data", "Destination": "/data", "RW": true}],
    })
}

async fn agent_for(server: &TestServer, engine: &str) -> (Arc<Agent>, String) {
    let org = server.create_org("Check-in org").await;
    let node = server
        .works
        .node_create(&server.admin, NewNode { name: "checkin-node".into(), org_id: Some(org.id) })
        .await
        .unwrap();
    let token = server.works.enrollment_token_create(&server.admin, &node.id).await.unwrap().token;
    let cred = AgentClient::enroll(&server.url, &EnrollRequest { token, hostname: None, agent_version: None })
        .await
        .unwrap();
    let agent = Agent::new(&server.url, cred.credential, node.id.clone(), engine, CancellationToken::new()).unwrap();
    (Arc::new(agent), node.id)
}

#[tokio::test]
async fn the_inventory_is_sent_first_and_then_only_when_it_changed() {
    let server = TestServer::start_sqlite().await;
    let containers = Arc::new(Mutex::new(json!([container(1), container(2)])));
    let engine = stand_in_engine(containers.clone()).await;
    let (agent, node) = agent_for(&server, &engine).await;

    let (_, sent) = agent.checkin(false).await.unwrap();
    assert_eq!(sent, Some(2), "the first check-in carries the inventory");
    let stored = server.works.node_containers(&server.admin, &node).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].name, "c00001");
    assert_eq!(stored[0].health.as_deref(), Some("healthy"));
    assert_eq!(stored[0].mounts[0].source, "/srv/data");
    let n = server.works.node_get(&server.admin, &node).await.unwrap();
    let health = n.health.unwrap();
    assert!(health.docker_reachable);
    assert_eq!(health.docker_version.as_deref(), Some("20.10.99-standin"));

    let (_, sent) = agent.checkin(false).await.unwrap();
    assert_eq!(sent, None, "an unchanged inventory is not sent again");
    let (_, sent) = agent.checkin(true).await.unwrap();
    assert_eq!(sent, Some(2), "a refresh sends it in full");

    *containers.lock().unwrap() = json!([container(1), container(2), container(3)]);
    let (_, sent) = agent.checkin(false).await.unwrap();
    assert_eq!(sent, Some(3), "a changed inventory is sent");
    assert_eq!(server.works.node_containers(&server.admin, &node).await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_inventory_the_server_refuses_does_not_stop_the_health_report() {
    let server = TestServer::start_sqlite().await;
    let many: Vec<Value> = (0..=works_core::agent::MAX_CONTAINERS).map(container).collect();
    let containers = Arc::new(Mutex::new(Value::Array(many)));
    let engine = stand_in_engine(containers.clone()).await;
    let (agent, node) = agent_for(&server, &engine).await;

    let before = server.works.node_get(&server.admin, &node).await.unwrap();
    assert!(before.last_checkin_at.is_none());
    let (_, sent) = agent.checkin(false).await.expect("the check-in goes through without the inventory");
    assert_eq!(sent, None);
    let after = server.works.node_get(&server.admin, &node).await.unwrap();
    assert!(after.last_checkin_at.is_some() && after.health.is_some());
    assert!(server.works.node_containers(&server.admin, &node).await.unwrap().is_empty());

    // Once it fits, it is sent: the refused one was not taken as sent.
    *containers.lock().unwrap() = json!([container(1)]);
    let (_, sent) = agent.checkin(false).await.unwrap();
    assert_eq!(sent, Some(1));
}
