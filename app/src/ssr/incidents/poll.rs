//! The incident job step: for every environment with open incidents, record on their timelines
//! what AWS observed (alarm changes, deployments, service events, failed backups).

use crate::model::AlarmState;
use crate::ssr::kernel::effects::entry;
use crate::ssr::state::AppState;
use crate::ssr::store::{Effects, IncidentRecord, NewTimelineEntry};
use std::collections::{BTreeMap, HashMap};

/// The timeline entry of an alarm state change at `at_ms` (recorded once per change).
pub fn alarm_entry(
    incident_id: i64,
    alarm: &str,
    state: crate::model::AlarmState,
    at_ms: i64,
    reason: &str,
) -> NewTimelineEntry {
    let word = state.label();
    let mut e = entry(
        incident_id,
        at_ms,
        "alarm",
        "cloudwatch",
        if reason.is_empty() {
            format!("{alarm} is {word}")
        } else {
            format!("{alarm} is {word}: {reason}")
        },
    );
    e.dedupe_key = Some(format!("alarm:{alarm}:{at_ms}:{word}"));
    e
}

/// Things that happened this long before an incident was declared still belong on its timeline.
const LEAD_MS: i64 = 60 * 60_000;

/// One round: for every environment with open incidents, record on their timelines the alarm
/// state changes of their linked alarms (DescribeAlarms now; DescribeAlarmHistory for changes
/// between two rounds where the endpoint has it), deployments and events of their linked
/// services, and failed backup jobs. Each observation is recorded once (dedupe keys).
pub async fn poll_once(state: &AppState) {
    let open = match state.store.incidents_open().await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "alarm poll: cannot list incidents");
            return;
        }
    };
    let mut by_env: BTreeMap<String, Vec<IncidentRecord>> = BTreeMap::new();
    for i in open {
        by_env.entry(i.environment.clone()).or_default().push(i);
    }
    for (env, incidents) in by_env {
        let Some(meta) = state.environment(&env).cloned() else {
            continue;
        };
        let mut entries: Vec<NewTimelineEntry> = Vec::new();
        let cloud = state.cloud(&meta);
        // Alarms.
        let linked: Vec<&String> = incidents.iter().flat_map(|i| i.alarms.iter()).collect();
        if !linked.is_empty() {
            match cloud.alarms_now(&env).await {
                Ok(alarms) => {
                    let known: HashMap<String, (String, i64)> = state
                        .store
                        .alarm_states(&env)
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(a, s, t)| (a, (s, t)))
                        .collect();
                    for a in alarms.iter().filter(|a| linked.contains(&&a.name)) {
                        let now_seen = (a.state.label().to_string(), a.since_ms);
                        let prev = known.get(&a.name);
                        if prev == Some(&now_seen) {
                            continue;
                        }
                        let mut changes: Vec<(i64, AlarmState, String)> = Vec::new();
                        if let Some((_, prev_since)) = prev {
                            // Changes between two rounds (e.g. OK and back to ALARM).
                            if let Ok(h) = cloud.alarm_history(&env, &a.name, *prev_since).await {
                                changes.extend(
                                    h.into_iter()
                                        .filter(|(t, _)| *t < a.since_ms)
                                        .map(|(t, s)| (t, s, String::new())),
                                );
                            }
                        }
                        changes.push((a.since_ms, a.state, a.reason.clone()));
                        for i in incidents.iter().filter(|i| i.alarms.contains(&a.name)) {
                            for (t, s, reason) in &changes {
                                if *t >= i.started_ms - LEAD_MS {
                                    entries.push(alarm_entry(i.id, &a.name, *s, *t, reason));
                                }
                            }
                        }
                        if let Err(e) = state
                            .store
                            .alarm_state_put(&env, &a.name, a.state.label(), a.since_ms)
                            .await
                        {
                            tracing::warn!(error = %e, "alarm poll: cannot store alarm state");
                        }
                    }
                }
                Err(e) => tracing::warn!(environment = %env, error = %e, "alarm poll: alarms unavailable"),
            }
        }
        // Deployments and events of linked services.
        let services: Vec<&String> = incidents.iter().flat_map(|i| i.services.iter()).collect();
        if !services.is_empty()
            && let Ok(inv) = cloud.inventory(&env, crate::ssr::clock::now()).await
        {
            for r in &inv.resources {
                let Some(s) = r.service.as_deref() else { continue };
                let key = format!("{}/{}", s.cluster, r.name);
                for i in incidents.iter().filter(|i| i.services.contains(&key)) {
                    let from = i.started_ms - LEAD_MS;
                    for d in &s.deployments {
                        let created = d.created_ms.unwrap_or(0);
                        if created >= from {
                            let mut e = entry(
                                i.id,
                                created,
                                "deployment",
                                "ecs",
                                format!(
                                    "{key}: deployment {} of {} started ({})",
                                    d.id, d.task_definition, d.status
                                ),
                            );
                            e.dedupe_key = Some(format!("deploy:{}:started", d.id));
                            entries.push(e);
                        }
                        if let (Some(state_word), Some(updated)) = (&d.rollout_state, d.updated_ms)
                            && state_word != "IN_PROGRESS"
                            && updated >= from
                        {
                            let mut e = entry(
                                i.id,
                                updated,
                                "deployment",
                                "ecs",
                                format!(
                                    "{key}: deployment {} of {} {}",
                                    d.id,
                                    d.task_definition,
                                    state_word.to_lowercase()
                                ),
                            );
                            e.dedupe_key = Some(format!("deploy:{}:{state_word}", d.id));
                            entries.push(e);
                        }
                    }
                    for ev in s.events.iter().filter(|e| e.at_ms >= i.started_ms) {
                        let mut e = entry(i.id, ev.at_ms, "service_event", "ecs", format!("{key}: {}", ev.message));
                        e.dedupe_key = Some(format!("event:{key}:{}:{}", ev.at_ms, ev.message.len()));
                        entries.push(e);
                    }
                }
            }
        }
        // Failed backup jobs in the environment.
        if let Ok(b) = cloud
            .backups(&env, state.rpo_hours(&meta), crate::ssr::clock::now())
            .await
        {
            for j in b.jobs.unwrap_or_default().iter().filter(|j| j.state == "FAILED") {
                for i in &incidents {
                    if j.created_ms >= i.started_ms - LEAD_MS {
                        let mut e = entry(
                            i.id,
                            j.created_ms,
                            "backup",
                            "aws-backup",
                            format!("Backup job {} of {} failed: {}", j.id, j.resource, j.message),
                        );
                        e.dedupe_key = Some(format!("backup:{}", j.id));
                        entries.push(e);
                    }
                }
            }
        }
        if !entries.is_empty() {
            let effects = Effects {
                entries,
                ..Effects::default()
            };
            match state.store.effects_apply(effects).await {
                Ok(n) if n > 0 => tracing::info!(environment = %env, new = n, "timeline entries recorded"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "alarm poll: cannot record timeline entries"),
            }
        }
    }
}
