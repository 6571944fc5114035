//! The live side of issue 16 on `SdkCloud`: where a resource logs (`logs`), and the CloudTrail
//! reads (`trail`), each window cached for `TTL_TRAIL` so that pages refreshing every few
//! seconds stay within LookupEvents' 2 calls a second.

use super::{SdkCloud, aws_error, logs, trail};
use crate::model::{Change, Inventory, ResourceKind};
use crate::ssr::cloud::{CloudError, LogPlace, LogTarget};
use std::time::Duration;

/// How long one CloudTrail window is served before it is read again.
pub const TTL_TRAIL: Duration = Duration::from_secs(60);

pub type TrailRead = (Vec<Change>, bool);

fn detail<'a>(r: &'a crate::model::Resource, key: &str) -> Option<&'a str> {
    r.details.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

impl SdkCloud {
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
                logs::awslogs(&clients.ecs, &td)
                    .await
                    .and_then(|s| logs::ecs_place(&s, &reader.config.region, target.task.map(|t| t.id.as_str())))
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
        // To the minute, so a refresh within the TTL is the same window.
        let (from, to) = (
            from_ms - from_ms.rem_euclid(60_000),
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
