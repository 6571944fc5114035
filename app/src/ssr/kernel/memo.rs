//! A value worth reusing for a few seconds, computed once for everyone who asks at the same time
//! (single flight): the page's status check, which reads the inventory, an hour of metrics and the
//! backups, is the same for every viewer of an environment within its refresh interval.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Slot<T> = Arc<tokio::sync::Mutex<Option<(Instant, Arc<T>)>>>;

pub struct Memo<T> {
    slots: Mutex<HashMap<String, Slot<T>>>,
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

    /// The value of `key` computed less than the TTL ago, else `compute`'s, computed by one caller
    /// while the others wait for it. A caller that goes away mid-computation releases the slot and
    /// the next one computes.
    pub async fn get<F, Fut>(&self, key: &str, compute: F) -> Arc<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(key.to_string()).or_default().clone()
        };
        let mut held = slot.lock().await;
        if let Some((at, value)) = held.as_ref()
            && at.elapsed() < self.ttl
        {
            return value.clone();
        }
        let value = Arc::new(compute().await);
        *held = Some((Instant::now(), value.clone()));
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

    #[tokio::test]
    async fn a_caller_that_goes_away_mid_computation_does_not_block_the_next() {
        let memo: Memo<u8> = Memo::new(Duration::from_secs(60));
        let dropped =
            tokio::time::timeout(Duration::from_millis(20), memo.get("env", std::future::pending::<u8>)).await;
        assert!(dropped.is_err());
        assert_eq!(*memo.get("env", || async { 3 }).await, 3);
    }
}
