//! The agent's side of the agent API under `/api/v1/agent`: enrollment without a
//! credential, everything else with `Authorization: Bearer wka_…`. Errors come back as
//! the server's own [`works_core::Error`]s.

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

/// A connection to the server, as one node's agent.
#[derive(Clone)]
pub struct AgentClient {
    base: Url,
    credential: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient").field("base", &self.base.as_str()).field("credential", &"<hidden>").finish()
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
        Ok(AgentClient { base: works_client::parse_base_url(server)?, credential: credential.into(), http: http_client()? })
    }

    /// Exchanges a one-time enrollment token for the agent's own credential.
    pub async fn enroll(server: &str, input: &EnrollRequest) -> Result<AgentCredential> {
        let client = AgentClient::new(server, String::new())?;
        client.json(client.request(Method::POST, &["enroll"])?.json(input)).await
    }

    /// The server's address as people write it.
    pub fn server(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
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
        let mut url = self.base.clone();
        {
            let mut path =
                url.path_segments_mut().map_err(|_| Error::invalid("server", "cannot be used as a base address"))?;
            path.pop_if_empty().extend(["api", "v1", "agent"]).extend(segments);
        }
        let builder = self.http.request(method, url).header(reqwest::header::ACCEPT, "application/json");
        Ok(if self.credential.is_empty() { builder } else { builder.bearer_auth(&self.credential) })
    }

    async fn send(&self, builder: RequestBuilder) -> Result<Response> {
        let response = builder.send().await.map_err(|e| self.transport_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_from(response).await)
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
        let base = self.server();
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
