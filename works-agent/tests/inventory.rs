//! The agent's inventory against a real Docker engine: exactly the containers that are
//! there, labels unchanged whatever they carry, and never an environment value.

mod common;

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use bollard::{Docker, API_DEFAULT_VERSION};
use works_agent::Engine;

pub async fn raw_docker(host: &str) -> Docker {
    let d = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, 60, API_DEFAULT_VERSION)
    } else {
        Docker::connect_with_http(host, 60, API_DEFAULT_VERSION)
    }
    .expect("connect to the test engine");
    d.negotiate_version().await.expect("the test engine answers")
}

fn labels(run: &str, which: &str) -> HashMap<String, String> {
    HashMap::from([
        ("works.test.run".to_owned(), run.to_owned()),
        ("works.test.which".to_owned(), which.to_owned()),
        ("note".to_owned(), "<b>$(rm -rf /)</b>".to_owned()),
        ("html".to_owned(), "\"><script>alert('x')</script>".to_owned()),
        ("shell".to_owned(), "a; ls | cat && echo `id` > /tmp/x & 'q' \"dq\" \\".to_owned()),
    ])
}

#[tokio::test]
async fn the_inventory_shows_exactly_the_containers_with_labels_unchanged_and_no_environment() {
    let Some(host) = common::docker_host("inventory") else { return };
    let docker = raw_docker(&host).await;
    let run = format!("{:x}", rand::random::<u64>());
    let names = [format!("works-test-{run}-web.a_1"), format!("works-test-{run}-idle")];

    let mut created = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut body = ContainerCreateBody {
            image: Some(common::TEST_IMAGE.to_owned()),
            env: Some(vec!["SECRET_VALUE=hunter2".to_owned(), "OTHER=hunter2-too".to_owned()]),
            labels: Some(labels(&run, &i.to_string())),
            ..Default::default()
        };
        if i == 0 {
            body.exposed_ports = Some(HashMap::from([("80/tcp".to_owned(), HashMap::new())]));
            body.volumes = Some(HashMap::from([("/data".to_owned(), HashMap::new())]));
            body.host_config = Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    "80/tcp".to_owned(),
                    Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) }]),
                )])),
                ..Default::default()
            });
        }
        let options = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
        let made = docker.create_container(Some(options), body).await.expect("create a test container");
        created.push(made.id);
    }
    // The first runs; the second stays created.
    let started = docker.start_container(&created[0], None::<bollard::query_parameters::StartContainerOptions>).await;

    let checks = {
        let host = host.clone();
        let run = run.clone();
        let names = names.clone();
        let ids = created.clone();
        tokio::spawn(async move {
            started.expect("start the first container");
            let engine = Engine::new(&host).unwrap();
            let all = engine.inventory().await.expect("read the inventory");
            let serialized = serde_json::to_string(&all).unwrap();
            assert!(!serialized.contains("hunter2"), "an environment value reached the inventory");
            assert!(!serialized.contains("SECRET_VALUE"), "an environment name reached the inventory");

            let mine: Vec<_> = all.iter().filter(|c| c.labels.get("works.test.run") == Some(&run)).collect();
            assert_eq!(mine.len(), 2, "exactly the two test containers: {mine:#?}");
            let by_name: BTreeMap<&str, _> = mine.iter().map(|c| (c.name.as_str(), *c)).collect();
            let web = by_name.get(names[0].as_str()).expect("the first container, named without a leading slash");
            let idle = by_name.get(names[1].as_str()).expect("the second container");
            assert_eq!(web.id, ids[0]);
            assert_eq!(idle.id, ids[1]);
            for (c, which) in [(web, "0"), (idle, "1")] {
                let expected: BTreeMap<String, String> = labels(&run, which).into_iter().collect();
                assert_eq!(c.labels, expected, "labels come back unchanged");
                assert_eq!(c.image, common::TEST_IMAGE);
                assert_eq!(c.health, None);
            }
            assert_eq!(web.state, "running");
            assert_eq!(idle.state, "created");
            let port = web.ports.iter().find(|p| p.container_port == 80).expect("the published port");
            assert_eq!(port.protocol, "tcp");
            assert_eq!(port.host_ip.as_deref(), Some("127.0.0.1"));
            assert!(port.host_port.is_some_and(|p| p > 0), "{port:?}");
            assert!(web.mounts.iter().any(|m| m.kind == "volume" && m.destination == "/data"), "{:?}", web.mounts);
            // Sorted by name, so the digest is stable from one read to the next.
            let again = engine.inventory().await.unwrap();
            assert_eq!(works_agent::docker::inventory_hash(&all), works_agent::docker::inventory_hash(&again));
        })
        .await
    };

    for id in &created {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        if let Err(e) = docker.remove_container(id, Some(options)).await {
            eprintln!("could not remove test container {id}: {e}");
        }
    }
    if let Err(e) = checks {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn an_unreachable_engine_is_reported_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = Engine::new(&format!("unix://{}", tmp.path().join("no.sock").display())).unwrap();
    let e = engine.inventory().await.unwrap_err();
    assert!(e.to_string().contains("cannot be reached"), "{e}");
    let health = works_agent::health::collect(&engine).await;
    assert!(!health.docker_reachable);
    assert_eq!(health.docker_version, None);
}

#[tokio::test]
async fn logs_of_a_container_and_of_a_missing_one() {
    let Some(host) = common::docker_host("logs") else { return };
    let docker = raw_docker(&host).await;
    let name = format!("works-test-{:x}-logs", rand::random::<u64>());
    let body = ContainerCreateBody {
        image: Some(common::TEST_IMAGE.to_owned()),
        cmd: Some(vec!["/bin/busybox".into(), "sh".into(), "-c".into(), "for i in 1 2 3 4 5; do echo line $i; done; sleep 1; echo oops >&2; sleep 3600".into()]),
        ..Default::default()
    };
    let made = docker
        .create_container(Some(CreateContainerOptions { name: Some(name.clone()), ..Default::default() }), body)
        .await
        .expect("create");
    let started = docker.start_container(&made.id, None::<bollard::query_parameters::StartContainerOptions>).await;
    let checks = {
        let host = host.clone();
        let name = name.clone();
        tokio::spawn(async move {
            started.expect("start");
            let engine = Engine::new(&host).unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let text = loop {
                let text = engine.logs(&name, 3).await.expect("logs");
                if text.contains("oops") || std::time::Instant::now() > deadline {
                    break text;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            };
            assert_eq!(text.lines().collect::<Vec<_>>(), vec!["line 4", "line 5", "oops"], "{text:?}");
            let missing = engine.logs("works-test-no-such-container", 10).await.unwrap_err();
            assert_eq!(missing, works_agent::EngineError::NoSuchContainer("works-test-no-such-container".into()));
            let weird = engine.logs("../../images/json", 10).await.unwrap_err();
            assert!(matches!(weird, works_agent::EngineError::NoSuchContainer(_)));
        })
        .await
    };
    let _ = docker.remove_container(&made.id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() })).await;
    if let Err(e) = checks {
        std::panic::resume_unwind(e.into_panic());
    }
}
