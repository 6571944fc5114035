//! Lambda: every function of the environment with its runtime, memory, timeout, last change,
//! state and reserved concurrency. ListFunctions carries no tags, so the caller narrows the list to
//! the environment (its tagged ARNs) before the per-function concurrency calls, which are bounded
//! like every fan-out and remembered for `CONCURRENCY_TTL` (reserved concurrency is set rarely; a
//! refresh of the list every minute must not cost one call per function).

use super::{err_text, row};
use crate::model::{Health, Resource, ResourceKind};
use aws_sdk_lambda::Client;
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::HashSet;
use std::time::Duration;

/// How long a function's reserved concurrency is shown before it is read again.
pub const CONCURRENCY_TTL: Duration = Duration::from_secs(900);

/// Reserved concurrency per function ARN.
pub type ConcurrencyCache = super::cache::Remember<String>;

pub async fn read(
    client: &Client,
    owned: Option<&HashSet<String>>,
    known: &ConcurrencyCache,
) -> Result<Vec<Resource>, String> {
    let functions: Vec<_> = client
        .list_functions()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("Lambda ListFunctions", &e))?;
    let mine: Vec<_> = functions
        .into_iter()
        .filter(|f| owned.is_none_or(|o| f.function_arn().is_some_and(|a| o.contains(a))))
        .collect();
    stream::iter(mine)
        .map(|f| {
            let client = client.clone();
            async move {
                let name = f.function_name().unwrap_or_default().to_string();
                let arn = f.function_arn().unwrap_or_default();
                let reserved = match known.get(arn) {
                    Some(r) => r,
                    None => match client.get_function_concurrency().function_name(&name).send().await {
                        Ok(c) => {
                            let r = c
                                .reserved_concurrent_executions()
                                .map(|n| n.to_string())
                                .unwrap_or_else(|| "unreserved".into());
                            known.put(arn, r.clone());
                            r
                        }
                        Err(e) => format!("not readable ({})", err_text("GetFunctionConcurrency", &e)),
                    },
                };
                let state = f
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "Active".into());
                let health = match state.as_str() {
                    "Active" => Health::Healthy,
                    "Failed" => Health::Unhealthy,
                    _ => Health::Degraded,
                };
                let mut details = vec![
                    (
                        "runtime".to_string(),
                        f.runtime()
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_else(|| "image".into()),
                    ),
                    ("memory".to_string(), format!("{} MB", f.memory_size().unwrap_or(128))),
                    ("timeout".to_string(), format!("{} s", f.timeout().unwrap_or(3))),
                    ("reserved concurrency".to_string(), reserved),
                ];
                if let Some(m) = f.last_modified() {
                    details.push(("last modified".to_string(), m.chars().take(16).collect()));
                }
                if let Some(r) = f.state_reason().filter(|_| health != Health::Healthy) {
                    details.push(("state reason".to_string(), r.to_string()));
                }
                Ok::<_, String>(row(
                    ResourceKind::Lambda,
                    &name,
                    f.function_arn().unwrap_or_default(),
                    &state,
                    health,
                    details,
                ))
            }
        })
        .buffered(super::CONCURRENCY)
        .try_collect()
        .await
}
