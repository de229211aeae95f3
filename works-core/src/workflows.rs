//! Workflows: ordered steps, each a capability action with its connection and
//! parameters. Validated when saved, with problems that name the step and the field.
//! Owned by a person in an organization: organization users see and run their own,
//! organization admins their organization's, MSP roles all.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::actor::Actor;
use crate::audit::Outcome;
use crate::capabilities;
use crate::error::{Error, Result};
use crate::model::{Listing, Page};
use crate::secret::new_id;
use crate::validate;
use crate::works::{paged, probe, Works};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkflowStep {
    pub capability_id: String,
    pub action: String,
    /// Required when the capability reaches an outside system.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// A JSON object; what the action accepts (for `google_drive` `list_files`: `q`,
    /// `page_size`, `max_pages`).
    #[serde(default = "empty_object")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workflow {
    pub id: String,
    pub org_id: String,
    pub owner_id: String,
    pub owner_name: String,
    pub name: String,
    pub description: String,
    pub steps: Vec<WorkflowStep>,
    /// A disabled workflow cannot be run (by a person or a schedule) until it is enabled.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWorkflow {
    /// Defaults to the caller's organization.
    #[serde(default)]
    pub org_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub steps: Vec<WorkflowStep>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkflowUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub steps: Option<Vec<WorkflowStep>>,
    /// `false` disables the workflow: it cannot be run until enabled again.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct WorkflowQuery {
    pub org_id: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

pub const MAX_STEPS: usize = 50;
pub const DESCRIPTION_MAX: usize = 2000;
pub const MAX_PARAMETERS_BYTES: usize = 8 * 1024;

/// The parameters `google_drive` `list_files` accepts, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFilesParams {
    pub q: Option<String>,
    pub page_size: u32,
    pub max_pages: u32,
}

/// Reads and checks the parameters of a `list_files` step; problems name the field.
pub fn list_files_params(field_prefix: &str, p: &serde_json::Value) -> Result<ListFilesParams> {
    let obj = p.as_object().ok_or_else(|| Error::invalid(format!("{field_prefix}parameters"), "must be a JSON object"))?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "q" | "page_size" | "max_pages") {
            return Err(Error::invalid(format!("{field_prefix}parameters.{k}"), "is not a parameter of list files (it takes q, page_size and max_pages)"));
        }
    }
    let q = match obj.get("q") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.len() <= 2000 && !s.chars().any(char::is_control) => Some(s.clone()).filter(|s| !s.trim().is_empty()),
        Some(_) => return Err(Error::invalid(format!("{field_prefix}parameters.q"), "must be a Drive search query of at most 2000 characters on one line")),
    };
    let number = |key: &str, default: u64, max: u64| -> Result<u32> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default as u32),
            Some(v) => match v.as_u64() {
                Some(n) if (1..=max).contains(&n) => Ok(n as u32),
                _ => Err(Error::invalid(format!("{field_prefix}parameters.{key}"), format!("must be a whole number from 1 to {max}"))),
            },
        }
    };
    Ok(ListFilesParams { q, page_size: number("page_size", 100, 1000)?, max_pages: number("max_pages", 10, 100)? })
}

impl Works {
    /// Checks every step; the problem names the step (`steps[2].action`) and says which
    /// step it is in plain English.
    async fn check_steps(&self, actor: &Actor, org_id: &str, steps: &[WorkflowStep]) -> Result<Vec<WorkflowStep>> {
        if steps.is_empty() {
            return Err(Error::invalid("steps", "must list at least one step"));
        }
        if steps.len() > MAX_STEPS {
            return Err(Error::invalid("steps", format!("must list at most {MAX_STEPS} steps")));
        }
        let mut out = Vec::with_capacity(steps.len());
        for (i, s) in steps.iter().enumerate() {
            let field = |f: &str| format!("steps[{i}].{f}");
            let n = i + 1;
            let cap_id = s.capability_id.trim();
            let cap = capabilities::find(cap_id)
                .ok_or_else(|| Error::invalid(field("capability_id"), format!("step {n} names capability '{cap_id}', which is not in the catalog")))?;
            let action = s.action.trim();
            if cap.action(action).is_none() {
                let known: Vec<&str> = cap.actions.iter().map(|a| a.name.as_str()).collect();
                return Err(Error::invalid(field("action"), format!("step {n}: {} has no action '{action}' (it has {})", cap.name, known.join(", "))));
            }
            let parameters = match &s.parameters {
                serde_json::Value::Null => empty_object(),
                v @ serde_json::Value::Object(_) => v.clone(),
                _ => return Err(Error::invalid(field("parameters"), format!("step {n}: must be a JSON object"))),
            };
            if parameters.to_string().len() > MAX_PARAMETERS_BYTES {
                return Err(Error::invalid(field("parameters"), format!("step {n}: must be at most {MAX_PARAMETERS_BYTES} bytes")));
            }
            if cap.id == "google_drive" && action == "list_files" {
                list_files_params(&format!("steps[{i}]."), &parameters).map_err(|e| match e {
                    Error::InvalidInput { field, problem } => Error::invalid(field, format!("step {n}: {problem}")),
                    other => other,
                })?;
            }
            let connection_id = match (cap.provider, s.connection_id.as_deref().map(str::trim).filter(|c| !c.is_empty())) {
                (Some(p), None) => return Err(Error::invalid(field("connection_id"), format!("step {n}: {} needs a {} connection", cap.name, p.label()))),
                (None, Some(_)) => return Err(Error::invalid(field("connection_id"), format!("step {n}: {} reaches no outside system and takes no connection", cap.name))),
                (None, None) => None,
                (Some(p), Some(c)) => {
                    let unknown = || Error::invalid(field("connection_id"), format!("step {n}: no connection {c} exists that you can use"));
                    let rec = self.visible_connection(actor, c).await.map_err(|e| if e.is_denial() { unknown() } else { e })?;
                    if rec.connection.org_id != org_id {
                        return Err(unknown());
                    }
                    if rec.connection.provider != p {
                        return Err(Error::invalid(field("connection_id"), format!("step {n}: connection {} is {}, but {} needs {}", rec.connection.name, rec.connection.provider.label(), cap.name, p.label())));
                    }
                    Some(rec.connection.id)
                }
            };
            out.push(WorkflowStep { capability_id: cap.id.clone(), action: action.to_owned(), connection_id, parameters });
        }
        Ok(out)
    }

    pub async fn workflow_create(&self, actor: &Actor, input: NewWorkflow) -> Result<Workflow> {
        self.change(actor, "workflow.create", "workflow", None, async {
            let org_id = input.org_id.clone().or_else(|| actor.org_id.clone()).ok_or_else(|| Error::invalid("org_id", "is required: name the organization the workflow belongs to"))?;
            let org = self.visible_org_for_policy(actor, &org_id).await?;
            access::require_connection_creator(actor, &org.id)?;
            let name = validate::name("name", &input.name)?;
            let description = check_description(input.description.as_deref())?;
            let steps = self.check_steps(actor, &org.id, &input.steps).await?;
            let now = self.now();
            let w = Workflow { id: new_id(), org_id: org.id.clone(), owner_id: actor.id.clone(), owner_name: actor.name.clone(), name, description, steps, enabled: true, created_at: now, updated_at: now };
            let audit = self.draft(actor, Some(org.id.clone()), "workflow.create", "workflow", Some(&w.id), Outcome::Succeeded, format!("Added workflow {} with {} step(s)", w.name, w.steps.len()));
            self.store.insert_workflow(&w, audit).await?;
            Ok(w)
        })
        .await
    }

    pub async fn workflow_list(&self, actor: &Actor, query: WorkflowQuery) -> Result<Listing<Workflow>> {
        let page = Page::new(query.offset, query.limit)?;
        let org_id = query.org_id.as_deref().map(|o| validate::id("org_id", o)).transpose()?;
        let items = self.store.list_workflows(&access::owned_scope(actor), org_id.as_deref(), probe(page)).await?;
        Ok(paged(items, page))
    }

    pub async fn workflow_get(&self, actor: &Actor, id: &str) -> Result<Workflow> {
        self.read(actor, "workflow.get", "workflow", Some(id), self.visible_workflow(actor, id)).await
    }

    pub async fn workflow_update(&self, actor: &Actor, id: &str, input: WorkflowUpdate) -> Result<Workflow> {
        self.change(actor, "workflow.update", "workflow", Some(id), async {
            let mut w = self.visible_workflow(actor, id).await?;
            if let Some(n) = &input.name {
                w.name = validate::name("name", n)?;
            }
            if input.description.is_some() {
                w.description = check_description(input.description.as_deref())?;
            }
            if let Some(steps) = &input.steps {
                w.steps = self.check_steps(actor, &w.org_id, steps).await?;
            }
            let switched = match input.enabled {
                Some(e) if e != w.enabled => {
                    w.enabled = e;
                    if e { "; enabled" } else { "; disabled: it cannot be run until enabled again" }
                }
                _ => "",
            };
            w.updated_at = self.now();
            let audit = self.draft(actor, Some(w.org_id.clone()), "workflow.update", "workflow", Some(&w.id), Outcome::Succeeded, format!("Changed workflow {} ({} step(s)){switched}", w.name, w.steps.len()));
            self.store.update_workflow(&w, audit).await?;
            Ok(w)
        })
        .await
    }

    /// Deletes a workflow. Its runs stay on record.
    pub async fn workflow_delete(&self, actor: &Actor, id: &str) -> Result<Workflow> {
        self.change(actor, "workflow.delete", "workflow", Some(id), async {
            let w = self.visible_workflow(actor, id).await?;
            let audit = self.draft(actor, Some(w.org_id.clone()), "workflow.delete", "workflow", Some(&w.id), Outcome::Succeeded, format!("Removed workflow {}", w.name));
            self.store.delete_workflow(&w.id, audit).await?;
            Ok(w)
        })
        .await
    }

    pub(crate) async fn visible_workflow(&self, actor: &Actor, id: &str) -> Result<Workflow> {
        let not_found = || Error::not_found("workflow", id);
        let id = validate::id("id", id).map_err(|_| not_found())?;
        match self.store.get_workflow(&id).await? {
            Some(w) if access::can_see_owned(actor, &w.org_id, &w.owner_id) => Ok(w),
            _ => Err(not_found()),
        }
    }
}

fn check_description(d: Option<&str>) -> Result<String> {
    let d = d.unwrap_or_default().trim();
    if d.chars().count() > DESCRIPTION_MAX {
        return Err(Error::invalid("description", format!("must be at most {DESCRIPTION_MAX} characters")));
    }
    Ok(d.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_files_parameters_are_checked_by_name() {
        let ok = list_files_params("", &serde_json::json!({"q": "name contains 'report'", "page_size": 50})).unwrap();
        assert_eq!((ok.page_size, ok.max_pages), (50, 10));
        let e = list_files_params("steps[0].", &serde_json::json!({"page_size": 0})).unwrap_err();
        assert_eq!(e.field(), Some("steps[0].parameters.page_size"));
        let e = list_files_params("", &serde_json::json!({"folder": "x"})).unwrap_err();
        assert_eq!(e.field(), Some("parameters.folder"));
    }
}
