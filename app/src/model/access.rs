//! Break-glass access as the pages and the API see it.

use serde::{Deserialize, Serialize};

/// An access profile of an environment (from config, or the demo's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileInfo {
    pub environment: String,
    pub name: String,
    pub role_arn: String,
    pub max_minutes: u32,
    pub approvals: u32,
    pub require_mfa: bool,
    pub ticket_pattern: Option<String>,
    pub emergency: bool,
    /// The caller is in the profile's requester groups.
    pub can_request: bool,
    pub demo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    pub approver: String,
    pub decision: String,
    pub comment: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub role_arn: String,
    pub session_name: String,
    pub access_key_id: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequestView {
    pub id: i64,
    pub environment: String,
    pub profile: String,
    pub requester: String,
    pub reason: String,
    pub ticket: String,
    pub incident_id: Option<i64>,
    pub duration_minutes: i64,
    pub emergency: bool,
    pub extends_id: Option<i64>,
    /// pending, approved, activating, active, expired, revoked, denied, cancelled, timed_out.
    pub status: String,
    pub created_ms: i64,
    pub pending_until_ms: i64,
    pub approved_ms: Option<i64>,
    pub window_end_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub ended_by: String,
    /// Emergency grants: "pending" until an approver other than the grantee reviews it, then "done".
    pub review_status: String,
    pub reviewed_by: String,
    pub review_note: String,
    pub grant: Option<GrantView>,
    pub demo: bool,
}

/// `/access`: what the caller asked for, what waits for their decision, what they may request,
/// and emergency grants waiting for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessOverview {
    pub mine: Vec<AccessRequestView>,
    pub to_decide: Vec<AccessRequestView>,
    pub to_review: Vec<AccessRequestView>,
    pub profiles: Vec<ProfileInfo>,
    pub now_ms: i64,
}

/// `/access/requests/{id}`: the request with who asks, for what, why, the incident, the decisions
/// so far and the requester's earlier requests, plus what the caller may do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDetail {
    pub request: AccessRequestView,
    pub profile: Option<ProfileInfo>,
    pub approvals: Vec<ApprovalView>,
    pub approvals_needed: u32,
    pub history: Vec<AccessRequestView>,
    pub incident_title: Option<String>,
    pub can_decide: bool,
    /// Why the caller cannot decide (the requester, not an approver, no fresh MFA…).
    pub decide_refused: Option<String>,
    pub can_activate: bool,
    pub can_revoke: bool,
    pub can_review: bool,
    /// The approval link the page was opened with is still valid (None: opened without one).
    pub link_valid: Option<bool>,
    pub now_ms: i64,
}

/// Temporary AWS credentials, shown once at activation and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredentials {
    pub request_id: i64,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_ms: i64,
    /// The server's clock when they were issued (the page counts down from it).
    pub issued_now_ms: i64,
    pub region: String,
    pub role_arn: String,
    pub session_name: String,
    /// Demo credentials work nowhere; they show what a real grant looks like.
    pub demo: bool,
}

impl IssuedCredentials {
    pub fn env_exports(&self) -> String {
        format!(
            "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\nexport AWS_REGION={}\n",
            self.access_key_id, self.secret_access_key, self.session_token, self.region
        )
    }

    pub fn credentials_file(&self) -> String {
        format!(
            "[ops-console-req-{}]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\nregion = {}\n",
            self.request_id, self.access_key_id, self.secret_access_key, self.session_token, self.region
        )
    }
}
