//! Metrics history: samples are taken at most once per interval (also by two servers at
//! once), count the fleet as it is, are kept seven days and then pruned, and are read by
//! MSP roles only. Runs on SQLite and PostgreSQL.

use chrono::Duration;
use works_core::history::{RETENTION_DAYS, SAMPLE_EVERY_SECS};
use works_core::{CheckIn, Clock, EnrollRequest, Error, HealthState, HistoryQuery, NewNode, NodeHealth, Works};
use works_guarantees::{backends, World};

#[tokio::test]
async fn samples_are_taken_once_per_interval_counted_kept_and_pruned() {
    for backend in backends().await {
        let name = backend.name;
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;

        // A node online: healthy, one node online, two organizations.
        let node = w.works.node_create(admin, NewNode { name: "acme-web-01".into(), org_id: Some(w.org_a.id.clone()) }).await.unwrap();
        let token = w.works.enrollment_token_create(admin, &node.id).await.unwrap();
        let cred = w.works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.unwrap();
        let agent = w.works.authenticate_agent(&cred.credential).await.unwrap();
        let health = NodeHealth { agent_version: "test".into(), docker_reachable: true, ..Default::default() };
        w.works.agent_checkin(&agent, CheckIn { health, containers: None }).await.unwrap();

        let first = w.works.sample_metrics().await.unwrap().expect("the first sample is stored");
        assert_eq!(first.state, HealthState::Healthy, "[{name}]");
        assert_eq!(first.counts.orgs, 2, "[{name}]");
        assert_eq!(first.counts.nodes.get("online"), Some(&1), "[{name}] {:?}", first.counts);
        assert_eq!(first.counts.issues, 0, "[{name}]");

        // Within the interval: nothing new, from this server or another.
        w.clock.advance(Duration::seconds(SAMPLE_EVERY_SECS / 2));
        let other = Works::new(backend.store.clone()).with_clock(w.clock.clone());
        assert_eq!(w.works.sample_metrics().await.unwrap(), None, "[{name}]");
        assert_eq!(other.sample_metrics().await.unwrap(), None, "[{name}]");

        // Past it, with the node gone quiet: degraded, one issue, one stale node. Two
        // servers sampling at the same moment store one sample.
        w.clock.advance(Duration::seconds(SAMPLE_EVERY_SECS * 2));
        let (a, b) = tokio::join!(w.works.sample_metrics(), other.sample_metrics());
        let stored: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(stored.len(), 1, "[{name}] one sample per moment");
        assert_eq!(stored[0].state, HealthState::Degraded, "[{name}]");
        assert_eq!((stored[0].counts.issues, stored[0].counts.nodes.get("stale")), (1, Some(&1)), "[{name}] {:?}", stored[0].counts);

        let history = w.works.metrics_history(&w.msp_operator.actor, HistoryQuery { hours: Some(1) }).await.unwrap();
        assert_eq!(history.samples.len(), 2, "[{name}]");
        assert!(history.samples[0].at < history.samples[1].at, "[{name}] oldest first");
        assert_eq!(history.samples[0], first, "[{name}] read back as stored");

        // Eight days later: the next sample prunes everything older than seven days.
        w.clock.advance(Duration::days(RETENTION_DAYS + 1));
        w.works.sample_metrics().await.unwrap().expect("a new sample");
        let week = w.works.metrics_history(admin, HistoryQuery { hours: Some(24 * 7) }).await.unwrap();
        assert_eq!(week.samples.len(), 1, "[{name}]");
        let raw = backend.store.list_samples(first.at - Duration::days(1), w.clock.now(), 100).await.unwrap();
        assert_eq!(raw.len(), 1, "[{name}] the old samples are gone from the store, not just out of the window");

        // Only MSP roles read it; the window is checked.
        for who in [&w.a_admin, &w.a_user, &w.b_admin] {
            let e = w.works.metrics_history(&who.actor, HistoryQuery::default()).await.unwrap_err();
            assert!(matches!(e, Error::Forbidden { .. }), "[{name}] {e:?}");
        }
        for hours in [0, 24 * 7 + 1] {
            let e = w.works.metrics_history(admin, HistoryQuery { hours: Some(hours) }).await.unwrap_err();
            assert_eq!(e.field(), Some("hours"), "[{name}] {e}");
        }
    }
}
