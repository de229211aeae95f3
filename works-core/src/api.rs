//! The operations as seen by one signed-in principal. Implemented by [`Session`]
//! (embedded: the core itself) and by the remote client of `works-client` (over HTTP),
//! so the CLI and Python make the same calls and get the same errors either way.

use async_trait::async_trait;

use crate::actor::Actor;
use crate::agent::EnrollmentToken;
use crate::alerts::{Delivery, DeliveryQuery, NewWebhook, Webhook};
use crate::audit::{AuditPage, AuditQuery, AuditVerification};
use crate::error::Result;
use crate::health::{HealthIssue, HealthReport};
use crate::history::{HistoryQuery, MetricHistory};
use crate::hosts::{AccessAttempt, AttemptQuery, Host, HostQuery, Jumpbox, NewHost, NewJumpbox, NewSshCredential, PageQuery, SshCredential};
use crate::instances::{Instance, InstanceQuery, TakeoverInput};
use crate::jobs::{ApproveJob, Job, JobQuery, NewJob};
use crate::lifecycle::{DeployInput, Deployment, LogsInput, ReadinessInput};
use crate::model::{ApiToken, CreatedToken, Listing, Org, User};
use crate::nodes::{Container, NewNode, Node, NodeQuery, RenameNode};
use crate::openclaw_cli::CliCommand;
use crate::openclaw_ops::{ApprovePlan, AssignInput, Assignment, NewUpgradePlan, OpsQuery, UpgradePlan, VersionQuery, VersionReport};
use crate::orgs::{NewOrg, OrgQuery, RenameOrg};
use crate::tokens::{NewToken, TokenQuery};
use crate::users::{NewUser, PasswordReset, ResetPassword, UserQuery, UserUpdate};
use crate::works::Works;
use crate::capabilities::{AttachPack, Capability, CapabilityPack};
use crate::connections::{Connection, ConnectionQuery, ConnectionUpdate, NewConnection};
use crate::permissions::{NewPermission, Permission, PermissionQuery, PermissionUpdate};
use crate::runs::{ApproveRun, RunQuery, StartRun, WorkflowRun};
use crate::workflows::{NewWorkflow, Workflow, WorkflowQuery, WorkflowUpdate};
use crate::schedules::{NewSchedule, Schedule, ScheduleQuery, ScheduleUpdate};

#[async_trait]
pub trait Api: Send + Sync {
    async fn whoami(&self) -> Result<User>;
    async fn logout(&self) -> Result<()>;

    async fn org_create(&self, input: NewOrg) -> Result<Org>;
    async fn org_list(&self, query: OrgQuery) -> Result<Listing<Org>>;
    async fn org_get(&self, id: &str) -> Result<Org>;
    async fn org_rename(&self, id: &str, input: RenameOrg) -> Result<Org>;
    async fn org_archive(&self, id: &str) -> Result<Org>;

    async fn user_create(&self, input: NewUser) -> Result<User>;
    async fn user_list(&self, query: UserQuery) -> Result<Listing<User>>;
    async fn user_get(&self, id: &str) -> Result<User>;
    async fn user_update(&self, id: &str, input: UserUpdate) -> Result<User>;
    async fn user_disable(&self, id: &str) -> Result<User>;
    async fn user_enable(&self, id: &str) -> Result<User>;
    async fn user_reset_password(&self, id: &str, input: ResetPassword) -> Result<PasswordReset>;

    async fn token_create(&self, input: NewToken) -> Result<CreatedToken>;
    async fn token_list(&self, query: TokenQuery) -> Result<Listing<ApiToken>>;
    async fn token_revoke(&self, id: &str) -> Result<ApiToken>;

    async fn audit_query(&self, query: AuditQuery) -> Result<AuditPage>;
    async fn audit_verify(&self) -> Result<AuditVerification>;

    async fn node_create(&self, input: NewNode) -> Result<Node>;
    async fn node_list(&self, query: NodeQuery) -> Result<Listing<Node>>;
    async fn node_get(&self, id: &str) -> Result<Node>;
    async fn node_rename(&self, id: &str, input: RenameNode) -> Result<Node>;
    async fn node_retire(&self, id: &str) -> Result<Node>;
    async fn node_containers(&self, id: &str) -> Result<Vec<Container>>;
    async fn enrollment_token_create(&self, node_id: &str) -> Result<EnrollmentToken>;
    async fn agent_revoke(&self, node_id: &str) -> Result<()>;

    async fn job_request(&self, input: NewJob) -> Result<Job>;
    async fn job_list(&self, query: JobQuery) -> Result<Listing<Job>>;
    async fn job_get(&self, id: &str) -> Result<Job>;
    async fn job_approve(&self, id: &str, input: ApproveJob) -> Result<Job>;
    async fn job_cancel(&self, id: &str) -> Result<Job>;
    async fn job_retry(&self, id: &str) -> Result<Job>;

    async fn health(&self) -> Result<HealthReport>;
    async fn health_acknowledge(&self, issue_id: &str, note: &str) -> Result<HealthIssue>;
    async fn metrics_history(&self, query: HistoryQuery) -> Result<MetricHistory>;
    async fn map(&self) -> Result<crate::map::FleetMap>;
    async fn status_summary(&self) -> Result<crate::status::StatusSummary>;
    async fn layout_get(&self) -> Result<crate::preferences::Layout>;
    async fn layout_put(&self, layout: crate::preferences::Layout) -> Result<crate::preferences::Layout>;

    async fn instance_list(&self, query: InstanceQuery) -> Result<Listing<Instance>>;
    async fn instance_get(&self, id: &str) -> Result<Instance>;
    async fn instance_takeover(&self, id: &str, input: TakeoverInput) -> Result<Instance>;
    async fn instance_deploy(&self, input: DeployInput) -> Result<Deployment>;
    async fn instance_health_check(&self, id: &str) -> Result<Job>;
    async fn instance_logs(&self, id: &str, input: LogsInput) -> Result<Job>;
    async fn instance_restart(&self, id: &str) -> Result<Job>;
    async fn instance_remove(&self, id: &str) -> Result<Job>;
    async fn node_openclaw_readiness(&self, node_id: &str, input: ReadinessInput) -> Result<Job>;

    async fn webhook_create(&self, input: NewWebhook) -> Result<Webhook>;
    async fn webhook_list(&self) -> Result<Vec<Webhook>>;
    async fn webhook_delete(&self, id: &str) -> Result<Webhook>;
    async fn delivery_list(&self, query: DeliveryQuery) -> Result<Listing<Delivery>>;

    async fn openclaw_cli_commands(&self) -> Result<Vec<CliCommand>>;
    async fn instance_cli_run(&self, id: &str, command_id: &str) -> Result<Job>;
    async fn instance_cli_runs(&self, id: &str, query: OpsQuery) -> Result<Listing<Job>>;
    async fn instance_cli_run_get(&self, id: &str, job_id: &str) -> Result<Job>;
    async fn instance_versions(&self, id: &str, query: VersionQuery) -> Result<VersionReport>;
    async fn upgrade_plan_create(&self, id: &str, input: NewUpgradePlan) -> Result<UpgradePlan>;
    async fn upgrade_plan_list(&self, id: &str, query: OpsQuery) -> Result<Listing<UpgradePlan>>;
    async fn upgrade_plan_get(&self, id: &str, plan_id: &str) -> Result<UpgradePlan>;
    async fn upgrade_plan_approve(&self, id: &str, plan_id: &str, input: ApprovePlan) -> Result<UpgradePlan>;
    async fn upgrade_plan_cancel(&self, id: &str, plan_id: &str) -> Result<UpgradePlan>;
    async fn instance_assign(&self, id: &str, input: AssignInput) -> Result<Assignment>;
    async fn instance_unassign(&self, id: &str, user_id: &str) -> Result<()>;
    async fn instance_assignments(&self, id: &str) -> Result<Vec<Assignment>>;

    async fn ssh_credential_create(&self, input: NewSshCredential) -> Result<SshCredential>;
    async fn ssh_credential_list(&self, query: PageQuery) -> Result<Listing<SshCredential>>;
    async fn ssh_credential_get(&self, id: &str) -> Result<SshCredential>;
    async fn ssh_credential_delete(&self, id: &str) -> Result<SshCredential>;
    async fn jumpbox_create(&self, input: NewJumpbox) -> Result<Jumpbox>;
    async fn jumpbox_list(&self, query: PageQuery) -> Result<Listing<Jumpbox>>;
    async fn jumpbox_get(&self, id: &str) -> Result<Jumpbox>;
    async fn jumpbox_forget_host_key(&self, id: &str) -> Result<Jumpbox>;
    async fn host_create(&self, input: NewHost) -> Result<Host>;
    async fn host_list(&self, query: HostQuery) -> Result<Listing<Host>>;
    async fn host_get(&self, id: &str) -> Result<Host>;
    async fn host_test_access(&self, id: &str) -> Result<AccessAttempt>;
    async fn host_register(&self, id: &str) -> Result<Node>;
    async fn host_forget_host_key(&self, id: &str) -> Result<Host>;
    async fn jumpbox_update(&self, id: &str, input: crate::hosts::JumpboxUpdate) -> Result<Jumpbox>;
    async fn jumpbox_delete(&self, id: &str) -> Result<Jumpbox>;
    async fn host_update(&self, id: &str, input: crate::hosts::HostUpdate) -> Result<Host>;
    async fn host_delete(&self, id: &str) -> Result<Host>;
    async fn host_install_agent(&self, id: &str) -> Result<Job>;
    async fn access_attempt_list(&self, query: AttemptQuery) -> Result<Listing<AccessAttempt>>;
    async fn access_attempt_get(&self, id: &str) -> Result<AccessAttempt>;

    async fn capability_list(&self) -> Result<Vec<Capability>>;
    async fn capability_get(&self, id: &str) -> Result<Capability>;
    async fn pack_list(&self) -> Result<Vec<CapabilityPack>>;
    async fn pack_attach(&self, id: &str, input: AttachPack) -> Result<Vec<Permission>>;
    async fn permission_create(&self, input: NewPermission) -> Result<Permission>;
    async fn permission_list(&self, query: PermissionQuery) -> Result<Listing<Permission>>;
    async fn permission_get(&self, id: &str) -> Result<Permission>;
    async fn permission_update(&self, id: &str, input: PermissionUpdate) -> Result<Permission>;
    async fn permission_disable(&self, id: &str) -> Result<Permission>;
    async fn permission_enable(&self, id: &str) -> Result<Permission>;
    async fn permission_delete(&self, id: &str) -> Result<Permission>;
    async fn connection_create(&self, input: NewConnection) -> Result<Connection>;
    async fn connection_list(&self, query: ConnectionQuery) -> Result<Listing<Connection>>;
    async fn connection_get(&self, id: &str) -> Result<Connection>;
    async fn connection_update(&self, id: &str, input: ConnectionUpdate) -> Result<Connection>;
    async fn connection_delete(&self, id: &str) -> Result<Connection>;
    async fn workflow_create(&self, input: NewWorkflow) -> Result<Workflow>;
    async fn workflow_list(&self, query: WorkflowQuery) -> Result<Listing<Workflow>>;
    async fn workflow_get(&self, id: &str) -> Result<Workflow>;
    async fn workflow_update(&self, id: &str, input: WorkflowUpdate) -> Result<Workflow>;
    async fn workflow_delete(&self, id: &str) -> Result<Workflow>;
    async fn run_start(&self, workflow_id: &str, input: StartRun) -> Result<WorkflowRun>;
    async fn run_list(&self, workflow_id: &str, query: RunQuery) -> Result<Listing<WorkflowRun>>;
    async fn run_get(&self, workflow_id: &str, run_id: &str) -> Result<WorkflowRun>;
    async fn run_approve(&self, workflow_id: &str, run_id: &str, input: ApproveRun) -> Result<WorkflowRun>;

    async fn schedule_create(&self, input: NewSchedule) -> Result<Schedule>;
    async fn schedule_list(&self, query: ScheduleQuery) -> Result<Listing<Schedule>>;
    async fn schedule_get(&self, id: &str) -> Result<Schedule>;
    async fn schedule_update(&self, id: &str, input: ScheduleUpdate) -> Result<Schedule>;
    async fn schedule_delete(&self, id: &str) -> Result<Schedule>;
}

/// The core and an actor: the embedded implementation of [`Api`].
#[derive(Clone)]
pub struct Session {
    pub works: Works,
    pub actor: Actor,
}

impl Session {
    pub fn new(works: Works, actor: Actor) -> Self {
        Session { works, actor }
    }
}

#[async_trait]
impl Api for Session {
    async fn whoami(&self) -> Result<User> {
        self.works.whoami(&self.actor).await
    }
    async fn logout(&self) -> Result<()> {
        self.works.logout(&self.actor).await
    }
    async fn org_create(&self, input: NewOrg) -> Result<Org> {
        self.works.org_create(&self.actor, input).await
    }
    async fn org_list(&self, query: OrgQuery) -> Result<Listing<Org>> {
        self.works.org_list(&self.actor, query).await
    }
    async fn org_get(&self, id: &str) -> Result<Org> {
        self.works.org_get(&self.actor, id).await
    }
    async fn org_rename(&self, id: &str, input: RenameOrg) -> Result<Org> {
        self.works.org_rename(&self.actor, id, input).await
    }
    async fn org_archive(&self, id: &str) -> Result<Org> {
        self.works.org_archive(&self.actor, id).await
    }
    async fn user_create(&self, input: NewUser) -> Result<User> {
        self.works.user_create(&self.actor, input).await
    }
    async fn user_list(&self, query: UserQuery) -> Result<Listing<User>> {
        self.works.user_list(&self.actor, query).await
    }
    async fn user_get(&self, id: &str) -> Result<User> {
        self.works.user_get(&self.actor, id).await
    }
    async fn user_update(&self, id: &str, input: UserUpdate) -> Result<User> {
        self.works.user_update(&self.actor, id, input).await
    }
    async fn user_disable(&self, id: &str) -> Result<User> {
        self.works.user_disable(&self.actor, id).await
    }
    async fn user_enable(&self, id: &str) -> Result<User> {
        self.works.user_enable(&self.actor, id).await
    }
    async fn user_reset_password(&self, id: &str, input: ResetPassword) -> Result<PasswordReset> {
        self.works.user_reset_password(&self.actor, id, input).await
    }
    async fn token_create(&self, input: NewToken) -> Result<CreatedToken> {
        self.works.token_create(&self.actor, input).await
    }
    async fn token_list(&self, query: TokenQuery) -> Result<Listing<ApiToken>> {
        self.works.token_list(&self.actor, query).await
    }
    async fn token_revoke(&self, id: &str) -> Result<ApiToken> {
        self.works.token_revoke(&self.actor, id).await
    }
    async fn audit_query(&self, query: AuditQuery) -> Result<AuditPage> {
        self.works.audit_query(&self.actor, query).await
    }
    async fn audit_verify(&self) -> Result<AuditVerification> {
        self.works.audit_verify(&self.actor).await
    }
    async fn node_create(&self, input: NewNode) -> Result<Node> {
        self.works.node_create(&self.actor, input).await
    }
    async fn node_list(&self, query: NodeQuery) -> Result<Listing<Node>> {
        self.works.node_list(&self.actor, query).await
    }
    async fn node_get(&self, id: &str) -> Result<Node> {
        self.works.node_get(&self.actor, id).await
    }
    async fn node_rename(&self, id: &str, input: RenameNode) -> Result<Node> {
        self.works.node_rename(&self.actor, id, input).await
    }
    async fn node_retire(&self, id: &str) -> Result<Node> {
        self.works.node_retire(&self.actor, id).await
    }
    async fn node_containers(&self, id: &str) -> Result<Vec<Container>> {
        self.works.node_containers(&self.actor, id).await
    }
    async fn enrollment_token_create(&self, node_id: &str) -> Result<EnrollmentToken> {
        self.works.enrollment_token_create(&self.actor, node_id).await
    }
    async fn agent_revoke(&self, node_id: &str) -> Result<()> {
        self.works.agent_revoke(&self.actor, node_id).await
    }
    async fn job_request(&self, input: NewJob) -> Result<Job> {
        self.works.job_request(&self.actor, input).await
    }
    async fn job_list(&self, query: JobQuery) -> Result<Listing<Job>> {
        self.works.job_list(&self.actor, query).await
    }
    async fn job_get(&self, id: &str) -> Result<Job> {
        self.works.job_get(&self.actor, id).await
    }
    async fn job_approve(&self, id: &str, input: ApproveJob) -> Result<Job> {
        self.works.job_approve(&self.actor, id, input).await
    }
    async fn job_cancel(&self, id: &str) -> Result<Job> {
        self.works.job_cancel(&self.actor, id).await
    }
    async fn job_retry(&self, id: &str) -> Result<Job> {
        self.works.job_retry(&self.actor, id).await
    }
    async fn health(&self) -> Result<HealthReport> {
        self.works.health(&self.actor).await
    }
    async fn health_acknowledge(&self, issue_id: &str, note: &str) -> Result<HealthIssue> {
        self.works.health_acknowledge(&self.actor, issue_id, note).await
    }
    async fn map(&self) -> Result<crate::map::FleetMap> {
        self.works.map(&self.actor).await
    }
    async fn status_summary(&self) -> Result<crate::status::StatusSummary> {
        self.works.status_summary(&self.actor).await
    }
    async fn layout_get(&self) -> Result<crate::preferences::Layout> {
        self.works.layout_get(&self.actor).await
    }
    async fn layout_put(&self, layout: crate::preferences::Layout) -> Result<crate::preferences::Layout> {
        self.works.layout_put(&self.actor, layout).await
    }
    async fn metrics_history(&self, query: HistoryQuery) -> Result<MetricHistory> {
        self.works.metrics_history(&self.actor, query).await
    }
    async fn instance_list(&self, query: InstanceQuery) -> Result<Listing<Instance>> {
        self.works.instance_list(&self.actor, query).await
    }
    async fn instance_get(&self, id: &str) -> Result<Instance> {
        self.works.instance_get(&self.actor, id).await
    }
    async fn instance_takeover(&self, id: &str, input: TakeoverInput) -> Result<Instance> {
        self.works.instance_takeover(&self.actor, id, input).await
    }
    async fn instance_deploy(&self, input: DeployInput) -> Result<Deployment> {
        self.works.instance_deploy(&self.actor, input).await
    }
    async fn instance_health_check(&self, id: &str) -> Result<Job> {
        self.works.instance_health_check(&self.actor, id).await
    }
    async fn instance_logs(&self, id: &str, input: LogsInput) -> Result<Job> {
        self.works.instance_logs(&self.actor, id, input).await
    }
    async fn instance_restart(&self, id: &str) -> Result<Job> {
        self.works.instance_restart(&self.actor, id).await
    }
    async fn instance_remove(&self, id: &str) -> Result<Job> {
        self.works.instance_remove(&self.actor, id).await
    }
    async fn node_openclaw_readiness(&self, node_id: &str, input: ReadinessInput) -> Result<Job> {
        self.works.node_openclaw_readiness(&self.actor, node_id, input).await
    }
    async fn webhook_create(&self, input: NewWebhook) -> Result<Webhook> {
        self.works.webhook_create(&self.actor, input).await
    }
    async fn webhook_list(&self) -> Result<Vec<Webhook>> {
        self.works.webhook_list(&self.actor).await
    }
    async fn webhook_delete(&self, id: &str) -> Result<Webhook> {
        self.works.webhook_delete(&self.actor, id).await
    }
    async fn delivery_list(&self, query: DeliveryQuery) -> Result<Listing<Delivery>> {
        self.works.delivery_list(&self.actor, query).await
    }
    async fn openclaw_cli_commands(&self) -> Result<Vec<CliCommand>> {
        self.works.openclaw_cli_commands(&self.actor).await
    }
    async fn instance_cli_run(&self, id: &str, command_id: &str) -> Result<Job> {
        self.works.instance_cli_run(&self.actor, id, command_id).await
    }
    async fn instance_cli_runs(&self, id: &str, query: OpsQuery) -> Result<Listing<Job>> {
        self.works.instance_cli_runs(&self.actor, id, query).await
    }
    async fn instance_cli_run_get(&self, id: &str, job_id: &str) -> Result<Job> {
        self.works.instance_cli_run_get(&self.actor, id, job_id).await
    }
    async fn instance_versions(&self, id: &str, query: VersionQuery) -> Result<VersionReport> {
        self.works.instance_versions(&self.actor, id, query).await
    }
    async fn upgrade_plan_create(&self, id: &str, input: NewUpgradePlan) -> Result<UpgradePlan> {
        self.works.upgrade_plan_create(&self.actor, id, input).await
    }
    async fn upgrade_plan_list(&self, id: &str, query: OpsQuery) -> Result<Listing<UpgradePlan>> {
        self.works.upgrade_plan_list(&self.actor, id, query).await
    }
    async fn upgrade_plan_get(&self, id: &str, plan_id: &str) -> Result<UpgradePlan> {
        self.works.upgrade_plan_get(&self.actor, id, plan_id).await
    }
    async fn upgrade_plan_approve(&self, id: &str, plan_id: &str, input: ApprovePlan) -> Result<UpgradePlan> {
        self.works.upgrade_plan_approve(&self.actor, id, plan_id, input).await
    }
    async fn upgrade_plan_cancel(&self, id: &str, plan_id: &str) -> Result<UpgradePlan> {
        self.works.upgrade_plan_cancel(&self.actor, id, plan_id).await
    }
    async fn instance_assign(&self, id: &str, input: AssignInput) -> Result<Assignment> {
        self.works.instance_assign(&self.actor, id, input).await
    }
    async fn instance_unassign(&self, id: &str, user_id: &str) -> Result<()> {
        self.works.instance_unassign(&self.actor, id, user_id).await
    }
    async fn instance_assignments(&self, id: &str) -> Result<Vec<Assignment>> {
        self.works.instance_assignments(&self.actor, id).await
    }
    async fn ssh_credential_create(&self, input: NewSshCredential) -> Result<SshCredential> {
        self.works.ssh_credential_create(&self.actor, input).await
    }
    async fn ssh_credential_list(&self, query: PageQuery) -> Result<Listing<SshCredential>> {
        self.works.ssh_credential_list(&self.actor, query).await
    }
    async fn ssh_credential_get(&self, id: &str) -> Result<SshCredential> {
        self.works.ssh_credential_get(&self.actor, id).await
    }
    async fn ssh_credential_delete(&self, id: &str) -> Result<SshCredential> {
        self.works.ssh_credential_delete(&self.actor, id).await
    }
    async fn jumpbox_create(&self, input: NewJumpbox) -> Result<Jumpbox> {
        self.works.jumpbox_create(&self.actor, input).await
    }
    async fn jumpbox_list(&self, query: PageQuery) -> Result<Listing<Jumpbox>> {
        self.works.jumpbox_list(&self.actor, query).await
    }
    async fn jumpbox_get(&self, id: &str) -> Result<Jumpbox> {
        self.works.jumpbox_get(&self.actor, id).await
    }
    async fn jumpbox_forget_host_key(&self, id: &str) -> Result<Jumpbox> {
        self.works.jumpbox_forget_host_key(&self.actor, id).await
    }
    async fn host_create(&self, input: NewHost) -> Result<Host> {
        self.works.host_create(&self.actor, input).await
    }
    async fn host_list(&self, query: HostQuery) -> Result<Listing<Host>> {
        self.works.host_list(&self.actor, query).await
    }
    async fn host_get(&self, id: &str) -> Result<Host> {
        self.works.host_get(&self.actor, id).await
    }
    async fn host_test_access(&self, id: &str) -> Result<AccessAttempt> {
        self.works.host_test_access(&self.actor, id).await
    }
    async fn host_register(&self, id: &str) -> Result<Node> {
        self.works.host_register(&self.actor, id).await
    }
    async fn host_forget_host_key(&self, id: &str) -> Result<Host> {
        self.works.host_forget_host_key(&self.actor, id).await
    }
    async fn jumpbox_update(&self, id: &str, input: crate::hosts::JumpboxUpdate) -> Result<Jumpbox> {
        self.works.jumpbox_update(&self.actor, id, input).await
    }
    async fn jumpbox_delete(&self, id: &str) -> Result<Jumpbox> {
        self.works.jumpbox_delete(&self.actor, id).await
    }
    async fn host_update(&self, id: &str, input: crate::hosts::HostUpdate) -> Result<Host> {
        self.works.host_update(&self.actor, id, input).await
    }
    async fn host_delete(&self, id: &str) -> Result<Host> {
        self.works.host_delete(&self.actor, id).await
    }
    async fn host_install_agent(&self, id: &str) -> Result<Job> {
        self.works.host_install_agent(&self.actor, id).await
    }
    async fn access_attempt_list(&self, query: AttemptQuery) -> Result<Listing<AccessAttempt>> {
        self.works.access_attempt_list(&self.actor, query).await
    }
    async fn access_attempt_get(&self, id: &str) -> Result<AccessAttempt> {
        self.works.access_attempt_get(&self.actor, id).await
    }
    async fn capability_list(&self) -> Result<Vec<Capability>> {
        self.works.capability_list(&self.actor).await
    }
    async fn capability_get(&self, id: &str) -> Result<Capability> {
        self.works.capability_get(&self.actor, id).await
    }
    async fn pack_list(&self) -> Result<Vec<CapabilityPack>> {
        self.works.pack_list(&self.actor).await
    }
    async fn pack_attach(&self, id: &str, input: AttachPack) -> Result<Vec<Permission>> {
        self.works.pack_attach(&self.actor, id, input).await
    }
    async fn permission_create(&self, input: NewPermission) -> Result<Permission> {
        self.works.permission_create(&self.actor, input).await
    }
    async fn permission_list(&self, query: PermissionQuery) -> Result<Listing<Permission>> {
        self.works.permission_list(&self.actor, query).await
    }
    async fn permission_get(&self, id: &str) -> Result<Permission> {
        self.works.permission_get(&self.actor, id).await
    }
    async fn permission_update(&self, id: &str, input: PermissionUpdate) -> Result<Permission> {
        self.works.permission_update(&self.actor, id, input).await
    }
    async fn permission_disable(&self, id: &str) -> Result<Permission> {
        self.works.permission_disable(&self.actor, id).await
    }
    async fn permission_enable(&self, id: &str) -> Result<Permission> {
        self.works.permission_enable(&self.actor, id).await
    }
    async fn permission_delete(&self, id: &str) -> Result<Permission> {
        self.works.permission_delete(&self.actor, id).await
    }
    async fn connection_create(&self, input: NewConnection) -> Result<Connection> {
        self.works.connection_create(&self.actor, input).await
    }
    async fn connection_list(&self, query: ConnectionQuery) -> Result<Listing<Connection>> {
        self.works.connection_list(&self.actor, query).await
    }
    async fn connection_get(&self, id: &str) -> Result<Connection> {
        self.works.connection_get(&self.actor, id).await
    }
    async fn connection_update(&self, id: &str, input: ConnectionUpdate) -> Result<Connection> {
        self.works.connection_update(&self.actor, id, input).await
    }
    async fn connection_delete(&self, id: &str) -> Result<Connection> {
        self.works.connection_delete(&self.actor, id).await
    }
    async fn workflow_create(&self, input: NewWorkflow) -> Result<Workflow> {
        self.works.workflow_create(&self.actor, input).await
    }
    async fn workflow_list(&self, query: WorkflowQuery) -> Result<Listing<Workflow>> {
        self.works.workflow_list(&self.actor, query).await
    }
    async fn workflow_get(&self, id: &str) -> Result<Workflow> {
        self.works.workflow_get(&self.actor, id).await
    }
    async fn workflow_update(&self, id: &str, input: WorkflowUpdate) -> Result<Workflow> {
        self.works.workflow_update(&self.actor, id, input).await
    }
    async fn workflow_delete(&self, id: &str) -> Result<Workflow> {
        self.works.workflow_delete(&self.actor, id).await
    }
    async fn run_start(&self, workflow_id: &str, input: StartRun) -> Result<WorkflowRun> {
        self.works.run_start(&self.actor, workflow_id, input).await
    }
    async fn run_list(&self, workflow_id: &str, query: RunQuery) -> Result<Listing<WorkflowRun>> {
        self.works.run_list(&self.actor, workflow_id, query).await
    }
    async fn run_get(&self, workflow_id: &str, run_id: &str) -> Result<WorkflowRun> {
        self.works.run_get(&self.actor, workflow_id, run_id).await
    }
    async fn run_approve(&self, workflow_id: &str, run_id: &str, input: ApproveRun) -> Result<WorkflowRun> {
        self.works.run_approve(&self.actor, workflow_id, run_id, input).await
    }
    async fn schedule_create(&self, input: NewSchedule) -> Result<Schedule> {
        self.works.schedule_create(&self.actor, input).await
    }
    async fn schedule_list(&self, query: ScheduleQuery) -> Result<Listing<Schedule>> {
        self.works.schedule_list(&self.actor, query).await
    }
    async fn schedule_get(&self, id: &str) -> Result<Schedule> {
        self.works.schedule_get(&self.actor, id).await
    }
    async fn schedule_update(&self, id: &str, input: ScheduleUpdate) -> Result<Schedule> {
        self.works.schedule_update(&self.actor, id, input).await
    }
    async fn schedule_delete(&self, id: &str) -> Result<Schedule> {
        self.works.schedule_delete(&self.actor, id).await
    }
}
