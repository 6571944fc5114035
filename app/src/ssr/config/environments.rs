//! `[[environments]]`: the AWS environments the console reads, how it finds their resources
//! (`selector`) and the access profiles people may request on them.

use crate::model::Tier;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub name: String,
    pub tier: Tier,
    pub region: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub endpoint_url: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub read_role_arn: Option<String>,
    #[serde(default)]
    pub operator_role_arn: Option<String>,
    /// Optional: the role the console assumes to issue grants (STS) and write revocations (IAM);
    /// without it, the console's own credentials do.
    #[serde(default)]
    pub grant_role_arn: Option<String>,
    #[serde(default)]
    pub rpo_hours: Option<u32>,
    #[serde(default)]
    pub slack_webhook_url_env: Option<String>,
    /// Alternatively a file holding this environment's webhook URL.
    #[serde(default)]
    pub slack_webhook_url_file: Option<PathBuf>,
    #[serde(default)]
    pub selector: Option<Selector>,
    #[serde(default)]
    pub access_profiles: Vec<AccessProfile>,
}

impl EnvironmentConfig {
    /// Whether the console can change real AWS here: access profiles, an operator role or a grant
    /// role, with no `endpoint_url` or one off loopback (a local emulator such as moto does not count).
    pub fn acts_on_aws(&self) -> bool {
        let emulated = self.endpoint_url.as_deref().is_some_and(super::loopback_url);
        !emulated
            && (!self.access_profiles.is_empty() || self.operator_role_arn.is_some() || self.grant_role_arn.is_some())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessProfile {
    pub name: String,
    pub role_arn: String,
    #[serde(default = "default_max_minutes")]
    pub max_minutes: u32,
    #[serde(default)]
    pub requester_groups: Vec<String>,
    #[serde(default)]
    pub approver_groups: Vec<String>,
    #[serde(default = "default_approvals")]
    pub approvals: u32,
    #[serde(default = "default_true")]
    pub require_mfa: bool,
    #[serde(default)]
    pub ticket_pattern: Option<String>,
    #[serde(default)]
    pub emergency: bool,
    /// An active grant of this profile, approved by someone other than its holder, stands in for
    /// the second person of the holder's own rollbacks (never an emergency grant).
    #[serde(default)]
    pub allows_rollback: bool,
}

fn default_max_minutes() -> u32 {
    60
}
fn default_approvals() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
