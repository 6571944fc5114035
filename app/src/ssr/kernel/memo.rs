//! A value worth reusing for a few seconds, computed once for everyone who asks at the same time
//! (single flight): the page's status check, which reads the inventory, an hour of metrics and the
//! backups, is the same for every viewer of an environment within its refresh interval. Stale
//! while revalidate: while one caller recomputes an expired value, the others get the previous one
//! at once rather than queueing behind a slow AWS; only a first computation is waited for by all.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Slot<T> {
    value: Mutex<Option<(Instant, Arc<T>)>>,
    /// Held by the one caller computing.
    flight: tokio::sync::Mutex<()>,
}

impl<T> Slot<T> {
    fn value(&self) -> Option<(Instant, Arc<T>)> {
        self.value.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn fresh(&self, ttl: Duration) -> Option<Arc<T>> {
        self.value().filter(|(at, _)| at.elapsed() < ttl).map(|(_, v)| v)
    }
}

pub struct Memo<T> {
    slots: Mutex<HashMap<String, Arc<Slot<T>>>>,
    ttl: Duration,
}

impl<T> Memo<T> {
    /// Keys are few and fixed (environment names): entries are never removed.
    pub fn new(ttl: Duration) -> Memo<T> {
        Memo {
            slots: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// The value of `key` computed less than the TTL ago, else `compute`'s, computed by one caller;
    /// the others get the previous value meanwhile, or wait when there is none. A caller that goes
    /// away mid-computation releases the slot and the next one computes.
    pub async fn get<F, Fut>(&self, key: &str, compute: F) -> Arc<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .entry(key.to_string())
                .or_insert_with(|| {
                    Arc::new(Slot {
                        value: Mutex::new(None),
                        flight: tokio::sync::Mutex::new(()),
                    })
                })
                .clone()
        };
        if let Some(v) = slot.fresh(self.ttl) {
            return v;
        }
        let _flight = match slot.flight.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Some((_, previous)) = slot.value() {
                    return previous;
                }
                slot.flight.lock().await
            }
        };
        if let Some(v) = slot.fresh(self.ttl) {
            return v;
        }
        let value = Arc::new(compute().await);
        *slot.value.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), value.clone()));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_computation_until_the_ttl_passes() {
        let memo = Arc::new(Memo::new(Duration::from_millis(200)));
        let runs = Arc::new(AtomicUsize::new(0));
        let ask = |memo: Arc<Memo<usize>>, runs: Arc<AtomicUsize>| async move {
            *memo
                .get("env", || async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    runs.fetch_add(1, Ordering::SeqCst) + 1
                })
                .await
        };
        let got: Vec<usize> = futures::future::join_all((0..10).map(|_| ask(memo.clone(), runs.clone()))).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one computation for ten callers");
        assert!(got.iter().all(|v| *v == 1));
        // Another key is its own.
        let other = *memo.get("other", || async { 7 }).await;
        assert_eq!(other, 7);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(ask(memo.clone(), runs.clone()).await, 2, "recomputed after the TTL");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_one_caller_recomputes_the_others_get_the_previous_value() {
        let memo = Arc::new(Memo::new(Duration::from_millis(50)));
        assert_eq!(*memo.get("env", || async { 1u8 }).await, 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let memo = memo.clone();
            tokio::spawn(async move {
                *memo
                    .get("env", || async move {
                        let _ = started_tx.send(());
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        2u8
                    })
                    .await
            })
        };
        started_rx.await.unwrap_or(());
        let asked = Instant::now();
        assert_eq!(
            *memo
                .get("env", || async { panic!("a second computation must not start") })
                .await,
            1
        );
        assert!(asked.elapsed() < Duration::from_millis(200), "served without waiting");
        assert_eq!(slow.await.unwrap_or(0), 2);
        assert_eq!(*memo.get("env", || async { 3u8 }).await, 2, "the new value is reused");
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_mid_computation_does_not_block_the_next() {
        let memo: Memo<u8> = Memo::new(Duration::from_secs(60));
        let dropped =
            tokio::time::timeout(Duration::from_millis(20), memo.get("env", std::future::pending::<u8>)).await;
        assert!(dropped.is_err());
        assert_eq!(*memo.get("env", || async { 3 }).await, 3);
    }
}
