//! CloudFormation: every stack with its status, reason, last update and drift (where a drift
//! detection ran), and the newest event of each stack that is not settled (in progress, failed or
//! rolled back), so "stack failed" can fire and say why. DescribeStacks returns each stack's tags,
//! so a selector narrows stacks here.

use super::{err_text, row, when};
use crate::model::{Health, Resource, ResourceKind};
use crate::ssr::config::Selector;
use aws_sdk_cloudformation::Client;
use futures::{StreamExt, TryStreamExt, stream};

pub fn health_of(status: &str) -> Health {
    match status {
        s if s.ends_with("_FAILED") => Health::Unhealthy,
        // A stack whose creation failed and was rolled back holds nothing usable.
        "ROLLBACK_COMPLETE" | "ROLLBACK_IN_PROGRESS" => Health::Unhealthy,
        s if s.contains("ROLLBACK") || s.ends_with("_IN_PROGRESS") => Health::Degraded,
        s if s.ends_with("_COMPLETE") => Health::Healthy,
        _ => Health::Unknown,
    }
}

fn settled(status: &str) -> bool {
    health_of(status) == Health::Healthy
}

pub async fn read(client: &Client, selector: Option<&Selector>) -> Result<Vec<Resource>, String> {
    let stacks: Vec<_> = client
        .describe_stacks()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("CloudFormation DescribeStacks", &e))?;
    let mine: Vec<_> = stacks
        .into_iter()
        .filter(|s| super::carries(selector, s.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)))))
        .collect();
    let out = stream::iter(mine)
        .map(|s| {
            let client = client.clone();
            async move {
                let name = s.stack_name().unwrap_or_default().to_string();
                let status = s.stack_status().map(|x| x.as_str()).unwrap_or("UNKNOWN").to_string();
                let mut details = vec![];
                if let Some(r) = s.stack_status_reason() {
                    details.push(("reason".to_string(), r.to_string()));
                }
                if let Some(t) = s.last_updated_time().or(s.creation_time()) {
                    details.push(("last updated".to_string(), when(t)));
                }
                if let Some(d) = s.drift_information().and_then(|d| d.stack_drift_status())
                    && d.as_str() != "NOT_CHECKED"
                {
                    details.push(("drift".to_string(), d.as_str().to_string()));
                }
                if !settled(&status) {
                    // The newest event says what happened; one page is enough for that.
                    // One stack's events not readable must not hide every stack's state.
                    let events = match client
                        .describe_stack_events()
                        .stack_name(s.stack_id().unwrap_or(&name))
                        .send()
                        .await
                    {
                        Ok(out) => out.stack_events().to_vec(),
                        Err(e) => {
                            let why = err_text("DescribeStackEvents", &e);
                            details.push(("last event".to_string(), format!("not readable ({why})")));
                            vec![]
                        }
                    };
                    if let Some(e) = events.first() {
                        details.push((
                            "last event".to_string(),
                            format!(
                                "{} {} {}{}",
                                e.timestamp().map(when).unwrap_or_default(),
                                e.logical_resource_id().unwrap_or_default(),
                                e.resource_status().map(|x| x.as_str()).unwrap_or_default(),
                                e.resource_status_reason().map(|r| format!(": {r}")).unwrap_or_default()
                            ),
                        ));
                    }
                }
                Ok::<_, String>(row(
                    ResourceKind::CloudFormationStack,
                    &name,
                    s.stack_id().unwrap_or_default(),
                    &status,
                    health_of(&status),
                    details,
                ))
            }
        })
        .buffered(super::CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(out)
}
