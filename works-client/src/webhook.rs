//! Sending alert webhooks: the HTTP side of `works_core::alerts::Notifier`. The core
//! decides what to send, to whom and when; this only POSTs and reports the answer.

use std::time::Duration;

use async_trait::async_trait;
use works_core::alerts::{Notifier, SendResult};
use works_core::{Error, Result};

/// How long one webhook request may take in all.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs webhook bodies with reqwest: JSON, no redirects, a short timeout.
#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    http: reqwest::Client,
}

impl WebhookNotifier {
    pub fn new() -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("anthropy-works/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("Could not set up the webhook HTTP client: {e}")))?;
        Ok(WebhookNotifier { http })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn post(&self, url: &str, headers: &[(String, String)], body: &str) -> SendResult {
        let mut request = self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_owned());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) if e.is_timeout() => {
                Err(format!("The webhook did not answer within {} seconds.", WEBHOOK_TIMEOUT.as_secs()))
            }
            Err(e) if e.is_connect() => Err("The webhook's address could not be reached (connection refused or no route).".to_owned()),
            Err(e) => Err(format!("The webhook request failed: {}", without_url(&e))),
        }
    }
}

/// The error text without the URL, which may carry a token in its query.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "the webhook URL");
    }
    text
}
