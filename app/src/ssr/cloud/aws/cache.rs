//! A cache with a TTL per entry and single flight: while one caller refreshes an entry, the
//! others do not call AWS too. Stale while revalidate: once an entry has a value, the callers that
//! find its refresh under way are served the previous value at once instead of queueing behind a
//! slow endpoint (as fresh up to twice the TTL, then marked stale with its age); only the caller
//! that refreshes waits, and only a first read (no value yet) is waited for by all. After a failed refresh the
//! last good value is served, marked stale with its age and the error; the refresh is not retried
//! for `retry_after`, so a dead endpoint costs one timeout per interval, not one per viewer.

use crate::ssr::prometheus::Metrics;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub enum Fetched<T> {
    Fresh(Arc<T>),
    Stale {
        value: Arc<T>,
        age: Duration,
        error: String,
    },
    Failed(String),
}

struct Entry<T> {
    value: Option<(Instant, Arc<T>)>,
    last_error: Option<(Instant, String)>,
}

struct Slot<T> {
    entry: Mutex<Entry<T>>,
    /// Held by the one caller refreshing the entry.
    flight: tokio::sync::Mutex<()>,
}

pub struct Cache<T> {
    slots: Mutex<HashMap<String, Arc<Slot<T>>>>,
    retry_after: Duration,
}

impl<T> Slot<T> {
    fn entry(&self) -> std::sync::MutexGuard<'_, Entry<T>> {
        self.entry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer without a refresh: a value younger than the TTL, or the last failure while
    /// `retry_after` has not passed.
    fn settled(&self, ttl: Duration, retry_after: Duration) -> Option<Fetched<T>> {
        let entry = self.entry();
        if let Some((at, v)) = &entry.value
            && at.elapsed() < ttl
        {
            return Some(Fetched::Fresh(v.clone()));
        }
        if let Some((at, e)) = &entry.last_error
            && at.elapsed() < retry_after
        {
            return Some(match &entry.value {
                Some((vat, v)) => Fetched::Stale {
                    value: v.clone(),
                    age: vat.elapsed(),
                    error: e.clone(),
                },
                None => Fetched::Failed(e.clone()),
            });
        }
        None
    }
}

impl<T> Slot<T> {
    /// The value to serve while a refresh is under way: as fresh while it is younger than twice
    /// the TTL and the last refresh did not fail; else marked stale with its age and why (the last
    /// error, or the refresh taking long), so that an old value never passes for a current one.
    fn previous(&self, ttl: Duration) -> Option<Fetched<T>> {
        let entry = self.entry();
        let (at, v) = entry.value.as_ref()?;
        let age = at.elapsed();
        Some(match &entry.last_error {
            None if age < ttl * 2 => Fetched::Fresh(v.clone()),
            None => Fetched::Stale {
                value: v.clone(),
                age,
                error: "a refresh is under way and has not answered yet".into(),
            },
            Some((_, e)) => Fetched::Stale {
                value: v.clone(),
                age,
                error: e.clone(),
            },
        })
    }
}

impl<T> Cache<T> {
    pub fn new(retry_after: Duration) -> Cache<T> {
        Cache {
            slots: Mutex::new(HashMap::new()),
            retry_after,
        }
    }

    /// The previous value of `key` while it is being refreshed, without waiting for the refresh
    /// (a caller that stopped waiting for it): see `Slot::previous`.
    pub fn previous(&self, key: &str, ttl: Duration) -> Option<Fetched<T>> {
        let slot = self.slots.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()?;
        slot.previous(ttl)
    }

    pub async fn get<F, Fut>(&self, key: &str, ttl: Duration, metrics: &Metrics, fetch: F) -> Fetched<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .entry(key.to_string())
                .or_insert_with(|| {
                    Arc::new(Slot {
                        entry: Mutex::new(Entry {
                            value: None,
                            last_error: None,
                        }),
                        flight: tokio::sync::Mutex::new(()),
                    })
                })
                .clone()
        };
        if let Some(answer) = slot.settled(ttl, self.retry_after) {
            metrics.cache(true);
            return answer;
        }
        let _flight = match slot.flight.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Another caller is refreshing: its previous value now, else wait for its result.
                if let Some(previous) = slot.previous(ttl) {
                    metrics.cache(true);
                    return previous;
                }
                slot.flight.lock().await
            }
        };
        // The refresh may have just finished while this caller waited for the flight.
        if let Some(answer) = slot.settled(ttl, self.retry_after) {
            metrics.cache(true);
            return answer;
        }
        metrics.cache(false);
        let result = fetch().await;
        let mut entry = slot.entry();
        match result {
            Ok(v) => {
                let v = Arc::new(v);
                entry.value = Some((Instant::now(), v.clone()));
                entry.last_error = None;
                Fetched::Fresh(v)
            }
            Err(e) => {
                entry.last_error = Some((Instant::now(), e.clone()));
                match &entry.value {
                    Some((at, v)) => Fetched::Stale {
                        value: v.clone(),
                        age: at.elapsed(),
                        error: e,
                    },
                    None => Fetched::Failed(e),
                }
            }
        }
    }
}

/// Values read one resource at a time (a function's reserved concurrency, a rule's tags), each
/// remembered for a while so that a refresh of the list does not cost a call per resource.
pub struct Remember<V> {
    ttl: Duration,
    values: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Remember<V> {
    pub fn new(ttl: Duration) -> Remember<V> {
        Remember {
            ttl,
            values: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let map = self.values.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Entries past their TTL go at the next put, so the map holds only what one TTL saw.
    pub fn put(&self, key: &str, value: V) {
        let mut map = self.values.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (at, _)| at.elapsed() < self.ttl);
        map.insert(key.to_string(), (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn concurrent_viewers_share_one_fetch() {
        let cache: Arc<Cache<u32>> = Arc::new(Cache::new(Duration::from_secs(5)));
        let metrics = Arc::new(Metrics::default());
        let calls = Arc::new(AtomicU32::new(0));
        let mut handles = Vec::new();
        for _ in 0..10 {
            let (cache, metrics, calls) = (cache.clone(), metrics.clone(), calls.clone());
            handles.push(tokio::spawn(async move {
                let r = cache
                    .get("k", Duration::from_secs(60), &metrics, || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok(7)
                    })
                    .await;
                matches!(r, Fetched::Fresh(v) if *v == 7)
            }));
        }
        for h in handles {
            assert!(h.await.unwrap_or(false));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_one_caller_refreshes_the_others_get_the_previous_value_at_once() {
        let cache: Arc<Cache<u32>> = Arc::new(Cache::new(Duration::from_secs(5)));
        let m = Arc::new(Metrics::default());
        // Expired (older than the TTL) but younger than twice the TTL while it is refreshed.
        let ttl_400 = Duration::from_millis(400);
        assert!(matches!(cache.get("k", ttl_400, &m, || async { Ok(1) }).await, Fetched::Fresh(v) if *v == 1));
        tokio::time::sleep(Duration::from_millis(410)).await;
        // A slow refresh (the endpoint answers after 300 ms) is under way…
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let refresher = {
            let (cache, m) = (cache.clone(), m.clone());
            tokio::spawn(async move {
                let got = cache
                    .get("k", ttl_400, &m, || async move {
                        let _ = started_tx.send(());
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Ok(2)
                    })
                    .await;
                matches!(got, Fetched::Fresh(v) if *v == 2)
            })
        };
        started_rx.await.unwrap_or(());
        // …and ten other callers are answered with the previous value without waiting for it.
        let asked = Instant::now();
        for _ in 0..10 {
            let r = cache
                .get("k", ttl_400, &m, || async { panic!("a second refresh must not start") })
                .await;
            assert!(matches!(r, Fetched::Fresh(v) if *v == 1));
        }
        assert!(asked.elapsed() < Duration::from_millis(200), "served without waiting");
        assert!(
            refresher.await.unwrap_or(false),
            "the refreshing caller gets the new value"
        );
        let ttl = Duration::from_secs(60);
        assert!(matches!(cache.get("k", ttl, &m, || async { Ok(3) }).await, Fetched::Fresh(v) if *v == 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_value_older_than_twice_the_ttl_is_served_during_a_refresh_as_stale() {
        let cache: Arc<Cache<u32>> = Arc::new(Cache::new(Duration::from_secs(5)));
        let m = Arc::new(Metrics::default());
        let ttl = Duration::from_millis(20);
        assert!(matches!(
            cache.get("k", ttl, &m, || async { Ok(1) }).await,
            Fetched::Fresh(_)
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let refresher = {
            let (cache, m) = (cache.clone(), m.clone());
            tokio::spawn(async move {
                cache
                    .get("k", ttl, &m, || async move {
                        let _ = started_tx.send(());
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(2)
                    })
                    .await
            })
        };
        started_rx.await.unwrap_or(());
        match cache.get("k", ttl, &m, || async { Ok(3) }).await {
            Fetched::Stale { value, error, .. } => {
                assert_eq!(*value, 1);
                assert!(error.contains("refresh is under way"), "{error}");
            }
            _ => panic!("an old value is not passed off as fresh"),
        }
        assert!(matches!(cache.previous("k", ttl), Some(Fetched::Stale { .. })));
        assert!(matches!(refresher.await, Ok(Fetched::Fresh(v)) if *v == 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_first_read_is_waited_for_by_everyone() {
        let cache: Arc<Cache<u32>> = Arc::new(Cache::new(Duration::from_secs(5)));
        let m = Arc::new(Metrics::default());
        let calls = Arc::new(AtomicU32::new(0));
        let ask = |cache: Arc<Cache<u32>>, m: Arc<Metrics>, calls: Arc<AtomicU32>| async move {
            let r = cache
                .get("k", Duration::from_secs(60), &m, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(9)
                })
                .await;
            matches!(r, Fetched::Fresh(v) if *v == 9)
        };
        let all = futures::future::join_all((0..5).map(|_| ask(cache.clone(), m.clone(), calls.clone()))).await;
        assert!(all.iter().all(|ok| *ok), "nobody is answered without a value");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_stale_data_with_the_error() {
        let cache: Cache<u32> = Cache::new(Duration::from_secs(60));
        let m = Metrics::default();
        let zero = Duration::ZERO;
        assert!(matches!(
            cache.get("k", zero, &m, || async { Ok(1) }).await,
            Fetched::Fresh(_)
        ));
        match cache
            .get("k", zero, &m, || async { Err("throttled".to_string()) })
            .await
        {
            Fetched::Stale { value, error, .. } => assert_eq!((*value, error.as_str()), (1, "throttled")),
            _ => panic!("expected stale data"),
        }
        // Within retry_after the endpoint is not asked again.
        let r = cache.get("k", zero, &m, || async { panic!("must not refetch") }).await;
        assert!(matches!(r, Fetched::Stale { .. }));
        let empty: Cache<u32> = Cache::new(Duration::ZERO);
        assert!(
            matches!(empty.get("x", zero, &m, || async { Err("down".to_string()) }).await, Fetched::Failed(e) if e == "down")
        );
    }
}
