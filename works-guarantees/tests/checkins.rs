//! Check-in ingest at fleet scale: check-ins arriving together are written together and
//! each lands on its own node only; a missing node does not cost the others their
//! check-in; past its bound a server turns agents away with advice, not an error. Runs
//! on SQLite and PostgreSQL.

use works_core::nodes::CheckinWrite;
use works_core::{AgentIdentity, CheckIn, Container, CoreConfig, EnrollRequest, Error, NewNode, Node, NodeHealth, NodeStatus};
use works_guarantees::{backends, World};

async fn enrolled_node(w: &World, name: &str, org: &str) -> (Node, AgentIdentity) {
    let admin = &w.msp_admin.actor;
    let node = w.works.node_create(admin, NewNode { name: name.into(), org_id: Some(org.into()) }).await.unwrap();
    let token = w.works.enrollment_token_create(admin, &node.id).await.unwrap();
    let cred = w
        .works
        .agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: Some("test".into()) })
        .await
        .unwrap();
    let agent = w.works.authenticate_agent(&cred.credential).await.unwrap();
    (node, agent)
}

fn health_of(name: &str) -> NodeHealth {
    NodeHealth { agent_version: format!("v-{name}"), uptime_secs: name.len() as u64, docker_reachable: true, ..Default::default() }
}

fn container(name: &str) -> Container {
    serde_json::from_value(serde_json::json!({
        "id": format!("c-{name}"), "name": name, "image": "busybox:1", "state": "running", "health": null
    }))
    .expect("a container")
}

#[tokio::test]
async fn check_ins_arriving_together_are_written_together_each_on_its_own_node() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let mut fleet = Vec::new();
        for i in 0..40 {
            let org = if i % 2 == 0 { w.org_a.id.clone() } else { w.org_b.id.clone() };
            fleet.push(enrolled_node(&w, &format!("batch-{i:02}"), &org).await);
        }
        let (batches_before, written_before) = w.works.checkin_batches();
        let mut checkins = tokio::task::JoinSet::new();
        for (node, agent) in &fleet {
            let containers = if node.name.ends_with('0') { Some(vec![container(&format!("{}-app", node.name))]) } else { None };
            let (works, agent, health) = (w.works.clone(), agent.clone(), health_of(&node.name));
            checkins.spawn(async move { works.agent_checkin(&agent, CheckIn { health, containers }).await });
        }
        while let Some(result) = checkins.join_next().await {
            result.unwrap().unwrap_or_else(|e| panic!("[{}] a check-in failed: {e}", backend.name));
        }
        let (batches, written) = w.works.checkin_batches();
        assert_eq!(written - written_before, 40, "[{}] every check-in written once", backend.name);
        assert!(batches - batches_before < 40, "[{}] check-ins arriving together share transactions: {} batches", backend.name, batches - batches_before);

        for (node, _) in &fleet {
            let org_admin = if node.org_id.as_deref() == Some(w.org_a.id.as_str()) { &w.a_admin } else { &w.b_admin };
            let seen = w.works.node_get(&org_admin.actor, &node.id).await.unwrap();
            assert_eq!(seen.status, NodeStatus::Online, "[{}] {}", backend.name, node.name);
            assert_eq!(seen.health.as_ref().map(|h| h.agent_version.clone()), Some(format!("v-{}", node.name)), "[{}] each health lands on its own node", backend.name);
            let inventory = backend.store.get_inventory(&node.id).await.unwrap();
            if node.name.ends_with('0') {
                assert_eq!(inventory.map(|c| c[0].name.clone()), Some(format!("{}-app", node.name)), "[{}]", backend.name);
            } else {
                assert_eq!(inventory, None, "[{}] no inventory sent, none stored", backend.name);
            }
            // Tenancy is untouched by batching: the other organization still cannot see it.
            let other = if org_admin.actor.org_id == w.a_admin.actor.org_id { &w.b_admin } else { &w.a_admin };
            assert!(matches!(w.works.node_get(&other.actor, &node.id).await, Err(Error::NotFound { .. })), "[{}]", backend.name);
        }
    }
}

#[tokio::test]
async fn a_missing_node_in_a_batch_leaves_the_others_recorded() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let (one, _) = enrolled_node(&w, "kept-1", &w.org_a.id).await;
        let (two, _) = enrolled_node(&w, "kept-2", &w.org_b.id).await;
        let at = chrono::Utc::now();
        let write = |id: &str, name: &str| CheckinWrite { node_id: id.into(), credential_hash: None, at, health: health_of(name), containers: None };
        let found = backend
            .store
            .record_checkins(&[write(&one.id, "kept-1"), write("no-such-node", "ghost"), write(&two.id, "kept-2")])
            .await
            .unwrap();
        assert_eq!(found, vec![true, false, true], "[{}]", backend.name);
        for (node, name) in [(&one, "kept-1"), (&two, "kept-2")] {
            let stored = backend.store.get_node(&node.id).await.unwrap().unwrap();
            assert_eq!(stored.health.map(|h| h.agent_version), Some(format!("v-{name}")), "[{}]", backend.name);
        }
    }
}

#[tokio::test]
async fn past_its_bound_a_server_advises_agents_when_to_come_back() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let works = w.works.clone().with_config(CoreConfig { checkin_max_in_flight: 2, checkin_retry_max_secs: 9, ..CoreConfig::default() });
        let first = works.checkin_admission().unwrap();
        let second = works.checkin_admission().unwrap();
        assert_eq!(works.checkins_in_flight(), 2);
        for _ in 0..20 {
            match works.checkin_admission() {
                Err(Error::RateLimited { retry_after_secs, message }) => {
                    assert!((1..=9).contains(&retry_after_secs), "{retry_after_secs}");
                    assert!(message.contains(&format!("in {retry_after_secs} seconds")) && message.contains("Nothing is lost"), "{message}");
                }
                other => panic!("[{}] a third check-in at once should be turned away, got {:?}", backend.name, other.map(|_| ())),
            }
        }
        assert_eq!(works.checkins_in_flight(), 2, "turned-away check-ins hold no place");
        drop(first);
        let third = works.checkin_admission().expect("a place came free");
        drop((second, third));
        assert_eq!(works.checkins_in_flight(), 0);
        // An agent admitted checks in as usual.
        let (node, agent) = enrolled_node(&w, "admitted", &w.org_a.id).await;
        let _place = works.checkin_admission().unwrap();
        works.agent_checkin(&agent, CheckIn { health: health_of("admitted"), containers: None }).await.unwrap();
        assert_eq!(works.node_get(&w.a_admin.actor, &node.id).await.unwrap().status, NodeStatus::Online);
    }
}

#[tokio::test]
async fn a_remembered_credential_is_refused_at_the_next_check_in_once_revoked_or_retired() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let check_in = |name: &str| CheckIn { health: health_of(name), containers: None };
        let enroll = |node_id: String| {
            let works = w.works.clone();
            let admin = admin.clone();
            async move {
                let token = works.enrollment_token_create(&admin, &node_id).await.unwrap();
                works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap().credential
            }
        };
        let a = w.works.node_create(admin, NewNode { name: "remembered-a".into(), org_id: Some(w.org_a.id.clone()) }).await.unwrap();
        let b = w.works.node_create(admin, NewNode { name: "remembered-b".into(), org_id: Some(w.org_b.id.clone()) }).await.unwrap();
        let (cred_a, cred_b) = (enroll(a.id.clone()).await, enroll(b.id.clone()).await);

        // Twice each: the second is answered from memory.
        for _ in 0..2 {
            w.works.agent_checkin_with_credential(&cred_a, check_in("a")).await.unwrap();
            w.works.agent_checkin_with_credential(&cred_b, check_in("b")).await.unwrap();
        }
        let health = |id: String| {
            let store = backend.store.clone();
            async move { store.get_node(&id).await.unwrap().unwrap().health.map(|h| h.agent_version) }
        };
        assert_eq!(health(a.id.clone()).await, Some("v-a".into()), "[{}] A's check-in lands on A only", backend.name);
        assert_eq!(health(b.id.clone()).await, Some("v-b".into()), "[{}] B's check-in lands on B only", backend.name);

        // Revoked from outside this server's memory (straight in the store, as another
        // server sharing the database would): refused at the next check-in all the same.
        let audit = works_core::audit::AuditDraft {
            at: chrono::Utc::now(),
            actor_id: "test".into(),
            actor_name: "test".into(),
            org_id: a.org_id.clone(),
            action: "agent.revoke".into(),
            target_kind: "node".into(),
            target_id: Some(a.id.clone()),
            outcome: works_core::Outcome::Succeeded,
            reason: "revoked by another server".into(),
        };
        backend.store.revoke_agent_credentials(&a.id, chrono::Utc::now(), audit).await.unwrap();
        let refused = w.works.agent_checkin_with_credential(&cred_a, check_in("a-again")).await;
        assert!(matches!(refused, Err(Error::Unauthenticated { .. })), "[{}] {refused:?}", backend.name);
        assert_eq!(health(a.id.clone()).await, Some("v-a".into()), "[{}] a refused check-in writes nothing", backend.name);
        // B is untouched; then B's node is retired through the core and B is refused too.
        w.works.agent_checkin_with_credential(&cred_b, check_in("b")).await.unwrap();
        w.works.node_retire(admin, &b.id).await.unwrap();
        let refused = w.works.agent_checkin_with_credential(&cred_b, check_in("b-retired")).await;
        assert!(matches!(refused, Err(Error::Unauthenticated { .. })), "[{}] {refused:?}", backend.name);
        // Enrolling again gives a credential that works, and the old one stays refused.
        let fresh = enroll(a.id.clone()).await;
        w.works.agent_checkin_with_credential(&fresh, check_in("a-fresh")).await.unwrap();
        assert_eq!(health(a.id.clone()).await, Some("v-a-fresh".into()), "[{}]", backend.name);
        assert!(w.works.agent_checkin_with_credential(&cred_a, check_in("a-old")).await.is_err());
        assert!(w.works.agent_checkin_with_credential("wka_unknown", check_in("x")).await.is_err());
        assert!(w.works.agent_checkin_with_credential("not-an-agent-credential", check_in("x")).await.is_err());
    }
}

#[tokio::test]
async fn a_fleet_wide_outage_is_counted_in_one_issue_past_the_first_nodes_listed() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let over = 12;
        let mut fleet = Vec::new();
        for i in 0..works_core::health::MAX_NODE_ISSUES + over {
            let (node, agent) = enrolled_node(&w, &format!("outage-{i:03}"), &w.org_a.id).await;
            w.works.agent_checkin(&agent, CheckIn { health: health_of("x"), containers: None }).await.unwrap();
            fleet.push(node);
        }
        w.clock.advance(chrono::Duration::minutes(30));
        let report = w.works.health(&w.a_admin.actor).await.unwrap();
        let one_by_one = report.issues.iter().filter(|i| i.id.starts_with("node-offline:")).count();
        assert_eq!(one_by_one, works_core::health::MAX_NODE_ISSUES, "[{}]", backend.name);
        let counted = report.issues.iter().find(|i| i.id == "nodes-offline:more").unwrap_or_else(|| panic!("[{}] no counted issue", backend.name));
        assert_eq!(counted.title, format!("{over} more nodes are offline"));
        assert_eq!(counted.detail["count"], over);
        assert_eq!(counted.severity, works_core::HealthState::Critical, "no node is online at all");
        // Organization B has none of it.
        let b = w.works.health(&w.b_admin.actor).await.unwrap();
        assert!(b.issues.iter().all(|i| !i.id.starts_with("node")), "[{}] {:?}", backend.name, b.issues.iter().map(|i| &i.id).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn in_one_batch_each_check_in_is_judged_by_its_own_credential() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        let node = w.works.node_create(admin, NewNode { name: "judged".into(), org_id: Some(w.org_a.id.clone()) }).await.unwrap();
        let other = w.works.node_create(admin, NewNode { name: "judged-other".into(), org_id: Some(w.org_b.id.clone()) }).await.unwrap();
        let mut creds = Vec::new();
        for id in [&node.id, &other.id] {
            let token = w.works.enrollment_token_create(admin, id).await.unwrap();
            creds.push(w.works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap().credential);
        }
        let hash = |c: &str| Some(works_core::secret::hash_secret(c));
        let at = chrono::Utc::now();
        let write = |id: &str, credential_hash: Option<String>, name: &str| CheckinWrite { node_id: id.into(), credential_hash, at, health: health_of(name), containers: None };
        let found = backend
            .store
            .record_checkins(&[
                // Another node's credential does not write this node, first or second in the batch.
                write(&node.id, hash(&creds[1]), "borrowed"),
                write(&node.id, hash(&creds[0]), "own"),
                write(&node.id, hash("wka_made-up"), "made-up"),
                write(&other.id, hash(&creds[1]), "other-own"),
                write(&other.id, hash(&creds[0]), "other-borrowed"),
            ])
            .await
            .unwrap();
        assert_eq!(found, vec![false, true, false, true, false], "[{}]", backend.name);
        let health = |id: &str| {
            let (store, id) = (backend.store.clone(), id.to_owned());
            async move { store.get_node(&id).await.unwrap().unwrap().health.map(|h| h.agent_version) }
        };
        assert_eq!(health(&node.id).await, Some("v-own".into()), "[{}]", backend.name);
        assert_eq!(health(&other.id).await, Some("v-other-own".into()), "[{}]", backend.name);
    }
}
