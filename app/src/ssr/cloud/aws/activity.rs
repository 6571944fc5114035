//! The live side of issue 16 on `SdkCloud`: where a resource logs (`logs`), and the CloudTrail
//! reads (`trail`), each window cached for `TTL_TRAIL` so that pages refreshing every few
//! seconds stay within LookupEvents' 2 calls a second.

use super::{SdkCloud, aws_error, logs, trail};
use crate::model::{Change, ChangeSource, Inventory, ResourceKind};
use crate::ssr::cloud::{CloudError, LogPlace, LogTarget};
use std::time::Duration;

/// How long one log window (to the 5 s) is served before it is read again: the pages that
/// follow a source refresh every 10 s, and several people may follow one.
pub const TTL_LOGS: Duration = Duration::from_secs(5);

/// How long one CloudTrail window is served before it is read again.
pub const TTL_TRAIL: Duration = Duration::from_secs(60);

pub type TrailRead = (Vec<Change>, bool);

/// Stacks whose events are read for the changes, at most.
pub const MAX_STACKS: usize = 5;

fn detail<'a>(r: &'a crate::model::Resource, key: &str) -> Option<&'a str> {
    r.details.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A window as the log cache keys it: to the 5 s when it is a minute or longer (a page that
/// follows new lines asks for a slightly different one each time), exactly otherwise (the one
/// line read again to attach it).
fn bucket(start_ms: i64, end_ms: i64) -> (i64, i64) {
    if end_ms - start_ms >= 60_000 {
        (start_ms / 5_000, end_ms / 5_000)
    } else {
        (start_ms, end_ms)
    }
}

impl SdkCloud {
    /// A log window read within `logs::READ_TIMEOUT`.
    pub(super) async fn lines(
        &self,
        env: &str,
        place: &LogPlace,
        start_ms: i64,
        end_ms: i64,
        pattern: &str,
        limit: usize,
    ) -> Result<(Vec<crate::model::LogLine>, bool), CloudError> {
        let (reader, clients) = self.reader(env).await?;
        let key = format!(
            "{}|{:?}|{}|{}|{}|{}|{limit}",
            place.group,
            place.prefix,
            place.streams.join(","),
            pattern,
            bucket(start_ms, end_ms).0,
            bucket(start_ms, end_ms).1
        );
        if let Some(hit) = reader.logs.get(&key) {
            return Ok(hit);
        }
        let read = logs::filter(&clients.logs, place, start_ms, end_ms, pattern, limit);
        match tokio::time::timeout(logs::READ_TIMEOUT, read).await {
            Ok(Ok(r)) => {
                reader.logs.put(&key, r.clone());
                Ok(r)
            }
            Ok(Err(m)) => Err(aws_error("logs", "FilterLogEvents", m)),
            Err(_) => Err(CloudError::NotAvailable(format!(
                "CloudWatch Logs did not answer within {} s: narrow the window or the filter",
                logs::READ_TIMEOUT.as_secs()
            ))),
        }
    }

    pub(super) async fn place(&self, env: &str, target: &LogTarget<'_>) -> Result<LogPlace, CloudError> {
        let (reader, clients) = self.reader(env).await?;
        let r = target.resource;
        let found = match &r.kind {
            ResourceKind::Lambda => logs::lambda_place(&clients.lambda, &r.name).await,
            ResourceKind::EcsService => {
                let td = match (target.task, &r.service) {
                    (Some(t), _) => t.task_definition.clone(),
                    (None, Some(info)) => info.task_definition.clone(),
                    (None, None) => {
                        return Err(CloudError::NotAvailable(
                            "the service's task definition is not known".into(),
                        ));
                    }
                };
                let known: Vec<String> = r
                    .service
                    .iter()
                    .flat_map(|i| i.tasks.iter().chain(i.stopped.iter()))
                    .map(|t| t.id.clone())
                    .collect();
                logs::awslogs(&clients.ecs, &td).await.and_then(|s| {
                    logs::ecs_place(&s, &reader.config.region, target.task.map(|t| t.id.as_str()), &known)
                })
            }
            ResourceKind::ApiGateway => {
                let id = detail(r, "API id").unwrap_or(&r.name);
                let is_rest = detail(r, "protocol") == Some("REST");
                logs::api_place(&clients.apigateway, &clients.apigatewayv2, id, is_rest).await
            }
            ResourceKind::EventBridgeRule => logs::rule_place(&clients.eventbridge, &r.name).await,
            other => Err(format!("the console reads no logs of a {}", other.label())),
        };
        found.map_err(|m| CloudError::NotAvailable(format!("{} {}: {m}", r.kind.label(), r.name)))
    }

    /// The stack events of the environment's stacks in [from, to) (the newest page of each of
    /// at most `MAX_STACKS`), cached with the CloudTrail window; a stack that cannot be read is
    /// logged and left out.
    pub(super) async fn stack_events(&self, env: &str, inv: &Inventory, from_ms: i64, to_ms: i64) -> Vec<Change> {
        let Ok((reader, clients)) = self.reader(env).await else {
            return vec![];
        };
        let (from, to) = (
            from_ms - from_ms.rem_euclid(60_000),
            to_ms - to_ms.rem_euclid(60_000) + 60_000,
        );
        let key = format!("stacks|{from}|{to}");
        if let Some((hit, _)) = reader.trail.get(&key) {
            return hit;
        }
        let stacks: Vec<&str> = inv
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::CloudFormationStack)
            .map(|r| r.name.as_str())
            .take(MAX_STACKS)
            .collect();
        let reads = stacks.iter().map(|s| async move {
            let out = clients
                .cloudformation
                .describe_stack_events()
                .stack_name(*s)
                .send()
                .await;
            (*s, out)
        });
        let mut out = Vec::new();
        for (stack, read) in futures::future::join_all(reads).await {
            let page = match read {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(environment = %env, error = %super::err_text("CloudFormation DescribeStackEvents", &e), "stack events");
                    continue;
                }
            };
            for e in page.stack_events() {
                let at = e.timestamp().map(super::secs_to_ms).unwrap_or(0);
                if !(from_ms..to_ms).contains(&at) {
                    continue;
                }
                let status = e.resource_status().map(|s| s.as_str()).unwrap_or("");
                let logical = e.logical_resource_id().unwrap_or("");
                let whole = logical == stack;
                out.push(Change {
                    id: String::new(),
                    at_ms: at,
                    source: ChangeSource::CloudFormation,
                    who: "CloudFormation".into(),
                    what: format!("{logical} {status}"),
                    resource: stack.to_string(),
                    read_only: false,
                    deployment: whole && status == "UPDATE_COMPLETE",
                    error: status
                        .ends_with("FAILED")
                        .then(|| e.resource_status_reason().unwrap_or("failed").to_string()),
                });
            }
        }
        reader.trail.put(&key, (out.clone(), false));
        out
    }

    /// One CloudTrail window: the environment's write events (`inv`) or one session's events.
    pub(super) async fn trail_read(
        &self,
        env: &str,
        inv: Option<&Inventory>,
        session: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<TrailRead, CloudError> {
        let (reader, clients) = self.reader(env).await?;
        // To the minute (an environment's changes from the quarter hour), so that refreshes and
        // nearby `since` values within the TTL are one window and one read; the caller keeps
        // what falls in the window it asked for.
        let step = if session.is_some() { 60_000 } else { 900_000 };
        let (from, to) = (
            from_ms - from_ms.rem_euclid(step),
            to_ms - to_ms.rem_euclid(60_000) + 60_000,
        );
        let key = format!("{}|{from}|{to}", session.unwrap_or("*"));
        if let Some(hit) = reader.trail.get(&key) {
            return Ok(hit);
        }
        let read = match (session, inv) {
            (Some(s), _) => trail::session(&clients.trail, s, from, to).await,
            (None, Some(inv)) => trail::changes(&clients.trail, &trail::Owned::of(inv), from, to).await,
            (None, None) => Ok((vec![], false)),
        }
        .map_err(|m| aws_error("cloudtrail", "LookupEvents", m))?;
        reader.trail.put(&key, read.clone());
        Ok(read)
    }
}
