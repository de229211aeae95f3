//! `works ssh-credential …`, `works jumpbox …`, `works host …`: the access layer from the
//! command line. Each command is one operation of `works_core::Api`; `works host
//! test-access` starts an attempt and follows it until it ends (unless `--no-wait`).

use std::time::Duration;

use clap::Subcommand;
use works_core::{
    AccessAttempt, Api, AttemptQuery, AttemptStatus, Error, Host, HostQuery, HostUpdate, Jumpbox, JumpboxUpdate, NewHost, NewJumpbox, NewSshCredential, PageQuery, Result,
    SshCredential,
};

use crate::commands::all_pages;
use crate::fleet::{node_fields, plain};
use crate::output::{fields, json, table, time};

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Upload an SSH private key (OpenSSH format, no passphrase) as a shared MSP credential.
    /// It is sealed at rest and never shown again
    Add {
        #[arg(long)]
        name: String,
        /// The private key file
        #[arg(long, value_name = "PATH")]
        key_file: std::path::PathBuf,
    },
    /// List SSH credentials: type, fingerprint, public key
    List {
        #[arg(long)]
        limit: Option<u32>,
    },
    Get { id: String },
    /// Delete a credential no jumpbox or host uses
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum JumpboxCommand {
    /// Add a jumpbox hosts can be reached through
    Add {
        #[arg(long)]
        name: String,
        /// IP address or DNS name
        #[arg(long)]
        address: String,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        user: String,
        /// The SSH credential's id
        #[arg(long, value_name = "ID")]
        credential: String,
    },
    List {
        #[arg(long)]
        limit: Option<u32>,
    },
    Get { id: String },
    /// Clear the pinned host key, after the jumpbox's owner confirmed the new one
    ForgetHostKey { id: String },
    /// Change a jumpbox; options left out stay as they are. A new address or port clears the pinned host key
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        user: Option<String>,
        /// The SSH credential's id
        #[arg(long, value_name = "ID")]
        credential: Option<String>,
    },
    /// Delete a jumpbox no host goes through
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Add a host profile to an organization
    Add {
        /// The organization's id
        #[arg(long, value_name = "ID")]
        org: String,
        #[arg(long)]
        name: String,
        /// IP address or DNS name
        #[arg(long)]
        address: String,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        user: String,
        /// The SSH credential's id
        #[arg(long, value_name = "ID")]
        credential: String,
        /// Reach the host through this jumpbox (name or id); directly when not given
        #[arg(long)]
        jumpbox: Option<String>,
    },
    List {
        /// Only hosts of this organization
        #[arg(long, value_name = "ID")]
        org: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    Get { id: String },
    /// Test Access: connect along the host's route, pin host keys, run the built-in read-only checks
    TestAccess {
        id: String,
        /// Print the attempt as started and return at once
        #[arg(long)]
        no_wait: bool,
        /// Also print the raw OpenSSH output
        #[arg(long)]
        technical: bool,
    },
    /// Register a verified host as a node candidate of its organization (no agent yet)
    Register { id: String },
    /// Change a host profile; options left out stay as they are. Changing how it is reached needs Test Access again
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        user: Option<String>,
        /// The SSH credential's id
        #[arg(long, value_name = "ID")]
        credential: Option<String>,
        /// Reach the host through this jumpbox (name or id); "" for a direct route
        #[arg(long)]
        jumpbox: Option<String>,
    },
    /// Delete a host profile and its attempts (a node it was registered as stays)
    Delete { id: String },
    /// Request installing the agent on a verified host over its SSH route; a person then
    /// approves the job by typing its phrase (works job approve ID --phrase "install agent on NAME")
    InstallAgent { id: String },
    /// Clear the pinned host key, after the host's owner confirmed the new one
    ForgetHostKey { id: String },
    /// Test Access attempts, newest first
    Attempts {
        /// Only attempts on this host
        #[arg(long, value_name = "ID")]
        host: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One attempt: status, where it stopped, why, next action, transcript, findings
    Attempt {
        id: String,
        /// Also print the raw OpenSSH output
        #[arg(long)]
        technical: bool,
    },
}

pub async fn credential(api: &dyn Api, cmd: CredentialCommand, as_json: bool) -> Result<String> {
    let (headline, c) = match cmd {
        CredentialCommand::Add { name, key_file } => {
            let private_key = std::fs::read_to_string(&key_file)
                .map_err(|e| Error::invalid("key_file", format!("{} could not be read: {e}", key_file.display())))?;
            let c = api.ssh_credential_create(NewSshCredential { name, private_key }).await?;
            ("Stored, sealed with the master key. The private key will not be shown again; add the public key below to authorized_keys.", c)
        }
        CredentialCommand::List { limit } => {
            let listing = all_pages(limit, |offset, limit| api.ssh_credential_list(PageQuery { offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            if listing.items.is_empty() {
                return Ok("No SSH credentials.\n".into());
            }
            let rows: Vec<Vec<String>> = listing.items.iter().map(|c| vec![c.id.clone(), c.name.clone(), c.key_type.clone(), c.fingerprint.clone()]).collect();
            return Ok(table(&["ID", "NAME", "TYPE", "FINGERPRINT"], &rows));
        }
        CredentialCommand::Get { id } => ("", api.ssh_credential_get(&id).await?),
        CredentialCommand::Delete { id } => ("Deleted.", api.ssh_credential_delete(&id).await?),
    };
    if as_json {
        return json(&c);
    }
    let body = credential_fields(&c);
    Ok(if headline.is_empty() { body } else { format!("{headline}\n\n{body}") })
}

fn credential_fields(c: &SshCredential) -> String {
    fields(&[
        ("ID", c.id.clone()),
        ("Name", c.name.clone()),
        ("Type", c.key_type.clone()),
        ("Fingerprint", c.fingerprint.clone()),
        ("Public key", c.public_key.clone()),
        ("Added", format!("{} by {}", time(&c.created_at), c.created_by)),
    ])
}

pub async fn jumpbox(api: &dyn Api, cmd: JumpboxCommand, as_json: bool) -> Result<String> {
    let (headline, j) = match cmd {
        JumpboxCommand::Add { name, address, port, user, credential } => {
            ("Added. Its host key is pinned at the first successful Test Access through it.", api.jumpbox_create(NewJumpbox { name, address, port, user, credential_id: credential }).await?)
        }
        JumpboxCommand::List { limit } => {
            let listing = all_pages(limit, |offset, limit| api.jumpbox_list(PageQuery { offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            if listing.items.is_empty() {
                return Ok("No jumpboxes.\n".into());
            }
            let rows: Vec<Vec<String>> = listing
                .items
                .iter()
                .map(|j| vec![j.id.clone(), j.name.clone(), format!("{}@{}:{}", j.user, j.address, j.port), j.host_key_fingerprint.clone().unwrap_or_else(|| "not pinned".into())])
                .collect();
            return Ok(table(&["ID", "NAME", "ADDRESS", "HOST KEY"], &rows));
        }
        JumpboxCommand::Get { id } => ("", api.jumpbox_get(&id).await?),
        JumpboxCommand::ForgetHostKey { id } => ("Cleared. The next Test Access through it pins the key it sees.", api.jumpbox_forget_host_key(&id).await?),
        JumpboxCommand::Update { id, name, address, port, user, credential } => {
            ("Changed.", api.jumpbox_update(&id, JumpboxUpdate { name, address, port, user, credential_id: credential }).await?)
        }
        JumpboxCommand::Delete { id } => ("Deleted.", api.jumpbox_delete(&id).await?),
    };
    if as_json {
        return json(&j);
    }
    let body = jumpbox_fields(&j);
    Ok(if headline.is_empty() { body } else { format!("{headline}\n\n{body}") })
}

fn jumpbox_fields(j: &Jumpbox) -> String {
    fields(&[
        ("ID", j.id.clone()),
        ("Name", j.name.clone()),
        ("Address", format!("{}@{}:{}", j.user, j.address, j.port)),
        ("Credential", j.credential_id.clone()),
        ("Host key", j.host_key_fingerprint.clone().unwrap_or_else(|| "not pinned yet".into())),
    ])
}

pub async fn host(api: &dyn Api, cmd: HostCommand, as_json: bool) -> Result<String> {
    match cmd {
        HostCommand::Add { org, name, address, port, user, credential, jumpbox } => {
            let h = api.host_create(NewHost { org_id: org, name, address, port, user, credential_id: credential, jumpbox }).await?;
            if as_json {
                return json(&h);
            }
            Ok(format!("Added. Next: works host test-access {}\n\n{}", h.id, host_fields(&h)))
        }
        HostCommand::List { org, limit } => {
            let listing = all_pages(limit, |offset, limit| api.host_list(HostQuery { org_id: org.clone(), offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            if listing.items.is_empty() {
                return Ok("No hosts.\n".into());
            }
            let rows: Vec<Vec<String>> = listing
                .items
                .iter()
                .map(|h| {
                    vec![
                        h.id.clone(),
                        h.name.clone(),
                        format!("{}@{}:{}", h.user, h.address, h.port),
                        if h.jumpbox_id.is_some() { "jumpbox".into() } else { "direct".into() },
                        h.verified_at.as_ref().map(time).unwrap_or_else(|| "never".into()),
                        h.node_id.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            Ok(table(&["ID", "NAME", "ADDRESS", "ROUTE", "VERIFIED", "NODE"], &rows))
        }
        HostCommand::Update { id, name, address, port, user, credential, jumpbox } => {
            let h = api.host_update(&id, HostUpdate { name, address, port, user, credential_id: credential, jumpbox }).await?;
            if as_json {
                return json(&h);
            }
            let next = if h.verified_at.is_none() { format!(" Next: works host test-access {}", h.id) } else { String::new() };
            Ok(format!("Changed.{next}\n\n{}", host_fields(&h)))
        }
        HostCommand::Delete { id } => {
            let h = api.host_delete(&id).await?;
            if as_json {
                return json(&h);
            }
            Ok(format!("Deleted.\n\n{}", host_fields(&h)))
        }
        HostCommand::InstallAgent { id } => {
            let job = api.host_install_agent(&id).await?;
            if as_json {
                return json(&job);
            }
            let phrase = job.approval_phrase.clone().unwrap_or_default();
            Ok(format!(
                "Requested: job {} waits for approval. To install, a person types the phrase:\n  works job approve {} --phrase \"{phrase}\"\nThe server then installs the agent over SSH; follow it with works host attempts --host {id}.\n",
                job.id, job.id
            ))
        }
        HostCommand::Get { id } => {
            let h = api.host_get(&id).await?;
            if as_json {
                return json(&h);
            }
            Ok(host_fields(&h))
        }
        HostCommand::TestAccess { id, no_wait, technical } => {
            let mut a = api.host_test_access(&id).await?;
            if !no_wait {
                // The attempt bounds itself (connection and command timeouts, and an
                // overall limit); this only follows it.
                while a.status == AttemptStatus::Running {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    a = api.access_attempt_get(&a.id).await?;
                }
            }
            if as_json {
                return json(&a);
            }
            let out = attempt_text(&a, technical);
            if a.status == AttemptStatus::Failed {
                // Printed, and the exit code says it failed.
                return Err(Error::conflict(None, format!("{out}\nTest Access failed: {}", a.reason.clone().unwrap_or_default())));
            }
            Ok(out)
        }
        HostCommand::Register { id } => {
            let node = api.host_register(&id).await?;
            if as_json {
                return json(&node);
            }
            Ok(format!("Registered as a node candidate (no agent yet). Installing the agent is a separate, approved job.\n\n{}", node_fields(&node)))
        }
        HostCommand::ForgetHostKey { id } => {
            let h = api.host_forget_host_key(&id).await?;
            if as_json {
                return json(&h);
            }
            Ok(format!("Cleared. The next Test Access pins the key it sees.\n\n{}", host_fields(&h)))
        }
        HostCommand::Attempts { host, limit } => {
            let listing = all_pages(limit, |offset, limit| api.access_attempt_list(AttemptQuery { host_id: host.clone(), offset, limit })).await?;
            if as_json {
                return json(&listing);
            }
            if listing.items.is_empty() {
                return Ok("No Test Access attempts.\n".into());
            }
            let rows: Vec<Vec<String>> = listing
                .items
                .iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        a.host_name.clone(),
                        a.status.as_str().to_owned(),
                        format!("{} {}", a.stage.hop.as_str(), a.stage.step.as_str()),
                        a.failure.map(|f| f.as_str().to_owned()).unwrap_or_default(),
                        time(&a.started_at),
                    ]
                })
                .collect();
            Ok(table(&["ID", "HOST", "STATUS", "STAGE", "FAILURE", "STARTED"], &rows))
        }
        HostCommand::Attempt { id, technical } => {
            let a = api.access_attempt_get(&id).await?;
            if as_json {
                return json(&a);
            }
            Ok(attempt_text(&a, technical))
        }
    }
}

fn host_fields(h: &Host) -> String {
    fields(&[
        ("ID", h.id.clone()),
        ("Name", h.name.clone()),
        ("Organization", h.org_id.clone()),
        ("Address", format!("{}@{}:{}", h.user, h.address, h.port)),
        ("Route", h.jumpbox_id.as_ref().map(|j| format!("through jumpbox {j}")).unwrap_or_else(|| "direct".into())),
        ("Credential", h.credential_id.clone()),
        ("Host key", h.host_key_fingerprint.clone().unwrap_or_else(|| "not pinned yet".into())),
        ("Verified", h.verified_at.as_ref().map(time).unwrap_or_else(|| "never".into())),
        ("Node", h.node_id.clone().unwrap_or_else(|| "not registered".into())),
    ])
}

pub fn attempt_text(a: &AccessAttempt, technical: bool) -> String {
    let d = &a.discovery;
    let mut pairs = vec![
        ("Attempt", a.id.clone()),
        ("Host", format!("{} ({})", a.host_name, a.host_id)),
        ("Route", a.route.clone()),
        ("Status", a.status.as_str().to_owned()),
        ("Stage", format!("{} {}", a.stage.hop.as_str(), a.stage.step.as_str())),
    ];
    if let Some(r) = &a.reason {
        pairs.push(("Why", plain(r)));
    }
    if let Some(n) = &a.next_action {
        pairs.push(("Next", plain(n)));
    }
    pairs.push(("Started", time(&a.started_at)));
    if let Some(os) = &d.os {
        pairs.push(("System", format!("{} ({} {})", plain(os), d.kernel.as_deref().map(plain).unwrap_or_default(), d.arch.as_deref().map(plain).unwrap_or_default())));
    }
    if let (Some(cpus), Some(mem)) = (d.cpus, d.memory_mib) {
        pairs.push(("Size", format!("{cpus} CPUs, {mem} MiB memory, {} MiB of {} MiB free on /", d.disk_free_mib.unwrap_or(0), d.disk_total_mib.unwrap_or(0))));
    }
    if let Some(v) = &d.docker_version {
        pairs.push(("Docker", plain(v)));
    }
    if !d.containers.is_empty() {
        pairs.push(("Containers", d.containers.iter().map(|c| format!("{}{}", plain(&c.name), if c.likely_openclaw { " (OpenClaw)" } else { "" })).collect::<Vec<_>>().join(", ")));
    }
    let mut out = fields(&pairs);
    out.push_str("\nTranscript:\n");
    for t in &a.transcript {
        out.push_str(&format!("  {} [{} {}] {}\n", time(&t.at), t.hop.as_str(), t.step.as_str(), plain(&t.message)));
    }
    if technical && !a.technical.is_empty() {
        out.push_str("\nTechnical details:\n");
        for line in a.technical.lines() {
            out.push_str(&format!("  {}\n", plain(line)));
        }
    } else if !a.technical.is_empty() {
        out.push_str("\n(Raw OpenSSH output: add --technical.)\n");
    }
    out
}
