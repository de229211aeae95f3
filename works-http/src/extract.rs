//! Extractors whose refusals are core errors: malformed JSON, a wrong content type,
//! unknown fields, wrong types and bad query strings all become `invalid_input` naming
//! the field, in the same JSON shape as every other error (never axum's plain-text
//! rejections). And the credential extractor: bearer token or session cookie.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use works_core::{Actor, Error};

use crate::error::ApiError;
use crate::AppState;

/// The session cookie of the web UI.
pub const SESSION_COOKIE: &str = "works_session";
/// The cookie holding the CSRF token of the browser session, echoed into forms.
pub const CSRF_COOKIE: &str = "works_csrf";
/// The header a cookie-authenticated JSON request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field a web UI form carries its CSRF token in.
pub const CSRF_FIELD: &str = "csrf_token";

// ---------------------------------------------------------------------------------
// Turning serde's complaints into a field and a plain-English problem.

/// Where the complaint is about a field serde named in its message (`unknown field
/// `x``, `missing field `x``), that field; otherwise the path serde was at.
fn field_and_problem(path: &str, message: &str, whole: &str) -> (String, String) {
    let message = strip_position(message);
    let quoted = || message.split('`').nth(1).map(str::to_owned);
    if message.starts_with("unknown field") {
        let expected = message.split_once(", expected ").map(|(_, e)| e.replace('`', "")).unwrap_or_default();
        let field = quoted().unwrap_or_else(|| whole.to_owned());
        let problem = if expected.is_empty() {
            "is not a known field".to_owned()
        } else {
            format!("is not a known field (expected {expected})")
        };
        return (field, problem);
    }
    if message.starts_with("missing field") {
        return (quoted().unwrap_or_else(|| whole.to_owned()), "is required".to_owned());
    }
    let field = if path.is_empty() || path == "." || path.contains('?') { whole.to_owned() } else { path.to_owned() };
    let problem = if let Some(rest) = message.strip_prefix("invalid type: ") {
        match rest.split_once(", expected ") {
            Some((_, expected)) if expected.starts_with("struct") || expected.starts_with("a map") => {
                "must be a JSON object".to_owned()
            }
            Some((got, expected)) => format!("must be {expected}, not {got}"),
            None => format!("has the wrong type: {rest}"),
        }
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        match rest.split_once(", expected ") {
            Some((got, expected)) => format!("must be {}, not {got}", expected.replace('`', "")),
            None => format!("is not one of the allowed values: {rest}"),
        }
    } else if message.starts_with("invalid digit") || message.starts_with("number too large") || message.starts_with("cannot parse integer") {
        "must be a whole number in range".to_owned()
    } else if message.starts_with("provided string was not `true` or `false`") {
        "must be true or false".to_owned()
    } else if message.starts_with("input contains invalid characters") || message.starts_with("premature end of input") || message.starts_with("input is out of range") || message.starts_with("trailing input") {
        "must be a date and time in RFC 3339 form, e.g. 2024-05-01T12:00:00Z".to_owned()
    } else {
        message.to_owned()
    };
    (field, problem)
}

/// serde_json ends its messages with " at line N column M"; people need no such detail
/// for a field error.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// Parses a JSON body into `T`, naming the field that is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(Error::invalid("body", "is empty: send a JSON object")),
        // serde would also read a struct from an array of its fields; the API takes objects only.
        Some(b'[') => return Err(Error::invalid("body", "must be a JSON object, not an array")),
        Some(_) => {}
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => {
                    let (field, problem) = field_and_problem(&path, &inner.to_string(), "body");
                    Error::invalid(field, problem)
                }
                serde_json::error::Category::Eof => Error::invalid("body", "is not valid JSON: it ends too early"),
                // serde_json reports a value of the wrong kind for an enum (`"role": 3`)
                // as a syntax error; with a path, it is about that field.
                serde_json::error::Category::Syntax if !path.is_empty() && path != "." && !path.contains('?') => {
                    Error::invalid(path, "has a value of the wrong type")
                }
                _ => Error::invalid("body", format!("is not valid JSON: {inner}")),
            });
        }
    };
    de.end().map_err(|e| Error::invalid("body", format!("is not valid JSON: {e}")))?;
    Ok(value)
}

/// Parses `a=1&b=2` into `T`, naming the field that is wrong. `whole` names the input
/// as a whole (`query`, `form`) for complaints about no particular field.
pub fn parse_urlencoded<T: DeserializeOwned>(input: &[u8], whole: &str) -> Result<T, Error> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(input));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = e.path().to_string();
        let (field, problem) = field_and_problem(&path, &e.into_inner().to_string(), whole);
        Error::invalid(field, problem)
    })
}

fn has_content_type(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == wanted || (wanted == "application/json" && mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

async fn read_body(req: Request) -> Result<Bytes, Error> {
    Bytes::from_request(req, &()).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::invalid("body", "is too large")
        } else {
            Error::invalid("body", "could not be read")
        }
    })
}

// ---------------------------------------------------------------------------------
// JSON bodies and answers.

/// A JSON request body (refusals are `invalid_input`), and a JSON answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !has_content_type(req.headers(), "application/json") {
            return Err(Error::invalid("body", "must be JSON, sent with Content-Type: application/json").into());
        }
        let bytes = read_body(req).await?;
        Ok(Json(parse_json(&bytes)?))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string parsed into `T` (refusals are `invalid_input` naming the parameter).
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        Ok(Query(parse_urlencoded(query.as_bytes(), "query")?))
    }
}

/// The `{id}` of a route. Ids are checked by the core; this only takes the text.
#[derive(Debug, Clone)]
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| Id(p.0))
            .map_err(|_| Error::invalid("id", "is not a valid id").into())
    }
}

// ---------------------------------------------------------------------------------
// Credentials.

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The credential a request presents, before the core resolves it.
pub enum Credential<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    None,
}

pub fn credential(headers: &HeaderMap) -> Credential<'_> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Ok(text) = value.to_str() else { return Credential::Malformed };
        return match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                Credential::Bearer(token.trim())
            }
            _ => Credential::Malformed,
        };
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(secret) => Credential::Cookie(secret),
        None => Credential::None,
    }
}

/// The signed-in caller of a JSON route: a bearer token (session `wks_…` or API token
/// `wkt_…`), or the browser's session cookie. A cookie-authenticated request that
/// changes state must carry its CSRF token in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match credential(&parts.headers) {
            Credential::Bearer(secret) => Ok(Caller(state.works.authenticate(secret).await?)),
            Credential::Cookie(secret) => {
                let actor = state.works.authenticate(secret).await?;
                if !is_safe(&parts.method) {
                    let token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                    state.works.verify_csrf(&actor, token)?;
                }
                Ok(Caller(actor))
            }
            Credential::Malformed => Err(Error::unauthenticated(
                "The Authorization header must be `Bearer <token>` with a session or API token.",
            )
            .into()),
            Credential::None => Err(Error::unauthenticated(
                "Sign in first: send an API token as `Authorization: Bearer <token>`.",
            )
            .into()),
        }
    }
}

pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A form body parsed into `T` (for the web UI), with the CSRF token it carries.
pub struct FormBody<T> {
    pub fields: T,
    pub csrf_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct CsrfOnly {
    csrf_token: Option<String>,
}

impl<T: DeserializeOwned> FormBody<T> {
    pub async fn read(req: Request) -> Result<Self, Error> {
        if !has_content_type(req.headers(), "application/x-www-form-urlencoded") {
            return Err(Error::invalid("form", "must be sent as an HTML form (application/x-www-form-urlencoded)"));
        }
        let bytes = read_body(req).await?;
        let csrf: CsrfOnly = parse_urlencoded(&bytes, "form")?;
        let fields: T = parse_urlencoded(&bytes, "form")?;
        Ok(FormBody { fields, csrf_token: csrf.csrf_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use works_core::{NewOrg, NewUser, OrgQuery};

    fn field_of(e: Error) -> (String, String) {
        match e {
            Error::InvalidInput { field, problem } => (field, problem),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn json_complaints_name_the_field() {
        let (f, p) = field_of(parse_json::<NewOrg>(br#"{"name": 5}"#).unwrap_err());
        assert_eq!(f, "name");
        assert!(p.contains("string"), "{p}");

        let (f, p) = field_of(parse_json::<NewOrg>(br#"{"name": "a", "colour": "red"}"#).unwrap_err());
        assert_eq!(f, "colour");
        assert!(p.contains("not a known field"), "{p}");

        let (f, p) = field_of(parse_json::<NewOrg>(br#"{}"#).unwrap_err());
        assert_eq!((f.as_str(), p.as_str()), ("name", "is required"));

        let (f, p) = field_of(
            parse_json::<NewUser>(br#"{"username":"bob","role":"boss","password":"0123456789"}"#).unwrap_err(),
        );
        assert_eq!(f, "role");
        assert!(p.contains("org_admin") && p.contains("boss"), "{p}");

        let (f, _) = field_of(parse_json::<NewOrg>(br#"{"name": "#).unwrap_err());
        assert_eq!(f, "body");
        let (f, _) = field_of(parse_json::<NewOrg>(br#"{"name": "a"} trailing"#).unwrap_err());
        assert_eq!(f, "body");
        let (f, p) = field_of(parse_json::<NewOrg>(br#"[1]"#).unwrap_err());
        assert_eq!(f, "body");
        assert!(p.contains("object"), "{p}");
        let (f, _) = field_of(parse_json::<NewOrg>(b"  ").unwrap_err());
        assert_eq!(f, "body");
    }

    #[test]
    fn query_complaints_name_the_parameter() {
        let q: OrgQuery = parse_urlencoded(b"include_archived=true&limit=5", "query").unwrap();
        assert!(q.include_archived);
        assert_eq!(q.limit, Some(5));
        let (f, p) = field_of(parse_urlencoded::<OrgQuery>(b"limit=lots", "query").unwrap_err());
        assert_eq!(f, "limit");
        assert!(p.contains("whole number"), "{p}");
        let (f, _) = field_of(parse_urlencoded::<OrgQuery>(b"limit=-1", "query").unwrap_err());
        assert_eq!(f, "limit");
        let (f, _) = field_of(parse_urlencoded::<OrgQuery>(b"colour=red", "query").unwrap_err());
        assert_eq!(f, "colour");
        let (f, p) = field_of(parse_urlencoded::<OrgQuery>(b"include_archived=yes", "query").unwrap_err());
        assert_eq!(f, "include_archived");
        assert_eq!(p, "must be true or false");
        let a: works_core::AuditQuery =
            parse_urlencoded(b"outcome=denied&since=2024-05-01T12%3A00%3A00Z&before_seq=10", "query").unwrap();
        assert_eq!(a.outcome, Some(works_core::Outcome::Denied));
        assert_eq!(a.before_seq, Some(10));
        let (f, _) = field_of(parse_urlencoded::<works_core::AuditQuery>(b"since=yesterday", "query").unwrap_err());
        assert_eq!(f, "since");
        let (f, _) = field_of(parse_urlencoded::<works_core::AuditQuery>(b"outcome=maybe", "query").unwrap_err());
        assert_eq!(f, "outcome");
    }

    #[test]
    fn cookies_and_bearer_tokens_are_found() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; works_session=wks_abc; works_csrf=xyz".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("wks_abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("xyz"));
        assert!(matches!(credential(&h), Credential::Cookie("wks_abc")));
        h.insert(header::AUTHORIZATION, "Bearer wkt_123".parse().unwrap());
        assert!(matches!(credential(&h), Credential::Bearer("wkt_123")));
        h.insert(header::AUTHORIZATION, "Basic Zm9v".parse().unwrap());
        assert!(matches!(credential(&h), Credential::Malformed));
    }
}
