//! Test support: a real Anthropy Works server on `127.0.0.1:0` over a fresh store.
//!
//! ```no_run
//! # async fn t() {
//! let server = works_testkit::TestServer::start_sqlite().await;
//! let acme = server.create_org("Acme").await;
//! let alice = server.create_user("alice", works_core::Role::OrgAdmin, Some(&acme.id)).await;
//! let answer = server
//!     .client()
//!     .get(server.url("/api/v1/me"))
//!     .bearer_auth(&alice.token)
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(answer.status(), 200);
//! # }
//! ```
//!
//! Everything here panics with a plain message when the environment is broken: it is
//! for tests, where a panic is a failed test.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use works_core::{Actor, Bootstrap, NewOrg, NewUser, Org, Role, Store, User, Works};
use works_http::HttpConfig;

/// The first MSP admin every test server starts with.
pub const ADMIN_USERNAME: &str = "admin";
/// Its password.
pub const ADMIN_PASSWORD: &str = "admin-test-password-1";
/// The password of every user made by [`TestServer::create_user`].
pub const USER_PASSWORD: &str = "user-test-password-1";

/// A running server and a handle on its core.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub url: String,
    /// The same core the server uses, for setting up and checking state directly.
    pub works: Works,
    /// A bearer token of the `admin` user, from a real sign-in.
    pub admin_token: String,
    /// The `admin` user as an actor of the core.
    pub admin: Actor,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The database URL (for tests that open the store a second time).
    pub database_url: String,
    client: reqwest::Client,
    task: JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

/// A user made for a test, signed in through `POST /api/v1/auth/login`.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub user: User,
    pub password: String,
    /// A bearer token of an API session.
    pub token: String,
}

impl TestServer {
    /// A server over a new SQLite database in a temporary directory.
    pub async fn start_sqlite() -> TestServer {
        let (dir, store, url) = works_store::testing::fresh_sqlite().await;
        Self::start(store, url, Some(dir), HttpConfig::from_env()).await
    }

    /// A server over a new PostgreSQL database, or `None` when no test server is
    /// configured (`WORKS_TEST_POSTGRES_URL`; in CI a missing server is a panic).
    pub async fn start_postgres() -> Option<TestServer> {
        let (store, url) = works_store::testing::fresh_postgres().await?;
        Some(Self::start(store, url, None, HttpConfig::from_env()).await)
    }

    /// A server over `store` with `config`. `dir` is kept alive as long as the server.
    pub async fn start(
        store: Arc<dyn Store>,
        database_url: String,
        dir: Option<tempfile::TempDir>,
        config: HttpConfig,
    ) -> TestServer {
        let backend = store.backend();
        // Test Access goes through the real OpenSSH adapter (tests aim it at loopback only).
        let works = Works::new(store).with_master_key(&test_master_key()).with_access_probe(Arc::new(works_ssh::OpenSshProbe::new()));
        match works.bootstrap(Some(ADMIN_PASSWORD.to_owned())).await {
            Ok(Bootstrap::CreatedWithGivenPassword) => {}
            other => panic!("bootstrapping the test admin did not create it: {other:?}"),
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("could not bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener has no address");
        let router = works_http::router(works.clone(), config);
        let task = tokio::spawn(async move {
            if let Err(e) = works_http::serve(listener, router).await {
                eprintln!("the test server stopped: {e}");
            }
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("could not build an HTTP client");
        let mut server = TestServer {
            url: format!("http://{addr}"),
            works,
            admin_token: String::new(),
            admin: Actor::system(),
            backend,
            database_url,
            client,
            task,
            _dir: dir,
        };
        server.admin_token = server.login_token(ADMIN_USERNAME, ADMIN_PASSWORD).await;
        server.admin = server.works.authenticate(&server.admin_token).await.expect("the admin token does not work");
        server
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// An HTTP client that does not follow redirects and keeps no cookies, so tests see
    /// exactly what the server answers.
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// Signs in through `POST /api/v1/auth/login`; the status and JSON body as answered.
    pub async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("the login request did not reach the test server");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Signs in and returns the bearer token; panics when sign-in fails.
    pub async fn login_token(&self, username: &str, password: &str) -> String {
        match self.login(username, password).await {
            (StatusCode::OK, body) => body["token"].as_str().expect("the login answer has no token").to_owned(),
            (status, body) => panic!("signing in as {username} failed with {status}: {body}"),
        }
    }

    /// Creates an organization as the admin, through the core.
    pub async fn create_org(&self, name: &str) -> Org {
        self.works
            .org_create(&self.admin, NewOrg { name: name.to_owned() })
            .await
            .unwrap_or_else(|e| panic!("could not create organization {name}: {e}"))
    }

    /// Creates a user of `role` (in `org_id` for organization roles) as the admin,
    /// through the core, and signs them in through the HTTP API.
    pub async fn create_user(&self, username: &str, role: Role, org_id: Option<&str>) -> TestUser {
        let user = self
            .works
            .user_create(
                &self.admin,
                NewUser {
                    username: username.to_owned(),
                    display_name: None,
                    role,
                    org_id: org_id.map(str::to_owned),
                    password: USER_PASSWORD.to_owned(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("could not create user {username}: {e}"));
        let token = self.login_token(username, USER_PASSWORD).await;
        TestUser { user, password: USER_PASSWORD.to_owned(), token }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub use works_store::testing::test_master_key;
