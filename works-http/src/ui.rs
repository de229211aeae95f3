//! The server-rendered web UI: askama templates compiled into the binary, one embedded
//! stylesheet. Every page works without JavaScript; the resource pages load one small
//! script (`assets/shell.js`) for the shell they share with the Command Center (roster
//! of the page's rows, inspector, hover card, activity), which only reads what the page
//! shows and the audit API. Every form is the same core call as its JSON route; pages
//! only arrange what the core answers. Which buttons a page shows is a courtesy to the
//! reader — the core decides what is allowed, whatever is posted.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use works_core::{
    Actor, AuditQuery, AuditVerification, Error, LoginInput, NewOrg, NewUser, Org, OrgQuery, Outcome, RenameOrg,
    ResetPassword, Role, SessionKind, User, UserQuery,
};

use crate::error::{add_error_headers, log_error, status_of};
use crate::extract::{cookie, parse_urlencoded, FormBody, CSRF_COOKIE, SESSION_COOKIE};
use crate::AppState;

mod alerts;
mod chart;
mod command_center;
mod fleet;
mod health;
mod instance_ops;
mod hosts;
mod instances;
mod schedules;
mod status;
mod workflows;

const STYLESHEET: &str = include_str!("../assets/style.css");
const SHELL_SCRIPT: &str = include_str!("../assets/shell.js");
const ICON: &str = include_str!("../assets/icon.svg");
const PAGE_SIZE: u32 = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(command_center::home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/assets/style.css", get(stylesheet))
        .route("/assets/icon.svg", get(icon))
        .route("/assets/shell.js", get(shell_script))
        .route("/ui/orgs", get(orgs_page).post(org_create))
        .route("/ui/orgs/{id}", get(org_page))
        .route("/ui/orgs/{id}/rename", post(org_rename))
        .route("/ui/orgs/{id}/archive", get(org_archive_confirm).post(org_archive))
        .route("/ui/users", get(users_page).post(user_create))
        .route("/ui/users/{id}/disable", post(user_disable))
        .route("/ui/users/{id}/enable", post(user_enable))
        .route("/ui/users/{id}/reset-password", post(user_reset_password))
        .route("/ui/audit", get(audit_page))
        .merge(health::routes())
        .merge(alerts::routes())
        .merge(fleet::routes())
        .merge(instances::routes())
        .merge(instance_ops::routes())
        .merge(hosts::routes())
        .merge(workflows::routes())
        .merge(schedules::routes())
        .merge(command_center::routes())
        .merge(status::routes())
}

// ---------------------------------------------------------------------------------
// Sessions, forms and errors of the UI.

/// What the signed-in layout shows: who is signed in, and the CSRF token for its forms.
pub(crate) struct Nav {
    pub username: String,
    pub role: &'static str,
    pub csrf: String,
    /// `orgs`, `users`, `audit`, or empty.
    pub section: &'static str,
    /// Whether the MSP-only sections (alerts) are offered.
    pub msp: bool,
}

/// A signed-in browser: the session cookie resolved by the core, and the CSRF token
/// the browser keeps in its own cookie, echoed into every form on the page.
pub(crate) struct UiSession {
    pub actor: Actor,
    pub csrf: String,
}

impl Nav {
    /// Whether the page is a resource page, drawn in the shell the Command Center shares
    /// (roster, work area, inspector, activity). The Command Center has its own; the
    /// dashboard, the status page and alert settings stand alone.
    pub fn shell(&self) -> bool {
        matches!(self.section, "orgs" | "users" | "nodes" | "instances" | "jobs" | "hosts" | "workflows" | "schedules" | "audit")
    }
}

impl UiSession {
    fn nav(&self, section: &'static str) -> Nav {
        Nav {
            username: self.actor.name.clone(),
            role: self.actor.role.label(),
            csrf: self.csrf.clone(),
            section,
            msp: self.actor.is_msp(),
        }
    }
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(UiError::SignIn) };
        let actor = state.works.authenticate(secret).await.map_err(|e| UiError::from_core(e, None))?;
        let csrf = cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default().to_owned();
        Ok(UiSession { actor, csrf })
    }
}

/// A posted form of the signed-in UI. Its `csrf_token` field is checked by the core
/// before the handler runs; a form without it is refused with 403.
pub(crate) struct UiForm<T> {
    pub session: UiSession,
    pub fields: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for UiForm<T> {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = UiSession::from_request_parts(&mut parts, state).await?;
        let form = FormBody::<T>::read(Request::from_parts(parts, body))
            .await
            .map_err(|e| UiError::from_core(e, Some(session.nav(""))))?;
        state
            .works
            .verify_csrf(&session.actor, form.csrf_token.as_deref())
            .map_err(|e| UiError::from_core(e, Some(session.nav(""))))?;
        Ok(UiForm { session, fields: form.fields })
    }
}

/// The `{id}` of a UI route.
pub(crate) struct PageId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PageId {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PageId(p.0))
            .map_err(|_| UiError::from_core(Error::invalid("id", "is not a valid id"), None))
    }
}

/// A query string of a UI page.
pub(crate) struct PageQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_urlencoded(parts.uri.query().unwrap_or("").as_bytes(), "query")
            .map(PageQuery)
            .map_err(|e| UiError::from_core(e, None))
    }
}

/// Why a page could not be shown: the browser must sign in, or an error page.
pub(crate) enum UiError {
    SignIn,
    Page { error: Error, nav: Option<Nav> },
}

impl UiError {
    fn from_core(error: Error, nav: Option<Nav>) -> Self {
        match error {
            Error::Unauthenticated { .. } => UiError::SignIn,
            error => UiError::Page { error, nav },
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Option<Nav>,
    title: &'static str,
    message: String,
    next_action: &'static str,
    field: Option<String>,
}

fn title_of(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "Not found",
        Error::Forbidden { .. } => "Not allowed",
        Error::InvalidInput { .. } => "Something in the request is not right",
        Error::Conflict { .. } => "That cannot be done right now",
        Error::Unauthenticated { .. } => "Please sign in",
        Error::RateLimited { .. } => "Too many attempts",
        Error::Unavailable { .. } => "The service is unavailable",
        Error::Internal { .. } => "Something went wrong",
    }
}

pub(crate) fn error_page(error: &Error, nav: Option<Nav>) -> Response {
    log_error(error);
    let page = ErrorPage {
        nav,
        title: title_of(error),
        message: error.to_string(),
        next_action: error.next_action(),
        field: error.field().map(str::to_owned),
    };
    let mut response = render(status_of(error), &page);
    add_error_headers(error, &mut response);
    response
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn => {
                let mut r = Redirect::to("/login").into_response();
                clear_cookies(r.headers_mut());
                r
            }
            UiError::Page { error, nav } => error_page(&error, nav),
        }
    }
}

/// The answer to an unknown address outside the API.
pub(crate) fn not_found_page(path: &str) -> Response {
    let page = ErrorPage {
        nav: None,
        title: "Page not found",
        message: format!("There is no page at {path}."),
        next_action: "Check the address, or start again from the organizations list.",
        field: None,
    };
    render(StatusCode::NOT_FOUND, &page)
}

fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>Error</title><p>The page could not be shown. Try again; if it persists, check the server log.</p>".to_owned()))
                .into_response()
        }
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Errors about the form a person just sent: shown next to the field they name, or
/// above the form when they name none of its fields.
#[derive(Default)]
pub(crate) struct FormErrors {
    fields: HashMap<String, String>,
    general: Option<String>,
}

impl FormErrors {
    /// Sorts an error of a form submission: problems with what was sent go back to the
    /// form; anything else (missing record, database down) becomes an error page.
    #[allow(clippy::result_large_err)] // The error is an error page: a cold path.
    fn from_submission(error: Error, fields: &[&str], nav: impl FnOnce() -> Nav) -> Result<(Self, StatusCode), UiError> {
        let status = status_of(&error);
        match &error {
            Error::InvalidInput { field, problem } if fields.contains(&field.as_str()) => {
                Ok((FormErrors { fields: HashMap::from([(field.clone(), capitalise(problem))]), general: None }, status))
            }
            Error::Conflict { field: Some(field), message } if fields.contains(&field.as_str()) => {
                Ok((FormErrors { fields: HashMap::from([(field.clone(), message.clone())]), general: None }, status))
            }
            Error::InvalidInput { .. } | Error::Conflict { .. } | Error::Forbidden { .. } => {
                Ok((FormErrors { fields: HashMap::new(), general: Some(error.to_string()) }, status))
            }
            _ => Err(UiError::from_core(error, Some(nav()))),
        }
    }

    /// The problem with `field`, for the template.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    pub fn general(&self) -> Option<&str> {
        self.general.as_deref()
    }
}

fn capitalise(problem: &str) -> String {
    let mut chars = problem.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn empty_to_none(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------------
// Cookies.

fn session_cookies(secret: &str, csrf: &str, max_age: i64, secure: bool) -> [HeaderValue; 2] {
    let secure = if secure { "; Secure" } else { "" };
    let make = |name: &str, value: &str| {
        HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    };
    [make(SESSION_COOKIE, secret), make(CSRF_COOKIE, csrf)]
}

fn clear_cookies(headers: &mut HeaderMap) {
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(v) = HeaderValue::from_str(&format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")) {
            headers.append(header::SET_COOKIE, v);
        }
    }
}

// ---------------------------------------------------------------------------------
// Assets.

async fn shell_script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SHELL_SCRIPT).into_response()
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}

async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], ICON).into_response()
}

// ---------------------------------------------------------------------------------
// Signing in and out.

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    username: String,
    error: Option<String>,
    next_action: Option<&'static str>,
}

async fn login_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        if s.works.authenticate(secret).await.is_ok() {
            return see_other("/ui");
        }
    }
    render(StatusCode::OK, &LoginPage { nav: None, username: String::new(), error: None, next_action: None })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login_submit(State(s): State<AppState>, req: Request) -> Response {
    // A sign-in posted from another site would sign this browser in to someone else's
    // account (login CSRF). Browsers say where a request came from; refuse cross-site ones.
    let cross_site = req.headers().get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site");
    if cross_site {
        return error_page(&Error::forbidden("Sign in from this site's own sign-in page."), None);
    }
    let form = match FormBody::<LoginForm>::read(req).await {
        Ok(f) => f.fields,
        Err(e) => return error_page(&e, None),
    };
    let username = form.username.clone();
    match s.works.login(LoginInput { username: form.username, password: form.password }, SessionKind::Browser).await {
        Ok(outcome) => {
            let max_age = (outcome.expires_at - Utc::now()).num_seconds().max(0);
            let mut r = see_other("/ui");
            for c in session_cookies(&outcome.token, &outcome.csrf_token, max_age, s.config.secure_cookies) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Err(error) => {
            log_error(&error);
            let message = match &error {
                Error::InvalidInput { field, problem } if field == "username" => format!("Username {problem}."),
                Error::InvalidInput { field, problem } if field == "password" => format!("Password {problem}."),
                other => other.to_string(),
            };
            let next_action = match &error {
                Error::Unauthenticated { .. } => "Check the username and password and try again.",
                other => other.next_action(),
            };
            let page = LoginPage { nav: None, username, error: Some(message), next_action: Some(next_action) };
            let mut r = render(status_of(&error), &page);
            add_error_headers(&error, &mut r);
            r
        }
    }
}

#[derive(Deserialize)]
struct NoFields {}

async fn logout(State(s): State<AppState>, form: UiForm<NoFields>) -> Response {
    if let Err(e) = s.works.logout(&form.session.actor).await {
        tracing::warn!(error = %e, "signing out did not end the session");
    }
    let mut r = see_other("/login");
    clear_cookies(r.headers_mut());
    r
}

// ---------------------------------------------------------------------------------
// Organizations.

struct OrgRow {
    id: String,
    name: String,
    created: String,
    archived: Option<String>,
}

impl From<&Org> for OrgRow {
    fn from(o: &Org) -> Self {
        OrgRow { id: o.id.clone(), name: o.name.clone(), created: when(&o.created_at), archived: o.archived_at.as_ref().map(when) }
    }
}

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    nav: Option<Nav>,
    orgs: Vec<OrgRow>,
    include_archived: bool,
    next_page: Option<String>,
    notice: Option<String>,
    can_create: bool,
    name_value: String,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct OrgsParams {
    archived: Option<bool>,
    offset: Option<u32>,
    created: Option<String>,
}

async fn orgs_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<OrgsParams>) -> Result<Response, UiError> {
    orgs_view(&s, &session, p, String::new(), FormErrors::default(), StatusCode::OK).await
}

async fn orgs_view(
    s: &AppState,
    session: &UiSession,
    p: OrgsParams,
    name_value: String,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, UiError> {
    let include_archived = p.archived.unwrap_or(false);
    let query = OrgQuery { include_archived, offset: p.offset, limit: Some(PAGE_SIZE) };
    let listing = s.works.org_list(&session.actor, query).await.map_err(|e| UiError::from_core(e, Some(session.nav("orgs"))))?;
    let notice = p.created.as_deref().map(|id| match listing.items.iter().find(|o| o.id == id) {
        Some(o) => format!("Organization “{}” was created.", o.name),
        None => "The organization was created.".to_owned(),
    });
    let next_page = listing.next_offset.map(|o| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("offset", &o.to_string());
        if include_archived {
            q.append_pair("archived", "true");
        }
        format!("/ui/orgs?{}", q.finish())
    });
    let page = OrgsPage {
        nav: Some(session.nav("orgs")),
        orgs: listing.items.iter().map(OrgRow::from).collect(),
        include_archived,
        next_page,
        notice,
        can_create: works_core::access::may_manage_orgs(&session.actor),
        name_value,
        errors,
    };
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn org_create(State(s): State<AppState>, form: UiForm<NameForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.org_create(&session.actor, NewOrg { name: fields.name.clone() }).await {
        Ok(org) => Ok(see_other(&format!("/ui/orgs?created={}", org.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name"], || session.nav("orgs"))?;
            orgs_view(&s, &session, OrgsParams::default(), fields.name, errors, status).await
        }
    }
}

struct MemberRow {
    id: String,
    username: String,
    display_name: String,
    role: &'static str,
    disabled: bool,
}

impl From<&User> for MemberRow {
    fn from(u: &User) -> Self {
        MemberRow {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role.label(),
            disabled: u.disabled,
        }
    }
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgDetailPage {
    nav: Option<Nav>,
    org: OrgRow,
    updated: String,
    members: Vec<MemberRow>,
    notice: Option<String>,
    can_change: bool,
    name_value: String,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct OrgParams {
    renamed: Option<bool>,
    archived: Option<bool>,
}

async fn org_page(
    State(s): State<AppState>,
    session: UiSession,
    PageId(id): PageId,
    PageQuery(p): PageQuery<OrgParams>,
) -> Result<Response, UiError> {
    let notice = if p.renamed == Some(true) {
        Some("The organization was renamed.".to_owned())
    } else if p.archived == Some(true) {
        Some("The organization was archived. Its users can no longer sign in.".to_owned())
    } else {
        None
    };
    org_view(&s, &session, &id, notice, None, FormErrors::default(), StatusCode::OK).await
}

async fn org_view(
    s: &AppState,
    session: &UiSession,
    id: &str,
    notice: Option<String>,
    name_value: Option<String>,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, UiError> {
    let nav = || Some(session.nav("orgs"));
    let org = s.works.org_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let query = UserQuery { org_id: Some(org.id.clone()), include_disabled: true, offset: None, limit: Some(PAGE_SIZE) };
    let members = s.works.user_list(&session.actor, query).await.map_err(|e| UiError::from_core(e, nav()))?;
    let page = OrgDetailPage {
        nav: nav(),
        org: OrgRow::from(&org),
        updated: when(&org.updated_at),
        members: members.items.iter().map(MemberRow::from).collect(),
        notice,
        can_change: works_core::access::may_manage_orgs(&session.actor) && org.archived_at.is_none(),
        name_value: name_value.unwrap_or_else(|| org.name.clone()),
        errors,
    };
    Ok(render(status, &page))
}

async fn org_rename(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NameForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.org_rename(&session.actor, &id, RenameOrg { name: fields.name.clone() }).await {
        Ok(org) => Ok(see_other(&format!("/ui/orgs/{}?renamed=true", org.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name"], || session.nav("orgs"))?;
            org_view(&s, &session, &id, None, Some(fields.name), errors, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "org_archive.html")]
struct ArchiveConfirmPage {
    nav: Option<Nav>,
    org: OrgRow,
}

async fn org_archive_confirm(State(s): State<AppState>, session: UiSession, PageId(id): PageId) -> Result<Response, UiError> {
    let org = s.works.org_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("orgs"))))?;
    Ok(render(StatusCode::OK, &ArchiveConfirmPage { nav: Some(session.nav("orgs")), org: OrgRow::from(&org) }))
}

async fn org_archive(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.org_archive(&session.actor, &id).await {
        Ok(org) => Ok(see_other(&format!("/ui/orgs/{}?archived=true", org.id))),
        Err(e) => Err(UiError::from_core(e, Some(session.nav("orgs")))),
    }
}

// ---------------------------------------------------------------------------------
// Users.

struct UserRow {
    id: String,
    username: String,
    display_name: String,
    role: &'static str,
    org: String,
    org_id: String,
    disabled: bool,
    is_self: bool,
    created: String,
}

struct Choice {
    value: String,
    label: String,
}

#[derive(Default)]
struct UserFormValues {
    username: String,
    display_name: String,
    role: String,
    org_id: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Option<Nav>,
    users: Vec<UserRow>,
    include_disabled: bool,
    next_page: Option<String>,
    notice: Option<String>,
    can_manage: bool,
    roles: Vec<Choice>,
    orgs: Vec<Choice>,
    form: UserFormValues,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct UsersParams {
    disabled: Option<bool>,
    offset: Option<u32>,
    created: Option<String>,
    notice: Option<String>,
}

async fn users_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<UsersParams>) -> Result<Response, UiError> {
    // The least powerful role is preselected.
    let form = UserFormValues { role: Role::OrgUser.as_str().to_owned(), ..Default::default() };
    users_view(&s, &session, p, form, FormErrors::default(), StatusCode::OK).await
}

async fn users_view(
    s: &AppState,
    session: &UiSession,
    p: UsersParams,
    form: UserFormValues,
    errors: FormErrors,
    status: StatusCode,
) -> Result<Response, UiError> {
    let nav = || Some(session.nav("users"));
    let include_disabled = p.disabled.unwrap_or(true);
    let query = UserQuery { org_id: None, include_disabled, offset: p.offset, limit: Some(PAGE_SIZE) };
    let listing = s.works.user_list(&session.actor, query).await.map_err(|e| UiError::from_core(e, nav()))?;
    let orgs = s
        .works
        .org_list(&session.actor, OrgQuery { include_archived: false, offset: None, limit: Some(500) })
        .await
        .map_err(|e| UiError::from_core(e, nav()))?;
    let org_name = |id: &Option<String>| match id {
        None => "MSP".to_owned(),
        Some(id) => orgs.items.iter().find(|o| &o.id == id).map(|o| o.name.clone()).unwrap_or_else(|| "(archived organization)".to_owned()),
    };
    let notice = match (p.created.as_deref(), p.notice.as_deref()) {
        (Some(id), _) => Some(match listing.items.iter().find(|u| u.id == id) {
            Some(u) => format!("User “{}” was created. They can sign in now.", u.username),
            None => "The user was created.".to_owned(),
        }),
        (None, Some("disabled")) => Some("The user was disabled. Their sessions and API tokens no longer work.".to_owned()),
        (None, Some("enabled")) => Some("The user was enabled. They can sign in again.".to_owned()),
        _ => None,
    };
    let next_page = listing.next_offset.map(|o| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("offset", &o.to_string());
        if !include_disabled {
            q.append_pair("disabled", "false");
        }
        format!("/ui/users?{}", q.finish())
    });
    let roles = Role::ALL
        .into_iter()
        .filter(|r| works_core::access::may_grant_role(&session.actor, *r))
        .map(|r| Choice { value: r.as_str().to_owned(), label: r.label().to_owned() })
        .collect();
    let users = listing
        .items
        .iter()
        .map(|u| UserRow {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role.label(),
            org: org_name(&u.org_id),
            org_id: u.org_id.clone().unwrap_or_default(),
            disabled: u.disabled,
            is_self: u.id == session.actor.id,
            created: when(&u.created_at),
        })
        .collect();
    let page = UsersPage {
        nav: nav(),
        users,
        include_disabled,
        next_page,
        notice,
        can_manage: works_core::access::may_manage_users(&session.actor),
        roles,
        orgs: orgs.items.iter().map(|o| Choice { value: o.id.clone(), label: o.name.clone() }).collect(),
        form,
        errors,
    };
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct UserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    password: String,
}

async fn user_create(State(s): State<AppState>, form: UiForm<UserForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let values = UserFormValues {
        username: fields.username.clone(),
        display_name: fields.display_name.clone(),
        role: fields.role.clone(),
        org_id: fields.org_id.clone(),
    };
    let result = match fields.role.parse::<Role>() {
        Ok(role) => {
            let input = NewUser {
                username: fields.username,
                display_name: empty_to_none(Some(fields.display_name)),
                role,
                org_id: empty_to_none(Some(fields.org_id)),
                password: fields.password,
            };
            s.works.user_create(&session.actor, input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(user) => Ok(see_other(&format!("/ui/users?created={}", user.id))),
        Err(e) => {
            let fields = ["username", "display_name", "role", "org_id", "password"];
            let (errors, status) = FormErrors::from_submission(e, &fields, || session.nav("users"))?;
            users_view(&s, &session, UsersParams::default(), values, errors, status).await
        }
    }
}

async fn user_disable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    s.works.user_disable(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("users"))))?;
    Ok(see_other("/ui/users?notice=disabled"))
}

async fn user_enable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    s.works.user_enable(&session.actor, &id).await.map_err(|e| UiError::from_core(e, Some(session.nav("users"))))?;
    Ok(see_other("/ui/users?notice=enabled"))
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct PasswordResetPage {
    nav: Option<Nav>,
    username: String,
    password: Option<String>,
}

async fn user_reset_password(State(s): State<AppState>, PageId(id): PageId, form: UiForm<NoFields>) -> Result<Response, UiError> {
    let session = form.session;
    let reset = s
        .works
        .user_reset_password(&session.actor, &id, ResetPassword { new_password: None })
        .await
        .map_err(|e| UiError::from_core(e, Some(session.nav("users"))))?;
    let page = PasswordResetPage {
        nav: Some(session.nav("users")),
        username: reset.user.username,
        password: reset.generated_password,
    };
    // Resetting one's own password ends one's own session too: the page is shown once,
    // and the next click signs in again.
    Ok(render(StatusCode::OK, &page))
}

// ---------------------------------------------------------------------------------
// Audit log.

struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    actor_id: String,
    action: String,
    outcome: &'static str,
    outcome_label: &'static str,
    target: String,
    org_id: String,
    reason: String,
    hash: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPageView {
    nav: Option<Nav>,
    records: Vec<AuditRow>,
    action: String,
    outcome: String,
    outcomes: Vec<Choice>,
    older: Option<String>,
    newest: Option<String>,
    can_verify: bool,
    verification: Option<VerifyView>,
}

struct VerifyView {
    intact: bool,
    summary: String,
}

impl From<Result<AuditVerification, Error>> for VerifyView {
    fn from(r: Result<AuditVerification, Error>) -> Self {
        match r {
            Ok(v) if v.intact => VerifyView {
                intact: true,
                summary: match v.checked {
                    0 => "The audit log is empty, so there is nothing to check yet.".to_owned(),
                    1 => "The audit log is intact: its one record is unchanged.".to_owned(),
                    n => format!("The audit log is intact: all {n} records are present, in order and unchanged."),
                },
            },
            Ok(v) => VerifyView {
                intact: false,
                summary: format!(
                    "The audit log has been tampered with. The chain breaks at record {}: {}.",
                    v.broken_at_seq.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
                    v.problem.unwrap_or_else(|| "a record does not match".into())
                ),
            },
            Err(e) => VerifyView { intact: false, summary: format!("The check could not be run: {e}") },
        }
    }
}

#[derive(Deserialize, Default)]
struct AuditParams {
    action: Option<String>,
    outcome: Option<String>,
    before: Option<i64>,
    verify: Option<bool>,
}

fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Succeeded => "Succeeded",
        Outcome::Denied => "Denied",
        Outcome::Rejected => "Rejected",
        Outcome::Failed => "Failed",
    }
}

async fn audit_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<AuditParams>) -> Result<Response, UiError> {
    let nav = || Some(session.nav("audit"));
    let action = empty_to_none(p.action);
    let outcome = match empty_to_none(p.outcome) {
        None => None,
        Some(o) => Some(Outcome::parse(&o).ok_or_else(|| {
            UiError::from_core(Error::invalid("outcome", "must be succeeded, denied, rejected or failed"), nav())
        })?),
    };
    let query = AuditQuery { action: action.clone(), outcome, before_seq: p.before, limit: Some(PAGE_SIZE), ..Default::default() };
    let page = s.works.audit_query(&session.actor, query).await.map_err(|e| UiError::from_core(e, nav()))?;
    let verification = if p.verify == Some(true) { Some(VerifyView::from(s.works.audit_verify(&session.actor).await)) } else { None };

    let link = |before: Option<i64>| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(a) = &action {
            q.append_pair("action", a);
        }
        if let Some(o) = outcome {
            q.append_pair("outcome", o.as_str());
        }
        if let Some(b) = before {
            q.append_pair("before", &b.to_string());
        }
        let q = q.finish();
        if q.is_empty() { "/ui/audit".to_owned() } else { format!("/ui/audit?{q}") }
    };
    let records = page
        .records
        .iter()
        .map(|r| AuditRow {
            seq: r.seq,
            at: r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            actor: r.actor_name.clone(),
            actor_id: r.actor_id.clone(),
            action: r.action.clone(),
            outcome: r.outcome.as_str(),
            outcome_label: outcome_label(r.outcome),
            target: match &r.target_id {
                Some(id) => format!("{} {id}", r.target_kind),
                None => r.target_kind.clone(),
            },
            org_id: r.org_id.clone().unwrap_or_default(),
            reason: r.reason.clone(),
            hash: r.hash.clone(),
        })
        .collect();
    let view = AuditPageView {
        nav: nav(),
        records,
        action: action.clone().unwrap_or_default(),
        outcome: outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
        outcomes: [Outcome::Succeeded, Outcome::Failed, Outcome::Denied, Outcome::Rejected]
            .into_iter()
            .map(|o| Choice { value: o.as_str().to_owned(), label: outcome_label(o).to_owned() })
            .collect(),
        older: page.next_before.map(|b| link(Some(b))),
        newest: p.before.map(|_| link(None)),
        can_verify: session.actor.is_msp(),
        verification,
    };
    Ok(render(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav() -> Option<Nav> {
        Some(Nav { username: "admin".into(), role: "MSP admin", csrf: "tok".into(), section: "orgs", msp: true })
    }

    #[test]
    fn user_data_is_escaped_in_pages() {
        let page = OrgsPage {
            nav: nav(),
            orgs: vec![OrgRow { id: "1".into(), name: "<script>alert(1)</script>".into(), created: "now".into(), archived: None }],
            include_archived: false,
            next_page: None,
            notice: None,
            can_create: true,
            name_value: "\"><img src=x>".into(),
            errors: FormErrors::default(),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("\"><img"), "{html}");
        assert!(html.contains(r#"name="csrf_token" value="tok""#), "{html}");
    }

    #[test]
    fn a_field_error_is_shown_next_to_its_field() {
        let (errors, status) =
            FormErrors::from_submission(Error::invalid("name", "must not be empty"), &["name"], || unreachable!())
                .unwrap_or_else(|_| panic!("a field error must stay on the form"));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let page = OrgsPage {
            nav: nav(),
            orgs: vec![],
            include_archived: false,
            next_page: None,
            notice: None,
            can_create: true,
            name_value: String::new(),
            errors,
        };
        let html = page.render().unwrap();
        assert!(html.contains("Must not be empty"), "{html}");
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_when_configured() {
        for secure in [false, true] {
            for c in session_cookies("wks_secret", "csrf", 3600, secure) {
                let c = c.to_str().unwrap();
                assert!(c.contains("; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600"), "{c}");
                assert_eq!(c.ends_with("; Secure"), secure, "{c}");
            }
        }
    }

    #[test]
    fn a_missing_record_is_an_error_page_not_a_form_error() {
        let e = FormErrors::from_submission(Error::not_found("organization", "x"), &["name"], || nav().unwrap());
        assert!(matches!(e, Err(UiError::Page { error: Error::NotFound { .. }, .. })));
    }
}
