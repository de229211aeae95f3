//! Two `works serve` processes on one PostgreSQL database, real agents spread over both
//! (each with the other as its fallback), and the recovery leader killed with SIGKILL
//! mid-run: every job completes exactly once, every agent keeps checking in through the
//! surviving server, and the survivor takes the periodic work over.

mod cluster;
mod common;

use std::time::Duration;

use cluster::*;
use common::{Env, ADMIN_PASSWORD};
use works_core::{JobState, NewNode, NodeStatus, Works};

const AGENTS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_one_killed_every_job_once_every_agent_keeps_checking_in() {
    let test = "two servers";
    let Some(docker_host) = docker_host(test) else { return };
    let Some((store, url)) = fresh_postgres(test).await else { return };
    let env = Env::new();
    let envs = [
        ("WORKS_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("WORKS_RECOVERY_INTERVAL_SECS", "1"),
        ("WORKS_CHECKIN_INTERVAL_SECS", "1"),
        ("WORKS_NODE_STALE_AFTER_SECS", "5"),
        ("WORKS_NODE_OFFLINE_AFTER_SECS", "10"),
    ];
    let mut servers = vec![serve_database(&env, &url, &envs), serve_database(&env, &url, &envs)];
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let works = Works::new(store);
    let admin = works.local_actor("admin").await.expect("the admin");
    let http = reqwest::Client::new();

    // A session made on one server is valid on the other.
    let token = login(&http, &urls[0], ADMIN_PASSWORD).await;
    let me = http.get(format!("{}/api/v1/me", urls[1])).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200, "a session of server 1 was refused by server 2");

    // Agents spread over both servers, each with the other as fallback.
    let mut nodes = Vec::new();
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let node = works.node_create(&admin, NewNode { name: format!("multi-web-{i:02}"), org_id: None }).await.expect("node");
        let home = i % 2;
        let state = env.path(&format!("agent-{i}"));
        enroll(&env, &works, &admin, &node.id, &urls[home], &state).await;
        agents.push((home, AgentProcess::start(&env, &state, &docker_host, &[&urls[1 - home]], &format!("agent-{i}.log"))));
        nodes.push(node);
    }
    eventually("every node online", Duration::from_secs(60), || async {
        let mut all = true;
        for n in &nodes {
            all &= works.node_get(&admin, &n.id).await.unwrap().status == NodeStatus::Online;
        }
        all.then_some(())
    })
    .await;

    // Round one: work requested through both servers, whichever server the agent polls;
    // a risky job is requested through one server and approved through the other.
    let mut jobs = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for round in 0..2 {
            jobs.push(request_job(&http, &urls[(i + round) % 2], &token, &node.id, "health_check").await);
        }
        let risky = request_job(&http, &urls[i % 2], &token, &node.id, "restart").await;
        assert_eq!(risky.state, JobState::AwaitingApproval);
        approve_job(&http, &urls[1 - i % 2], &token, &risky).await;
        jobs.push(risky);
    }
    let mut finished = Vec::new();
    for job in &jobs {
        finished.push(wait_final(&works, &admin, &job.id, Duration::from_secs(60)).await);
    }

    // Kill the recovery leader, whichever server it is, with no chance to tidy up.
    let lease = works.store().get_lease(works_core::recovery::RECOVERY_LEASE).await.unwrap().expect("a recovery leader");
    let leader = servers
        .iter()
        .position(|s| lease.holder.contains(&format!("-{}-", s.child.id())))
        .unwrap_or_else(|| panic!("the lease holder {} is neither server", lease.holder));
    let survivor = 1 - leader;
    let killed_at = chrono::Utc::now();
    kill9(&mut servers[leader]);

    // Round two, through the survivor only (the load balancer took the dead one out).
    let mut after = Vec::new();
    for node in &nodes {
        after.push(request_job(&http, &urls[survivor], &token, &node.id, "health_check").await);
        let risky = request_job(&http, &urls[survivor], &token, &node.id, "restart").await;
        approve_job(&http, &urls[survivor], &token, &risky).await;
        after.push(risky);
    }
    for job in &after {
        finished.push(wait_final(&works, &admin, &job.id, Duration::from_secs(90)).await);
    }

    // Every job ended once: health checks succeeded, restarts (no instance named) failed
    // with their reason, none handed out or reported twice.
    for job in &finished {
        let expected = if job.kind == works_core::JobKind::HealthCheck { JobState::Succeeded } else { JobState::Failed };
        assert_done_once(&works, &admin, job, expected).await;
        if expected == JobState::Failed {
            assert!(job.reason.as_deref().is_some_and(|r| !r.is_empty()), "a failed job without a reason: {job:?}");
        }
    }
    // Every agent checks in through the survivor, those of the dead server included.
    for node in &nodes {
        eventually(&format!("{} to check in after the kill", node.name), Duration::from_secs(30), || async {
            let n = works.node_get(&admin, &node.id).await.unwrap();
            (n.last_checkin_at.is_some_and(|t| t > killed_at + chrono::Duration::seconds(2)) && n.status == NodeStatus::Online).then_some(())
        })
        .await;
    }
    for (home, agent) in &agents {
        if *home == leader {
            let log = agent.log_text();
            assert!(log.contains("now talks to the next one"), "an agent of the killed server did not move:\n{log}");
        }
    }
    // The survivor took the periodic work over once the dead leader's lease ran out.
    eventually("the survivor to hold the recovery lease", Duration::from_secs(30), || async {
        let lease = works.store().get_lease(works_core::recovery::RECOVERY_LEASE).await.unwrap()?;
        (lease.holder.contains(&format!("-{}-", servers[survivor].child.id())) && lease.expires_at > chrono::Utc::now()).then_some(())
    })
    .await;
    assert_audit_intact(&works, &admin).await;

    for (_, agent) in &agents {
        agent.signal("-TERM");
    }
    let (status, _) = servers.remove(survivor).stop();
    assert!(status.success());
}
