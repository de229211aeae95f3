//! # works-core
//!
//! The domain of Anthropy Works. It owns every rule — tenancy, permissions, audit,
//! redaction — and defines the traits its adapters implement ([`store::Store`],
//! [`clock::Clock`]). It depends on no HTTP, SQL, SSH or container crate.
//!
//! The entry point is [`Works`]: one method per operation, each taking the acting
//! [`Actor`].

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod access;
pub mod alerts;
pub mod agent;
pub mod api;
pub mod actor;
pub mod audit;
pub mod auth;
pub mod capabilities;
pub mod checkins;
pub mod clock;
pub mod cluster;
pub mod connections;
pub mod error;
pub mod fleet_store;
mod group_commit;
pub mod instances;
pub mod health;
pub mod history;
pub mod agent_install;
pub mod hosts;
pub mod jobs;
pub mod lifecycle;
pub mod live;
pub mod map;
pub mod model;
pub mod nodes;
pub mod openclaw;
pub mod openclaw_cli;
pub mod openclaw_ops;
pub mod openclaw_versions;
pub mod ops;
pub mod orgs;
pub mod probe;
pub mod permissions;
pub mod policy;
pub mod policy_store;
pub mod preferences;
pub mod recovery;
pub mod redact;
pub mod runs;
pub mod schedules;
pub mod seal;
pub mod status;
pub mod secret;
pub mod store;
pub mod tokens;
pub mod users;
pub mod validate;
pub mod workflows;
mod works;

pub use actor::{Actor, Via};
pub use api::{Api, Session};
pub use audit::{AuditDraft, AuditPage, AuditQuery, AuditRecord, AuditVerification, Outcome};
pub use auth::{Bootstrap, LoginInput};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use model::*;
pub use ops::{BackupEngine, BackupService, Environment, MasterKey, ServerSettings};
pub use seal::Sealer;
pub use orgs::{NewOrg, OrgQuery, RenameOrg};
pub use redact::redact;
pub use alerts::{AlertStore, Delivery, DeliveryQuery, DeliveryStatus, NewWebhook, Notifier, Webhook};
pub use agent::{AgentCredential, AgentIdentity, CheckIn, CheckInReply, EnrollRequest, EnrollmentToken, JobReport, JobReportAnswer, JobReportOf};
pub use fleet_store::{FleetStore, JobWrite, JobWritten};
pub use health::{AcknowledgeIssue, HealthAck, HealthIssue, HealthReport, HealthState, HealthStore};
pub use lifecycle::{ComponentStatus, DeployInput, Deployment, InstanceHealth, LogsInput, Probe, Readiness, ReadinessCheck, ReadinessInput};
pub use history::{FleetCounts, HistoryQuery, HistoryStore, MetricHistory, MetricSample};
pub use jobs::{ApproveJob, Job, JobFilter, JobKind, JobQuery, JobState, NewJob, Risk};
pub use instances::{Instance, InstanceFilter, InstanceQuery, InstanceState, InstanceStore, TakeoverInput};
pub use nodes::{Container, ContainerMount, NewNode, Node, NodeHealth, NodeQuery, NodeStatus, NodeThresholds, PublishedPort, RenameNode};
pub use hosts::{
    AccessAttempt, AccessStore, AttemptQuery, AttemptStatus, Discovery, FoundContainer, Host, HostQuery, HostUpdate, Jumpbox, JumpboxUpdate, NewHost, NewJumpbox,
    NewSshCredential, PageQuery, SshCredential, Stage, TranscriptEntry,
};
pub use probe::{AccessProbe, FailureKind, Hop, Step};
pub use recovery::RecoveryReport;
pub use store::{PruneBefore, Pruned, Store, UserFilter};
pub use tokens::{NewToken, TokenQuery};
pub use users::{NewUser, PasswordReset, ResetPassword, UserQuery, UserUpdate};
pub use works::{CoreConfig, Works};
pub use openclaw_cli::{CliClass, CliCommand};
pub use openclaw_ops::{
    ApprovePlan, AssignInput, Assignment, CliRunInput, InstanceOpsStore, NewUpgradePlan, OpsQuery, UpgradePlan, UpgradePlanState, VersionQuery,
    VersionReport,
};
pub use openclaw_versions::{Channel, Direction, Eligibility};
pub use capabilities::{AttachPack, Capability, CapabilityAction, CapabilityKind, CapabilityPack, RiskLevel};
pub use connections::{Connection, ConnectionQuery, ConnectionRecord, ConnectionStatus, ConnectionUpdate, NewConnection, Provider};
pub use map::{FleetMap, MapEdge, MapGroup, MapHotspot, MapKind, MapNode};
pub use preferences::{Layout, PreferenceStore};
pub use status::{StatusCounts, StatusIncident, StatusSummary, VersionCount};
pub use live::{DataLabel, DriveApi, DriveFile, DriveListing};
pub use permissions::{NewPermission, Permission, PermissionQuery, PermissionUpdate};
pub use policy::{Block, Rule};
pub use policy_store::PolicyStore;
pub use runs::{Approval, ApproveRun, RunMode, RunQuery, RunState, RunStep, StartRun, StepOutcome, WorkflowRun};
pub use schedules::{NewSchedule, Schedule, ScheduleFire, ScheduleQuery, ScheduleStore, ScheduleTarget, ScheduleUpdate};
pub use workflows::{ListFilesParams, NewWorkflow, Workflow, WorkflowQuery, WorkflowStep, WorkflowUpdate};
