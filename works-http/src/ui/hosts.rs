//! Pages of the access layer: hosts (with SSH credentials and jumpboxes for MSP roles),
//! one host with Test Access, registration and its attempts, and one attempt with where
//! it stopped, why, what next, the transcript, the findings and the raw output behind
//! "Technical details". A running attempt's page refreshes itself (no JavaScript). Every
//! form is the same core call as its JSON route; everything shown is escaped.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use works_core::{
    validate, AccessAttempt, AttemptQuery, AttemptStatus, Error, Host, HostQuery, HostUpdate, Jumpbox, JumpboxUpdate, NewHost, NewJumpbox, NewSshCredential, OrgQuery,
    PageQuery as CorePage, SshCredential,
};

use super::{empty_to_none, render, see_other, when, FormErrors, Nav, PageId, PageQuery, UiError, UiForm, UiSession, PAGE_SIZE};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/hosts", get(hosts_page).post(host_add))
        .route("/ui/hosts/credentials", post(credential_add))
        .route("/ui/hosts/jumpboxes", post(jumpbox_add))
        .route("/ui/hosts/{id}", get(host_page))
        .route("/ui/hosts/{id}/test-access", post(host_test_access))
        .route("/ui/hosts/{id}/register", post(host_register))
        .route("/ui/hosts/{id}/forget-host-key", post(host_forget_key))
        .route("/ui/hosts/{id}/edit", post(host_edit))
        .route("/ui/hosts/{id}/delete", post(host_delete))
        .route("/ui/hosts/{id}/install-agent", post(host_install_agent))
        .route("/ui/hosts/{id}/jumpbox/edit", post(jumpbox_edit))
        .route("/ui/jumpboxes/{id}/delete", post(jumpbox_delete))
        .route("/ui/access-attempts/{id}", get(attempt_page))
}

struct Choice {
    value: String,
    label: String,
}

#[derive(Default)]
struct HostFormValues {
    org_id: String,
    name: String,
    address: String,
    port: String,
    user: String,
    credential_id: String,
    jumpbox: String,
}

#[derive(Default)]
struct JumpboxFormValues {
    name: String,
    address: String,
    port: String,
    user: String,
    credential_id: String,
}

#[derive(Template)]
#[template(path = "hosts.html")]
struct HostsPage {
    nav: Option<Nav>,
    msp: bool,
    hosts: Vec<Host>,
    jumpboxes: Vec<Jumpbox>,
    credentials: Vec<SshCredential>,
    orgs: Vec<Choice>,
    host_form: HostFormValues,
    host_errors: FormErrors,
    jump_form: JumpboxFormValues,
    jump_errors: FormErrors,
    cred_name: String,
    cred_errors: FormErrors,
    notice: Option<String>,
    next_page: Option<String>,
}

#[derive(Deserialize, Default)]
struct HostsParams {
    offset: Option<u32>,
    notice: Option<String>,
}

struct Forms {
    host: (HostFormValues, FormErrors),
    jump: (JumpboxFormValues, FormErrors),
    cred: (String, FormErrors),
}

impl Default for Forms {
    fn default() -> Self {
        Forms {
            host: (HostFormValues { port: "22".into(), user: "root".into(), ..Default::default() }, FormErrors::default()),
            jump: (JumpboxFormValues { port: "22".into(), ..Default::default() }, FormErrors::default()),
            cred: (String::new(), FormErrors::default()),
        }
    }
}

async fn hosts_view(s: &AppState, session: &UiSession, offset: Option<u32>, notice: Option<String>, forms: Forms, status: StatusCode) -> Result<Response, UiError> {
    let nav = || Some(session.nav("hosts"));
    let core = |e| UiError::from_core(e, nav());
    let listing = s.works.host_list(&session.actor, HostQuery { org_id: None, offset, limit: Some(PAGE_SIZE) }).await.map_err(core)?;
    let msp = session.actor.is_msp();
    let (jumpboxes, credentials, orgs) = if msp {
        let j = s.works.jumpbox_list(&session.actor, CorePage { offset: None, limit: Some(500) }).await.map_err(core)?.items;
        let c = s.works.ssh_credential_list(&session.actor, CorePage { offset: None, limit: Some(500) }).await.map_err(core)?.items;
        let o = s
            .works
            .org_list(&session.actor, OrgQuery { include_archived: false, offset: None, limit: Some(500) })
            .await
            .map_err(core)?
            .items
            .into_iter()
            .map(|o| Choice { value: o.id, label: o.name })
            .collect();
        (j, c, o)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let page = HostsPage {
        nav: nav(),
        msp,
        hosts: listing.items,
        jumpboxes,
        credentials,
        orgs,
        host_form: forms.host.0,
        host_errors: forms.host.1,
        jump_form: forms.jump.0,
        jump_errors: forms.jump.1,
        cred_name: forms.cred.0,
        cred_errors: forms.cred.1,
        notice,
        next_page: listing.next_offset.map(|o| format!("/ui/hosts?offset={o}")),
    };
    Ok(render(status, &page))
}

async fn hosts_page(State(s): State<AppState>, session: UiSession, PageQuery(p): PageQuery<HostsParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("credential") => Some("SSH credential stored, sealed with the master key. The private key will not be shown again.".to_owned()),
        Some("jumpbox") => Some("Jumpbox added. Its host key is pinned at the first successful Test Access through it.".to_owned()),
        Some("host-deleted") => Some("Host deleted, with its attempts. A node it was registered as stays; retire it on its page.".to_owned()),
        Some("jumpbox-deleted") => Some("Jumpbox deleted.".to_owned()),
        _ => None,
    };
    hosts_view(&s, &session, p.offset, notice, Forms::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct HostForm {
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    credential_id: String,
    #[serde(default)]
    jumpbox: String,
}

async fn host_add(State(s): State<AppState>, form: UiForm<HostForm>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    let result = async {
        let port = validate::ssh_port_text("port", &f.port)?;
        s.works
            .host_create(
                &session.actor,
                NewHost {
                    org_id: f.org_id.clone(),
                    name: f.name.clone(),
                    address: f.address.clone(),
                    port,
                    user: f.user.clone(),
                    credential_id: f.credential_id.clone(),
                    jumpbox: empty_to_none(Some(f.jumpbox.clone())),
                },
            )
            .await
    }
    .await;
    match result {
        Ok(h) => Ok(see_other(&format!("/ui/hosts/{}?notice=added", h.id))),
        Err(e) => {
            let (errors, status) =
                FormErrors::from_submission(e, &["org_id", "name", "address", "port", "user", "credential_id", "jumpbox"], || session.nav("hosts"))?;
            let values = HostFormValues { org_id: f.org_id, name: f.name, address: f.address, port: f.port, user: f.user, credential_id: f.credential_id, jumpbox: f.jumpbox };
            let forms = Forms { host: (values, errors), ..Forms::default() };
            hosts_view(&s, &session, None, None, forms, status).await
        }
    }
}

#[derive(Deserialize)]
struct CredentialForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    private_key: String,
}

async fn credential_add(State(s): State<AppState>, form: UiForm<CredentialForm>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    match s.works.ssh_credential_create(&session.actor, NewSshCredential { name: f.name.clone(), private_key: f.private_key }).await {
        Ok(_) => Ok(see_other("/ui/hosts?notice=credential")),
        Err(e) => {
            // The key is never sent back into the page, even when it was refused.
            let (errors, status) = FormErrors::from_submission(e, &["name", "private_key"], || session.nav("hosts"))?;
            let forms = Forms { cred: (f.name, errors), ..Forms::default() };
            hosts_view(&s, &session, None, None, forms, status).await
        }
    }
}

#[derive(Deserialize)]
struct JumpboxForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    credential_id: String,
}

async fn jumpbox_add(State(s): State<AppState>, form: UiForm<JumpboxForm>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    let result = async {
        let port = validate::ssh_port_text("port", &f.port)?;
        s.works
            .jumpbox_create(&session.actor, NewJumpbox { name: f.name.clone(), address: f.address.clone(), port, user: f.user.clone(), credential_id: f.credential_id.clone() })
            .await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other("/ui/hosts?notice=jumpbox")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name", "address", "port", "user", "credential_id"], || session.nav("hosts"))?;
            let values = JumpboxFormValues { name: f.name, address: f.address, port: f.port, user: f.user, credential_id: f.credential_id };
            let forms = Forms { jump: (values, errors), ..Forms::default() };
            hosts_view(&s, &session, None, None, forms, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostPage {
    nav: Option<Nav>,
    host: Host,
    route: String,
    verified: String,
    msp: bool,
    attempts: Vec<AttemptRow>,
    notice: Option<String>,
    error: Option<String>,
    /// For MSP roles: the edit forms and their choices.
    jumpboxes: Vec<Jumpbox>,
    credentials: Vec<SshCredential>,
    edit: HostFormValues,
    edit_errors: FormErrors,
    /// The host's jumpbox, editable here.
    jumpbox: Option<Jumpbox>,
    jump_edit: JumpboxFormValues,
    jump_errors: FormErrors,
}

/// Edit forms coming back with their problems.
#[derive(Default)]
struct HostForms {
    host: Option<(HostFormValues, FormErrors)>,
    jump: Option<(JumpboxFormValues, FormErrors)>,
}

struct AttemptRow {
    id: String,
    status: &'static str,
    stage: String,
    reason: String,
    started: String,
}

#[derive(Deserialize, Default)]
struct HostParams {
    notice: Option<String>,
}

async fn host_view(s: &AppState, session: &UiSession, id: &str, notice: Option<String>, error: Option<String>, status: StatusCode) -> Result<Response, UiError> {
    host_view_with(s, session, id, notice, error, status, HostForms::default()).await
}

async fn host_view_with(
    s: &AppState,
    session: &UiSession,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
    forms: HostForms,
) -> Result<Response, UiError> {
    let nav = || Some(session.nav("hosts"));
    let core = |e| UiError::from_core(e, nav());
    let host = s.works.host_get(&session.actor, id).await.map_err(core)?;
    let msp = session.actor.is_msp();
    let jumpbox = match &host.jumpbox_id {
        Some(j) => s.works.jumpbox_get(&session.actor, j).await.ok(),
        None => None,
    };
    let route = match (&host.jumpbox_id, &jumpbox) {
        (Some(_), Some(j)) => format!("Through jumpbox {} ({}@{}:{})", j.name, j.user, j.address, j.port),
        (Some(_), None) => "Through a jumpbox of the MSP".to_owned(),
        (None, _) => "Direct".to_owned(),
    };
    let (jumpboxes, credentials) = if msp {
        let j = s.works.jumpbox_list(&session.actor, CorePage { offset: None, limit: Some(500) }).await.map_err(core)?.items;
        let c = s.works.ssh_credential_list(&session.actor, CorePage { offset: None, limit: Some(500) }).await.map_err(core)?.items;
        (j, c)
    } else {
        (Vec::new(), Vec::new())
    };
    let attempts = s
        .works
        .access_attempt_list(&session.actor, AttemptQuery { host_id: Some(host.id.clone()), offset: None, limit: Some(20) })
        .await
        .map_err(core)?
        .items
        .iter()
        .map(attempt_row)
        .collect();
    let (edit, edit_errors) = forms.host.unwrap_or_else(|| {
        (
            HostFormValues {
                org_id: host.org_id.clone(),
                name: host.name.clone(),
                address: host.address.clone(),
                port: host.port.to_string(),
                user: host.user.clone(),
                credential_id: host.credential_id.clone(),
                jumpbox: jumpbox.as_ref().map(|j| j.name.clone()).unwrap_or_default(),
            },
            FormErrors::default(),
        )
    });
    let (jump_edit, jump_errors) = forms.jump.unwrap_or_else(|| {
        let values = jumpbox
            .as_ref()
            .map(|j| JumpboxFormValues { name: j.name.clone(), address: j.address.clone(), port: j.port.to_string(), user: j.user.clone(), credential_id: j.credential_id.clone() })
            .unwrap_or_default();
        (values, FormErrors::default())
    });
    let page = HostPage {
        nav: nav(),
        verified: host.verified_at.as_ref().map(when).unwrap_or_else(|| "never".into()),
        route,
        msp,
        host,
        attempts,
        notice,
        error,
        jumpboxes,
        credentials,
        edit,
        edit_errors,
        jumpbox,
        jump_edit,
        jump_errors,
    };
    Ok(render(status, &page))
}

fn attempt_row(a: &AccessAttempt) -> AttemptRow {
    AttemptRow {
        id: a.id.clone(),
        status: a.status.as_str(),
        stage: format!("{} {}", a.stage.hop.as_str(), a.stage.step.as_str().replace('_', " ")),
        reason: a.reason.clone().unwrap_or_default(),
        started: when(&a.started_at),
    }
}

async fn host_page(State(s): State<AppState>, session: UiSession, PageId(id): PageId, PageQuery(p): PageQuery<HostParams>) -> Result<Response, UiError> {
    let notice = match p.notice.as_deref() {
        Some("added") => Some("Host added. Run Test Access to verify the route and pin its host key.".to_owned()),
        Some("registered") => Some("Registered as a node candidate, without an agent. Installing the agent is a separate, approved job.".to_owned()),
        Some("forgot") => Some("The pinned host key was cleared. The next Test Access pins the key it sees.".to_owned()),
        Some("changed") => Some("Host changed. If its address, user, credential or route changed, run Test Access again.".to_owned()),
        Some("jumpbox-changed") => Some("Jumpbox changed. A new address clears its pinned host key; the next Test Access through it pins the key it sees.".to_owned()),
        _ => None,
    };
    host_view(&s, &session, &id, notice, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct Empty {}

/// A button's refusal is shown on the host page; anything else is an error page.
async fn button_error(s: &AppState, session: &UiSession, id: &str, e: Error) -> Result<Response, UiError> {
    let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("hosts"))?;
    host_view(s, session, id, None, errors.general().map(str::to_owned), status).await
}

async fn host_test_access(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Empty>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.host_test_access(&session.actor, &id).await {
        Ok(a) => Ok(see_other(&format!("/ui/access-attempts/{}", a.id))),
        Err(e) => button_error(&s, &session, &id, e).await,
    }
}

async fn host_register(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Empty>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.host_register(&session.actor, &id).await {
        Ok(_) => Ok(see_other(&format!("/ui/hosts/{id}?notice=registered"))),
        Err(e) => button_error(&s, &session, &id, e).await,
    }
}

async fn host_forget_key(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Empty>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.host_forget_host_key(&session.actor, &id).await {
        Ok(_) => Ok(see_other(&format!("/ui/hosts/{id}?notice=forgot"))),
        Err(e) => button_error(&s, &session, &id, e).await,
    }
}

async fn host_edit(State(s): State<AppState>, PageId(id): PageId, form: UiForm<HostForm>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    let result = async {
        let port = validate::ssh_port_text("port", &f.port)?;
        let input = HostUpdate {
            name: Some(f.name.clone()),
            address: Some(f.address.clone()),
            port,
            user: Some(f.user.clone()),
            credential_id: Some(f.credential_id.clone()),
            jumpbox: Some(f.jumpbox.clone()),
        };
        s.works.host_update(&session.actor, &id, input).await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/ui/hosts/{id}?notice=changed"))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name", "address", "port", "user", "credential_id", "jumpbox"], || session.nav("hosts"))?;
            let error = errors.general().map(str::to_owned);
            let values = HostFormValues { org_id: f.org_id, name: f.name, address: f.address, port: f.port, user: f.user, credential_id: f.credential_id, jumpbox: f.jumpbox };
            host_view_with(&s, &session, &id, None, error, status, HostForms { host: Some((values, errors)), jump: None }).await
        }
    }
}

async fn host_delete(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Empty>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.host_delete(&session.actor, &id).await {
        Ok(_) => Ok(see_other("/ui/hosts?notice=host-deleted")),
        Err(e) => button_error(&s, &session, &id, e).await,
    }
}

async fn host_install_agent(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Empty>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.host_install_agent(&session.actor, &id).await {
        // The job's page is where the approval phrase is typed.
        Ok(job) => Ok(see_other(&format!("/ui/jobs/{}", job.id))),
        Err(e) => button_error(&s, &session, &id, e).await,
    }
}

/// The host's jumpbox, by the host (the forms live on the host's page).
async fn host_jumpbox_id(s: &AppState, session: &UiSession, id: &str) -> Result<String, UiError> {
    let host = s.works.host_get(&session.actor, id).await.map_err(|e| UiError::from_core(e, Some(session.nav("hosts"))))?;
    host.jumpbox_id.ok_or_else(|| UiError::from_core(Error::not_found("jumpbox", "of this host"), Some(session.nav("hosts"))))
}

async fn jumpbox_edit(State(s): State<AppState>, PageId(id): PageId, form: UiForm<JumpboxForm>) -> Result<Response, UiError> {
    let UiForm { session, fields: f } = form;
    let jumpbox_id = host_jumpbox_id(&s, &session, &id).await?;
    let result = async {
        let port = validate::ssh_port_text("port", &f.port)?;
        let input = JumpboxUpdate { name: Some(f.name.clone()), address: Some(f.address.clone()), port, user: Some(f.user.clone()), credential_id: Some(f.credential_id.clone()) };
        s.works.jumpbox_update(&session.actor, &jumpbox_id, input).await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/ui/hosts/{id}?notice=jumpbox-changed"))),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &["name", "address", "port", "user", "credential_id"], || session.nav("hosts"))?;
            let error = errors.general().map(str::to_owned);
            let values = JumpboxFormValues { name: f.name, address: f.address, port: f.port, user: f.user, credential_id: f.credential_id };
            host_view_with(&s, &session, &id, None, error, status, HostForms { host: None, jump: Some((values, errors)) }).await
        }
    }
}

/// From the list of jumpboxes; a refusal (hosts still go through it) is shown there.
async fn jumpbox_delete(State(s): State<AppState>, PageId(id): PageId, form: UiForm<Empty>) -> Result<Response, UiError> {
    let session = form.session;
    match s.works.jumpbox_delete(&session.actor, &id).await {
        Ok(_) => Ok(see_other("/ui/hosts?notice=jumpbox-deleted")),
        Err(e) => {
            let (errors, status) = FormErrors::from_submission(e, &[], || session.nav("hosts"))?;
            let forms = Forms { jump: (JumpboxFormValues { port: "22".into(), ..Default::default() }, errors), ..Forms::default() };
            hosts_view(&s, &session, None, None, forms, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "access_attempt.html")]
struct AttemptPage {
    nav: Option<Nav>,
    a: AccessAttempt,
    running: bool,
    succeeded: bool,
    stage: String,
    started: String,
    finished: String,
    transcript: Vec<(String, String, String)>,
    facts: Vec<(&'static str, String)>,
}

async fn attempt_page(State(s): State<AppState>, session: UiSession, PageId(id): PageId) -> Result<Response, UiError> {
    let nav = || Some(session.nav("hosts"));
    let a = s.works.access_attempt_get(&session.actor, &id).await.map_err(|e| UiError::from_core(e, nav()))?;
    let d = &a.discovery;
    let mut facts = Vec::new();
    let mut fact = |label: &'static str, v: Option<String>| {
        if let Some(v) = v {
            facts.push((label, v));
        }
    };
    fact("Operating system", d.os.clone());
    fact("Kernel", d.kernel.clone());
    fact("Architecture", d.arch.clone());
    fact("Processors", d.cpus.map(|c| c.to_string()));
    fact("Memory", d.memory_mib.map(|m| format!("{m} MiB")));
    fact("Disk (/)", d.disk_total_mib.map(|t| format!("{} MiB free of {t} MiB", d.disk_free_mib.unwrap_or(0))));
    fact("Docker", d.docker_installed.map(|i| if i { d.docker_version.clone().map(|v| format!("installed, engine {v}")).unwrap_or_else(|| "installed, engine not usable".into()) } else { "not installed".into() }));
    fact(
        "Containers",
        (!d.containers.is_empty()).then(|| {
            d.containers.iter().map(|c| format!("{} ({}){}", c.name, c.image, if c.likely_openclaw { " — likely OpenClaw" } else { "" })).collect::<Vec<_>>().join("; ")
        }),
    );
    let page = AttemptPage {
        nav: nav(),
        running: a.status == AttemptStatus::Running,
        succeeded: a.status == AttemptStatus::Succeeded,
        stage: format!("{} — {}", a.stage.hop.as_str(), a.stage.step.as_str().replace('_', " ")),
        started: when(&a.started_at),
        finished: a.finished_at.as_ref().map(when).unwrap_or_else(|| "still running".into()),
        transcript: a.transcript.iter().map(|t| (t.at.format("%H:%M:%S").to_string(), format!("{} {}", t.hop.as_str(), t.step.as_str().replace('_', " ")), t.message.clone())).collect(),
        facts,
        a,
    };
    Ok(render(StatusCode::OK, &page))
}
