//! How PostgreSQL plans the statement that writes agents' claims and reports together,
//! when its statistics are out of date, as on a fresh install whose jobs table was
//! analyzed before any job was claimed, and with the generic plan a connection keeps
//! after a few executions (which expects ten rows from each array).
//!
//! Counts the rows the plan looks at, not time: a plan that compares every claimed job
//! with every report looks at millions where a lookup by key looks at thousands.

use sqlx::{Connection, Executor, Row};
use works_store::testing::{fresh_postgres, POSTGRES_SHARED_JOB_WRITE};

const NODES: usize = 40;
const QUEUED: usize = 3_000;
const CLAIMED: usize = 1_500;

/// The sum of a counter over every node of a JSON plan.
fn sum_of(plan: &serde_json::Value, counter: &str) -> f64 {
    match plan {
        serde_json::Value::Object(fields) => {
            fields.get(counter).and_then(serde_json::Value::as_f64).unwrap_or(0.0) + fields.values().map(|v| sum_of(v, counter)).sum::<f64>()
        }
        serde_json::Value::Array(items) => items.iter().map(|v| sum_of(v, counter)).sum(),
        _ => 0.0,
    }
}

fn text_array(items: &[String]) -> String {
    format!("ARRAY[{}]::text[]", items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(","))
}

#[tokio::test]
async fn reports_in_bulk_are_found_by_key_even_with_stale_statistics_and_a_generic_plan() {
    let Some((_store, url)) = fresh_postgres().await else {
        eprintln!("WORKS_TEST_POSTGRES_URL is not set: PostgreSQL is skipped");
        return;
    };
    let mut db = sqlx::PgConnection::connect(&url).await.expect("connect");
    db.execute(
        format!(
            "INSERT INTO nodes (id, name, created_at, updated_at) SELECT 'node-' || i, 'node ' || i, 0, 0 FROM generate_series(1, {NODES}) i; \
             INSERT INTO jobs (id, node_id, kind, risk, state, params, attempts, max_attempts, timeout_secs, requested_by, created_at, updated_at, expires_at) \
             SELECT 'job-' || i, 'node-' || (i % {NODES} + 1), 'health_check', 'safe', 'queued', '{{}}', 0, 1, 60, 'test', i, i, 9000000000000 \
             FROM generate_series(1, {QUEUED}) i; \
             ANALYZE jobs; \
             UPDATE jobs SET state = 'claimed', attempts = 1, claimed_at = 1 WHERE id IN (SELECT id FROM jobs ORDER BY id LIMIT {CLAIMED});"
        )
        .as_str(),
    )
    .await
    .expect("a table whose statistics say nothing is claimed");
    let claimed: Vec<(String, String)> =
        sqlx::query_as("SELECT id, node_id FROM jobs WHERE state = 'claimed' ORDER BY id").fetch_all(&mut db).await.expect("claimed jobs");
    assert_eq!(claimed.len(), CLAIMED);
    let ids: Vec<String> = claimed.iter().map(|(id, _)| id.clone()).collect();
    let nodes: Vec<String> = claimed.iter().map(|(_, node)| node.clone()).collect();
    let states = vec!["succeeded".to_owned(); CLAIMED];

    db.execute("SET plan_cache_mode = force_generic_plan").await.expect("generic plans");
    db.execute(
        format!(
            "PREPARE shared_write (text[], bigint[], bigint[], text[], text[], text[], text[], text[], text[], bigint[]) AS {POSTGRES_SHARED_JOB_WRITE}"
        )
        .as_str(),
    )
    .await
    .expect("prepare the statement");
    db.execute("BEGIN").await.expect("begin");
    let explain = format!(
        "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) EXECUTE shared_write (ARRAY[]::text[], ARRAY[]::bigint[], ARRAY[]::bigint[], {}, {}, {}, \
         array_fill(NULL::text, ARRAY[{CLAIMED}]), array_fill(NULL::text, ARRAY[{CLAIMED}]), array_fill(NULL::text, ARRAY[{CLAIMED}]), array_fill(5::bigint, ARRAY[{CLAIMED}]))",
        text_array(&ids),
        text_array(&nodes),
        text_array(&states)
    );
    let row = sqlx::query(&explain).fetch_one(&mut db).await.expect("explain the shared write");
    let plan: serde_json::Value = row.try_get(0).expect("a JSON plan");
    db.execute("ROLLBACK").await.expect("rollback");

    assert_eq!(plan[0]["Plan"]["Actual Rows"].as_f64(), Some(CLAIMED as f64), "every report ended its job: {plan}");
    let compared = sum_of(&plan, "Rows Removed by Join Filter") + sum_of(&plan, "Rows Removed by Filter");
    assert!(
        compared < (CLAIMED * 10) as f64,
        "{compared} rows were looked at and passed over for {CLAIMED} reports; each report should find its job by key: {plan:#}"
    );
}
