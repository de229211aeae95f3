//! `works`: the command line of Anthropy Works. Every resource command is one call on
//! `works_core::Api`, embedded (a database opened directly) or remote (a server).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod access;
mod agent;
mod alert;
mod cli;
mod commands;
mod connect;
mod credentials;
mod fleet;
mod health;
mod instance;
mod logging;
mod instance_ops;
mod ops;
mod policy;
mod schedule;
mod output;
mod secrets;
mod serve;
mod validate;

use std::io::Write;
use std::process::ExitCode;

use works_client::{parse_base_url, RemoteClient};
use works_core::{Api, Error, Result};

use cli::{Cli, Command, LoginArgs};

/// The commit this binary reports: `ANTHROPY_VERSION` when set, else the commit it was
/// built from.
pub fn build_commit() -> String {
    works_http::commit_from(std::env::var("ANTHROPY_VERSION").ok())
}

/// The exit code of each kind of error.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::InvalidInput { .. } => 2,
        Error::NotFound { .. } => 3,
        Error::Forbidden { .. } | Error::Unauthenticated { .. } => 4,
        Error::Conflict { .. } => 5,
        Error::Unavailable { .. } => 6,
        Error::RateLimited { .. } | Error::Internal { .. } => 1,
    }
}

fn report(e: &Error) {
    let mut text = format!("error: {e}\n  next: {}\n", e.next_action());
    if let Some(field) = e.field() {
        text.push_str(&format!("  field: {field}\n"));
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

fn main() -> ExitCode {
    let cli = cli::parse();
    let log_format = match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => logging::LogFormat::Text,
    };
    logging::init(
        matches!(cli.command, Command::Serve(_) | Command::Agent(agent::AgentCommand::Run { .. })),
        ops::debug_requested(&cli),
        log_format,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report(&Error::internal(format!("Could not start the async runtime: {e}")));
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Check(args) => ops::check(&cli, args).await,
            Command::Backup(cmd) => ops::backup(&cli, cmd).await,
            Command::Health(args) => health::run(&cli, args).await,
            _ => run(cli).await.map(|text| (text, 0)),
        }
    });
    // Do not wait for stray blocking work (a prompt, a slow connection) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok((text, code)) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) => ExitCode::from(code),
                // The reader went away (`works org list | head`): nothing more to say.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(1),
            }
        }
        Err(e) => {
            report(&e);
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Runs the command and returns what to print on standard output.
async fn run(cli: Cli) -> Result<String> {
    match &cli.command {
        Command::Serve(args) => serve::run(&cli, args).await.map(|()| String::new()),
        Command::Login(args) => login(&cli, args).await,
        Command::Logout => logout(&cli).await,
        Command::Agent(cmd) => agent::run(&cli, cmd).await,
        _ => {
            let api = connect::api(&cli).await?;
            let api: &dyn Api = api.as_ref();
            match cli.command {
                Command::Whoami => commands::whoami(api, cli.json).await,
                Command::Status => commands::status(api, cli.json).await,
                Command::Org(cmd) => commands::org(api, cmd, cli.json).await,
                Command::User(cmd) => commands::user(api, cmd, cli.json).await,
                Command::Token(cmd) => commands::token(api, cmd, cli.json).await,
                Command::Audit(args) => commands::audit(api, args, cli.json).await,
                Command::Node(cmd) => fleet::node(api, cmd, cli.json, cli.server.as_deref()).await,
                Command::Job(cmd) => fleet::job(api, cmd, cli.json).await,
                Command::Instance(cmd) => instance::instance(api, cmd, cli.json).await,
                Command::Validate(cmd) => validate::validate(api, cmd).await,
                Command::Alert(cmd) => alert::alert(api, cmd, cli.json).await,
                Command::SshCredential(cmd) => access::credential(api, cmd, cli.json).await,
                Command::Jumpbox(cmd) => access::jumpbox(api, cmd, cli.json).await,
                Command::Host(cmd) => access::host(api, cmd, cli.json).await,
                Command::Capability(cmd) => policy::capability(api, cmd, cli.json).await,
                Command::Pack(cmd) => policy::pack(api, cmd, cli.json).await,
                Command::Permission(cmd) => policy::permission(api, cmd, cli.json).await,
                Command::Connection(cmd) => policy::connection(api, cmd, cli.json).await,
                Command::Workflow(cmd) => policy::workflow(api, cmd, cli.json).await,
                Command::Schedule(cmd) => schedule::schedule(api, cmd, cli.json).await,
                Command::Serve(_)
                | Command::Login(_)
                | Command::Logout
                | Command::Agent(_)
                | Command::Check(_)
                | Command::Backup(_)
                | Command::Health(_) => {
                    Err(Error::internal("This command was routed to the wrong place."))
                }
            }
        }
    }
}

async fn login(cli: &Cli, args: &LoginArgs) -> Result<String> {
    let server = cli
        .server
        .as_deref()
        .ok_or_else(|| Error::invalid("server", "is needed: give the server's address with --server or WORKS_SERVER"))?;
    let base = parse_base_url(server)?;
    let username = match &args.username {
        Some(u) => u.clone(),
        None if secrets::stdin_is_terminal() && !args.password_stdin => secrets::prompt_line("username", "Username: ")?,
        None => return Err(Error::invalid("username", "is needed: give it with --username")),
    };
    let password = if args.password_stdin {
        secrets::from_stdin("password")?
    } else if let Some(p) = secrets::from_env("WORKS_PASSWORD") {
        p
    } else if secrets::stdin_is_terminal() {
        secrets::prompt_hidden("password", &format!("Password for {username}: "))?
    } else {
        return Err(Error::invalid("password", "is needed: pipe it with --password-stdin or set WORKS_PASSWORD"));
    };
    let (client, outcome) = RemoteClient::login(server, &username, &password).await?;
    let saved = credentials::save(&credentials::Credentials {
        server: connect::shown(&base),
        token: outcome.token.clone(),
    });
    let path = match saved {
        Ok(path) => path,
        Err(e) => {
            // Do not leave a session behind that nothing holds.
            let _ = client.logout().await;
            return Err(e);
        }
    };
    if cli.json {
        return output::json(&outcome.user);
    }
    Ok(format!(
        "Signed in to {} as {} ({}). The sign-in lasts until {}.\nSaved in {}\n",
        connect::shown(&base),
        outcome.user.username,
        outcome.user.role.label(),
        output::time(&outcome.expires_at),
        path.display()
    ))
}

async fn logout(cli: &Cli) -> Result<String> {
    let Some(saved) = credentials::load()? else {
        return Ok("You are not signed in; there was nothing to sign out of.\n".into());
    };
    if let Some(server) = &cli.server {
        let asked = parse_base_url(server)?;
        if parse_base_url(&saved.server).map(|u| u != asked).unwrap_or(true) {
            return Err(Error::invalid(
                "server",
                format!("you are signed in to {}, not to {}", saved.server, connect::shown(&asked)),
            ));
        }
    }
    let client = RemoteClient::new(&saved.server, saved.token.clone())?;
    match client.logout().await {
        // A sign-in that already ended or was revoked needs no server step.
        Ok(()) | Err(Error::Unauthenticated { .. }) => {}
        Err(e) => return Err(e),
    }
    credentials::remove()?;
    Ok(format!("Signed out of {}.\n", saved.server))
}
