//! What an elevated session did: the CloudTrail events made with one grant's credentials,
//! looked up by its role session name (`req-42-alice`) over the time they were valid. Shown on
//! the request page, required reading before an emergency review (`digest`), and recorded on
//! the timeline of the incident the grant was for while it is open (a job step).

use crate::error::AppError;
use crate::model::{CLOUDTRAIL_DELAY_MS, DataNote, Role, SessionActivity};
use crate::ssr::auth::Caller;
use crate::ssr::kernel::clock::now;
use crate::ssr::state::AppState;
use crate::ssr::store::{AccessRequestRecord, Effects, GrantRecord};

/// How far before its issue time a session's events are looked for (clocks differ).
const LEAD_MS: i64 = 60_000;

const UNREADABLE: &str = "unreadable";

/// What a reviewer must have read: the events' count and newest time, or why there are none.
/// A review naming another digest is refused (new events arrived after the page was read).
pub fn digest(a: &SessionActivity) -> String {
    if a.notes.iter().any(|n| n.part == "cloudtrail") {
        return UNREADABLE.into();
    }
    // Count, newest time, and a fingerprint of every event (id, time, call): a call that
    // replaces another between the read and the review changes it too.
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for e in &a.events {
        h.update(format!("{}|{}|{}\n", e.id, e.at_ms, e.what).as_bytes());
    }
    let print = hex::encode(h.finalize());
    format!(
        "{}@{}.{}",
        a.events.len(),
        a.events.first().map(|e| e.at_ms).unwrap_or(0),
        &print[..16]
    )
}

/// The request's session events (the caller may view access requests).
pub async fn activity(state: &AppState, caller: &Caller, id: i64) -> Result<SessionActivity, AppError> {
    caller.require(Role::Viewer)?;
    let r = state
        .store
        .access_get(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no access request {id}")))?;
    let grant = state.store.access_grant(id).await?;
    Ok(read(state, &r, grant.as_ref(), now()).await)
}

/// The session's events as read now; a CloudTrail error is a note (the page says what is missing).
pub async fn read(
    state: &AppState,
    r: &AccessRequestRecord,
    grant: Option<&GrantRecord>,
    now_ms: i64,
) -> SessionActivity {
    let demo = state.environment(&r.environment).is_some_and(|m| m.demo);
    let mut a = SessionActivity {
        request_id: r.id,
        session: String::new(),
        from_ms: 0,
        to_ms: 0,
        events: vec![],
        truncated: false,
        notes: vec![],
        demo,
        digest: String::new(),
    };
    let note = |part: &str, message: String| DataNote {
        part: part.into(),
        message,
        stale_age_s: None,
    };
    let (Some(g), Some(meta)) = (grant, state.environment(&r.environment)) else {
        a.notes.push(note(
            "grant",
            "no credentials were issued for this request, so its session made no calls".into(),
        ));
        a.digest = digest(&a);
        return a;
    };
    a.session = g.session_name.clone();
    a.from_ms = g.issued_ms - LEAD_MS;
    let ended = r.ended_ms.unwrap_or(g.expires_ms).min(g.expires_ms);
    a.to_ms = (ended + CLOUDTRAIL_DELAY_MS).min(now_ms);
    if now_ms < ended + CLOUDTRAIL_DELAY_MS {
        a.notes.push(note(
            "delay",
            "CloudTrail delivers events up to 15 minutes after the call: calls of the last minutes may be missing yet"
                .into(),
        ));
    }
    match state
        .cloud(meta)
        .session_events(&meta.name, &g.session_name, &g.access_key_id, a.from_ms, a.to_ms)
        .await
    {
        Ok((mut events, more)) => {
            super::changes::name_people(state, &mut events).await;
            events.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
            a.events = events;
            a.truncated = more;
        }
        Err(e) => a.notes.push(note(
            "cloudtrail",
            format!("CloudTrail could not be read, so this session's calls cannot be shown: {e}"),
        )),
    }
    a.digest = digest(&a);
    a
}

/// An emergency review must name what the reviewer read of the session (`digest`); one that
/// names nothing, or events since changed, is refused. Other requests are left to `review`.
pub async fn must_have_read(state: &AppState, id: i64, seen: &str) -> Result<(), AppError> {
    let Some(r) = state.store.access_get(id).await? else {
        return Ok(());
    };
    if !r.emergency {
        return Ok(());
    }
    let grant = state.store.access_grant(id).await?;
    let now_read = read(state, &r, grant.as_ref(), now()).await;
    if now_read.digest == UNREADABLE {
        // Fail closed: a review nobody could read the session for is not a review.
        return Err(AppError::Unavailable(
            "what the session did cannot be read from CloudTrail now, so it cannot be reviewed yet".into(),
        ));
    }
    match seen.trim() {
        "" => Err(AppError::Invalid(
            "seen: read what the session did (access/activity) before reviewing, and send its digest".into(),
        )),
        s if s != now_read.digest => Err(AppError::Conflict(
            "the session's events changed since they were read: read them again before reviewing".into(),
        )),
        _ => Ok(()),
    }
}

/// The job step: for every open incident, the write calls of the grants made for it, each once.
pub async fn record_on_timelines(state: &AppState) {
    let open = match state.store.incidents_open().await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "session events: cannot list incidents");
            return;
        }
    };
    if open.is_empty() {
        return;
    }
    let requests = match state.store.access_list(500).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "session events: cannot list access requests");
            return;
        }
    };
    let t = now();
    let mut entries = Vec::new();
    for r in requests
        .iter()
        .filter(|r| r.incident_id.is_some_and(|i| open.iter().any(|o| o.id == i)))
    {
        let Some(incident) = r.incident_id else { continue };
        let Ok(Some(g)) = state.store.access_grant(r.id).await else {
            continue;
        };
        if t > g.expires_ms + CLOUDTRAIL_DELAY_MS + 3_600_000 {
            continue;
        }
        let a = read(state, r, Some(&g), t).await;
        for ev in a.events.iter().filter(|e| !e.read_only) {
            let mut e = crate::ssr::kernel::effects::entry(
                incident,
                ev.at_ms,
                "access",
                &ev.who,
                format!(
                    "Access #{} session {} called {}{}{}",
                    r.id,
                    g.session_name,
                    ev.what,
                    if ev.resource.is_empty() {
                        String::new()
                    } else {
                        format!(" on {}", ev.resource)
                    },
                    ev.error
                        .as_deref()
                        .map(|c| format!(" (refused: {c})"))
                        .unwrap_or_default()
                ),
            );
            e.dedupe_key = Some(format!("session:{}:{}:{}:{}", r.id, ev.at_ms, ev.what, ev.id));
            entries.push(e);
        }
    }
    if entries.is_empty() {
        return;
    }
    let effects = Effects {
        entries,
        ..Effects::default()
    };
    if let Err(e) = state.store.effects_apply(effects).await {
        tracing::warn!(error = %e, "session events: cannot record timeline entries");
    }
}
