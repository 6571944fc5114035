//! Incidents, timelines and guarded rollbacks as the pages and the API see them.

use serde::{Deserialize, Serialize};

/// Where an incident is in its life (docs/ARCHITECTURE.md, "Invariants"). Only the moves in
/// `can_move_to` are legal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Triggered,
    Acknowledged,
    Investigating,
    Mitigated,
    Resolved,
    Closed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 6] = [
        IncidentStatus::Triggered,
        IncidentStatus::Acknowledged,
        IncidentStatus::Investigating,
        IncidentStatus::Mitigated,
        IncidentStatus::Resolved,
        IncidentStatus::Closed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Triggered => "triggered",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Mitigated => "mitigated",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|x| x.label() == s)
    }

    /// Open incidents are the ones people still work on (not resolved or closed).
    pub fn is_open(self) -> bool {
        !matches!(self, IncidentStatus::Resolved | IncidentStatus::Closed)
    }

    /// The legal next states. A resolved incident may be reopened (back to investigating); a
    /// closed one never changes again. Mitigation may regress to investigating.
    pub fn next(self) -> &'static [IncidentStatus] {
        use IncidentStatus::*;
        match self {
            Triggered => &[Acknowledged, Resolved],
            Acknowledged => &[Investigating, Mitigated, Resolved],
            Investigating => &[Mitigated, Resolved],
            Mitigated => &[Investigating, Resolved],
            Resolved => &[Closed, Investigating],
            Closed => &[],
        }
    }

    pub fn can_move_to(self, to: IncidentStatus) -> bool {
        self.next().contains(&to)
    }
}

/// An incident or alarm severity, SEV1 (worst) to SEV4: checked once where it enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Severity(u8);

impl Severity {
    pub const SEV1: Severity = Severity(1);
    pub const SEV2: Severity = Severity(2);
    pub const SEV3: Severity = Severity(3);
    pub const SEV4: Severity = Severity(4);

    /// 1 to 4, else None.
    pub fn new(n: u8) -> Option<Severity> {
        (1..=4).contains(&n).then_some(Severity(n))
    }

    pub fn number(self) -> u8 {
        self.0
    }

    /// "SEV1".."SEV4".
    pub fn label(self) -> String {
        format!("SEV{}", self.0)
    }

    /// SEV1 and SEV2: the ones that page, allow break-glass access and need a post-mortem.
    pub fn is_major(self) -> bool {
        self.0 <= 2
    }
}

impl TryFrom<u8> for Severity {
    type Error = String;
    fn try_from(n: u8) -> Result<Severity, String> {
        Severity::new(n).ok_or_else(|| format!("severity: {n} is not 1-4 (SEV1-SEV4)"))
    }
}

/// Compares with a plain number (1-4), as tables and tests write it.
impl PartialEq<u8> for Severity {
    fn eq(&self, n: &u8) -> bool {
        self.0 == *n
    }
}

impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s.0
    }
}

/// Where a rollback is: waiting for a second person, rolling after UpdateService, then stable,
/// timed out (with what was seen) or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    Pending,
    Rolling,
    Stable,
    TimedOut,
    Failed,
}

impl RollbackStatus {
    pub const ALL: [RollbackStatus; 5] = [
        RollbackStatus::Pending,
        RollbackStatus::Rolling,
        RollbackStatus::Stable,
        RollbackStatus::TimedOut,
        RollbackStatus::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RollbackStatus::Pending => "pending",
            RollbackStatus::Rolling => "rolling",
            RollbackStatus::Stable => "stable",
            RollbackStatus::TimedOut => "timed_out",
            RollbackStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RollbackStatus> {
        RollbackStatus::ALL.into_iter().find(|x| x.label() == s)
    }

    pub fn next(self) -> &'static [RollbackStatus] {
        use RollbackStatus::*;
        match self {
            Pending => &[Rolling, Failed, TimedOut],
            Rolling => &[Stable, TimedOut, Failed],
            Stable | TimedOut | Failed => &[],
        }
    }

    pub fn can_move_to(self, to: RollbackStatus) -> bool {
        self.next().contains(&to)
    }

    /// Still going: a second rollback of the same service is refused meanwhile.
    pub fn is_open(self) -> bool {
        matches!(self, RollbackStatus::Pending | RollbackStatus::Rolling)
    }
}

/// The response targets of the incident process: SEV1 15 min, SEV2 30 min, SEV3 2 h, SEV4 24 h.
pub fn response_target_minutes(sev: u8) -> i64 {
    match sev {
        1 => 15,
        2 => 30,
        3 => 120,
        _ => 1440,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentSummary {
    pub id: i64,
    pub title: String,
    pub environment: String,
    /// The environment is a simulated demo one.
    pub demo: bool,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub commander: String,
    pub communications: String,
    pub alarms: Vec<String>,
    pub services: Vec<String>,
    pub ticket: String,
    pub declared_by: String,
    pub started_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    pub closed_ms: Option<i64>,
    pub target_minutes: i64,
    /// Not acknowledged within the target (or acknowledged late).
    pub ack_breached: bool,
    pub has_postmortem: bool,
}

impl IncidentSummary {
    /// Milliseconds from start to acknowledgement (or to `now` while unacknowledged).
    pub fn time_to_ack_ms(&self, now_ms: i64) -> i64 {
        self.acknowledged_ms.unwrap_or(now_ms) - self.started_ms
    }
}

/// The incidents list with the server's clock, so that "not acknowledged for N minutes" is said
/// the same way in every browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentList {
    pub incidents: Vec<IncidentSummary>,
    /// Break-glass grants still waiting for their post-incident review.
    pub emergency_reviews: Vec<super::AccessRequestView>,
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub id: i64,
    /// When the thing happened.
    pub at_ms: i64,
    /// When the console recorded it.
    pub recorded_ms: i64,
    /// alarm, deployment, service_event, status, severity, roles, note, update, rollback, backup,
    /// access, declared, correction.
    pub kind: String,
    pub actor: String,
    pub text: String,
    pub pinned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackView {
    pub id: i64,
    pub environment: String,
    pub cluster: String,
    pub service: String,
    pub from_task_definition: String,
    pub to_task_definition: String,
    pub incident_id: Option<i64>,
    pub reason: String,
    pub requested_by: String,
    pub requested_ms: i64,
    pub confirmed_by: Option<String>,
    pub confirmed_ms: Option<i64>,
    pub status: RollbackStatus,
    pub progress: String,
    pub finished_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    pub incident: IncidentSummary,
    /// Oldest first, by the time each thing happened.
    pub entries: Vec<TimelineEntry>,
    pub rollbacks: Vec<RollbackView>,
    pub postmortem: String,
    /// Generated from the timeline; what the editor starts from when no post-mortem is saved.
    pub postmortem_draft: String,
    pub next_statuses: Vec<IncidentStatus>,
    /// The linked alarm's metric around the incident window, when it can be read.
    pub chart: Option<super::Chart>,
    pub now_ms: i64,
}

/// What a service's deployments view needs to offer a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackTarget {
    pub environment: String,
    pub cluster: String,
    pub service: String,
    pub current: String,
    /// The task definition a rollback would go to ("family:revision"), when there is one.
    pub previous: Option<String>,
    /// Why rollback is off here (no operator role, no previous revision, demo, not in the
    /// environment's inventory, no open incident in a prod environment).
    pub disabled_reason: Option<String>,
    /// A prod environment: a rollback names one of `open_incidents`.
    pub needs_incident: bool,
    /// The environment's open incidents, newest first.
    pub open_incidents: Vec<IncidentChoice>,
    pub rollbacks: Vec<RollbackView>,
}

/// An open incident a rollback can be linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentChoice {
    pub id: i64,
    pub title: String,
    pub severity: Severity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_and_rollback_statuses_round_trip_their_labels() {
        for s in IncidentStatus::ALL {
            assert_eq!(IncidentStatus::parse(s.label()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.label())));
        }
        for s in RollbackStatus::ALL {
            assert_eq!(RollbackStatus::parse(s.label()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.label())));
        }
        assert_eq!(Severity::new(0), None);
        assert_eq!(serde_json::to_value(Severity::SEV2).ok(), Some(serde_json::json!(2)));
        assert!(serde_json::from_value::<Severity>(serde_json::json!(5)).is_err());
    }

    #[test]
    fn only_legal_moves() {
        use IncidentStatus::*;
        assert!(Triggered.can_move_to(Acknowledged));
        assert!(!Triggered.can_move_to(Mitigated), "acknowledge first");
        assert!(!Triggered.can_move_to(Closed), "resolve first");
        assert!(Resolved.can_move_to(Closed));
        assert!(Resolved.can_move_to(Investigating), "reopen");
        assert!(Closed.next().is_empty(), "closed is final");
        assert!(!Mitigated.can_move_to(Acknowledged));
        for s in IncidentStatus::ALL {
            assert_eq!(IncidentStatus::parse(s.label()), Some(s));
            assert!(!s.can_move_to(s), "{s:?} to itself");
        }
    }

    #[test]
    fn targets_follow_seed_004() {
        assert_eq!([1, 2, 3, 4].map(response_target_minutes), [15, 30, 120, 1440]);
    }
}
