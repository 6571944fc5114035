//! Who may ask for and confirm a rollback, what it may go to, and when a grant or an incident
//! stands behind it. The two-person rule: a rollback changes production only when a second
//! person agreed, by confirming it or by approving a grant whose profile allows rollback.

use crate::error::AppError;
use crate::model::{Decision, DeploymentController, Role, Tier, roles_allow};
use crate::ssr::access::person_only;
use crate::ssr::auth::Caller;
use crate::ssr::config::AccessProfile;
use crate::ssr::store::{AccessRequestRecord, ApprovalRecord, IncidentRecord};

/// Asking for a rollback: a person (never an API token) with the responder role.
pub fn may_request(caller: &Caller) -> Result<(), AppError> {
    person_only(caller)?;
    caller.require(Role::Responder)
}

/// Confirming someone else's rollback: a person with the responder or approver role.
pub fn may_confirm(caller: &Caller) -> Result<(), AppError> {
    person_only(caller)?;
    if roles_allow(&caller.roles, Role::Responder) || roles_allow(&caller.roles, Role::Approver) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "confirming a rollback needs the responder or approver role".into(),
        ))
    }
}

/// A task definition named by its family and revision (`api:7`, or its ARN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefRevision {
    pub family: String,
    pub revision: u32,
}

impl TaskDefRevision {
    pub fn parse(name_or_arn: &str) -> Option<TaskDefRevision> {
        let short = name_or_arn.rsplit('/').next().unwrap_or(name_or_arn);
        let (family, revision) = short.rsplit_once(':')?;
        let revision = revision.parse().ok()?;
        (!family.is_empty()).then(|| TaskDefRevision {
            family: family.to_string(),
            revision,
        })
    }
}

/// The console rolls back with UpdateService, which ECS refuses for a service deployed by
/// CodeDeploy (blue/green) or an external controller: those are refused here, with what to do.
pub fn controller_refusal(cluster: &str, service: &str, controller: DeploymentController) -> Option<String> {
    match controller {
        DeploymentController::Ecs => None,
        DeploymentController::CodeDeploy => Some(format!(
            "{cluster}/{service} is deployed blue/green by CodeDeploy, and ECS refuses UpdateService for it: \
             roll it back in CodeDeploy (stop the live deployment with rollback, or deploy the previous \
             revision through its deployment group)"
        )),
        DeploymentController::External => Some(format!(
            "{cluster}/{service} has an external deployment controller: roll it back with the tool that deploys it"
        )),
    }
}

/// `controller_refusal` as the answer of a rollback request or confirmation (409).
pub fn check_controller(cluster: &str, service: &str, controller: DeploymentController) -> Result<(), AppError> {
    match controller_refusal(cluster, service, controller) {
        None => Ok(()),
        Some(why) => Err(AppError::Conflict(why)),
    }
}

/// A rollback goes to an earlier revision of the family the service runs, nothing else.
pub fn check_target(current: &str, to: &str) -> Result<(), AppError> {
    let cur = TaskDefRevision::parse(current)
        .ok_or_else(|| AppError::Invalid(format!("the service runs \"{current}\", which has no revision")))?;
    let to_rev =
        TaskDefRevision::parse(to).ok_or_else(|| AppError::Invalid(format!("to: \"{to}\" is not family:revision")))?;
    if to_rev.family != cur.family {
        return Err(AppError::Invalid(format!(
            "to: {}:{} is not of the service's task-definition family {} (it runs {}:{})",
            to_rev.family, to_rev.revision, cur.family, cur.family, cur.revision
        )));
    }
    if to_rev.revision >= cur.revision {
        return Err(AppError::Invalid(format!(
            "to: a rollback goes to an earlier revision than {}:{}, not {}:{}",
            cur.family, cur.revision, to_rev.family, to_rev.revision
        )));
    }
    Ok(())
}

/// In a `prod` environment a rollback happens only during an open incident of that environment
/// (seed 004: "only during an active incident, with approval"). Elsewhere a linked incident is
/// optional but must be of the environment.
pub fn check_incident(env: &str, tier: Tier, incident: Option<&IncidentRecord>) -> Result<(), AppError> {
    match incident {
        None if tier == Tier::Prod => Err(AppError::Invalid(format!(
            "incident: a rollback in the prod environment {env} needs an open incident of {env}; declare one or give its number"
        ))),
        None => Ok(()),
        Some(i) if i.environment != env => Err(AppError::Invalid(format!(
            "incident: incident {} is in {}, not {env}",
            i.id, i.environment
        ))),
        Some(i) if tier == Tier::Prod && !i.status.is_open() => Err(AppError::Invalid(format!(
            "incident: incident {} is {}; a prod rollback needs an open incident",
            i.id,
            i.status.label()
        ))),
        Some(_) => Ok(()),
    }
}

/// Whether an open incident is required and still holds (a confirmation re-checks it).
pub fn incident_still_open(tier: Tier, incident: Option<&IncidentRecord>) -> bool {
    tier != Tier::Prod || incident.is_some_and(|i| i.status.is_open())
}

/// Does `grant` (held by the rollback's requester) stand in for the second person? Only when its
/// profile allows rollback, it is not an emergency grant, and someone other than the holder
/// approved it (`same_person` compares two subjects as one person).
pub fn grant_counts(
    grant: &AccessRequestRecord,
    profile: Option<&AccessProfile>,
    approvals: &[ApprovalRecord],
    same_person: impl Fn(&str, &str) -> bool,
) -> bool {
    let allows = profile.is_some_and(|p| p.allows_rollback && !p.emergency);
    allows
        && !grant.emergency
        && approvals
            .iter()
            .any(|a| a.decision == Decision::Approve && !same_person(&a.approver, &grant.requester))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessStatus, ReviewStatus};

    #[test]
    fn a_target_is_an_earlier_revision_of_the_same_family() {
        let cur = "arn:aws:ecs:us-east-1:1:task-definition/api:7";
        assert!(check_target(cur, "arn:aws:ecs:us-east-1:1:task-definition/api:6").is_ok());
        assert!(check_target(cur, "api:1").is_ok());
        assert!(check_target(cur, "api:7").is_err(), "the revision it runs");
        assert!(check_target(cur, "api:8").is_err(), "a later revision");
        assert!(check_target(cur, "api-evil:6").is_err(), "another family");
        assert!(check_target(cur, "arn:aws:ecs:us-east-1:1:task-definition/worker:2").is_err());
        assert!(check_target(cur, "api").is_err(), "no revision");
        assert_eq!(
            TaskDefRevision::parse("arn:aws:ecs:r:1:task-definition/a:b:3"),
            Some(TaskDefRevision {
                family: "a:b".into(),
                revision: 3
            })
        );
    }

    fn grant(emergency: bool) -> AccessRequestRecord {
        AccessRequestRecord {
            id: 1,
            environment: "prod".into(),
            profile: "p".into(),
            requester: "alice".into(),
            reason: String::new(),
            ticket: String::new(),
            incident_id: None,
            duration_minutes: 30,
            emergency,
            extends_id: None,
            status: AccessStatus::Active,
            created_ms: 0,
            pending_until_ms: 0,
            approved_ms: None,
            window_end_ms: None,
            ended_ms: None,
            ended_by: String::new(),
            review_status: ReviewStatus::NotNeeded,
            reviewed_by: String::new(),
            review_note: String::new(),
            updated_ms: 0,
            revocation: String::new(),
        }
    }

    fn approval(by: &str, decision: Decision) -> ApprovalRecord {
        ApprovalRecord {
            request_id: 1,
            approver: by.into(),
            decision,
            comment: String::new(),
            at_ms: 0,
        }
    }

    fn profile(allows_rollback: bool, emergency: bool) -> AccessProfile {
        AccessProfile {
            name: "p".into(),
            role_arn: "arn:aws:iam::1:role/p".into(),
            max_minutes: 60,
            requester_groups: vec![],
            approver_groups: vec![],
            approvals: 1,
            require_mfa: true,
            ticket_pattern: None,
            emergency,
            allows_rollback,
        }
    }

    #[test]
    fn a_grant_counts_only_when_allowed_approved_by_another_and_not_an_emergency() {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let bob = [approval("bob", Decision::Approve)];
        assert!(grant_counts(&grant(false), Some(&profile(true, false)), &bob, same));
        assert!(
            !grant_counts(&grant(false), Some(&profile(false, false)), &bob, same),
            "read-only"
        );
        assert!(
            !grant_counts(&grant(false), None, &bob, same),
            "profile gone from the config"
        );
        assert!(
            !grant_counts(&grant(true), Some(&profile(true, false)), &[], same),
            "emergency"
        );
        assert!(
            !grant_counts(&grant(true), Some(&profile(true, true)), &bob, same),
            "emergency profile"
        );
        assert!(
            !grant_counts(
                &grant(false),
                Some(&profile(true, false)),
                &[approval("bob", Decision::Deny)],
                same
            ),
            "a denial is no approval"
        );
        assert!(
            !grant_counts(
                &grant(false),
                Some(&profile(true, false)),
                &[approval("Alice", Decision::Approve)],
                same
            ),
            "approved by the holder under another account"
        );
    }
}
