//! CloudTrail LookupEvents: the management write events on an environment's resources (recent
//! changes), and every event one role session made (what an elevated session did). LookupEvents
//! answers 50 events a page and 2 calls a second per account and region, so both reads are
//! bounded by `MAX_PAGES` and cached by the caller.

use super::err_text;
use crate::model::{Change, ChangeSource};
use aws_sdk_cloudtrail::Client as Trail;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use std::collections::HashSet;

/// LookupEvents pages of one read, at most (50 events each).
pub const MAX_PAGES: usize = 6;

/// Names by which the environment's resources appear in events: ARNs and account-unique names,
/// and for ECS services (unique per cluster only) the pair (cluster, service).
#[derive(Debug, Default, Clone)]
pub struct Owned {
    pub ids: HashSet<String>,
    pub names: HashSet<String>,
    pub services: HashSet<(String, String)>,
}

impl Owned {
    pub fn of(inv: &crate::model::Inventory) -> Owned {
        use crate::model::ResourceKind;
        let mut o = Owned::default();
        for r in &inv.resources {
            if !r.id.is_empty() {
                o.ids.insert(r.id.clone());
            }
            match (&r.kind, &r.service) {
                (ResourceKind::EcsService, Some(info)) => {
                    o.services.insert((info.cluster.clone(), r.name.clone()));
                    // Its task definition family (RegisterTaskDefinition names it) and its
                    // scalable target (`service/{cluster}/{service}`, PutScalingPolicy).
                    if let Some((family, _)) = info.task_definition.rsplit_once(':') {
                        o.names.insert(family.to_string());
                    }
                    o.names.insert(format!("service/{}/{}", info.cluster, r.name));
                }
                // Names unique in an account and region. Not: ECS clusters (a change to another
                // environment's service in a shared cluster names the cluster too), API names
                // (not unique), target groups, VPCs and the rest.
                (
                    ResourceKind::Lambda
                    | ResourceKind::RdsInstance
                    | ResourceKind::DocDbCluster
                    | ResourceKind::DocDbInstance
                    | ResourceKind::ElastiCache
                    | ResourceKind::DynamoDb
                    | ResourceKind::S3Bucket
                    | ResourceKind::CloudFormationStack
                    | ResourceKind::EventBridgeRule
                    | ResourceKind::LoadBalancer,
                    _,
                ) if r.name.len() >= 3 => {
                    o.names.insert(r.name.clone());
                }
                _ => {}
            }
        }
        o
    }

    fn is_id(&self, v: &str) -> bool {
        self.ids.contains(v) || self.names.contains(v)
    }

    /// Whether the event names one of the resources: in its resource list, or as a value of its
    /// request parameters (an ECS service only with its cluster).
    pub fn claims(&self, resources: &[(String, String)], params: Option<&serde_json::Value>) -> bool {
        if resources.iter().any(|(_, name)| self.is_id(name)) {
            return true;
        }
        let Some(p) = params else { return false };
        let mut values = Vec::new();
        strings(p, &mut values);
        if values.iter().any(|v| self.is_id(v)) {
            return true;
        }
        let field = |k: &str| {
            p.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
        };
        match (field("cluster"), field("service")) {
            (Some(c), Some(s)) => self.services.contains(&(c, s)),
            (None, Some(s)) => self.services.contains(&("default".to_string(), s)),
            _ => false,
        }
    }
}

fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Events that put new code or a new revision in service.
fn is_deployment(source: &str, name: &str, params: Option<&serde_json::Value>) -> bool {
    match (source, name) {
        ("ecs.amazonaws.com", "UpdateService") => params.is_some_and(|p| p.get("taskDefinition").is_some()),
        ("ecs.amazonaws.com", "CreateService") => true,
        ("lambda.amazonaws.com", n) => n.starts_with("UpdateFunctionCode") || n.starts_with("PublishVersion"),
        ("codedeploy.amazonaws.com", "CreateDeployment") => true,
        _ => false,
    }
}

/// One event as a change; `who` is the principal, later replaced by the person behind a grant's
/// session where the caller knows it.
pub fn change_of(e: &aws_sdk_cloudtrail::types::Event) -> Change {
    let raw: Option<serde_json::Value> = e.cloud_trail_event().and_then(|j| serde_json::from_str(j).ok());
    let source = e.event_source().unwrap_or_default();
    let name = e.event_name().unwrap_or_default();
    let params = raw.as_ref().and_then(|r| r.get("requestParameters"));
    let identity = raw.as_ref().and_then(|r| r.get("userIdentity"));
    let arn = identity.and_then(|i| i.get("arn")).and_then(|v| v.as_str());
    let who = e
        .username()
        .map(str::to_string)
        .or_else(|| arn.map(str::to_string))
        .unwrap_or_else(|| "unknown principal".into());
    let read_only = e.read_only().is_some_and(|r| r == "true")
        || raw
            .as_ref()
            .and_then(|r| r.get("readOnly"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    let resource = e
        .resources()
        .iter()
        .filter_map(|r| r.resource_name())
        .collect::<Vec<_>>()
        .join(", ");
    let service = source.split('.').next().unwrap_or(source);
    Change {
        id: e.event_id().unwrap_or_default().to_string(),
        at_ms: e.event_time().map(super::secs_to_ms).unwrap_or(0),
        source: ChangeSource::CloudTrail,
        who,
        what: format!("{service} {name}"),
        resource,
        read_only,
        deployment: is_deployment(source, name, params),
        error: raw
            .as_ref()
            .and_then(|r| r.get("errorCode"))
            .and_then(|v| v.as_str())
            .map(str::to_string),
    }
}

/// LookupEvents by one attribute over [from, to): the events, newest first, and whether the
/// page bound left older ones out.
pub async fn lookup(
    client: &Trail,
    key: LookupAttributeKey,
    value: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<(Vec<aws_sdk_cloudtrail::types::Event>, bool), String> {
    let attr = LookupAttribute::builder()
        .attribute_key(key)
        .attribute_value(value)
        .build()
        .map_err(|e| format!("CloudTrail LookupEvents: {e}"))?;
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .lookup_events()
            .lookup_attributes(attr.clone())
            .start_time(aws_smithy_types::DateTime::from_millis(from_ms))
            .end_time(aws_smithy_types::DateTime::from_millis(to_ms))
            .max_results(50)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| err_text("CloudTrail LookupEvents", &e))?;
        events.extend(page.events().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok((events, false)),
        }
    }
    Ok((events, true))
}

/// The management write events on the environment's resources over [from, to).
pub async fn changes(client: &Trail, owned: &Owned, from_ms: i64, to_ms: i64) -> Result<(Vec<Change>, bool), String> {
    let (events, more) = lookup(client, LookupAttributeKey::ReadOnly, "false", from_ms, to_ms).await?;
    let mine = events
        .iter()
        .filter(|e| {
            let raw: Option<serde_json::Value> = e.cloud_trail_event().and_then(|j| serde_json::from_str(j).ok());
            let resources: Vec<(String, String)> = e
                .resources()
                .iter()
                .map(|r| {
                    (
                        r.resource_type().unwrap_or_default().to_string(),
                        r.resource_name().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            owned.claims(&resources, raw.as_ref().and_then(|r| r.get("requestParameters")))
        })
        .map(change_of)
        .collect();
    Ok((mine, more))
}

/// Every event made with one grant's credentials (their access key id: a role session's name
/// can be chosen by anyone who may assume some role) over [from, to), reads included.
pub async fn session(
    client: &Trail,
    access_key_id: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<(Vec<Change>, bool), String> {
    let (events, more) = lookup(client, LookupAttributeKey::AccessKeyId, access_key_id, from_ms, to_ms).await?;
    Ok((events.iter().map(change_of).collect(), more))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
    use aws_sdk_cloudtrail::types::{Event, Resource};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn event(name: &str, at_s: i64, params: serde_json::Value, resources: &[&str]) -> Event {
        let raw = serde_json::json!({
            "eventSource": "ecs.amazonaws.com",
            "eventName": name,
            "readOnly": false,
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy/ci"},
            "requestParameters": params,
        });
        let mut b = Event::builder()
            .event_name(name)
            .event_source("ecs.amazonaws.com")
            .event_time(aws_smithy_types::DateTime::from_secs(at_s))
            .username("ci")
            .read_only("false")
            .cloud_trail_event(raw.to_string());
        for r in resources {
            b = b.resources(
                Resource::builder()
                    .resource_type("AWS::ECS::Service")
                    .resource_name(*r)
                    .build(),
            );
        }
        b.build()
    }

    fn owned() -> Owned {
        let mut o = Owned::default();
        o.services.insert(("prod".into(), "api".into()));
        o.names.insert("prod-sync".into());
        o.ids.insert("arn:aws:ecs:us-east-1:1:service/prod/api".into());
        o
    }

    #[tokio::test]
    async fn only_the_environments_writes_are_changes_and_the_pages_are_bounded() {
        let mine = event(
            "UpdateService",
            100,
            serde_json::json!({"cluster": "prod", "service": "api", "taskDefinition": "api:8"}),
            &[],
        );
        // The same service name in another environment's cluster of the same account.
        let theirs = event(
            "UpdateService",
            200,
            serde_json::json!({"cluster": "staging", "service": "api", "taskDefinition": "api:9"}),
            &[],
        );
        let by_arn = event(
            "UpdateService",
            300,
            serde_json::json!({}),
            &["arn:aws:ecs:us-east-1:1:service/prod/api"],
        );
        let page = mock!(Trail::lookup_events).then_output(move || {
            LookupEventsOutput::builder()
                .events(mine.clone())
                .events(theirs.clone())
                .events(by_arn.clone())
                .build()
        });
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&page]);
        let (changes, more) = changes(&client, &owned(), 0, 1_000_000).await.expect("read");
        assert!(!more);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes.iter().all(|c| c.who == "ci" && c.what == "ecs UpdateService"));
        assert!(changes[0].deployment, "a new task definition is a deployment");

        let endless = mock!(Trail::lookup_events).then_output(|| {
            LookupEventsOutput::builder()
                .events(event("UpdateService", 1, serde_json::json!({}), &[]))
                .next_token("more")
                .build()
        });
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&endless]);
        let (events, more) = session(&client, "req-1-alice", 0, 1_000).await.expect("read");
        assert_eq!((events.len(), more), (MAX_PAGES, true));
        assert_eq!(endless.num_calls(), MAX_PAGES);
    }
}
