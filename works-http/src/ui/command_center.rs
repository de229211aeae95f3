//! The Command Center: the live map of the fleet with its roster, inspector and activity,
//! at `/` for MSP roles (organization roles open the map of their own scope at
//! `/ui/map`; `/` still takes them to their dashboard).
//!
//! The page itself carries no data and no inline script: it loads
//! `/assets/command-center.js`, which reads `GET /api/v1/map` and `GET /api/v1/audit`
//! with the session cookie every few seconds and draws the map as SVG. Every text it
//! shows is set with `textContent` or `setAttribute`, never parsed as markup. The page is
//! served with a Content Security Policy that allows scripts from this server only
//! (`script-src 'self'`: no inline script, no `eval`) and requests to this server only.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{render, see_other, Nav, UiSession};
use crate::extract::{cookie, SESSION_COOKIE};
use crate::AppState;

const SCRIPT: &str = include_str!("../../assets/command-center.js");
const STYLES: &str = include_str!("../../assets/command-center.css");

/// The policy of the Command Center page: the site-wide one, plus scripts and requests
/// from this server only. No `'unsafe-inline'`, no `'unsafe-eval'`.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/map", get(map_page))
        .route("/assets/command-center.js", get(script))
        .route("/assets/command-center.css", get(styles))
}

#[derive(Template)]
#[template(path = "command_center.html")]
struct CommandCenterPage {
    nav: Option<Nav>,
    username: String,
    msp: bool,
}

fn page(session: &UiSession) -> Response {
    let mut r = render(
        StatusCode::OK,
        &CommandCenterPage { nav: Some(session.nav("map")), username: session.actor.name.clone(), msp: session.actor.is_msp() },
    );
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    r
}

/// `/`: the Command Center for MSP roles; the dashboard for organization roles; the
/// sign-in form for everyone else.
pub(crate) async fn home(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let actor = match cookie(&headers, SESSION_COOKIE) {
        Some(secret) => s.works.authenticate(secret).await.ok(),
        None => None,
    };
    match actor {
        Some(actor) if actor.is_msp() => {
            let csrf = cookie(&headers, crate::extract::CSRF_COOKIE).unwrap_or_default().to_owned();
            page(&UiSession { actor, csrf })
        }
        Some(_) => see_other("/ui"),
        None => see_other("/login"),
    }
}

/// `/ui/map`: the Command Center of the signed-in person's scope, whatever their role.
async fn map_page(session: UiSession) -> Response {
    page(&session)
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SCRIPT).into_response()
}

async fn styles() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STYLES).into_response()
}
