//! Break-glass access as the pages and the API see it.

use serde::{Deserialize, Serialize};

/// Where an access request is. Only the moves in `can_move_to` are legal; the store's guarded
/// transitions take these, and a row holding any other word fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessStatus {
    /// Where every request starts.
    #[default]
    Pending,
    Approved,
    Activating,
    Active,
    Denied,
    Cancelled,
    TimedOut,
    Expired,
    Revoked,
}

impl AccessStatus {
    pub const ALL: [AccessStatus; 9] = [
        AccessStatus::Pending,
        AccessStatus::Approved,
        AccessStatus::Activating,
        AccessStatus::Active,
        AccessStatus::Denied,
        AccessStatus::Cancelled,
        AccessStatus::TimedOut,
        AccessStatus::Expired,
        AccessStatus::Revoked,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AccessStatus::Pending => "pending",
            AccessStatus::Approved => "approved",
            AccessStatus::Activating => "activating",
            AccessStatus::Active => "active",
            AccessStatus::Denied => "denied",
            AccessStatus::Cancelled => "cancelled",
            AccessStatus::TimedOut => "timed_out",
            AccessStatus::Expired => "expired",
            AccessStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<AccessStatus> {
        AccessStatus::ALL.into_iter().find(|x| x.label() == s)
    }

    /// The legal next states. Activation claims an approved request (`activating`) and falls back
    /// to `approved` when STS refuses; a revocation may end it while it is being activated (the
    /// session is denied first, and the activation then withholds the credentials); every state
    /// after a decision ends in one of the final ones.
    pub fn next(self) -> &'static [AccessStatus] {
        use AccessStatus::*;
        match self {
            Pending => &[Approved, Denied, Cancelled, TimedOut],
            Approved => &[Activating, Revoked, Expired],
            Activating => &[Active, Approved, Expired, Revoked],
            Active => &[Revoked, Expired],
            Denied | Cancelled | TimedOut | Expired | Revoked => &[],
        }
    }

    pub fn can_move_to(self, to: AccessStatus) -> bool {
        self.next().contains(&to)
    }

    /// The one rule for the status people see and the expiry job applies: a pending request past
    /// its decision deadline has timed out; an approved (or activating) one whose window ended
    /// has expired; an active grant without credentials or past their expiry has expired, whether
    /// or not the expiry job has run yet (grants end at their expiry even while the console was
    /// down).
    pub fn effective(
        self,
        pending_until_ms: i64,
        window_end_ms: Option<i64>,
        grant_expires_ms: Option<i64>,
        now_ms: i64,
    ) -> AccessStatus {
        match self {
            AccessStatus::Active if grant_expires_ms.is_none_or(|e| e <= now_ms) => AccessStatus::Expired,
            AccessStatus::Approved | AccessStatus::Activating if window_end_ms.is_some_and(|w| w <= now_ms) => {
                AccessStatus::Expired
            }
            AccessStatus::Pending if pending_until_ms <= now_ms => AccessStatus::TimedOut,
            s => s,
        }
    }
}

/// One approver's decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    pub const ALL: [Decision; 2] = [Decision::Approve, Decision::Deny];

    pub fn label(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|x| x.label() == s)
    }
}

/// The review of an emergency grant: not needed (an ordinary request), waiting for an approver
/// other than the grantee, or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// An ordinary request: nothing to review.
    #[default]
    #[serde(rename = "")]
    NotNeeded,
    Pending,
    Done,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 3] = [ReviewStatus::NotNeeded, ReviewStatus::Pending, ReviewStatus::Done];

    /// The stored word: empty for an ordinary request.
    pub fn label(self) -> &'static str {
        match self {
            ReviewStatus::NotNeeded => "",
            ReviewStatus::Pending => "pending",
            ReviewStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        ReviewStatus::ALL.into_iter().find(|x| x.label() == s)
    }

    pub fn next(self) -> &'static [ReviewStatus] {
        match self {
            ReviewStatus::Pending => &[ReviewStatus::Done],
            ReviewStatus::NotNeeded | ReviewStatus::Done => &[],
        }
    }

    pub fn can_move_to(self, to: ReviewStatus) -> bool {
        self.next().contains(&to)
    }
}

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
    pub decision: Decision,
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
    /// The effective status (`AccessStatus::effective`).
    pub status: AccessStatus,
    pub created_ms: i64,
    pub pending_until_ms: i64,
    pub approved_ms: Option<i64>,
    pub window_end_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub ended_by: String,
    /// Emergency grants wait for review by an approver other than the grantee.
    pub review_status: ReviewStatus,
    pub reviewed_by: String,
    pub review_note: String,
    /// How a revocation stopped the credentials when it was not by the session's own deny (the
    /// role's policy was full and one role-wide deny took over); empty otherwise.
    #[serde(default)]
    pub revocation: String,
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
    /// The requester's name and verified email from their last login (the email is empty when
    /// the identity provider gave none or said it is unverified), so approvers see a person,
    /// not an identity-provider subject.
    #[serde(default)]
    pub requester_name: String,
    #[serde(default)]
    pub requester_email: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_and_review_statuses_round_trip_their_labels() {
        for s in AccessStatus::ALL {
            assert_eq!(AccessStatus::parse(s.label()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.label())));
        }
        for s in ReviewStatus::ALL {
            assert_eq!(ReviewStatus::parse(s.label()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.label())));
        }
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.label()), Some(d));
            assert_eq!(serde_json::to_value(d).ok(), Some(serde_json::json!(d.label())));
        }
        assert_eq!(AccessStatus::parse("approve"), None);
        assert!(AccessStatus::Pending.can_move_to(AccessStatus::Approved));
        assert!(!AccessStatus::Expired.can_move_to(AccessStatus::Active));
    }

    #[test]
    fn the_effective_status_ends_what_is_past_its_time() {
        use AccessStatus::*;
        assert_eq!(Active.effective(0, None, Some(1_000), 999), Active);
        assert_eq!(Active.effective(0, None, Some(1_000), 1_000), Expired);
        assert_eq!(Active.effective(0, None, None, 0), Expired);
        assert_eq!(Approved.effective(0, Some(5), None, 5), Expired);
        assert_eq!(Activating.effective(0, Some(5), None, 4), Activating);
        assert_eq!(Pending.effective(10, None, None, 10), TimedOut);
        assert_eq!(Revoked.effective(0, Some(0), None, 99), Revoked);
    }
}
