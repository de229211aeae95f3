//! `works instance …`: OpenClaw instances, managed and discovered. Each command is one
//! operation of `works_core::Api`. Text an agent reported is printed with control
//! characters escaped.

use clap::Subcommand;
use works_core::{Api, Instance, InstanceQuery, InstanceState, Result, TakeoverInput};

use crate::commands::all_pages;
use crate::fleet::plain;
use crate::output::{fields, json, table, time};

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// List OpenClaw instances: managed ones first, then the ones discovered on nodes
    List {
        /// Only the instances on this node
        #[arg(long, value_name = "ID")]
        node: Option<String>,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one instance; a discovered one shows the phrase that takes it over
    Get { id: String },
    /// Take over a discovered instance as a managed record, by typing its phrase exactly.
    /// The container is not restarted or changed
    Takeover {
        id: String,
        /// Exactly the phrase `works instance get` shows
        #[arg(long)]
        phrase: String,
    },
    #[command(flatten)]
    Ops(crate::instance_ops::InstanceOpsCommand),
}

pub async fn instance(api: &dyn Api, cmd: InstanceCommand, as_json: bool) -> Result<String> {
    let (headline, inst) = match cmd {
        InstanceCommand::Ops(cmd) => return crate::instance_ops::run(api, cmd, as_json).await,
        InstanceCommand::List { node, limit } => {
            let listing =
                all_pages(limit, |offset, limit| api.instance_list(InstanceQuery { node_id: node.clone(), offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            let more = if listing.next_offset.is_some() { "More records follow; raise --limit to see them.\n" } else { "" };
            return Ok(instances(&listing.items) + more);
        }
        InstanceCommand::Get { id } => {
            let inst = api.instance_get(&id).await?;
            let hint = match &inst.takeover_phrase {
                Some(phrase) => format!("Discovered, not managed. To take it over:\n  works instance takeover {} --phrase \"{phrase}\"", inst.id),
                None => String::new(),
            };
            (hint, inst)
        }
        InstanceCommand::Takeover { id, phrase } => {
            let inst = api.instance_takeover(&id, TakeoverInput { phrase }).await?;
            ("Taken over: the instance is managed. The container was not restarted or changed.".to_owned(), inst)
        }
    };
    if as_json {
        return json(&inst);
    }
    let body = instance_fields(&inst);
    Ok(if headline.is_empty() { body } else { format!("{headline}\n\n{body}") })
}

pub fn instances(list: &[Instance]) -> String {
    if list.is_empty() {
        return "No OpenClaw instances.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.state.as_str().to_owned(),
                plain(&i.container_name),
                i.node_id.clone(),
                i.version.clone().unwrap_or_else(|| "unknown".into()),
                i.health.as_deref().map(plain).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ID", "STATE", "CONTAINER", "NODE", "VERSION", "HEALTH"], &rows)
}

pub fn instance_fields(i: &Instance) -> String {
    let mut pairs = vec![
        ("ID", i.id.clone()),
        ("State", i.state.as_str().to_owned()),
        ("Node", i.node_id.clone()),
        ("Organization", i.org_id.clone().unwrap_or_else(|| "shared MSP infrastructure".into())),
        ("Container", format!("{} ({})", plain(&i.container_name), plain(&i.container_id))),
        ("Image", plain(&i.image)),
        ("Version", i.version.clone().unwrap_or_else(|| "unknown".into())),
        ("Health", i.health.as_deref().map(plain).unwrap_or_else(|| "not reported".into())),
        ("Recognised because", i.reasons.iter().map(|r| plain(r)).collect::<Vec<_>>().join("; ")),
        ("Discovered", time(&i.discovered_at)),
    ];
    if let (InstanceState::Managed, Some(by), Some(at)) = (i.state, &i.taken_over_by, &i.taken_over_at) {
        pairs.push(("Taken over", format!("{} by {by}", time(at))));
    }
    if let Some(phrase) = &i.takeover_phrase {
        pairs.push(("Takeover phrase", phrase.clone()));
    }
    fields(&pairs)
}
