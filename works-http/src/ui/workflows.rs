//! Pages of capabilities, permissions, connections and workflows: the catalog, who may
//! use what, the run view with its step-by-step log, and the typed approval of a paused
//! step. Every form is the same core call as its JSON route.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{
    access, ApproveRun, AttachPack, ConnectionQuery, ConnectionStatus, ConnectionUpdate, Error, NewConnection, NewPermission, NewWorkflow, OrgQuery, PermissionQuery,
    PermissionUpdate, Provider, RiskLevel, RunMode, RunQuery, RunState, StartRun, WorkflowQuery, WorkflowRun, WorkflowStep, WorkflowUpdate,
};

use super::{render, see_other, when, FormErrors, Nav, PageId, PageQuery, UiError, UiForm, UiSession, PAGE_SIZE};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/capabilities", get(capabilities_page))
        .route("/ui/capabilities/packs/{id}/attach", post(pack_attach))
        .route("/ui/permissions", get(permissions_page).post(permission_create))
        .route("/ui/permissions/{id}", get(permission_page).post(permission_save))
        .route("/ui/permissions/{id}/disable", post(permission_disable))
        .route("/ui/permissions/{id}/enable", post(permission_enable))
        .route("/ui/permissions/{id}/delete", post(permission_delete))
        .route("/ui/connections", get(connections_page).post(connection_create))
        .route("/ui/connections/{id}", get(connection_page).post(connection_save))
        .route("/ui/connections/{id}/delete", post(connection_delete))
        .route("/ui/workflows", get(workflows_page).post(workflow_create))
        .route("/ui/workflows/new", get(workflow_new_page))
        .route("/ui/workflows/{id}", get(workflow_page))
        .route("/ui/workflows/{id}/edit", get(workflow_edit_page).post(workflow_save))
        .route("/ui/workflows/{id}/delete", post(workflow_delete))
        .route("/ui/workflows/{id}/disable", post(workflow_disable))
        .route("/ui/workflows/{id}/enable", post(workflow_enable))
        .route("/ui/workflows/{id}/runs", post(run_start))
        .route("/ui/workflows/{id}/runs/{run_id}", get(run_page))
        .route("/ui/workflows/{id}/runs/{run_id}/approve", post(run_approve))
}

/// `{id}` and `{run_id}` of a run page.
struct RunIds(String, String);

impl<S: Send + Sync> FromRequestParts<S> for RunIds {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|p| RunIds(p.0 .0, p.0 .1))
            .map_err(|_| UiError::from_core(Error::not_found("workflow run", "?"), None))
    }
}

fn nav(session: &UiSession) -> Option<Nav> {
    Some(session.nav("workflows"))
}

struct CapRow {
    name: String,
    description: String,
    kind: String,
    provider: String,
    actions: String,
}

struct PackRow {
    id: String,
    name: String,
    description: String,
    capabilities: String,
}

#[derive(Template)]
#[template(path = "capabilities.html")]
struct CapabilitiesPage {
    nav: Option<Nav>,
    caps: Vec<CapRow>,
    packs: Vec<PackRow>,
    /// Organizations the actor may attach packs to; empty when it may attach none.
    orgs: Vec<Choice>,
    notice: Option<String>,
    errors: FormErrors,
}

async fn capabilities_view(s: &AppState, session: &UiSession, notice: Option<String>, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let caps = s.works.capability_list(&session.actor).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let packs = s.works.pack_list(&session.actor).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let orgs = org_choices(s, session).await?.into_iter().filter(|o| access::require_policy_manager(&session.actor, &o.value).is_ok()).collect();
    let page = CapabilitiesPage {
        nav: nav(session),
        caps: caps
            .iter()
            .map(|c| CapRow {
                name: c.name.clone(),
                description: c.description.clone(),
                kind: format!("{:?}", c.kind).to_lowercase(),
                provider: c.provider.map(|p| p.label().to_owned()).unwrap_or_else(|| "no".into()),
                actions: c.actions.iter().map(|a| format!("{} ({})", a.label, a.risk)).collect::<Vec<_>>().join(", "),
            })
            .collect(),
        packs: packs.iter().map(|p| PackRow { id: p.id.clone(), name: p.name.clone(), description: p.description.clone(), capabilities: p.capabilities.join(", ") }).collect(),
        orgs,
        notice,
        errors,
    };
    Ok(render(status, &page))
}

async fn capabilities_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let notice = (p.notice.as_deref() == Some("attached")).then(|| "Pack attached: its capabilities are enabled for the organization. Adjust them on the permissions page.".to_owned());
    capabilities_view(&s, &session, notice, FormErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct AttachForm {
    #[serde(default)]
    org_id: String,
}

async fn pack_attach(State(s): State<AppState>, PageId(id): PageId, form: UiForm<AttachForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    match s.works.pack_attach(&session.actor, &id, AttachPack { org_id: fields.org_id }).await {
        Ok(_) => Ok(see_other("/ui/capabilities?notice=attached")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            capabilities_view(&s, &session, None, errors, status).await
        }
    }
}

/// The fields of a posted form in order, repeated names kept (check boxes, step rows).
#[derive(Deserialize, Default)]
#[serde(transparent)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, or empty.
    fn one(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Every value of `name`, in order.
    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v == "yes")
    }
}

/// One option of a select or one check box.
struct Choice {
    value: String,
    label: String,
    checked: bool,
}

fn choice(value: impl Into<String>, label: impl Into<String>) -> Choice {
    Choice { value: value.into(), label: label.into(), checked: false }
}

fn risk_of(field: &str, value: &str) -> Result<RiskLevel, Error> {
    RiskLevel::parse(value.trim()).ok_or_else(|| Error::invalid(field, "must be one of low, medium, high or critical"))
}

fn approvers_of(value: &str) -> Result<u8, Error> {
    match value.trim() {
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(Error::invalid("approvers_required", "must be one approver, or two for the two-person rule")),
    }
}

/// The organizations the actor may pick in a form (its own, for organization people).
async fn org_choices(s: &AppState, session: &UiSession) -> Result<Vec<Choice>, UiError> {
    let orgs = s.works.org_list(&session.actor, OrgQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    Ok(orgs.items.into_iter().map(|o| choice(o.id, o.name)).collect())
}

fn risk_choices(selected: &str) -> Vec<Choice> {
    RiskLevel::ALL.iter().map(|r| Choice { value: r.as_str().to_owned(), label: r.as_str().to_owned(), checked: r.as_str() == selected }).collect()
}

const PERMISSION_FIELDS: [&str; 6] = ["org_id", "capability_id", "allowed_actions", "max_risk", "require_confirmation", "approvers_required"];

struct PermRow {
    id: String,
    org: String,
    capability: String,
    actions: String,
    max_risk: String,
    confirmation: String,
    state: String,
    enabled: bool,
}

/// What the add-permission form holds.
struct PermForm {
    org_id: String,
    capability_id: String,
    allowed_actions: String,
    max_risk: String,
    require_confirmation: bool,
    approvers: String,
}

impl Default for PermForm {
    fn default() -> Self {
        PermForm { org_id: String::new(), capability_id: String::new(), allowed_actions: String::new(), max_risk: "medium".into(), require_confirmation: false, approvers: "1".into() }
    }
}

#[derive(Template)]
#[template(path = "permissions.html")]
struct PermissionsPage {
    nav: Option<Nav>,
    rows: Vec<PermRow>,
    manage: bool,
    notice: Option<String>,
    errors: FormErrors,
    orgs: Vec<Choice>,
    caps: Vec<Choice>,
    risks: Vec<Choice>,
    form: PermForm,
    form_errors: FormErrors,
}

#[derive(Deserialize, Default)]
struct NoticeParams {
    notice: Option<String>,
}

fn confirmation_text(require: bool, approvers: u8) -> String {
    match (require, approvers) {
        (false, _) => "none".into(),
        (true, 2) => "two people".into(),
        (true, _) => "one person".into(),
    }
}

fn capability_name(id: &str) -> String {
    works_core::capabilities::find(id).map(|c| c.name.clone()).unwrap_or_else(|| id.to_owned())
}

async fn permissions_view(s: &AppState, session: &UiSession, notice: Option<String>, errors: FormErrors, form: (PermForm, FormErrors), status: StatusCode) -> Result<Response, UiError> {
    let list = s.works.permission_list(&session.actor, PermissionQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let orgs = org_choices(s, session).await?;
    let org_name = |id: &str| orgs.iter().find(|o| o.value == id).map(|o| o.label.clone()).unwrap_or_else(|| id.to_owned());
    let rows = list
        .items
        .iter()
        .map(|p| PermRow {
            id: p.id.clone(),
            org: org_name(&p.org_id),
            capability: capability_name(&p.capability_id),
            actions: if p.allowed_actions.is_empty() { "none".into() } else { p.allowed_actions.join(", ") },
            max_risk: p.max_risk.to_string(),
            confirmation: confirmation_text(p.require_confirmation, p.approvers_required),
            state: if p.enabled { "enabled".into() } else { "disabled".into() },
            enabled: p.enabled,
        })
        .collect();
    let manage = session.actor.is_msp() || session.actor.org_id.as_deref().is_some_and(|o| access::require_policy_manager(&session.actor, o).is_ok());
    let caps = works_core::capabilities::catalog()
        .iter()
        .map(|c| Choice { value: c.id.clone(), label: format!("{} ({})", c.name, c.actions.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")), checked: c.id == form.0.capability_id })
        .collect();
    let orgs = orgs.into_iter().map(|o| Choice { checked: o.value == form.0.org_id, ..o }).collect();
    let page = PermissionsPage { nav: nav(session), rows, manage, notice, errors, orgs, caps, risks: risk_choices(&form.0.max_risk), form: form.0, form_errors: form.1 };
    Ok(render(status, &page))
}

async fn permissions_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("disabled") => Some("Disabled: every step of that capability is blocked until it is enabled again.".to_owned()),
        Some("enabled") => Some("Enabled.".to_owned()),
        Some("added") => Some("Permission added.".to_owned()),
        Some("deleted") => Some("Permission removed: the capability is no longer enabled for that organization.".to_owned()),
        _ => None,
    };
    permissions_view(&s, &session, notice, FormErrors::default(), Default::default(), StatusCode::OK).await
}

async fn permission_create(State(s): State<AppState>, form: UiForm<Fields>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    let values = PermForm {
        org_id: f.one("org_id"),
        capability_id: f.one("capability_id"),
        allowed_actions: f.one("allowed_actions"),
        max_risk: f.one("max_risk"),
        require_confirmation: f.checked("require_confirmation"),
        approvers: f.one("approvers_required"),
    };
    let result = async {
        let actions: Vec<String> = values.allowed_actions.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect();
        let input = NewPermission {
            org_id: values.org_id.clone(),
            capability_id: values.capability_id.clone(),
            allowed_actions: (!actions.is_empty()).then_some(actions),
            max_risk: Some(risk_of("max_risk", &values.max_risk)?),
            require_confirmation: Some(values.require_confirmation),
            approvers_required: Some(approvers_of(&values.approvers)?),
        };
        s.works.permission_create(&session.actor, input).await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other("/ui/permissions?notice=added")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &PERMISSION_FIELDS, || session.nav("workflows"))?;
            permissions_view(&s, &session, None, FormErrors::default(), (values, errors), status).await
        }
    }
}

/// One action of a capability, as a check box of the permission form.
struct ActionBox {
    name: String,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "permission.html")]
struct PermissionPage {
    nav: Option<Nav>,
    id: String,
    org: String,
    capability: String,
    enabled: bool,
    actions: Vec<ActionBox>,
    risks: Vec<Choice>,
    require_confirmation: bool,
    approvers: String,
    updated: String,
    notice: Option<String>,
    errors: FormErrors,
}

/// The permission page; `sent` holds what a refused form sent, to show it again.
async fn permission_view(s: &AppState, session: &UiSession, id: &str, sent: Option<&Fields>, notice: Option<String>, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let p = s.works.permission_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let org = s.works.org_get(&session.actor, &p.org_id).await.map(|o| o.name).unwrap_or_else(|_| p.org_id.clone());
    let cap = works_core::capabilities::find(&p.capability_id);
    let allowed: Vec<String> = sent.map(|f| f.all("allowed_actions")).unwrap_or_else(|| p.allowed_actions.clone());
    let actions = cap
        .map(|c| c.actions.iter().map(|a| ActionBox { name: a.name.clone(), label: format!("{} ({} risk)", a.label, a.risk), checked: allowed.contains(&a.name) }).collect())
        .unwrap_or_default();
    let max_risk = sent.map(|f| f.one("max_risk")).unwrap_or_else(|| p.max_risk.to_string());
    let page = PermissionPage {
        nav: nav(session),
        id: p.id.clone(),
        org,
        capability: capability_name(&p.capability_id),
        enabled: p.enabled,
        actions,
        risks: risk_choices(&max_risk),
        require_confirmation: sent.map(|f| f.checked("require_confirmation")).unwrap_or(p.require_confirmation),
        approvers: sent.map(|f| f.one("approvers_required")).unwrap_or_else(|| p.approvers_required.to_string()),
        updated: format!("{} by {}", when(&p.updated_at), p.updated_by),
        notice,
        errors,
    };
    Ok(render(status, &page))
}

async fn permission_page(State(s): State<AppState>, session: UiSession, PageId(id): PageId, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let notice = (p.notice.as_deref() == Some("saved")).then(|| "Saved.".to_owned());
    permission_view(&s, &session, &id, None, notice, FormErrors::default(), StatusCode::OK).await
}

async fn permission_save(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Fields>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    // Another organization's permission is "not found" before anything sent is looked at.
    s.works.permission_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let result = async {
        let input = PermissionUpdate {
            allowed_actions: Some(f.all("allowed_actions")),
            max_risk: Some(risk_of("max_risk", &f.one("max_risk"))?),
            require_confirmation: Some(f.checked("require_confirmation")),
            approvers_required: Some(approvers_of(&f.one("approvers_required"))?),
            enabled: None,
        };
        s.works.permission_update(&session.actor, &id, input).await
    }
    .await;
    match result {
        Ok(p) => Ok(see_other(&format!("/ui/permissions/{}?notice=saved", p.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &PERMISSION_FIELDS, || session.nav("workflows"))?;
            permission_view(&s, &session, &id, Some(&f), None, errors, status).await
        }
    }
}

#[derive(Deserialize)]
struct EmptyForm {}

/// Disables, enables or removes a permission; refusals are shown on the permissions page.
async fn permission_switch(s: &AppState, session: UiSession, id: &str, what: &str) -> Result<Response, UiError> {
    let done = match what {
        "disabled" => s.works.permission_disable(&session.actor, id).await,
        "enabled" => s.works.permission_enable(&session.actor, id).await,
        _ => s.works.permission_delete(&session.actor, id).await,
    };
    match done {
        Ok(_) => Ok(see_other(&format!("/ui/permissions?notice={what}"))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            permissions_view(s, &session, None, errors, Default::default(), status).await
        }
    }
}

async fn permission_disable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    permission_switch(&s, form.session, &id, "disabled").await
}

async fn permission_enable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    permission_switch(&s, form.session, &id, "enabled").await
}

async fn permission_delete(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    permission_switch(&s, form.session, &id, "deleted").await
}

const CONNECTION_FIELDS: [&str; 6] = ["org_id", "name", "provider", "capabilities", "credential", "status"];

struct ConnRow {
    id: String,
    name: String,
    provider: String,
    status: String,
    status_reason: String,
    capabilities: String,
    credential: String,
}

/// What the add-connection form holds. Never the credential: it is not shown again,
/// not even after a refused form.
#[derive(Default)]
struct ConnForm {
    org_id: String,
    name: String,
    provider: String,
    capabilities: Vec<String>,
    status: String,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    nav: Option<Nav>,
    rows: Vec<ConnRow>,
    notice: Option<String>,
    orgs: Vec<Choice>,
    providers: Vec<Choice>,
    caps: Vec<Choice>,
    statuses: Vec<Choice>,
    form: ConnForm,
    errors: FormErrors,
}

/// Capabilities that need a connection, as check boxes.
fn linkable_caps(provider: Option<Provider>, checked: &[String]) -> Vec<Choice> {
    works_core::capabilities::catalog()
        .iter()
        .filter_map(|c| {
            let p = c.provider?;
            (provider.is_none() || provider == Some(p)).then(|| Choice { value: c.id.clone(), label: format!("{} (needs {})", c.name, p.label()), checked: checked.contains(&c.id) })
        })
        .collect()
}

fn status_choices(selected: &str, keep: Option<&str>) -> Vec<Choice> {
    let mut out: Vec<Choice> = Vec::new();
    match keep {
        Some(current) => out.push(Choice { value: String::new(), label: format!("Leave as it is ({current})"), checked: selected.is_empty() }),
        None => out.push(Choice { value: String::new(), label: "Connected with a credential, else placeholder".into(), checked: selected.is_empty() }),
    }
    for st in [ConnectionStatus::Placeholder, ConnectionStatus::Connected, ConnectionStatus::Error] {
        out.push(Choice { value: st.as_str().to_owned(), label: st.as_str().to_owned(), checked: st.as_str() == selected });
    }
    out
}

fn status_of_form(value: &str) -> Result<Option<ConnectionStatus>, Error> {
    match value.trim() {
        "" => Ok(None),
        v => ConnectionStatus::parse(v).map(Some).ok_or_else(|| Error::invalid("status", "must be placeholder, connected or error")),
    }
}

async fn connections_view(s: &AppState, session: &UiSession, notice: Option<String>, form: ConnForm, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let list = s.works.connection_list(&session.actor, ConnectionQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let rows = list
        .items
        .iter()
        .map(|c| ConnRow {
            id: c.id.clone(),
            name: c.name.clone(),
            provider: c.provider.label().to_owned(),
            status: c.status.as_str().to_owned(),
            status_reason: c.status_reason.clone().unwrap_or_default(),
            capabilities: if c.capabilities.is_empty() { "none".into() } else { c.capabilities.join(", ") },
            credential: if c.has_credential { "stored, sealed".into() } else { "none".into() },
        })
        .collect();
    let orgs = org_choices(s, session).await?.into_iter().map(|o| Choice { checked: o.value == form.org_id, ..o }).collect();
    let providers = Provider::ALL.iter().map(|p| Choice { value: p.as_str().to_owned(), label: p.label().to_owned(), checked: p.as_str() == form.provider }).collect();
    let page = ConnectionsPage {
        nav: nav(session),
        rows,
        notice,
        orgs,
        providers,
        caps: linkable_caps(None, &form.capabilities),
        statuses: status_choices(&form.status, None),
        form,
        errors,
    };
    Ok(render(status, &page))
}

async fn connections_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("deleted") => Some("Connection removed, with its credential.".to_owned()),
        _ => None,
    };
    connections_view(&s, &session, notice, ConnForm::default(), FormErrors::default(), StatusCode::OK).await
}

async fn connection_create(State(s): State<AppState>, form: UiForm<Fields>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    let values = ConnForm { org_id: f.one("org_id"), name: f.one("name"), provider: f.one("provider"), capabilities: f.all("capabilities"), status: f.one("status") };
    let result = async {
        let provider = Provider::parse(values.provider.trim()).ok_or_else(|| Error::invalid("provider", "choose one of Google Drive, ServiceTitan, QuickBooks, Composio or generic"))?;
        let credential = f.one("credential");
        let input = NewConnection {
            org_id: Some(values.org_id.clone()).filter(|o| !o.trim().is_empty()),
            name: values.name.clone(),
            provider,
            capabilities: values.capabilities.clone(),
            instances: Vec::new(),
            credential: Some(credential).filter(|c| !c.trim().is_empty()),
            status: status_of_form(&values.status)?,
        };
        s.works.connection_create(&session.actor, input).await
    }
    .await;
    match result {
        Ok(c) => Ok(see_other(&format!("/ui/connections/{}?notice=added", c.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &CONNECTION_FIELDS, || session.nav("workflows"))?;
            connections_view(&s, &session, None, values, errors, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "connection.html")]
struct ConnectionPage {
    nav: Option<Nav>,
    id: String,
    name: String,
    org: String,
    provider: String,
    status: String,
    status_reason: String,
    has_credential: bool,
    caps: Vec<Choice>,
    /// The organization's OpenClaw instances the person may see, checked when linked.
    instances: Vec<Choice>,
    statuses: Vec<Choice>,
    updated: String,
    notice: Option<String>,
    errors: FormErrors,
}

async fn connection_view(s: &AppState, session: &UiSession, id: &str, sent: Option<&Fields>, notice: Option<String>, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let c = s.works.connection_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let org = s.works.org_get(&session.actor, &c.org_id).await.map(|o| o.name).unwrap_or_else(|_| c.org_id.clone());
    let linked = sent.map(|f| f.all("capabilities")).unwrap_or_else(|| c.capabilities.clone());
    let used_by = sent.map(|f| f.all("instances")).unwrap_or_else(|| c.instances.clone());
    let instances = s
        .works
        .instance_list(&session.actor, works_core::InstanceQuery { limit: Some(500), ..Default::default() })
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.org_id.as_deref() == Some(c.org_id.as_str()) && i.state != works_core::InstanceState::Removed)
        .map(|i| Choice { checked: used_by.contains(&i.id), label: format!("{} ({})", i.container_name, i.state.as_str()), value: i.id })
        .collect();
    let page = ConnectionPage {
        nav: nav(session),
        id: c.id.clone(),
        name: sent.map(|f| f.one("name")).unwrap_or_else(|| c.name.clone()),
        org,
        provider: c.provider.label().to_owned(),
        status: c.status.as_str().to_owned(),
        status_reason: c.status_reason.clone().unwrap_or_default(),
        has_credential: c.has_credential,
        caps: linkable_caps(Some(c.provider), &linked),
        instances,
        statuses: status_choices(&sent.map(|f| f.one("status")).unwrap_or_default(), Some(c.status.as_str())),
        updated: when(&c.updated_at),
        notice,
        errors,
    };
    Ok(render(status, &page))
}

async fn connection_page(State(s): State<AppState>, session: UiSession, PageId(id): PageId, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("added") => Some("Connection added. A credential, if given, is sealed and will not be shown again.".to_owned()),
        Some("saved") => Some("Saved.".to_owned()),
        _ => None,
    };
    connection_view(&s, &session, &id, None, notice, FormErrors::default(), StatusCode::OK).await
}

async fn connection_save(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Fields>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    s.works.connection_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let result = async {
        let credential = f.one("credential");
        let input = ConnectionUpdate {
            name: Some(f.one("name")),
            capabilities: Some(f.all("capabilities")),
            instances: Some(f.all("instances")),
            status: status_of_form(&f.one("status"))?,
            credential: if f.checked("remove_credential") { Some(String::new()) } else { Some(credential).filter(|c| !c.trim().is_empty()) },
        };
        s.works.connection_update(&session.actor, &id, input).await
    }
    .await;
    match result {
        Ok(c) => Ok(see_other(&format!("/ui/connections/{}?notice=saved", c.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &CONNECTION_FIELDS, || session.nav("workflows"))?;
            connection_view(&s, &session, &id, Some(&f), None, errors, status).await
        }
    }
}

async fn connection_delete(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    match s.works.connection_delete(&session.actor, &id).await {
        Ok(_) => Ok(see_other("/ui/connections?notice=deleted")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            connection_view(&s, &session, &id, None, None, errors, status).await
        }
    }
}

struct WorkflowRow {
    id: String,
    name: String,
    steps: usize,
    owner: String,
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct WorkflowsPage {
    nav: Option<Nav>,
    rows: Vec<WorkflowRow>,
    notice: Option<String>,
}

async fn workflows_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let list = s.works.workflow_list(&session.actor, WorkflowQuery { limit: Some(PAGE_SIZE), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let rows = list.items.iter().map(|w| WorkflowRow { id: w.id.clone(), name: w.name.clone(), steps: w.steps.len(), owner: w.owner_name.clone() }).collect();
    let notice = (p.notice.as_deref() == Some("deleted")).then(|| "Workflow removed. Its runs stay on record.".to_owned());
    Ok(render(StatusCode::OK, &WorkflowsPage { nav: nav(&session), rows, notice }))
}

/// One row of the steps table of the workflow form, with its problems.
struct StepRow {
    n: usize,
    action: String,
    connection: String,
    parameters: String,
    action_error: Option<String>,
    connection_error: Option<String>,
    parameters_error: Option<String>,
}

impl StepRow {
    fn blank(n: usize) -> StepRow {
        StepRow { n, action: String::new(), connection: String::new(), parameters: String::new(), action_error: None, connection_error: None, parameters_error: None }
    }
}

#[derive(Template)]
#[template(path = "workflow_form.html")]
struct WorkflowFormPage {
    nav: Option<Nav>,
    /// Empty for a new workflow.
    id: String,
    title: String,
    orgs: Vec<Choice>,
    name: String,
    description: String,
    rows: Vec<StepRow>,
    actions: Vec<Choice>,
    connections: Vec<Choice>,
    errors: FormErrors,
}

/// Blank step rows offered after the filled ones.
const SPARE_STEP_ROWS: usize = 2;

/// What the workflow form holds: the record's, or what a refused form sent.
struct WorkflowValues {
    /// Empty for a new workflow.
    id: String,
    title: String,
    org_id: String,
    name: String,
    description: String,
    rows: Vec<StepRow>,
}

async fn workflow_form_view(s: &AppState, session: &UiSession, values: WorkflowValues, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let WorkflowValues { id, title, org_id, name, description, mut rows } = values;
    let orgs = if id.is_empty() { org_choices(s, session).await?.into_iter().map(|o| Choice { checked: o.value == org_id, ..o }).collect() } else { Vec::new() };
    let conns = s.works.connection_list(&session.actor, ConnectionQuery { limit: Some(500), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let mut actions = vec![choice("", "— no step —")];
    for c in works_core::capabilities::catalog() {
        for a in &c.actions {
            actions.push(choice(format!("{}/{}", c.id, a.name), format!("{}: {} ({} risk)", c.name, a.label, a.risk)));
        }
    }
    let mut connections = vec![choice("", "— none —")];
    connections.extend(conns.items.iter().map(|c| choice(c.id.clone(), format!("{} ({}, {})", c.name, c.provider.label(), c.status.as_str()))));
    let filled = rows.len();
    rows.extend((filled..filled + SPARE_STEP_ROWS).map(|i| StepRow::blank(i + 1)));
    let page = WorkflowFormPage { nav: nav(session), id, title, orgs, name, description, rows, actions, connections, errors };
    Ok(render(status, &page))
}

/// The steps a workflow form sent: every row that names an action, with the form row
/// each came from. Parameters that are not JSON are refused naming the step.
fn steps_of(f: &Fields) -> (Vec<StepRow>, Result<Vec<WorkflowStep>, Error>) {
    let (actions, conns, params) = (f.all("step_action"), f.all("step_connection"), f.all("step_parameters"));
    let mut rows = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        let connection = conns.get(i).cloned().unwrap_or_default();
        let parameters = params.get(i).cloned().unwrap_or_default();
        if action.trim().is_empty() && connection.trim().is_empty() && parameters.trim().is_empty() {
            continue;
        }
        rows.push(StepRow { action: action.clone(), connection, parameters, ..StepRow::blank(rows.len() + 1) });
    }
    let mut steps = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let n = i + 1;
        let (capability_id, action) = r.action.split_once('/').map(|(c, a)| (c.to_owned(), a.to_owned())).unwrap_or_default();
        if r.action.trim().is_empty() {
            let e = Error::invalid(format!("steps[{i}].action"), format!("step {n}: choose what the step does, or clear the row"));
            return (rows, Err(e));
        }
        let parameters = if r.parameters.trim().is_empty() {
            serde_json::json!({})
        } else {
            match serde_json::from_str::<serde_json::Value>(&r.parameters) {
                Ok(v) => v,
                Err(e) => {
                    let e = Error::invalid(format!("steps[{i}].parameters"), format!("step {n}: is not valid JSON ({e}); write an object such as {{\"page_size\": 10}}, or leave it empty"));
                    return (rows, Err(e));
                }
            }
        };
        steps.push(WorkflowStep { capability_id, action, connection_id: Some(r.connection.clone()).filter(|c| !c.trim().is_empty()), parameters });
    }
    (rows, Ok(steps))
}

/// Puts a problem of `steps[i].…` next to the field of the form row it came from.
fn place_step_error(e: Error, rows: &mut [StepRow]) -> Error {
    let Error::InvalidInput { field, problem } = &e else { return e };
    let Some(rest) = field.strip_prefix("steps[") else { return e };
    let Some((index, part)) = rest.split_once("].") else { return e };
    let Some(row) = index.parse::<usize>().ok().and_then(|i| rows.get_mut(i)) else { return e };
    let problem = Some(super::capitalise(problem));
    if part == "connection_id" {
        row.connection_error = problem;
    } else if part.starts_with("parameters") {
        row.parameters_error = problem;
    } else {
        row.action_error = problem;
    }
    Error::invalid("step", "see the step")
}

const WORKFLOW_FIELDS: [&str; 5] = ["org_id", "name", "description", "steps", "step"];

async fn workflow_new_page(State(s): State<AppState>, session: UiSession) -> Result<Response, UiError> {
    let org = session.actor.org_id.clone().unwrap_or_default();
    let values = WorkflowValues { id: String::new(), title: "New workflow".into(), org_id: org, name: String::new(), description: String::new(), rows: vec![StepRow::blank(1)] };
    workflow_form_view(&s, &session, values, FormErrors::default(), StatusCode::OK).await
}

async fn workflow_create(State(s): State<AppState>, form: UiForm<Fields>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    let (mut rows, steps) = steps_of(&f);
    let (org_id, name, description) = (f.one("org_id"), f.one("name"), f.one("description"));
    let result = match steps {
        Ok(steps) => {
            let input = NewWorkflow { org_id: Some(org_id.clone()).filter(|o| !o.trim().is_empty()), name: name.clone(), description: Some(description.clone()), steps };
            s.works.workflow_create(&session.actor, input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(w) => Ok(see_other(&format!("/ui/workflows/{}?notice=saved", w.id))),
        Err(e) => {
            let e = place_step_error(e, &mut rows);
            let (errors, status) = FormErrors::from_submission(e, &WORKFLOW_FIELDS, || session.nav("workflows"))?;
            let values = WorkflowValues { id: String::new(), title: "New workflow".into(), org_id, name, description, rows };
            workflow_form_view(&s, &session, values, errors, status).await
        }
    }
}

async fn workflow_edit_page(State(s): State<AppState>, session: UiSession, PageId(id): PageId) -> Result<Response, UiError> {
    let w = s.works.workflow_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let rows = w
        .steps
        .iter()
        .enumerate()
        .map(|(i, st)| StepRow {
            action: format!("{}/{}", st.capability_id, st.action),
            connection: st.connection_id.clone().unwrap_or_default(),
            parameters: if st.parameters.as_object().is_some_and(|o| o.is_empty()) { String::new() } else { st.parameters.to_string() },
            ..StepRow::blank(i + 1)
        })
        .collect();
    let values = WorkflowValues { title: format!("Edit {}", w.name), id: w.id, org_id: w.org_id, name: w.name, description: w.description, rows };
    workflow_form_view(&s, &session, values, FormErrors::default(), StatusCode::OK).await
}

async fn workflow_save(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Fields>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    // Another organization's workflow is "not found" before anything sent is looked at.
    let w = s.works.workflow_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let (mut rows, steps) = steps_of(&f);
    let (name, description) = (f.one("name"), f.one("description"));
    let result = match steps {
        Ok(steps) => s.works.workflow_update(&session.actor, &id, WorkflowUpdate { name: Some(name.clone()), description: Some(description.clone()), steps: Some(steps), enabled: None }).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(w) => Ok(see_other(&format!("/ui/workflows/{}?notice=saved", w.id))),
        Err(e) => {
            let e = place_step_error(e, &mut rows);
            let (errors, status) = FormErrors::from_submission(e, &WORKFLOW_FIELDS, || session.nav("workflows"))?;
            let values = WorkflowValues { title: format!("Edit {}", w.name), id: w.id, org_id: w.org_id, name, description, rows };
            workflow_form_view(&s, &session, values, errors, status).await
        }
    }
}

/// Disables or enables a workflow; a refusal is shown on its page.
async fn workflow_switch(s: &AppState, session: UiSession, id: &str, enabled: bool) -> Result<Response, UiError> {
    match s.works.workflow_update(&session.actor, id, WorkflowUpdate { enabled: Some(enabled), ..Default::default() }).await {
        Ok(w) => Ok(see_other(&format!("/ui/workflows/{}?notice={}", w.id, if enabled { "enabled" } else { "disabled" }))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            workflow_view(s, &session, id, None, errors, status).await
        }
    }
}

async fn workflow_disable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    workflow_switch(&s, form.session, &id, false).await
}

async fn workflow_enable(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    workflow_switch(&s, form.session, &id, true).await
}

async fn workflow_delete(State(s): State<AppState>, PageId(id): PageId, form: UiForm<EmptyForm>) -> Result<Response, UiError> {
    let UiForm { session, .. } = form;
    match s.works.workflow_delete(&session.actor, &id).await {
        Ok(_) => Ok(see_other("/ui/workflows?notice=deleted")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            workflow_view(&s, &session, &id, None, errors, status).await
        }
    }
}

struct RunRow {
    id: String,
    started: String,
    mode: String,
    state: String,
    by: String,
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct WorkflowPage {
    nav: Option<Nav>,
    id: String,
    name: String,
    description: String,
    enabled: bool,
    steps: Vec<String>,
    runs: Vec<RunRow>,
    notice: Option<String>,
    errors: FormErrors,
}

async fn workflow_view(s: &AppState, session: &UiSession, id: &str, notice: Option<String>, errors: FormErrors, status: StatusCode) -> Result<Response, UiError> {
    let w = s.works.workflow_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let runs = s.works.run_list(&session.actor, id, RunQuery { limit: Some(PAGE_SIZE), ..Default::default() }).await.map_err(|e| UiError::from_core(e, nav(session)))?;
    let steps = w
        .steps
        .iter()
        .map(|st| {
            let cap = works_core::capabilities::find(&st.capability_id);
            let label = cap.and_then(|c| c.action(&st.action)).map(|a| format!("{} ({} risk)", a.label, a.risk)).unwrap_or_else(|| st.action.clone());
            format!("{} with {}", label, cap.map(|c| c.name.clone()).unwrap_or_else(|| st.capability_id.clone()))
        })
        .collect();
    let runs = runs.items.iter().map(|r| RunRow { id: r.id.clone(), started: when(&r.created_at), mode: r.mode.as_str().to_owned(), state: r.state.label().to_owned(), by: r.started_by.clone() }).collect();
    Ok(render(status, &WorkflowPage { nav: nav(session), id: w.id, name: w.name, description: w.description, enabled: w.enabled, steps, runs, notice, errors }))
}

async fn workflow_page(State(s): State<AppState>, session: UiSession, PageId(id): PageId, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("saved") => Some("Saved. Every step was checked; runs use the new steps from now on.".to_owned()),
        Some("disabled") => Some("Disabled: the workflow cannot be run, by a person or a schedule, until it is enabled again.".to_owned()),
        Some("enabled") => Some("Enabled: the workflow can be run again.".to_owned()),
        _ => None,
    };
    workflow_view(&s, &session, &id, notice, FormErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    mode: String,
}

async fn run_start(State(s): State<AppState>, PageId(id): PageId, form: UiForm<RunForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let mode = if fields.mode == "live" { RunMode::Live } else { RunMode::Simulation };
    let works = s.works.clone();
    let (actor, wf) = (session.actor.clone(), id.clone());
    // In a task of its own, so a closed browser tab does not stop a run half-way.
    let started = tokio::spawn(async move { works.run_start(&actor, &wf, StartRun { mode }).await })
        .await
        .unwrap_or_else(|_| Err(Error::internal("The run stopped unexpectedly; see the server log.")));
    match started {
        Ok(run) => Ok(see_other(&format!("/ui/workflows/{}/runs/{}", run.workflow_id, run.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("workflows"))?;
            workflow_view(&s, &session, &id, None, errors, status).await
        }
    }
}

struct StepView {
    title: String,
    outcome: String,
    label: String,
    rule: String,
    reason: String,
    approvals: String,
    files: Vec<String>,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Option<Nav>,
    id: String,
    workflow_id: String,
    workflow_name: String,
    state: String,
    mode: String,
    reason: String,
    started: String,
    started_by: String,
    steps: Vec<StepView>,
    phrase: String,
    approval_step: u32,
    approval_note: String,
    phrase_value: String,
    notice: Option<String>,
    errors: FormErrors,
}

/// "Step 2: list files with Google Drive", from the catalog; the ids when it does not know them.
fn step_title(number: u32, capability_id: &str, action: &str) -> String {
    match works_core::capabilities::find(capability_id) {
        Some(cap) => format!("Step {number}: {} with {}", cap.action(action).map(|a| a.label.as_str()).unwrap_or(action), cap.name),
        None => format!("Step {number}: {capability_id} {action}"),
    }
}

fn run_view_of(r: &WorkflowRun, session: &UiSession, notice: Option<String>, phrase_value: String, errors: FormErrors) -> RunPage {
    let waiting = (r.state == RunState::AwaitingApproval).then(|| r.current()).flatten();
    RunPage {
        nav: nav(session),
        id: r.id.clone(),
        workflow_id: r.workflow_id.clone(),
        workflow_name: r.workflow_name.clone(),
        state: r.state.label().to_owned(),
        mode: r.mode.as_str().to_owned(),
        reason: r.reason.clone(),
        started: when(&r.created_at),
        started_by: r.started_by.clone(),
        steps: r
            .steps
            .iter()
            .map(|s| StepView {
                title: step_title(s.number, &s.capability_id, &s.action),
                outcome: s.outcome.as_str().replace('_', " "),
                label: s.label.map(|l| l.as_str().to_owned()).unwrap_or_default(),
                rule: s.rule.map(|r| r.as_str().to_owned()).unwrap_or_default(),
                reason: s.reason.clone(),
                approvals: s.approvals.iter().map(|a| format!("{} ({})", a.by_name, when(&a.at))).collect::<Vec<_>>().join(", "),
                files: s
                    .output
                    .as_ref()
                    .and_then(|o| o.get("files"))
                    .and_then(|f| f.as_array())
                    .map(|fs| fs.iter().take(100).filter_map(|f| f.get("name").and_then(|n| n.as_str()).map(str::to_owned)).collect())
                    .unwrap_or_default(),
            })
            .collect(),
        phrase: waiting.and_then(|s| s.approval_phrase.clone()).unwrap_or_default(),
        approval_step: waiting.map(|s| s.number).unwrap_or_default(),
        approval_note: waiting
            .map(|s| {
                if s.approvers_required >= 2 {
                    format!("This step needs two different approvers, neither of them the person who started the run ({} of 2 so far). Type this phrase exactly:", s.approvals.len())
                } else {
                    "This step waits for a person to confirm it. Type this phrase exactly:".to_owned()
                }
            })
            .unwrap_or_default(),
        phrase_value,
        notice,
        errors,
    }
}

async fn run_page(State(s): State<AppState>, session: UiSession, RunIds(id, run_id): RunIds, PageQuery(p): PageQuery<NoticeParams>) -> Result<Response, UiError> {
    let r = s.works.run_get(&session.actor, &id, &run_id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
    let notice = match p.notice.as_deref() {
        Some("approved") => Some("Approved.".to_owned()),
        _ => None,
    };
    Ok(render(StatusCode::OK, &run_view_of(&r, &session, notice, String::new(), FormErrors::default())))
}

#[derive(Deserialize)]
struct ApproveForm {
    #[serde(default)]
    phrase: String,
}

async fn run_approve(State(s): State<AppState>, RunIds(id, run_id): RunIds, form: UiForm<ApproveForm>) -> Result<Response, UiError> {
    let UiForm { session, fields } = form;
    let works = s.works.clone();
    let (actor, wf, run, phrase) = (session.actor.clone(), id.clone(), run_id.clone(), fields.phrase.clone());
    let approved = tokio::spawn(async move { works.run_approve(&actor, &wf, &run, ApproveRun { phrase }).await })
        .await
        .unwrap_or_else(|_| Err(Error::internal("The run stopped unexpectedly; see the server log.")));
    match approved {
        Ok(r) => Ok(see_other(&format!("/ui/workflows/{}/runs/{}?notice=approved", r.workflow_id, r.id))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["phrase"], || session.nav("workflows"))?;
            let r = s.works.run_get(&session.actor, &id, &run_id).await.map_err(|e| UiError::from_core(e, nav(&session)))?;
            Ok(render(status, &run_view_of(&r, &session, None, fields.phrase, errors)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav() -> Option<Nav> {
        Some(Nav { username: "admin".into(), role: "MSP admin", csrf: "tok".into(), section: "workflows", msp: true })
    }

    #[test]
    fn the_connections_page_shows_why_a_connection_is_in_error() {
        let why = "Google Drive did not accept the connection's token (401): it is invalid or has expired. Replace the credential on the connection, then run the workflow again.";
        let page = ConnectionsPage {
            nav: nav(),
            rows: vec![ConnRow {
                id: "c1".into(),
                name: "Acme Drive".into(),
                provider: "Google Drive".into(),
                status: "error".into(),
                status_reason: why.into(),
                capabilities: "google_drive".into(),
                credential: "stored, sealed".into(),
            }],
            notice: None,
            orgs: vec![],
            providers: vec![],
            caps: vec![],
            statuses: status_choices("", None),
            form: ConnForm::default(),
            errors: FormErrors::default(),
        };
        let html = page.render().unwrap();
        assert!(html.contains(r#"<span class="badge">error</span>"#), "{html}");
        assert!(html.contains("Google Drive did not accept the connection&#39;s token (401)") || html.contains("did not accept the connection&#x27;s token (401)"), "{html}");
        assert!(html.contains(r#"name="credential" type="password" autocomplete="new-password" value="""#), "the credential field is always empty: {html}");
    }

    #[test]
    fn a_step_problem_goes_next_to_the_field_of_its_row() {
        let f = Fields(vec![
            ("step_action".into(), "google_drive/list_files".into()),
            ("step_connection".into(), String::new()),
            ("step_parameters".into(), String::new()),
            ("step_action".into(), String::new()),
            ("step_connection".into(), String::new()),
            ("step_parameters".into(), String::new()),
            ("step_action".into(), "summarize/summarize_text".into()),
            ("step_connection".into(), String::new()),
            ("step_parameters".into(), "[1]".into()),
        ]);
        let (mut rows, steps) = steps_of(&f);
        assert_eq!(rows.len(), 2, "the empty row is left out");
        assert_eq!(rows[1].n, 2);
        assert_eq!(steps.unwrap().len(), 2);
        let e = place_step_error(Error::invalid("steps[1].parameters", "step 2: must be a JSON object"), &mut rows);
        assert_eq!(rows[1].parameters_error.as_deref(), Some("Step 2: must be a JSON object"));
        assert_eq!(e.field(), Some("step"));
        let e = place_step_error(Error::invalid("name", "must not be empty"), &mut rows);
        assert_eq!(e.field(), Some("name"), "other problems stay with their field");

        let (_, bad) = steps_of(&Fields(vec![("step_action".into(), "summarize/summarize_text".into()), ("step_connection".into(), String::new()), ("step_parameters".into(), "{nope".into())]));
        assert_eq!(bad.unwrap_err().field(), Some("steps[0].parameters"));
    }
}
