//! `works serve`: open the store, set up the first admin, serve the HTTP API and web UI
//! until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use works_core::{Error, Result};

use crate::cli::{Cli, ServeArgs};
use crate::connect;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub async fn run(cli: &Cli, args: &ServeArgs) -> Result<()> {
    if cli.server.is_some() {
        return Err(Error::invalid("server", "does not apply to works serve: it serves its own database"));
    }
    crate::ops::guard_start(cli, args)?;
    let listen = args.listen.trim();
    let addr: SocketAddr = tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::invalid("listen", format!("{listen} is not an address to listen on, such as 127.0.0.1:8080")))?;

    let url = connect::database_url(cli)?;
    let (works, outcome) = connect::open_works(&url).await?;
    if let Some(message) = connect::bootstrap_message(&outcome) {
        say(&message);
    }

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::unavailable(format!("Cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Error::internal(format!("Cannot read the bound address: {e}")))?;

    let config = works_http::HttpConfig {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: crate::build_commit(),
        secure_cookies: args.secure_cookies,
    };
    let backend = works.store().backend();
    let app = works_http::router(works, config);

    say(&format!("Anthropy Works is running at http://{bound} — sign in as {}", works_core::auth::FIRST_ADMIN));
    tracing::info!(address = %bound, database = backend, "serving");

    works_http::serve_until(listener, app, shutdown_signal())
        .await
        .map_err(|e| Error::internal(format!("The server stopped unexpectedly: {e}")))?;
    say("Anthropy Works stopped.");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    say("Stopping: finishing the requests in progress…");
}
