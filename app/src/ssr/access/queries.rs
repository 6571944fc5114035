//! Reading access requests: my requests, what I may decide or review, one request in full.

use super::policy::{check_link, may_decide, may_review_grant, profile};
use super::present::{effective_status, profile_info, view};
use crate::error::AppError;
use crate::model::{
    AccessDetail, AccessOverview, AccessRequestView, AccessStatus, ApprovalView, ReviewStatus, Role, roles_allow,
};
use crate::ssr::auth::{Caller, same_person};
use crate::ssr::kernel::clock::now;
use crate::ssr::state::AppState;
use crate::ssr::store::{AccessRequestRecord, GrantRecord};

pub async fn view_of(state: &AppState, r: &AccessRequestRecord, now_ms: i64) -> Result<AccessRequestView, AppError> {
    let grant = state.store.access_grant(r.id).await?;
    Ok(view(state, r, grant, now_ms))
}

/// Views of several requests with their grants read in one query.
pub async fn views<'a>(
    state: &AppState,
    records: impl IntoIterator<Item = &'a AccessRequestRecord>,
    now_ms: i64,
) -> Result<Vec<AccessRequestView>, AppError> {
    let records: Vec<&AccessRequestRecord> = records.into_iter().collect();
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let mut grants: std::collections::HashMap<i64, GrantRecord> = state
        .store
        .access_grants_for(&ids)
        .await?
        .into_iter()
        .map(|g| (g.request_id, g))
        .collect();
    Ok(records
        .into_iter()
        .map(|r| view(state, r, grants.remove(&r.id), now_ms))
        .collect())
}

pub async fn load(state: &AppState, id: i64) -> Result<AccessRequestRecord, AppError> {
    state
        .store
        .access_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("access request {id}")))
}

/// Unreviewed emergency grants (the incidents list shows them).
pub async fn unreviewed(state: &AppState) -> Result<Vec<AccessRequestView>, AppError> {
    let t = now();
    let all = state.store.access_list(1000).await?;
    views(
        state,
        all.iter()
            .filter(|r| r.emergency && r.review_status == ReviewStatus::Pending),
        t,
    )
    .await
}

/// The id of an active grant `subject` holds for `env`, if any (the rollback's second key).
/// The grants `subject` holds in `env` now (active and not past their expiry), oldest first.
pub async fn active_grants(state: &AppState, subject: &str, env: &str) -> Result<Vec<AccessRequestRecord>, AppError> {
    let t = now();
    let mut held: Vec<AccessRequestRecord> = state
        .store
        .access_in_status(&[AccessStatus::Active])
        .await?
        .into_iter()
        .filter(|r| r.requester == subject && r.environment == env)
        .collect();
    let shown = views(state, held.iter(), t).await?;
    // `view` shows a grant past its expiry as expired.
    let live: std::collections::HashSet<i64> = shown
        .iter()
        .filter(|v| v.status == AccessStatus::Active)
        .map(|v| v.id)
        .collect();
    held.retain(|r| live.contains(&r.id));
    held.sort_by_key(|r| r.id);
    Ok(held)
}

pub async fn overview(state: &AppState, caller: &Caller) -> Result<AccessOverview, AppError> {
    caller.require(Role::Viewer)?;
    let t = now();
    let all = state.store.access_list(500).await?;
    let mut to_decide = Vec::new();
    for r in &all {
        let pending = effective_status(r, None, t) == AccessStatus::Pending;
        if pending
            && let Some(p) = profile(state, &r.environment, &r.profile)
            && may_decide(caller, r, &p).is_ok()
            && !same_person(&*state.store, &caller.subject, &r.requester).await?
        {
            let decided = state
                .store
                .access_approvals(r.id)
                .await?
                .iter()
                .any(|a| a.approver == caller.subject);
            if !decided {
                to_decide.push(r);
            }
        }
    }
    let mine = views(state, all.iter().filter(|r| r.requester == caller.subject), t).await?;
    let to_decide = views(state, to_decide, t).await?;
    let to_review = views(
        state,
        all.iter()
            .filter(|r| r.emergency && r.review_status == ReviewStatus::Pending),
        t,
    )
    .await?;
    let mut profiles = Vec::new();
    for e in state.environments() {
        for p in state.access_profiles(&e.name) {
            profiles.push(profile_info(state, caller, &e.name, &p));
        }
    }
    Ok(AccessOverview {
        mine,
        to_decide,
        to_review,
        profiles,
        now_ms: t,
    })
}

pub async fn detail(state: &AppState, caller: &Caller, id: i64, token: &str) -> Result<AccessDetail, AppError> {
    caller.require(Role::Viewer)?;
    let r = load(state, id).await?;
    let t = now();
    let request = view_of(state, &r, t).await?;
    let p = profile(state, &r.environment, &r.profile);
    let approvals = state
        .store
        .access_approvals(id)
        .await?
        .into_iter()
        .map(|a| ApprovalView {
            approver: a.approver,
            decision: a.decision,
            comment: a.comment,
            at_ms: a.at_ms,
        })
        .collect::<Vec<_>>();
    let earlier = state.store.access_list(500).await?;
    let history = views(
        state,
        earlier
            .iter()
            .filter(|h| h.requester == r.requester && h.id != r.id)
            .take(20),
        t,
    )
    .await?;
    let incident_title = match r.incident_id {
        Some(i) => state.store.incident_get(i).await?.map(|i| i.title),
        None => None,
    };
    let two_person = crate::ssr::auth::refuse_same_person(
        &*state.store,
        &caller.subject,
        &r.requester,
        "approves or denies their own access request",
    )
    .await
    .err();
    let decide_refused = match &p {
        None => Some("the profile is no longer configured".to_string()),
        Some(_) if request.status != AccessStatus::Pending => {
            Some(format!("the request is {}", request.status.label()))
        }
        Some(p) => match may_decide(caller, &r, p).err().or(two_person.clone()) {
            Some(e) => Some(e.to_string()),
            None if approvals.iter().any(|a| a.approver == caller.subject) => Some("you already decided".into()),
            None => None,
        },
    };
    let requester = state.store.user(&r.requester).await?;
    let link_valid = if token.trim().is_empty() {
        None
    } else {
        Some(check_link(state, &r, token.trim(), t).is_ok())
    };
    Ok(AccessDetail {
        can_decide: decide_refused.is_none(),
        decide_refused,
        can_activate: r.requester == caller.subject && request.status == AccessStatus::Approved,
        can_revoke: matches!(
            request.status,
            AccessStatus::Approved | AccessStatus::Activating | AccessStatus::Active
        ) && (r.requester == caller.subject
            || roles_allow(&caller.roles, Role::Approver)
            || roles_allow(&caller.roles, Role::Admin)),
        can_review: r.emergency
            && r.review_status == ReviewStatus::Pending
            && two_person.is_none()
            && p.as_ref().is_some_and(|p| may_review_grant(caller, &r, p).is_ok()),
        requester_name: requester.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
        requester_email: requester.map(|u| u.email).unwrap_or_default(),
        approvals_needed: p.as_ref().map(|p| p.approvals).unwrap_or(1),
        profile: p.map(|p| profile_info(state, caller, &r.environment, &p)),
        request,
        approvals,
        history,
        incident_title,
        link_valid,
        now_ms: t,
    })
}
