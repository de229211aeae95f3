//! `works-bench map --objects 5000`: a fleet of about that many map objects
//! (organizations, nodes, OpenClaw instances; a few nodes quiet so hotspots show), served
//! by a real `works serve` process, opened in headless Chromium through chromedriver
//! (spoken to over the plain WebDriver protocol). Reports the time of `GET /api/v1/map`,
//! the time to first render of the Command Center (navigation start to the map drawn,
//! measured in the page with `performance.now`), and the mean and 95th-percentile frame
//! time while panning (one `requestAnimationFrame` per frame, the same pan a drag does),
//! at the overview and at the detail zoom.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use works_core::{CheckIn, Container, EnrollRequest, NewNode, NewOrg, NodeHealth, Works};

const PASSWORD: &str = "benchmark-admin-password";
const INSTANCES_PER_NODE: usize = 4;

pub async fn run(objects: usize, database: Option<String>, works_bin: Option<PathBuf>, chromedriver: Option<PathBuf>, frames: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, backend) = match &database {
        Some(admin) => (crate::fresh_postgres(admin).await?, "postgres"),
        None => (works_store::sqlite_url_for_dir(dir.path()), "sqlite"),
    };

    // The fleet, through the core, directly on the database.
    let seeding = Instant::now();
    let store = works_store::open(&url).await.map_err(|e| anyhow!("{e}"))?;
    let works = Works::new(store.clone());
    works.bootstrap(Some(PASSWORD.into())).await.map_err(|e| anyhow!("{e}"))?;
    let admin = works.local_actor("admin").await.map_err(|e| anyhow!("{e}"))?;
    let orgs_n = (objects / 100).max(1);
    let nodes_n = ((objects.saturating_sub(orgs_n)) / (1 + INSTANCES_PER_NODE)).max(1);
    let mut orgs = Vec::new();
    for o in 0..orgs_n {
        orgs.push(works.org_create(&admin, NewOrg { name: format!("Customer {o:03}") }).await.map_err(|e| anyhow!("{e}"))?.id);
    }
    let health = NodeHealth { agent_version: "bench".into(), docker_reachable: true, ..Default::default() };
    for n in 0..nodes_n {
        let org = orgs.get(n % orgs.len()).cloned();
        let node = works.node_create(&admin, NewNode { name: format!("node-{n:05}"), org_id: org }).await.map_err(|e| anyhow!("{e}"))?;
        let token = works.enrollment_token_create(&admin, &node.id).await.map_err(|e| anyhow!("{e}"))?;
        let cred = works.agent_enroll(EnrollRequest { token: token.token, hostname: None, agent_version: None }).await.map_err(|e| anyhow!("{e}"))?;
        let agent = works.authenticate_agent(&cred.credential).await.map_err(|e| anyhow!("{e}"))?;
        let containers = (0..INSTANCES_PER_NODE)
            .map(|i| Container {
                id: format!("c{n}x{i}"),
                name: format!("openclaw-{n:05}-{i}"),
                image: "anthropy/openclaw:2026.9.6".into(),
                state: "running".into(),
                health: Some(if (n + i) % 97 == 0 { "unhealthy" } else { "healthy" }.into()),
                labels: Default::default(),
                ports: vec![],
                mounts: vec![],
            })
            .collect();
        works.agent_checkin(&agent, CheckIn { health: health.clone(), containers: Some(containers) }).await.map_err(|e| anyhow!("{e}"))?;
        if n % 50 == 7 {
            // Quiet for two and a half minutes: a stale node, a hotspot on the map.
            store
                .record_checkin(&node.id, chrono_now_minus(150), &health, None)
                .await
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    let seeded = seeding.elapsed();

    // The server, as its own process.
    let (mut server, base) = crate::start_server(works_bin, dir.path(), &url).await?;

    // The API alone.
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["token"].as_str().ok_or_else(|| anyhow!("no token in the sign-in answer: {login}"))?.to_owned();
    let mut api = Vec::new();
    let mut counted = 0;
    let mut hotspots = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let map: Value = http.get(format!("{base}/api/v1/map")).bearer_auth(&token).send().await?.error_for_status()?.json().await?;
        api.push(t.elapsed().as_secs_f64() * 1000.0);
        counted = map["nodes"].as_array().map(Vec::len).unwrap_or(0);
        hotspots = map["hotspots"].as_array().map(Vec::len).unwrap_or(0);
    }

    // The page, in headless Chromium.
    let driver_bin = chromedriver.unwrap_or_else(|| PathBuf::from("chromedriver"));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let _driver = tokio::process::Command::new(&driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", driver_bin.display()))?;
    let wd = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        bail!("chromedriver did not start listening within 10 seconds");
    }
    let profile = tempfile::tempdir()?;
    let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": { "args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--window-size=1600,1000",
        format!("--user-data-dir={}", profile.path().display()),
    ] } } } });
    let session: Value = http.post(format!("{wd}/session")).json(&caps).send().await?.json().await?;
    let sid = session["value"]["sessionId"].as_str().ok_or_else(|| anyhow!("chromedriver did not open a session: {session}"))?.to_owned();
    let s = format!("{wd}/session/{sid}");
    let cmd = |path: &str, body: Value| {
        let http = http.clone();
        let url = format!("{s}/{path}");
        async move {
            let v: Value = http.post(url).json(&body).send().await?.json().await?;
            if v["value"].get("error").is_some() {
                bail!("WebDriver: {}", v["value"]);
            }
            Ok::<Value, anyhow::Error>(v["value"].clone())
        }
    };
    cmd("timeouts", json!({ "script": 120_000, "pageLoad": 120_000 })).await?;
    cmd("url", json!({ "url": format!("{base}/login") })).await?;
    cmd(
        "execute/sync",
        json!({ "script": "document.getElementById('username').value = arguments[0]; document.getElementById('password').value = arguments[1]; document.querySelector('form[action=\"/login\"]').submit(); return true;", "args": ["admin", PASSWORD] }),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut first = Vec::new();
    let mut drawn = 0u64;
    for _ in 0..3 {
        cmd("url", json!({ "url": format!("{base}/") })).await?;
        let v = cmd(
            "execute/async",
            json!({ "script": "const done = arguments[arguments.length - 1]; (function wait() { const cc = document.getElementById('cc'); const t = cc && cc.getAttribute('data-first-render-ms'); if (t) done([Number(t), document.querySelectorAll('#cc-objects .cc-obj').length]); else setTimeout(wait, 20); })();", "args": [] }),
        )
        .await
        .context("waiting for the first render")?;
        first.push(v[0].as_f64().unwrap_or_default());
        drawn = v[1].as_u64().unwrap_or_default();
    }

    let pan = r#"const level = arguments[0], frames = arguments[1], done = arguments[arguments.length - 1];
        document.querySelector('[data-zoom=' + level + ']').click();
        const times = []; let last = 0, n = 0;
        function step(t) { if (last) times.push(t - last); last = t; window.commandCenter.panBy(n % 120 < 60 ? 4 : -4, 2 * (n % 60 < 30 ? 1 : -1)); n += 1; if (n <= frames) requestAnimationFrame(step); else done(times); }
        setTimeout(function () { requestAnimationFrame(step); }, 300);"#;
    let mut report = Vec::new();
    let mut overview_mean = 0.0;
    for level in ["overview", "detail"] {
        let t = Instant::now();
        let v = cmd("execute/async", json!({ "script": pan, "args": [level, frames] })).await.with_context(|| format!("panning at the {level} zoom"))?;
        eprintln!("panned at the {level} zoom in {:.1}s", t.elapsed().as_secs_f64());
        let mut times: Vec<f64> = v.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        let p95 = times.get(((times.len() as f64 * 0.95) as usize).min(times.len().saturating_sub(1))).copied().unwrap_or_default();
        report.push(format!("pan_{level}_mean={mean:.1}ms pan_{level}_p95={p95:.1}ms"));
        if level == "overview" {
            overview_mean = mean;
        }
    }
    let _ = http.delete(&s).send().await;
    let _ = server.kill().await;
    if let Some(admin_url) = &database {
        crate::drop_postgres(admin_url).await;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or_default()
    };
    println!(
        "map backend={backend} objects={counted} drawn={drawn} hotspots={hotspots} seeded_in={:.1}s api_median={:.0}ms first_render_median={:.0}ms first_render_runs={:?} frames={frames} {}",
        seeded.as_secs_f64(),
        median(&mut api),
        median(&mut first.clone()),
        first.iter().map(|f| f.round() as u64).collect::<Vec<_>>(),
        report.join(" "),
    );
    println!(
        "headline: panning the overview of {counted} objects = {:.2}x the display's 16.7 ms frame ({overview_mean:.1} ms mean frame)",
        overview_mean / (1000.0 / 60.0)
    );
    Ok(())
}

fn chrono_now_minus(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::seconds(secs)
}
