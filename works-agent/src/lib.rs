//! # works-agent
//!
//! The per-machine agent of Anthropy Works, hosted by the `works` binary
//! (`works agent enroll`, `works agent run`) and, alone and slim, by this crate's own
//! `works-agent` binary (`works-agent enroll`, `works-agent run`: same flags and
//! environment, a single-threaded runtime).
//!
//! - [`enroll`] exchanges a one-time enrollment token for the agent's own credential and
//!   keeps it in `STATE_DIR/agent.json` (mode 0600, folder 0700).
//! - [`run`] checks in every interval the server asks for (±20% jitter) with the
//!   machine's health and, when it changed, the container inventory read from the
//!   Docker engine through `bollard`; between check-ins it long-polls for its node's
//!   jobs, runs them with heartbeats and reports how they ended. While the server cannot
//!   be reached it backs off exponentially with jitter, up to five minutes. A revoked
//!   credential stops it with a plain message.
//!
//! Every rule — who may claim what, job states, redaction of output — is the server's
//! (`works-core`); the agent only does the work and reports. It never asks the engine
//! for a container's environment, and never logs its credential.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod backoff;
pub mod client;
pub mod docker;
pub mod enroll;
pub mod health;
pub mod jobs;
pub mod openclaw;
pub mod openclaw_cli;
pub mod runner;
pub mod state;

pub use client::AgentClient;
pub use docker::{docker_host_from_env, Engine, EngineError};
pub use enroll::{enroll, Enrolled};
pub use runner::{run, run_until_stopped, stop_signal, Agent, RunOptions};
pub use state::AgentState;
pub use tokio_util::sync::CancellationToken;
