//! `works alert …`: the webhooks notified when the health answer changes, and their
//! delivery log. Each command is one operation of `works_core::Api`.

use clap::Subcommand;
use works_core::{Api, Delivery, DeliveryQuery, DeliveryStatus, NewWebhook, Result, Webhook};

use crate::commands::all_pages;
use crate::fleet::plain;
use crate::output::{fields, json, table, time};
use crate::secrets;

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Add a webhook, notified with a JSON POST each time the health answer changes.
    /// A shared secret, to sign each body, comes from --secret-stdin or WORKS_WEBHOOK_SECRET
    Add {
        /// What it is, e.g. "on-call pager"
        #[arg(long)]
        name: String,
        /// Where to POST, e.g. https://alerts.example.com/hook
        #[arg(long)]
        url: String,
        /// Read a shared secret (16 to 512 characters) from the first line of standard input
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List the webhooks
    List,
    /// Remove a webhook; its deliveries stay in the log
    Remove { id: String },
    /// The delivery log, newest first: attempts, last answer, next retry, outcome
    Deliveries {
        /// Only deliveries to this webhook
        #[arg(long, value_name = "ID")]
        webhook: Option<String>,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
}

pub async fn alert(api: &dyn Api, cmd: AlertCommand, as_json: bool) -> Result<String> {
    match cmd {
        AlertCommand::Add { name, url, secret_stdin } => {
            let secret = if secret_stdin { Some(secrets::from_stdin("secret")?) } else { secrets::from_env("WORKS_WEBHOOK_SECRET") };
            let hook = api.webhook_create(NewWebhook { name, url, secret }).await?;
            if as_json {
                return json(&hook);
            }
            let signed = if hook.signed { " Each body is signed: see the X-Works-Signature header." } else { "" };
            Ok(format!("Added. It is notified when the health answer changes.{signed}\n\n{}", webhook_fields(&hook)))
        }
        AlertCommand::List => {
            let hooks = api.webhook_list().await?;
            if as_json {
                return json(&hooks);
            }
            Ok(webhooks(&hooks))
        }
        AlertCommand::Remove { id } => {
            let hook = api.webhook_delete(&id).await?;
            if as_json {
                return json(&hook);
            }
            Ok(format!("Removed webhook {}. Its deliveries stay in the log.\n", plain(&hook.name)))
        }
        AlertCommand::Deliveries { webhook, limit } => {
            let listing = all_pages(limit, |offset, limit| {
                api.delivery_list(DeliveryQuery { webhook_id: webhook.clone(), offset, limit })
            })
            .await?;
            if as_json {
                return json(&listing);
            }
            let more = if listing.next_offset.is_some() { "More records follow; raise --limit to see them.\n" } else { "" };
            Ok(deliveries(&listing.items) + more)
        }
    }
}

pub fn webhooks(list: &[Webhook]) -> String {
    if list.is_empty() {
        return "No webhooks. Add one with `works alert add --name NAME --url URL`.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|w| vec![w.id.clone(), plain(&w.name), plain(&w.url), if w.signed { "yes".into() } else { "no".into() }])
        .collect();
    table(&["ID", "NAME", "URL", "SIGNED"], &rows)
}

fn webhook_fields(w: &Webhook) -> String {
    fields(&[
        ("ID", w.id.clone()),
        ("Name", plain(&w.name)),
        ("URL", plain(&w.url)),
        ("Signed", if w.signed { "yes, with a shared secret".into() } else { "no".into() }),
        ("Added", format!("{} by {}", time(&w.created_at), w.created_by)),
    ])
}

fn outcome(d: &Delivery) -> String {
    match d.status {
        DeliveryStatus::Delivered => format!("delivered ({})", d.last_status_code.map(|c| c.to_string()).unwrap_or_default()),
        DeliveryStatus::Failed => format!("failed: {}", d.last_error.as_deref().map(plain).unwrap_or_default()),
        DeliveryStatus::Pending => {
            let last = match (d.last_status_code, d.last_error.as_deref()) {
                (Some(code), _) => format!("last answer {code}, "),
                (None, Some(e)) => format!("{}, ", plain(e)),
                _ => String::new(),
            };
            format!("pending: {last}next try {}", d.next_attempt_at.as_ref().map(time).unwrap_or_default())
        }
    }
}

pub fn deliveries(list: &[Delivery]) -> String {
    if list.is_empty() {
        return "No deliveries yet: nothing is sent until the health answer changes.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                time(&d.created_at),
                plain(&d.webhook_name),
                format!("{} → {}", d.from_state.as_str(), d.to_state.as_str()),
                format!("{}/{}", d.attempts, d.max_attempts),
                outcome(d),
            ]
        })
        .collect();
    table(&["CREATED", "WEBHOOK", "CHANGE", "ATTEMPTS", "OUTCOME"], &rows)
}
