//! Helpers: requests as a given bearer, and running one story on both backends.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use works_testkit::TestServer;

/// Requests sent with one bearer token (or none).
pub struct As<'a> {
    pub server: &'a TestServer,
    pub token: Option<String>,
}

pub fn as_admin(s: &TestServer) -> As<'_> {
    As { server: s, token: Some(s.admin_token.clone()) }
}

pub fn as_token<'a>(s: &'a TestServer, token: &str) -> As<'a> {
    As { server: s, token: Some(token.to_owned()) }
}

pub fn anonymous(s: &TestServer) -> As<'_> {
    As { server: s, token: None }
}

/// A status, and the body as JSON (`Null` when empty or not JSON), and its raw text.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// Asserts an error answer in the API's shape, of `kind`, and returns its `error`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, kind: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["error"]["kind"], kind, "body: {}", self.text);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()), "no message: {}", self.text);
        assert!(self.body["next_action"].as_str().is_some_and(|m| !m.is_empty()), "no next_action: {}", self.text);
        let _: works_core::Error = serde_json::from_value(self.body["error"].clone())
            .unwrap_or_else(|e| panic!("error does not decode as works_core::Error ({e}): {}", self.text));
        &self.body["error"]
    }

    /// Asserts `invalid_input` about `field`.
    #[track_caller]
    pub fn expect_invalid(&self, field: &str) {
        let e = self.expect_error(400, "invalid_input");
        assert_eq!(e["field"], field, "body: {}", self.text);
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        &self.body
    }
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, headers, body, text }
}

impl As<'_> {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.server.client().request(method, self.server.url(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(self.request(Method::GET, path).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        answer(self.request(Method::POST, path).json(&body).send().await.unwrap()).await
    }

    pub async fn post_empty(&self, path: &str) -> Answer {
        answer(self.request(Method::POST, path).send().await.unwrap()).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        answer(self.request(Method::PATCH, path).json(&body).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        answer(self.request(Method::DELETE, path).send().await.unwrap()).await
    }

    /// A request with a raw body and content type.
    pub async fn send_raw(&self, method: Method, path: &str, content_type: &str, body: &str) -> Answer {
        let r = self
            .request(method, path)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        answer(r).await
    }
}

/// The ids of a listing's items.
pub fn ids(listing: &Value) -> Vec<String> {
    listing["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

/// A well-formed id that names nothing.
pub fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Runs each named story (an `async fn(&TestServer)` in the calling module) on a fresh
/// SQLite server, and on a fresh PostgreSQL server when one is configured.
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let server = works_testkit::TestServer::start_sqlite().await;
                    super::$story(&server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    match works_testkit::TestServer::start_postgres().await {
                        Some(server) => super::$story(&server).await,
                        None => eprintln!("skipped on PostgreSQL: WORKS_TEST_POSTGRES_URL is not set"),
                    }
                }
            )*
        }
    };
}
