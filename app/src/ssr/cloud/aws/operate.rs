//! Calls that act or that must not be cached: the rollback (UpdateService as the operator role),
//! the service read that watches it, task definition lookup, and alarm history.

use super::{err_text, secs_to_ms};
use crate::model::AlarmState;
use crate::ssr::cloud::ServiceNow;

pub async fn service_now(client: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<ServiceNow, String> {
    let out = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| err_text("ECS DescribeServices", &e))?;
    let s = out
        .services()
        .first()
        .ok_or_else(|| format!("ECS DescribeServices: no service {service} in cluster {cluster}"))?;
    Ok(ServiceNow {
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        deployments: super::ecs::deployments(s),
        running: s.running_count().max(0) as u32,
        desired: s.desired_count().max(0) as u32,
        events: super::ecs::events(s),
        controller: crate::model::DeploymentController::parse(s.deployment_controller().map(|c| c.r#type().as_str())),
    })
}

pub async fn task_definition_arn(client: &aws_sdk_ecs::Client, task_definition: &str) -> Result<String, String> {
    let out = client
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|e| err_text("ECS DescribeTaskDefinition", &e))?;
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_string)
        .ok_or_else(|| format!("ECS DescribeTaskDefinition: no ARN for {task_definition}"))
}

pub async fn update_service(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    task_definition_arn: &str,
) -> Result<(), String> {
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition_arn)
        .send()
        .await
        .map_err(|e| err_text("ECS UpdateService", &e))?;
    Ok(())
}

fn state_of(v: &serde_json::Value) -> Option<AlarmState> {
    match v.get("stateValue").and_then(|s| s.as_str())? {
        "ALARM" => Some(AlarmState::Alarm),
        "OK" => Some(AlarmState::Ok),
        "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
        _ => None,
    }
}

/// State updates of one alarm after `since_ms`, oldest first.
pub async fn alarm_history(
    client: &aws_sdk_cloudwatch::Client,
    alarm: &str,
    since_ms: i64,
) -> Result<Vec<(i64, AlarmState)>, String> {
    let pages: Vec<_> = client
        .describe_alarm_history()
        .alarm_name(alarm)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
        .history_item_type(aws_sdk_cloudwatch::types::HistoryItemType::StateUpdate)
        .start_date(aws_smithy_types::DateTime::from_millis(since_ms + 1))
        .end_date(aws_smithy_types::DateTime::from_millis(
            crate::ssr::clock::now() + 60_000,
        ))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("CloudWatch DescribeAlarmHistory", &e))?;
    let mut out = Vec::new();
    for page in pages {
        for item in page.alarm_history_items() {
            let at = item.timestamp().map(secs_to_ms).unwrap_or(0);
            let data: serde_json::Value = item
                .history_data()
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or_default();
            if let Some(state) = data.get("newState").and_then(state_of)
                && at > since_ms
            {
                out.push((at, state));
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::operation::describe_alarm_history::DescribeAlarmHistoryOutput;
    use aws_sdk_cloudwatch::types::AlarmHistoryItem;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn item(at_ms: i64, old: &str, new: &str) -> AlarmHistoryItem {
        AlarmHistoryItem::builder()
            .alarm_name("api-5xx")
            .timestamp(aws_smithy_types::DateTime::from_millis(at_ms))
            .history_item_type(aws_sdk_cloudwatch::types::HistoryItemType::StateUpdate)
            .history_data(
                serde_json::json!({"oldState": {"stateValue": old}, "newState": {"stateValue": new}}).to_string(),
            )
            .build()
    }

    /// Moto lacks DescribeAlarmHistory: the gap-filling path is tested against the SDK's mocks,
    /// across two pages, newest-first input, and an item older than `since`.
    #[tokio::test]
    async fn history_fills_the_changes_between_two_polls() -> Result<(), String> {
        let first = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
            .match_requests(|r| r.next_token().is_none() && r.alarm_name() == Some("api-5xx"))
            .then_output(|| {
                DescribeAlarmHistoryOutput::builder()
                    .alarm_history_items(item(3_000, "OK", "ALARM"))
                    .alarm_history_items(item(2_000, "ALARM", "OK"))
                    .next_token("p2")
                    .build()
            });
        let second = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
            .match_requests(|r| r.next_token() == Some("p2"))
            .then_output(|| {
                DescribeAlarmHistoryOutput::builder()
                    .alarm_history_items(item(500, "OK", "ALARM"))
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&first, &second]);
        let got = alarm_history(&client, "api-5xx", 1_000).await?;
        assert_eq!(got, vec![(2_000, AlarmState::Ok), (3_000, AlarmState::Alarm)]);
        assert_eq!(first.num_calls(), 1);
        assert_eq!(second.num_calls(), 1);
        Ok(())
    }
}
