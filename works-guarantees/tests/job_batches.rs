//! Batched claims and reports: an agent takes and reports many of its node's jobs in
//! one transaction each, every job still audited, never another node's jobs; bad input
//! names the field. And a long-polling claim is woken by work for its own node. Runs on
//! SQLite and PostgreSQL.

use works_core::{AgentIdentity, AuditQuery, EnrollRequest, Error, JobKind, JobReportOf, JobState, NewJob, NewNode, Node, Outcome, Works};
use works_guarantees::{backends, World};

async fn node(w: &World, name: &str, org: &str) -> Node {
    w.works.node_create(&w.msp_admin.actor, NewNode { name: name.into(), org_id: Some(org.into()) }).await.unwrap_or_else(|e| panic!("node {name}: {e}"))
}

async fn enrolled(works: &Works, admin: &works_core::Actor, node: &Node) -> AgentIdentity {
    let token = works.enrollment_token_create(admin, &node.id).await.unwrap();
    let cred = works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: Some("test".into()) }).await.unwrap();
    works.authenticate_agent(&cred.credential).await.unwrap()
}

async fn health_checks(w: &World, node: &Node, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let job = w.works.job_request(&w.msp_admin.actor, NewJob { node_id: node.id.clone(), kind: JobKind::HealthCheck, params: serde_json::Value::Null }).await.unwrap();
        ids.push(job.id);
    }
    ids
}

/// `nodes` nodes spread over both organizations, each with an enrolled agent and
/// `per_node` health checks queued: the agents, and each node's queued job ids.
async fn busy_nodes(w: &World, prefix: &str, nodes: usize, per_node: usize) -> (Vec<AgentIdentity>, Vec<Vec<String>>) {
    let (mut agents, mut queued) = (Vec::new(), Vec::new());
    for i in 0..nodes {
        let org = if i % 2 == 0 { &w.org_a.id } else { &w.org_b.id };
        let n = node(w, &format!("{prefix}-{i:02}"), org).await;
        agents.push(enrolled(&w.works, &w.msp_admin.actor, &n).await);
        queued.push(health_checks(w, &n, per_node).await);
    }
    (agents, queued)
}

/// Exactly one successful claim record and one successful report record for each job.
async fn one_claim_and_one_end_recorded_per_job(w: &World, queued: &[Vec<String>], backend: &str) {
    for action in ["job.claim", "job.complete"] {
        let records = w.works.audit_query(&w.msp_admin.actor, AuditQuery { action: Some(action.into()), outcome: Some(Outcome::Succeeded), limit: Some(500), ..Default::default() }).await.unwrap();
        let mut audited: Vec<String> = records.records.iter().filter_map(|r| r.target_id.clone()).collect();
        audited.sort();
        let mut expected: Vec<String> = queued.iter().flatten().cloned().collect();
        expected.sort();
        assert_eq!(audited, expected, "[{backend}] one {action} record per job");
    }
}

fn ok(job_id: &str) -> JobReportOf {
    JobReportOf { job_id: job_id.into(), succeeded: true, result: Some(serde_json::json!({"ok": true})), output: Some("password=hunter2 fine".into()), reason: None }
}

fn invalid_field(got: Result<impl std::fmt::Debug, Error>) -> String {
    match got {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected a refusal naming a field, got {other:?}"),
    }
}

#[tokio::test]
async fn a_batch_claims_only_the_agents_own_jobs_oldest_first_each_audited() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let mine = node(&w, "acme-web-01", &w.org_a.id).await;
        let theirs = node(&w, "bolt-web-01", &w.org_b.id).await;
        let agent = enrolled(&w.works, admin, &mine).await;
        let other = enrolled(&w.works, admin, &theirs).await;
        let my_jobs = health_checks(&w, &mine, 5).await;
        let their_jobs = health_checks(&w, &theirs, 2).await;

        let first = w.works.agent_claim_many(&agent, 3, std::time::Duration::ZERO).await.unwrap();
        assert_eq!(first.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), my_jobs[..3].to_vec(), "[{}] oldest first, at most max", backend.name);
        assert!(first.iter().all(|j| j.state == JobState::Claimed && j.attempts == 1 && j.node_id == mine.id), "[{}] {first:?}", backend.name);
        let rest = w.works.agent_claim_many(&agent, 100, std::time::Duration::ZERO).await.unwrap();
        assert_eq!(rest.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), my_jobs[3..].to_vec(), "[{}] never the other node's", backend.name);
        assert!(w.works.agent_claim_many(&agent, 100, std::time::Duration::ZERO).await.unwrap().is_empty());

        // Each claim is its own audit record, naming the job and the agent.
        let claims = w.works.audit_query(admin, AuditQuery { action: Some("job.claim".into()), actor_id: Some(format!("agent:{}", mine.id)), ..Default::default() }).await.unwrap();
        let mut audited: Vec<String> = claims.records.iter().filter_map(|r| r.target_id.clone()).collect();
        audited.sort();
        let mut expected = my_jobs.clone();
        expected.sort();
        assert_eq!(audited, expected, "[{}] one record per claimed job", backend.name);

        // The other organization's jobs are still queued, for their own agent.
        for id in &their_jobs {
            assert_eq!(w.works.job_get(admin, id).await.unwrap().state, JobState::Queued);
        }
        assert_eq!(w.works.agent_claim_many(&other, 10, std::time::Duration::ZERO).await.unwrap().len(), 2);

        // Bad sizes are refused by field.
        assert_eq!(invalid_field(w.works.agent_claim_many(&agent, 0, std::time::Duration::ZERO).await), "max");
        assert_eq!(invalid_field(w.works.agent_claim_many(&agent, works_core::agent::MAX_CLAIM_BATCH + 1, std::time::Duration::ZERO).await), "max");
    }
}

#[tokio::test]
async fn a_batch_of_reports_completes_only_the_agents_own_claimed_jobs() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let mine = node(&w, "acme-web-01", &w.org_a.id).await;
        let theirs = node(&w, "bolt-web-01", &w.org_b.id).await;
        let agent = enrolled(&w.works, admin, &mine).await;
        let other = enrolled(&w.works, admin, &theirs).await;
        let my_jobs = health_checks(&w, &mine, 3).await;
        let their_jobs = health_checks(&w, &theirs, 1).await;
        w.works.agent_claim_many(&agent, 2, std::time::Duration::ZERO).await.unwrap();
        w.works.agent_claim_many(&other, 1, std::time::Duration::ZERO).await.unwrap();

        // Two of mine claimed, one of mine still queued, one of another organization's node.
        let answers = w
            .works
            .agent_complete_many(&agent, vec![ok(&my_jobs[0]), ok(&their_jobs[0]), ok(&my_jobs[2]), JobReportOf { succeeded: false, reason: Some("disk full".into()), ..ok(&my_jobs[1]) }])
            .await
            .unwrap();
        assert_eq!(answers.iter().map(|a| a.job_id.clone()).collect::<Vec<_>>(), vec![my_jobs[0].clone(), their_jobs[0].clone(), my_jobs[2].clone(), my_jobs[1].clone()]);
        let done = answers[0].job.clone().expect("my claimed job is completed");
        assert_eq!(done.state, JobState::Succeeded);
        assert!(!done.output.unwrap_or_default().contains("hunter2"), "[{}] output is redacted", backend.name);
        assert!(answers[1].job.is_none() && answers[1].error.as_deref().unwrap_or_default().contains("No job"), "[{}] another node's job reads as unknown: {:?}", backend.name, answers[1]);
        assert!(answers[2].job.is_none() && answers[2].error.as_deref().unwrap_or_default().contains("waiting for the agent"), "[{}] a queued job is not reported: {:?}", backend.name, answers[2]);
        assert_eq!(answers[3].job.as_ref().map(|j| (j.state, j.reason.clone())), Some((JobState::Failed, Some("disk full".into()))));

        // The other node's job is untouched; the attempt is recorded as denied.
        assert_eq!(w.works.job_get(admin, &their_jobs[0]).await.unwrap().state, JobState::Claimed);
        let denied = w.works.audit_query(admin, AuditQuery { actor_id: Some(format!("agent:{}", mine.id)), outcome: Some(Outcome::Denied), ..Default::default() }).await.unwrap();
        assert_eq!(denied.records.iter().filter_map(|r| r.target_id.clone()).collect::<Vec<_>>(), vec![their_jobs[0].clone()], "[{}]", backend.name);
        let completes = w.works.audit_query(admin, AuditQuery { action: Some("job.complete".into()), outcome: Some(Outcome::Succeeded), ..Default::default() }).await.unwrap();
        assert_eq!(completes.records.len(), 2, "[{}] one record per accepted report", backend.name);

        // A second report on a finished job is refused for that job only.
        let again = w.works.agent_complete_many(&agent, vec![ok(&my_jobs[0])]).await.unwrap();
        assert!(again[0].job.is_none() && again[0].error.is_some());

        // Bad batches are refused by field, before anything is written.
        assert_eq!(invalid_field(w.works.agent_complete_many(&agent, vec![]).await), "reports");
        assert_eq!(invalid_field(w.works.agent_complete_many(&agent, vec![ok(&my_jobs[2]), ok(&my_jobs[2])]).await), "reports[1].job_id");
        assert_eq!(invalid_field(w.works.agent_complete_many(&agent, vec![ok("not an id")]).await), "reports[0].job_id");
        let too_many: Vec<_> = (0..=works_core::agent::MAX_CLAIM_BATCH).map(|_| ok(&my_jobs[2])).collect();
        assert_eq!(invalid_field(w.works.agent_complete_many(&agent, too_many).await), "reports");
        assert_eq!(w.works.job_get(admin, &my_jobs[2]).await.unwrap().state, JobState::Queued);
    }
}

#[tokio::test]
async fn a_long_polling_claim_gets_work_queued_for_its_node_while_it_waits() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = w.msp_admin.actor.clone();
        let mine = node(&w, "acme-web-01", &w.org_a.id).await;
        let theirs = node(&w, "acme-web-02", &w.org_a.id).await;
        let agent = enrolled(&w.works, &admin, &mine).await;
        let works = w.works.clone();
        let waiting = tokio::spawn(async move { works.agent_claim_many(&agent, 10, std::time::Duration::from_secs(20)).await });
        tokio::task::yield_now().await;
        // Work for another node does not end the wait with that node's job.
        health_checks(&w, &theirs, 1).await;
        let job = health_checks(&w, &mine, 1).await;
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(got.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), job, "[{}]", backend.name);
    }
}

#[tokio::test]
async fn an_announcement_of_queued_work_names_its_node_so_only_that_nodes_claims_wake() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        // Another server: its own connections to the same database.
        let other = works_store::open(&backend.url).await.expect("a second store on the same database");
        let Some(mut listener) = other.work_listener().await.expect("listen") else {
            assert_eq!(backend.name, "sqlite", "only SQLite, which serves one server, may have no announcements");
            continue;
        };
        let mine = node(&w, "acme-web-01", &w.org_a.id).await;
        health_checks(&w, &mine, 1).await;
        let named = tokio::time::timeout(std::time::Duration::from_secs(20), listener.next()).await.expect("no announcement of a queued job").expect("the listener");
        assert_eq!(named.as_deref(), Some(mine.id.as_str()), "[{}]", backend.name);
    }
}

/// Work queued through another server (or another process on the same SQLite file),
/// whose announcement never reaches this server: the server's sweep finds it and wakes
/// the waiting claim of that node. While the sweep runs, an idle long poll looks for
/// work once, not every half second; without it, the claim looks by itself. A server
/// that is stopping ends the wait at once.
#[tokio::test]
async fn a_sweep_wakes_claims_for_work_queued_elsewhere_and_idle_long_polls_look_once() {
    use std::time::{Duration, Instant};
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = w.msp_admin.actor.clone();
        let mine = node(&w, "acme-web-01", &w.org_a.id).await;
        let quiet = node(&w, "acme-web-02", &w.org_a.id).await;
        let agent = enrolled(&w.works, &admin, &mine).await;
        let quiet_agent = enrolled(&w.works, &admin, &quiet).await;
        // This server: its own connections and its own wake-ups, relaying no announcements.
        let here = Works::new(works_store::open(&backend.url).await.expect("a second store on the same database"));
        let (stop_sweep, sweep_stopped) = tokio::sync::oneshot::channel::<()>();
        let sweep = {
            let here = here.clone();
            tokio::spawn(async move {
                here.sweep_queued_work(async {
                    let _ = sweep_stopped.await;
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;

        let looks = here.claim_looks();
        let idle = here.agent_claim_many(&quiet_agent, 1, Duration::from_secs(2)).await.unwrap();
        assert!(idle.is_empty(), "[{}] nothing was queued for that node", backend.name);
        assert_eq!(here.claim_looks() - looks, 1, "[{}] with the sweep running, an idle long poll looks once", backend.name);

        let waiting = {
            let (here, agent) = (here.clone(), agent.clone());
            tokio::spawn(async move { here.agent_claim_many(&agent, 10, Duration::from_secs(20)).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let job = health_checks(&w, &mine, 1).await;
        let got = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("the sweep did not wake the claim").unwrap().unwrap();
        assert_eq!(got.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), job, "[{}]", backend.name);

        let _ = stop_sweep.send(());
        sweep.await.unwrap();
        let looks = here.claim_looks();
        let idle = here.agent_claim_many(&quiet_agent, 1, Duration::from_millis(1200)).await.unwrap();
        assert!(idle.is_empty());
        assert!(here.claim_looks() - looks >= 2, "[{}] without a sweep, a waiting claim looks by itself", backend.name);

        let started = Instant::now();
        let stopped = here.agent_claim_until(&quiet_agent, 1, Duration::from_secs(20), tokio::time::sleep(Duration::from_millis(100))).await.unwrap();
        assert!(stopped.is_empty());
        assert!(started.elapsed() < Duration::from_secs(10), "[{}] a stopping server ends the wait at once", backend.name);
    }
}

/// Many agents claiming and reporting one job at a time, all at once: their writes share
/// transactions (group commit), yet each job is claimed once, by its own node's agent,
/// and ended once, each step with its own audit record in an intact chain. A report on
/// another node's job, sent in the same rush, is refused and recorded without upsetting
/// the writes it shared a transaction with.
#[tokio::test]
async fn claims_and_reports_arriving_together_each_land_on_their_own_job() {
    const NODES: usize = 8;
    const PER_NODE: usize = 6;
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let (agents, queued) = busy_nodes(&w, "rush", NODES, PER_NODE).await;
        let (_, before) = w.works.job_write_batches();
        let mut tasks = Vec::new();
        for (i, agent) in agents.iter().cloned().enumerate() {
            let works = w.works.clone();
            let intruder = agents[(i + 1) % NODES].clone();
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                while let Some(job) = works
                    .agent_claim(&agent, std::time::Duration::ZERO)
                    .await
                    .unwrap()
                {
                    assert_eq!(
                        job.node_id, agent.node_id,
                        "a claim takes only its own node's job"
                    );
                    // The neighbour's agent tries to end it first, in the same rush.
                    let stolen = works
                        .agent_job_complete(
                            &intruder,
                            &job.id,
                            works_core::JobReport {
                                succeeded: false,
                                result: None,
                                output: None,
                                reason: None,
                            },
                        )
                        .await;
                    assert!(
                        matches!(stolen, Err(Error::NotFound { .. })),
                        "another node's agent cannot end the job: {stolen:?}"
                    );
                    let ended = works
                        .agent_job_complete(
                            &agent,
                            &job.id,
                            works_core::JobReport {
                                succeeded: true,
                                result: None,
                                output: Some("ok".into()),
                                reason: None,
                            },
                        )
                        .await
                        .unwrap();
                    assert_eq!(ended.state, JobState::Succeeded);
                    done.push(job.id);
                }
                done
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let mut done = t.await.unwrap();
            done.sort();
            let mut expected = queued[i].clone();
            expected.sort();
            assert_eq!(
                done, expected,
                "[{}] node {i}'s agent did exactly its own jobs, each once",
                backend.name
            );
        }
        let (_, after) = w.works.job_write_batches();
        assert!(
            after - before >= (NODES * (PER_NODE * 2 + 1)) as u64,
            "[{}] every claim and report went through the shared writer",
            backend.name
        );

        for ids in &queued {
            for id in ids {
                assert_eq!(
                    w.works.job_get(admin, id).await.unwrap().state,
                    JobState::Succeeded,
                    "[{}]",
                    backend.name
                );
            }
        }
        one_claim_and_one_end_recorded_per_job(&w, &queued, backend.name).await;
        let denied = w
            .works
            .audit_query(
                admin,
                AuditQuery {
                    action: Some("job.complete".into()),
                    outcome: Some(Outcome::Denied),
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            denied.records.len(),
            NODES * PER_NODE,
            "[{}] every attempt on another node's job is recorded",
            backend.name
        );
        let chain = w.works.audit_verify(admin).await.unwrap();
        assert!(
            chain.intact,
            "[{}] the chain is intact: {chain:?}",
            backend.name
        );
    }
}

/// Many agents taking and reporting batches at once: their batched claims and reports
/// go through the shared writer with everyone else's, yet each claim takes no more than
/// its most and only its own node's jobs, each report ends its own job once, and every
/// step has its own record in an intact chain.
#[tokio::test]
async fn batches_of_many_agents_arriving_together_each_land_on_their_own_jobs() {
    const NODES: usize = 6;
    const PER_NODE: usize = 9;
    const MOST: u32 = 4;
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let (agents, queued) = busy_nodes(&w, "batch", NODES, PER_NODE).await;
        let (_, before) = w.works.job_write_batches();
        let mut tasks = Vec::new();
        for agent in agents.iter().cloned() {
            let works = w.works.clone();
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let jobs = works.agent_claim_many(&agent, MOST, std::time::Duration::ZERO).await.unwrap();
                    if jobs.is_empty() {
                        break;
                    }
                    assert!(jobs.len() <= MOST as usize, "a batch claim takes no more than its most: {}", jobs.len());
                    assert!(jobs.iter().all(|j| j.node_id == agent.node_id), "a claim takes only its own node's jobs");
                    let answers = works.agent_complete_many(&agent, jobs.iter().map(|j| ok(&j.id)).collect()).await.unwrap();
                    for (job, answer) in jobs.iter().zip(&answers) {
                        assert_eq!(answer.job_id, job.id, "answers in the order of the reports");
                        assert_eq!(answer.job.as_ref().map(|j| j.state), Some(JobState::Succeeded), "{answer:?}");
                    }
                    done.extend(jobs.into_iter().map(|j| j.id));
                }
                done
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let mut done = t.await.unwrap();
            done.sort();
            let mut expected = queued[i].clone();
            expected.sort();
            assert_eq!(done, expected, "[{}] node {i}'s agent did exactly its own jobs, each once", backend.name);
        }
        let (_, after) = w.works.job_write_batches();
        assert!(
            after - before >= (NODES * PER_NODE) as u64 + NODES as u64,
            "[{}] batched claims and every report went through the shared writer ({} writes)",
            backend.name,
            after - before
        );
        one_claim_and_one_end_recorded_per_job(&w, &queued, backend.name).await;
        let chain = w.works.audit_verify(admin).await.unwrap();
        assert!(chain.intact, "[{}] the chain is intact: {chain:?}", backend.name);
    }
}
