//! The sections of the configuration file other than the environments (`[auth]`, `[roles]`,
//! `[slack]`, `[audit]`, `[access]`, `[jobs]`, `[http]`, `[[severity]]`), each with its defaults.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Oidc,
    #[default]
    Dev,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub mode: AuthMode,
    #[serde(default)]
    pub issuer_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub redirect_url: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    #[serde(default = "default_mfa_amr")]
    pub mfa_amr_values: Vec<String>,
    #[serde(default = "default_step_up")]
    pub step_up_minutes: u32,
    #[serde(default = "default_idle")]
    pub idle_minutes: u32,
    #[serde(default = "default_absolute")]
    pub absolute_hours: u32,
    /// Absolute lifetime of a session that holds the approver role (at most `absolute_hours`):
    /// roles and groups are read at login, so an approver removed from a group stops approving
    /// at the latest this long after their last login.
    #[serde(default = "default_approver_absolute")]
    pub approver_absolute_hours: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Dev,
            issuer_url: None,
            client_id: None,
            client_secret_env: None,
            client_secret_file: None,
            redirect_url: None,
            scopes: default_scopes(),
            groups_claim: default_groups_claim(),
            mfa_amr_values: default_mfa_amr(),
            step_up_minutes: default_step_up(),
            idle_minutes: default_idle(),
            absolute_hours: default_absolute(),
            approver_absolute_hours: default_approver_absolute(),
        }
    }
}

impl AuthConfig {
    /// The absolute lifetime in hours of a session, shorter when it holds the approver role.
    pub fn session_hours(&self, approver: bool) -> u32 {
        if approver {
            self.approver_absolute_hours.min(self.absolute_hours)
        } else {
            self.absolute_hours
        }
    }
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_mfa_amr() -> Vec<String> {
    vec!["mfa".into(), "otp".into(), "hwk".into()]
}
fn default_step_up() -> u32 {
    10
}
fn default_idle() -> u32 {
    60
}
fn default_absolute() -> u32 {
    12
}
fn default_approver_absolute() -> u32 {
    4
}

/// IdP groups that map to each console role.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RolesConfig {
    #[serde(default)]
    pub viewer: Vec<String>,
    #[serde(default)]
    pub responder: Vec<String>,
    #[serde(default)]
    pub approver: Vec<String>,
    #[serde(default)]
    pub admin: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default = "default_slack_webhook_env")]
    pub webhook_url_env: String,
    /// Alternatively a file holding the default webhook URL.
    #[serde(default)]
    pub webhook_url_file: Option<PathBuf>,
    #[serde(default = "default_link_key_env")]
    pub link_signing_key_env: String,
    #[serde(default)]
    pub link_signing_key_file: Option<PathBuf>,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            webhook_url_env: default_slack_webhook_env(),
            webhook_url_file: None,
            link_signing_key_env: default_link_key_env(),
            link_signing_key_file: None,
        }
    }
}
fn default_slack_webhook_env() -> String {
    "OPS_CONSOLE_SLACK_WEBHOOK".into()
}
fn default_link_key_env() -> String {
    "OPS_CONSOLE_LINK_KEY".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Variable holding the HMAC key of the audit chain.
    #[serde(default = "default_audit_key_env")]
    pub key_env: String,
    /// Alternatively a file holding the key (read whole, surrounding whitespace trimmed).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            key_env: default_audit_key_env(),
            key_file: None,
        }
    }
}
fn default_audit_key_env() -> String {
    "OPS_CONSOLE_AUDIT_KEY".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    #[serde(default = "default_pending_expiry")]
    pub pending_expiry_minutes: u32,
    #[serde(default = "default_emergency")]
    pub emergency_minutes: u32,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            pending_expiry_minutes: default_pending_expiry(),
            emergency_minutes: default_emergency(),
        }
    }
}
fn default_pending_expiry() -> u32 {
    60
}
fn default_emergency() -> u32 {
    30
}

/// Background jobs: how often they run. Each runs on one replica at a time (a lease row).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Alarm states (and deployments, backup failures) of environments with open incidents.
    #[serde(default = "default_alarm_poll")]
    pub alarm_poll_seconds: u32,
    /// Outbox delivery (Slack).
    #[serde(default = "default_outbox_seconds")]
    pub outbox_seconds: u32,
    /// A rollback that is not stable after this long is reported as timed out.
    #[serde(default = "default_rollback_timeout")]
    pub rollback_timeout_minutes: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            alarm_poll_seconds: default_alarm_poll(),
            outbox_seconds: default_outbox_seconds(),
            rollback_timeout_minutes: default_rollback_timeout(),
        }
    }
}
fn default_alarm_poll() -> u32 {
    30
}
fn default_outbox_seconds() -> u32 {
    2
}
fn default_rollback_timeout() -> u32 {
    15
}

/// Limits on what one request may cost the console (`[http]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The largest request body accepted; larger ones are refused with 413 before any handler.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u32,
    /// A request's body must arrive, and its answer start, within this many seconds (408 / 504).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u32,
    /// Refusals of anonymous requests (`csrf.refused`, `login.failed`, `login.next_rejected`)
    /// audited per minute and kind, per replica; the rest are only counted in `/metrics`.
    #[serde(default = "default_audited_refusals")]
    pub audited_refusals_per_minute: u32,
    /// On SIGTERM: how long `/readyz` answers 503 while requests are still served, so that the
    /// load balancer stops sending new ones before the listener closes.
    #[serde(default = "default_drain_seconds")]
    pub shutdown_drain_seconds: u32,
    /// Then: how long requests in flight get to finish before the process exits anyway.
    #[serde(default = "default_grace_seconds")]
    pub shutdown_grace_seconds: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: default_max_body_bytes(),
            request_timeout_seconds: default_request_timeout(),
            audited_refusals_per_minute: default_audited_refusals(),
            shutdown_drain_seconds: default_drain_seconds(),
            shutdown_grace_seconds: default_grace_seconds(),
        }
    }
}
fn default_drain_seconds() -> u32 {
    5
}
fn default_grace_seconds() -> u32 {
    20
}
fn default_max_body_bytes() -> u32 {
    1024 * 1024
}
fn default_request_timeout() -> u32 {
    30
}
fn default_audited_refusals() -> u32 {
    20
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityRule {
    pub pattern: String,
    pub sev: u8,
}
