//! The agent's side of the agent API under `/api/v1/agent`: enrollment without a
//! credential, everything else with `Authorization: Bearer wka_…`. Errors come back as
//! the server's own [`works_core::Error`]s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use works_core::{AgentCredential, CheckIn, CheckInReply, EnrollRequest, Error, Job, JobReport, Result};

/// The error body every non-success answer of the API carries.
#[derive(Deserialize)]
struct ErrorBody {
    error: Error,
}

/// A connection to the server, as one node's agent. With several servers sharing one
/// database, the agent may be given more than one address: it talks to one at a time
/// and moves to the next when the one it uses cannot be reached (the request never
/// got there, so sending it elsewhere cannot do anything twice).
#[derive(Clone)]
pub struct AgentClient {
    /// The enrolled server: the first of `bases`.
    primary: Url,
    bases: Arc<Vec<Url>>,
    /// The index in `bases` of the server in use.
    current: Arc<AtomicUsize>,
    credential: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bases: Vec<&str> = self.bases.iter().map(Url::as_str).collect();
        f.debug_struct("AgentClient").field("servers", &bases).field("credential", &"<hidden>").finish()
    }
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // Longer than the longest claim the server holds open (30 s).
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("works-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::internal(format!("Could not set up the HTTP client: {e}")))
}

impl AgentClient {
    /// A client presenting `credential` to the server at `server`.
    pub fn new(server: &str, credential: impl Into<String>) -> Result<Self> {
        Self::with_fallbacks(server, &[], credential)
    }

    /// A client using `server` first and the `fallbacks` in order when the server in use
    /// cannot be reached. The same address twice is kept once.
    pub fn with_fallbacks(server: &str, fallbacks: &[String], credential: impl Into<String>) -> Result<Self> {
        let first = works_client::parse_base_url(server)?;
        let mut bases = vec![first.clone()];
        for other in fallbacks {
            let url = works_client::parse_base_url(other).map_err(|e| match e {
                Error::InvalidInput { problem, .. } => Error::invalid("fallback_server", format!("{}: {problem}", other.trim())),
                e => e,
            })?;
            if !bases.contains(&url) {
                bases.push(url);
            }
        }
        Ok(AgentClient { primary: bases.first().cloned().unwrap_or_else(|| first.clone()), bases: Arc::new(bases), current: Arc::new(AtomicUsize::new(0)), credential: credential.into(), http: http_client()? })
    }

    /// Every server address this client may use, the first one first.
    pub fn servers(&self) -> Vec<String> {
        self.bases.iter().map(|b| b.as_str().trim_end_matches('/').to_owned()).collect()
    }

    /// Exchanges a one-time enrollment token for the agent's own credential.
    pub async fn enroll(server: &str, input: &EnrollRequest) -> Result<AgentCredential> {
        let client = AgentClient::new(server, String::new())?;
        client.json(client.request(Method::POST, &["enroll"])?.json(input)).await
    }

    /// The server's address as people write it.
    /// The server in use.
    pub fn server(&self) -> String {
        self.base().as_str().trim_end_matches('/').to_owned()
    }

    fn base(&self) -> &Url {
        self.base_at(self.current.load(Ordering::Relaxed))
    }

    fn base_at(&self, index: usize) -> &Url {
        self.bases.get(index % self.bases.len().max(1)).unwrap_or(&self.primary)
    }

    /// Reports health, and the inventory when it is given.
    pub async fn checkin(&self, input: &CheckIn) -> Result<CheckInReply> {
        self.json(self.request(Method::POST, &["checkin"])?.json(input)).await
    }

    /// Asks for the next job of this node, waiting up to `wait` for one to arrive.
    pub async fn claim(&self, wait: Duration) -> Result<Option<Job>> {
        let builder = self.request(Method::POST, &["jobs", "claim"])?.query(&[("wait_secs", wait.as_secs())]);
        let response = self.send(builder).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        self.decode(response).await.map(Some)
    }

    pub async fn start(&self, job_id: &str) -> Result<Job> {
        self.json(self.request(Method::POST, &["jobs", job_id, "start"])?).await
    }

    /// Says the job is still being worked on. A conflict means: stop working on it.
    pub async fn heartbeat(&self, job_id: &str) -> Result<Job> {
        self.json(self.request(Method::POST, &["jobs", job_id, "heartbeat"])?).await
    }

    pub async fn complete(&self, job_id: &str, report: &JobReport) -> Result<Job> {
        self.json(self.request(Method::POST, &["jobs", job_id, "complete"])?.json(report)).await
    }

    /// The gateway token of the instance a deploy job creates (only while running it).
    pub async fn gateway_token(&self, job_id: &str) -> Result<works_core::openclaw::GatewayToken> {
        #[derive(serde::Deserialize)]
        struct Answer {
            token: String,
        }
        let answer: Answer = self.json(self.request(Method::POST, &["jobs", job_id, "gateway-token"])?).await?;
        Ok(works_core::openclaw::GatewayToken::from_secret(answer.token))
    }

    fn request(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        let mut url = self.base().clone();
        {
            let mut path =
                url.path_segments_mut().map_err(|_| Error::invalid("server", "cannot be used as a base address"))?;
            path.pop_if_empty().extend(["api", "v1", "agent"]).extend(segments);
        }
        let builder = self.http.request(method, url).header(reqwest::header::ACCEPT, "application/json");
        Ok(if self.credential.is_empty() { builder } else { builder.bearer_auth(&self.credential) })
    }

    async fn send(&self, builder: RequestBuilder) -> Result<Response> {
        let response = self.send_with_failover(builder).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_from(response).await)
    }

    /// Sends the request to the server in use; when it cannot be reached (no connection
    /// was made, so the request did nothing there), to the next one, and so on once
    /// round the list. The server that answers becomes the one in use.
    async fn send_with_failover(&self, builder: RequestBuilder) -> Result<Response> {
        let request = builder.build().map_err(|e| Error::internal(format!("Could not build the request: {e}")))?;
        let count = self.bases.len().max(1);
        let first = self.current.load(Ordering::Relaxed) % count;
        let mut last_error = None;
        for step in 0..count {
            let index = (first + step) % count;
            let Some(mut attempt) = request.try_clone() else {
                return self.http.execute(request).await.map_err(|e| self.transport_error(&e));
            };
            *attempt.url_mut() = rebase(request.url(), self.base_at(first), self.base_at(index));
            match self.http.execute(attempt).await {
                Ok(response) => {
                    if index != first && self.current.compare_exchange(first, index, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                        tracing::warn!(
                            from = %self.base_at(first).as_str().trim_end_matches('/'),
                            to = %self.base_at(index).as_str().trim_end_matches('/'),
                            "the server in use could not be reached; the agent now talks to the next one"
                        );
                    }
                    return Ok(response);
                }
                Err(e) if e.is_connect() && count > 1 => {
                    tracing::debug!(server = %self.base_at(index).as_str(), error = %e, "server unreachable; trying the next one");
                    last_error = Some(self.transport_error_at(&e, self.base_at(index)));
                }
                Err(e) => return Err(self.transport_error_at(&e, self.base_at(index))),
            }
        }
        Err(match last_error {
            Some(Error::Unavailable { message, .. }) if count > 1 => {
                Error::unavailable(format!("None of the {count} servers could be reached; the last one said: {message}"))
            }
            Some(e) => e,
            None => Error::internal("No server address is configured."),
        })
    }

    async fn json<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T> {
        let response = self.send(builder).await?;
        self.decode(response).await
    }

    async fn decode<T: DeserializeOwned>(&self, response: Response) -> Result<T> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        serde_json::from_slice(&bytes).map_err(|_| {
            Error::internal(format!(
                "The server at {} answered HTTP {} with a body this agent does not understand; check that the agent and the server are the same version.",
                self.server(),
                status.as_u16()
            ))
        })
    }

    async fn error_from(&self, response: Response) -> Error {
        let status = response.status();
        let described = match response.bytes().await {
            Ok(bytes) => serde_json::from_slice::<ErrorBody>(&bytes).ok().map(|b| b.error),
            Err(_) => None,
        };
        described.unwrap_or_else(|| {
            let text = format!(
                "The server at {} answered HTTP {} {} without an error description; check that the address points at an Anthropy Works server.",
                self.server(),
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            match status {
                StatusCode::UNAUTHORIZED => Error::unauthenticated(text),
                s if s.is_server_error() => Error::unavailable(text),
                _ => Error::internal(text),
            }
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> Error {
        self.transport_error_at(e, self.base())
    }

    fn transport_error_at(&self, e: &reqwest::Error, base: &Url) -> Error {
        let base = base.as_str().trim_end_matches('/');
        if e.is_timeout() {
            return Error::unavailable(format!("The Anthropy Works server at {base} did not answer in time."));
        }
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        Error::unavailable(format!("Cannot reach the Anthropy Works server at {base}: {cause}"))
    }
}

/// `url`, built on `from`, moved onto `to`: the same path after the base's own, and the
/// same query.
fn rebase(url: &Url, from: &Url, to: &Url) -> Url {
    if from == to {
        return url.clone();
    }
    let rest = url.path().strip_prefix(from.path().trim_end_matches('/')).unwrap_or(url.path());
    let mut moved = to.clone();
    moved.set_path(&format!("{}{rest}", to.path().trim_end_matches('/')));
    moved.set_query(url.query());
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_moves_to_another_server_with_its_path_and_query() {
        let from = Url::parse("http://10.0.0.1:8080/").unwrap();
        let to = Url::parse("https://works.example/prefix/").unwrap();
        let url = Url::parse("http://10.0.0.1:8080/api/v1/agent/jobs/claim?wait_secs=25").unwrap();
        assert_eq!(rebase(&url, &from, &to).as_str(), "https://works.example/prefix/api/v1/agent/jobs/claim?wait_secs=25");
        assert_eq!(rebase(&url, &from, &from), url);
    }

    #[test]
    fn fallbacks_are_checked_and_kept_once() {
        let c = AgentClient::with_fallbacks("http://a:1", &["http://b:2".into(), "http://a:1/".into()], "wka_x").unwrap();
        assert_eq!(c.servers(), vec!["http://a:1".to_owned(), "http://b:2".to_owned()]);
        let err = AgentClient::with_fallbacks("http://a:1", &["not a url".into()], "wka_x").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "fallback_server"), "{err:?}");
    }
}
