//! The one mapping from `works_core::Error` to an HTTP answer.
//!
//! Every JSON error body has the same shape:
//! `{"error": <the Error as serde writes it, tagged with "kind">, "message": "…", "next_action": "…"}`.
//! The remote client decodes `error` back into `works_core::Error`, so the shape is a contract.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use works_core::Error;

/// A core error on its way out of a JSON handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The HTTP status of each kind of error.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::InvalidInput { .. } => StatusCode::BAD_REQUEST,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Headers that go with some kinds: `Retry-After` for rate limits, `WWW-Authenticate`
/// for a missing or bad credential.
pub(crate) fn add_error_headers(e: &Error, response: &mut Response) {
    match e {
        Error::RateLimited { retry_after_secs, .. } => {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        Error::Unauthenticated { .. } => {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        _ => {}
    }
}

pub(crate) fn log_error(e: &Error) {
    match e {
        Error::Internal { .. } => tracing::error!(error = %e, "request failed"),
        Error::Unavailable { .. } => tracing::warn!(error = %e, "request failed"),
        _ => tracing::debug!(kind = e.kind(), "request refused"),
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a Error,
    message: String,
    next_action: &'static str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        log_error(&e);
        let body = Body { error: &e, message: e.to_string(), next_action: e.next_action() };
        let mut response = (status_of(&e), axum::Json(body)).into_response();
        add_error_headers(&e, &mut response);
        response
    }
}

/// The error body of every non-success JSON answer (documentation of the shape).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// The problem in plain English.
    pub message: String,
    /// What to do next, in plain English.
    pub next_action: String,
}

/// The error itself, tagged with `kind`. Which other fields are present depends on it:
/// `not_found` has `what` and `id`; `invalid_input` has `field` and `problem`; `conflict`
/// has `message` and maybe `field`; `rate_limited` has `message` and `retry_after_secs`;
/// the rest have `message`.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub kind: ErrorKind,
    pub what: Option<String>,
    pub id: Option<String>,
    pub field: Option<String>,
    pub problem: Option<String>,
    pub message: Option<String>,
    pub retry_after_secs: Option<u64>,
}

/// The kinds of error, each with its HTTP status: `not_found` 404, `forbidden` 403,
/// `invalid_input` 400, `conflict` 409, `unauthenticated` 401, `rate_limited` 429,
/// `unavailable` 503, `internal` 500.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Forbidden,
    InvalidInput,
    Conflict,
    Unauthenticated,
    RateLimited,
    Unavailable,
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: Error) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let r = ApiError(e).into_response();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn each_kind_has_its_status_and_the_body_round_trips() {
        let cases = [
            (Error::not_found("organization", "x"), 404),
            (Error::forbidden("no"), 403),
            (Error::invalid("name", "must not be empty"), 400),
            (Error::conflict(Some("name"), "taken"), 409),
            (Error::unauthenticated("who"), 401),
            (Error::RateLimited { message: "slow down".into(), retry_after_secs: 900 }, 429),
            (Error::unavailable("db"), 503),
            (Error::internal("oops"), 500),
        ];
        for (e, status) in cases {
            let (s, headers, body) = body_of(e.clone()).await;
            assert_eq!(s.as_u16(), status, "{e:?}");
            let back: Error = serde_json::from_value(body["error"].clone()).unwrap();
            assert_eq!(back, e);
            assert_eq!(body["message"], e.to_string());
            assert_eq!(body["next_action"], e.next_action());
            assert_eq!(body["error"]["kind"], e.kind());
            if status == 429 {
                assert_eq!(headers[header::RETRY_AFTER], "900");
            }
        }
    }
}
