//! EventBridge: the rules of the default event bus with their schedule and state. ListRules
//! carries no tags: a rule is the environment's when its ARN is among the tagged ones, or else when
//! its own tags (ListTagsForResource, bounded like every fan-out) carry the selector's, because the
//! tagging API does not list rules everywhere. Last runs and failed invocations come from
//! CloudWatch (AWS/Events, by `RuleName`) with the charts.

use super::{err_text, row};
use crate::model::{Health, Resource, ResourceKind};
use crate::ssr::config::Selector;
use aws_sdk_eventbridge::Client;
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::HashSet;

/// `rate(5 minutes)` → "every 5 minutes"; a cron expression is shown as written.
pub fn schedule_words(expr: &str) -> String {
    match expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        Some(r) => format!("every {r}"),
        None => expr.to_string(),
    }
}

pub async fn read(
    client: &Client,
    selector: Option<&Selector>,
    owned: Option<&HashSet<String>>,
) -> Result<Vec<Resource>, String> {
    let rules = list(client).await?;
    let arns: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
    let keep: Vec<bool> = stream::iter(arns)
        .map(|arn| {
            let client = client.clone();
            async move {
                match owned {
                    None => Ok(true),
                    Some(o) if o.contains(&arn) => Ok(true),
                    Some(_) => {
                        let out = client
                            .list_tags_for_resource()
                            .resource_arn(&arn)
                            .send()
                            .await
                            .map_err(|e| err_text("EventBridge ListTagsForResource", &e))?;
                        Ok::<_, String>(super::carries(
                            selector,
                            out.tags().iter().map(|t| (t.key(), t.value())),
                        ))
                    }
                }
            }
        })
        .buffered(super::CONCURRENCY)
        .try_collect()
        .await?;
    Ok(rules
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(r, _)| r)
        .collect())
}

async fn list(client: &Client) -> Result<Vec<Resource>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_rules()
            .set_next_token(token.take())
            .limit(100)
            .send()
            .await
            .map_err(|e| err_text("EventBridge ListRules", &e))?;
        for r in page.rules() {
            let arn = r.arn().unwrap_or_default();
            let state = r.state().map(|s| s.as_str().to_string()).unwrap_or_default();
            let mut details = vec![];
            match r.schedule_expression() {
                Some(s) => details.push(("schedule".to_string(), schedule_words(s))),
                None => details.push(("trigger".to_string(), "event pattern".to_string())),
            }
            out.push(row(
                ResourceKind::EventBridgeRule,
                r.name().unwrap_or_default(),
                arn,
                &state,
                // A disabled schedule is a job that does not run: worth a look, not an outage.
                if state == "ENABLED" {
                    Health::Healthy
                } else {
                    Health::Degraded
                },
                details,
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}
