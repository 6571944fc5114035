//! Access profiles of the demo environments. Grants on them hand out credentials that work nowhere.

use crate::ssr::config::AccessProfile;

/// The access profiles of the demo environments: TaskFlow's production access rules (read-only,
/// database access needing two approvals, and the break-glass profile; see docs/DEMO.md). Grants on
/// demo environments hand out credentials that work nowhere.
pub fn demo_profiles(env: &str) -> Vec<AccessProfile> {
    if env != "taskflow-production" {
        return vec![];
    }
    let profile = |name: &str, approvals: u32, max: u32, emergency: bool| AccessProfile {
        name: name.into(),
        role_arn: format!("arn:aws:iam::987654321098:role/{name}"),
        max_minutes: max,
        requester_groups: vec!["oncall".into()],
        approver_groups: vec!["tech-leads".into()],
        approvals,
        require_mfa: true,
        ticket_pattern: (!emergency).then(|| "^(INC|CHG)-[0-9]+$".to_string()),
        emergency,
        allows_rollback: false,
    };
    vec![
        profile("prod-readonly", 1, 60, false),
        profile("prod-db-access", 2, 60, false),
        profile("prod-break-glass", 1, 30, true),
    ]
}
