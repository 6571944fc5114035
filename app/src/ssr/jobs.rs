//! Background jobs: the incident poll (`incidents::poll_once`), outbox delivery, access expiry
//! (`access::expire_due`) and the rollback watch (`rollbacks::watch_all`); each step lives in
//! its area. With several
//! replicas on one database, each job runs on one replica at a time: a lease row renewed every
//! round, taken over by another replica once it lapses.

use super::state::AppState;
use std::future::Future;
use std::time::Duration;

/// Runs `round` every `period` while this replica holds the lease `name`.
pub fn spawn_leased<F, Fut>(state: AppState, name: &'static str, period: Duration, mut round: F)
where
    F: FnMut(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let holder = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    let mut stopping = state.stopping.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ttl = (period.as_millis() as i64 * 3).max(10_000);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopping.wait_for(|s| *s) => break,
            }
            let now = crate::ssr::clock::now();
            match state.store.lease_acquire(name, &holder, now, ttl).await {
                // A round under way finishes; the next one is not started once stopping.
                Ok(true) => round(state.clone()).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(job = name, error = %e, "job lease unavailable"),
            }
            if *stopping.borrow() {
                break;
            }
        }
        // Shutting down: give the lease back so that another replica takes the job at once.
        match state.store.lease_release(name, &holder).await {
            Ok(()) => tracing::info!(job = name, "lease given back"),
            Err(e) => tracing::warn!(job = name, error = %e, "lease not given back; it lapses instead"),
        }
    });
}

pub fn spawn_all(state: AppState) {
    let jobs = state.config.jobs.clone();
    spawn_leased(
        state.clone(),
        "alarm-poll",
        Duration::from_secs(u64::from(jobs.alarm_poll_seconds)),
        |s| async move {
            super::incidents::poll_once(&s).await;
            super::activity::sessions::record_on_timelines(&s).await;
        },
    );
    let sender = std::sync::Arc::new(tokio::sync::Mutex::new(super::slack::Sender::new()));
    spawn_leased(
        state.clone(),
        "outbox",
        Duration::from_secs(u64::from(jobs.outbox_seconds)),
        move |s| {
            let sender = sender.clone();
            async move {
                sender.lock().await.deliver_due(&s).await;
            }
        },
    );
    spawn_leased(
        state.clone(),
        "access-expiry",
        Duration::from_secs(u64::from(jobs.outbox_seconds.clamp(1, 10))),
        |s| async move { super::access::expire_due(&s).await },
    );
    spawn_leased(
        state,
        "rollback-watch",
        Duration::from_secs(u64::from(jobs.alarm_poll_seconds.min(10))),
        |s| async move { super::rollbacks::watch_all(&s).await },
    );
}
