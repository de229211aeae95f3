//! The JSON API under `/api/v1`. Each handler is one call into the core: tenancy,
//! validation and audit are decided there.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};
use works_core::{
    ApiToken, AuditPage, AuditQuery, AuditVerification, CreatedToken, Error, Listing, LoginInput, LoginOutcome,
    NewOrg, NewToken, NewUser, Org, OrgQuery, PasswordReset, RenameOrg, ResetPassword, SessionKind, TokenQuery,
    User, UserQuery, UserUpdate,
};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Caller, Id, Json, Query};
use crate::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/version", get(version))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/orgs", get(org_list).post(org_create))
        .route("/api/v1/orgs/{id}", get(org_get).patch(org_rename))
        .route("/api/v1/orgs/{id}/archive", post(org_archive))
        .route("/api/v1/users", get(user_list).post(user_create))
        .route("/api/v1/users/{id}", get(user_get).patch(user_update))
        .route("/api/v1/users/{id}/disable", post(user_disable))
        .route("/api/v1/users/{id}/enable", post(user_enable))
        .route("/api/v1/users/{id}/reset-password", post(user_reset_password))
        .route("/api/v1/tokens", get(token_list).post(token_create))
        .route("/api/v1/tokens/{id}", axum::routing::delete(token_revoke))
        .route("/api/v1/audit", get(audit_query))
        .route("/api/v1/audit/verify", get(audit_verify))
}

/// The error answers any authenticated route can give.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum CommonErrors {
    /// A field of the request is wrong (`error.kind` is `invalid_input`, `error.field` names it).
    #[response(status = 400)]
    InvalidInput(ErrorBody),
    /// No valid credential was presented.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller may not do this, or a browser request lacked its CSRF token.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such record, or it belongs to a tenant the caller cannot see (answered identically).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The request clashes with the current state (a duplicate name, already archived).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The database cannot be reached right now.
    #[response(status = 503)]
    Unavailable(ErrorBody),
    /// Something unexpected; the server log has details.
    #[response(status = 500)]
    Internal(ErrorBody),
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Status {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// What `GET /api/v1/version` answers.
#[derive(Serialize, ToSchema)]
pub(crate) struct VersionInfo {
    pub version: String,
    pub commit: String,
}

// --- process ----------------------------------------------------------------------

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Success", body = Status)))]
pub(crate) async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The server can reach its database.
#[utoipa::path(
    get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Success", body = Status), (status = 503, description = "The database cannot be reached", body = ErrorBody))
)]
pub(crate) async fn readyz(State(s): State<AppState>) -> Result<Json<Status>, ApiError> {
    match s.works.store().ping().await {
        Ok(()) => Ok(Json(Status { status: "ready" })),
        Err(e @ Error::Unavailable { .. }) => Err(e.into()),
        Err(e) => Err(Error::unavailable(format!("The database is not ready: {e}")).into()),
    }
}

/// The server's version and the commit it was built from.
#[utoipa::path(get, path = "/api/v1/version", tag = "health", responses((status = 200, description = "Success", body = VersionInfo)))]
pub(crate) async fn version(State(s): State<AppState>) -> Json<VersionInfo> {
    Json(VersionInfo { version: s.config.version.clone(), commit: s.config.commit.clone() })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health", responses((status = 200, description = "The OpenAPI 3 document")))]
pub(crate) async fn openapi_json() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}

// --- sign-in ----------------------------------------------------------------------

/// Signs in and starts an API session; use `token` as `Authorization: Bearer …`.
/// After five failed attempts for one username within 15 minutes, further attempts
/// are refused with 429 and `Retry-After`.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginInput,
    responses(
        (status = 200, description = "Success", body = LoginOutcome),
        (status = 400, description = "A field is missing or malformed", body = ErrorBody),
        (status = 401, description = "Wrong username or password, or the account is disabled", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody),
    )
)]
pub(crate) async fn login(State(s): State<AppState>, Json(input): Json<LoginInput>) -> ApiResult<LoginOutcome> {
    Ok(Json(s.works.login(input, SessionKind::Api).await?))
}

/// Ends the caller's session.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out"), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn logout(State(s): State<AppState>, Caller(actor): Caller) -> Result<StatusCode, ApiError> {
    s.works.logout(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, description = "Success", body = User), CommonErrors), security(("bearer" = [])))]
pub(crate) async fn me(State(s): State<AppState>, Caller(actor): Caller) -> ApiResult<User> {
    Ok(Json(s.works.whoami(&actor).await?))
}

// --- organizations ----------------------------------------------------------------

/// Organizations the caller can see.
#[utoipa::path(
    get, path = "/api/v1/orgs", tag = "organizations",
    params(
        ("include_archived" = Option<bool>, Query, description = "Include archived organizations"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<Org>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn org_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<OrgQuery>) -> ApiResult<Listing<Org>> {
    Ok(Json(s.works.org_list(&actor, q).await?))
}

/// Creates an organization (MSP admins).
#[utoipa::path(
    post, path = "/api/v1/orgs", tag = "organizations",
    request_body = NewOrg,
    responses((status = 201, description = "Created", body = Org), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn org_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewOrg>) -> Created<Org> {
    Ok((StatusCode::CREATED, Json(s.works.org_create(&actor, input).await?)))
}

/// One organization.
#[utoipa::path(
    get, path = "/api/v1/orgs/{id}", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, description = "Success", body = Org), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn org_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Org> {
    Ok(Json(s.works.org_get(&actor, &id).await?))
}

/// Renames an organization (MSP admins).
#[utoipa::path(
    patch, path = "/api/v1/orgs/{id}", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    request_body = RenameOrg,
    responses((status = 200, description = "Success", body = Org), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn org_rename(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<RenameOrg>,
) -> ApiResult<Org> {
    Ok(Json(s.works.org_rename(&actor, &id, input).await?))
}

/// Archives an organization: its records stay, its users can no longer sign in.
#[utoipa::path(
    post, path = "/api/v1/orgs/{id}/archive", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, description = "Success", body = Org), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn org_archive(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<Org> {
    Ok(Json(s.works.org_archive(&actor, &id).await?))
}

// --- users ------------------------------------------------------------------------

/// Users the caller can see.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(
        ("org_id" = Option<String>, Query, description = "Only users of this organization"),
        ("include_disabled" = Option<bool>, Query, description = "Include disabled users"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<User>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn user_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<UserQuery>) -> ApiResult<Listing<User>> {
    Ok(Json(s.works.user_list(&actor, q).await?))
}

/// Creates a user.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    request_body = NewUser,
    responses((status = 201, description = "Created", body = User), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn user_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewUser>) -> Created<User> {
    Ok((StatusCode::CREATED, Json(s.works.user_create(&actor, input).await?)))
}

/// One user.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "Success", body = User), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn user_get(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<User> {
    Ok(Json(s.works.user_get(&actor, &id).await?))
}

/// Changes a user's display name, or role and organization. A change of role or
/// organization ends the user's sessions and API tokens.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UserUpdate,
    responses((status = 200, description = "Success", body = User), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn user_update(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<UserUpdate>,
) -> ApiResult<User> {
    Ok(Json(s.works.user_update(&actor, &id, input).await?))
}

/// Disables a user and at once ends their sessions and revokes their API tokens.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/disable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "Success", body = User), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn user_disable(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<User> {
    Ok(Json(s.works.user_disable(&actor, &id).await?))
}

/// Enables a disabled user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/enable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "Success", body = User), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn user_enable(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<User> {
    Ok(Json(s.works.user_enable(&actor, &id).await?))
}

/// Sets a new password (given, or generated and returned once) and ends the user's sessions.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/reset-password", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = ResetPassword,
    responses((status = 200, description = "Success", body = PasswordReset), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn user_reset_password(
    State(s): State<AppState>,
    Caller(actor): Caller,
    Id(id): Id,
    Json(input): Json<ResetPassword>,
) -> ApiResult<PasswordReset> {
    Ok(Json(s.works.user_reset_password(&actor, &id, input).await?))
}

// --- API tokens -------------------------------------------------------------------

/// API tokens of a user (the caller's own by default). Secrets are never listed.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "tokens",
    params(
        ("user_id" = Option<String>, Query, description = "Whose tokens; defaults to the caller's own"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = Listing<ApiToken>), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn token_list(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<TokenQuery>) -> ApiResult<Listing<ApiToken>> {
    Ok(Json(s.works.token_list(&actor, q).await?))
}

/// Creates an API token for the caller. The secret is in this answer and nowhere else.
#[utoipa::path(
    post, path = "/api/v1/tokens", tag = "tokens",
    request_body = NewToken,
    responses((status = 201, description = "Created", body = CreatedToken), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn token_create(State(s): State<AppState>, Caller(actor): Caller, Json(input): Json<NewToken>) -> Created<CreatedToken> {
    Ok((StatusCode::CREATED, Json(s.works.token_create(&actor, input).await?)))
}

/// Revokes an API token at once.
#[utoipa::path(
    delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, description = "The revoked token", body = ApiToken), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn token_revoke(State(s): State<AppState>, Caller(actor): Caller, Id(id): Id) -> ApiResult<ApiToken> {
    Ok(Json(s.works.token_revoke(&actor, &id).await?))
}

// --- audit log --------------------------------------------------------------------

/// Audit records the caller may see, newest first.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(
        ("actor_id" = Option<String>, Query, description = "Only records of this actor"),
        ("org_id" = Option<String>, Query, description = "Only records of this organization"),
        ("action" = Option<String>, Query, description = "An exact action (`org.create`) or a family ending in a dot (`org.`)"),
        ("outcome" = Option<works_core::Outcome>, Query, description = "succeeded, denied, rejected or failed"),
        ("target_id" = Option<String>, Query, description = "Only records about this record"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339, inclusive"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339"),
        ("before_seq" = Option<i64>, Query, description = "Records older than this seq (`next_before` of the previous page)"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 500, default 50)"),
    ),
    responses((status = 200, description = "Success", body = AuditPage), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn audit_query(State(s): State<AppState>, Caller(actor): Caller, Query(q): Query<AuditQuery>) -> ApiResult<AuditPage> {
    Ok(Json(s.works.audit_query(&actor, q).await?))
}

/// Walks the whole hash chain of the audit log and says whether it is intact (MSP roles).
#[utoipa::path(
    get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "Success", body = AuditVerification), CommonErrors),
    security(("bearer" = []))
)]
pub(crate) async fn audit_verify(State(s): State<AppState>, Caller(actor): Caller) -> ApiResult<AuditVerification> {
    Ok(Json(s.works.audit_verify(&actor).await?))
}
