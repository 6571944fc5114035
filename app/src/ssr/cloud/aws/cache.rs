//! A cache with a TTL per entry and single flight: while one caller refreshes an entry, the
//! others wait for its result instead of calling AWS too. After a failed refresh the last good
//! value is served, marked stale with its age and the error; the refresh is not retried for
//! `retry_after`, so a dead endpoint costs one timeout per interval, not one per viewer.

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

pub struct Cache<T> {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry<T>>>>>,
    retry_after: Duration,
}

impl<T> Cache<T> {
    pub fn new(retry_after: Duration) -> Cache<T> {
        Cache {
            slots: Mutex::new(HashMap::new()),
            retry_after,
        }
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
                    Arc::new(tokio::sync::Mutex::new(Entry {
                        value: None,
                        last_error: None,
                    }))
                })
                .clone()
        };
        // Single flight: the refresh happens with the entry locked.
        let mut entry = slot.lock().await;
        if let Some((at, v)) = &entry.value
            && at.elapsed() < ttl
        {
            metrics.cache(true);
            return Fetched::Fresh(v.clone());
        }
        if let Some((at, e)) = &entry.last_error
            && at.elapsed() < self.retry_after
        {
            metrics.cache(true);
            return match &entry.value {
                Some((vat, v)) => Fetched::Stale {
                    value: v.clone(),
                    age: vat.elapsed(),
                    error: e.clone(),
                },
                None => Fetched::Failed(e.clone()),
            };
        }
        metrics.cache(false);
        match fetch().await {
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

    pub fn put(&self, key: &str, value: V) {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), (Instant::now(), value));
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
