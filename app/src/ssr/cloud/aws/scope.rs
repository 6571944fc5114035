//! What belongs to an environment that shares its account and region with others. The one rule
//! (README, "Scoping an environment"): with a selector, a resource belongs to the environment when
//! it carries the selector's tag; an alarm when it carries the tag or the resource dimensions it
//! watches are exactly those of one of its resources (alarms.rs: a composite by its tag or its
//! children); a backup vault when it carries the tag; a plan when it carries the tag or stores into
//! one of its vaults; a backup job or recovery point when it protects one of its resources. Without
//! a selector, everything in the account and region. With one whose tagged resources cannot be
//! read, nothing is claimed (`Scope::default()`).

use crate::model::{Resource, ResourceKind};
use std::collections::HashSet;

/// The CloudWatch dimensions a resource's metrics are keyed by (AWS/ApplicationELB, AWS/ECS,
/// AWS/RDS, AWS/Lambda…), as the console knows them from its id and name.
pub fn dims_of(r: &Resource) -> Vec<(&'static str, String)> {
    let suffix = |marker: &str| r.id.split(marker).nth(1).map(str::to_string);
    match &r.kind {
        ResourceKind::LoadBalancer => suffix(":loadbalancer/")
            .map(|d| vec![("LoadBalancer", d)])
            .unwrap_or_default(),
        ResourceKind::TargetGroup => suffix(":targetgroup/")
            .map(|d| vec![("TargetGroup", format!("targetgroup/{d}"))])
            .unwrap_or_default(),
        ResourceKind::EcsCluster => vec![("ClusterName", r.name.clone())],
        ResourceKind::EcsService => match &r.service {
            Some(s) => vec![("ClusterName", s.cluster.clone()), ("ServiceName", r.name.clone())],
            None => vec![("ServiceName", r.name.clone())],
        },
        ResourceKind::RdsInstance | ResourceKind::DocDbInstance => vec![("DBInstanceIdentifier", r.name.clone())],
        ResourceKind::DocDbCluster => vec![("DBClusterIdentifier", r.name.clone())],
        ResourceKind::Lambda => vec![("FunctionName", r.name.clone())],
        // REST APIs are keyed by name, HTTP and WebSocket APIs by id.
        ResourceKind::ApiGateway => match suffix("/apis/") {
            Some(id) => vec![("ApiId", id)],
            None => vec![("ApiName", r.name.clone())],
        },
        ResourceKind::DynamoDb => vec![("TableName", r.name.clone())],
        ResourceKind::S3Bucket => vec![("BucketName", r.name.clone())],
        // Its metrics are per member node.
        ResourceKind::ElastiCache => {
            let mut d = vec![("ReplicationGroupId", r.name.clone())];
            d.extend(nodes(r).map(|n| ("CacheClusterId", n.to_string())));
            d
        }
        ResourceKind::CloudFront => vec![("DistributionId", r.name.clone())],
        ResourceKind::Waf => vec![("WebACL", r.name.clone())],
        ResourceKind::EventBridgeRule => vec![("RuleName", r.name.clone())],
        ResourceKind::Other(k) if k == "RDS cluster" => vec![("DBClusterIdentifier", r.name.clone())],
        ResourceKind::Other(k) if k == "sqs" => vec![("QueueName", r.name.clone())],
        _ => vec![],
    }
}

/// The member nodes of an ElastiCache replication group (elasticache.rs writes them).
fn nodes(r: &Resource) -> impl Iterator<Item = &str> {
    r.details
        .iter()
        .filter(|(k, _)| k == super::elasticache::NODES)
        .flat_map(|(_, v)| v.split(", ").filter(|n| !n.is_empty()))
}

/// The exact sets of resource dimensions an alarm on `r` carries: one per metric family of the
/// resource (an ECS service: cluster and service together; a target group: alone, or with each
/// load balancer that sends to it; an ElastiCache group: the group, or one node).
fn units_of(r: &Resource, all: &[Resource]) -> Vec<Vec<(String, String)>> {
    let own = |d: Vec<(&'static str, String)>| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = d.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        v.sort();
        v
    };
    match r.kind {
        ResourceKind::ElastiCache => std::iter::once(own(vec![("ReplicationGroupId", r.name.clone())]))
            .chain(nodes(r).map(|n| own(vec![("CacheClusterId", n.to_string())])))
            .collect(),
        ResourceKind::TargetGroup => {
            let tg = dims_of(r);
            std::iter::once(own(tg.clone()))
                .chain(
                    all.iter()
                        .filter(|lb| lb.kind == ResourceKind::LoadBalancer && lb.links.contains(&r.id))
                        .map(|lb| own(tg.iter().cloned().chain(dims_of(lb)).collect())),
                )
                .collect()
        }
        _ => {
            let d = dims_of(r);
            if d.is_empty() { vec![] } else { vec![own(d)] }
        }
    }
}

/// Dimension names that identify a resource; the others (Rule, Region, Stage, Percentile…)
/// qualify a metric and do not decide whose it is.
const RESOURCE_DIMENSIONS: &[&str] = &[
    "LoadBalancer",
    "TargetGroup",
    "ClusterName",
    "ServiceName",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "FunctionName",
    "ApiName",
    "ApiId",
    "TableName",
    "BucketName",
    "ReplicationGroupId",
    "CacheClusterId",
    "DistributionId",
    "WebACL",
    "RuleName",
    "QueueName",
];

/// The environment's scope, built from its (already narrowed) inventory and its tagged ARNs.
/// `Scope::default()` owns nothing: what an environment with a selector gets when its tagged
/// resources cannot be read (whose an alarm or backup is cannot be told, so none is claimed).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    tagged: HashSet<String>,
    owned: HashSet<String>,
    units: HashSet<Vec<(String, String)>>,
}

impl Scope {
    pub fn new(resources: &[Resource], tagged: &[String]) -> Scope {
        Scope {
            tagged: tagged.iter().cloned().collect(),
            owned: resources.iter().map(|r| r.id.clone()).collect(),
            units: resources.iter().flat_map(|r| units_of(r, resources)).collect(),
        }
    }

    /// An alarm belongs when it carries the tag, or the resource dimensions it watches are exactly
    /// those of one resource of the environment (a cluster-wide alarm is the cluster owner's, not
    /// every environment with a service in it).
    pub fn has_alarm(&self, arn: &str, dims: &[(String, String)]) -> bool {
        if self.tagged.contains(arn) {
            return true;
        }
        let mut watched: Vec<(String, String)> = dims
            .iter()
            .filter(|(k, _)| RESOURCE_DIMENSIONS.contains(&k.as_str()))
            .cloned()
            .collect();
        watched.sort();
        !watched.is_empty() && self.units.contains(&watched)
    }

    /// A vault or plan: by its tag.
    pub fn has_tagged(&self, arn: &str) -> bool {
        self.tagged.contains(arn)
    }

    /// A backup job or recovery point: by the resource it protects.
    pub fn protects(&self, resource_arn: &str) -> bool {
        self.owned.contains(resource_arn) || self.tagged.contains(resource_arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Health;

    fn res(kind: ResourceKind, name: &str, id: &str) -> Resource {
        Resource {
            kind,
            name: name.into(),
            id: id.into(),
            status: String::new(),
            health: Health::Unknown,
            zones: vec![],
            tasks: None,
            details: vec![],
            links: vec![],
            service: None,
        }
    }

    fn d(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_alarm_is_the_environments_when_tagged_or_watching_only_its_resources() {
        let scope = Scope::new(
            &[
                res(
                    ResourceKind::LoadBalancer,
                    "prod-alb",
                    "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/prod-alb/abc",
                ),
                res(
                    ResourceKind::Lambda,
                    "prod-worker",
                    "arn:aws:lambda:eu-west-1:1:function:prod-worker",
                ),
            ],
            &["arn:aws:cloudwatch:eu-west-1:1:alarm:prod-orders-backlog".to_string()],
        );
        assert!(scope.has_alarm("arn:a", &d(&[("LoadBalancer", "app/prod-alb/abc")])));
        assert!(scope.has_alarm("arn:a", &d(&[("FunctionName", "prod-worker"), ("Resource", "x")])));
        assert!(!scope.has_alarm("arn:a", &d(&[("LoadBalancer", "app/staging-alb/def")])));
        assert!(
            !scope.has_alarm(
                "arn:a",
                &d(&[("FunctionName", "prod-worker"), ("TableName", "staging-sessions")])
            ),
            "one dimension of another environment is enough to leave it out"
        );
        assert!(
            !scope.has_alarm("arn:a", &[]),
            "an untagged alarm on nothing known is not ours"
        );
        assert!(scope.has_alarm("arn:aws:cloudwatch:eu-west-1:1:alarm:prod-orders-backlog", &[]));
        assert!(
            !Scope::default().has_alarm("arn:a", &d(&[("LoadBalancer", "app/prod-alb/abc")])),
            "nothing is claimed without a scope"
        );
    }

    #[test]
    fn a_cluster_wide_alarm_is_the_clusters_owner_not_every_environment_with_a_service_in_it() {
        let mut svc = res(
            ResourceKind::EcsService,
            "prod-api",
            "arn:aws:ecs:eu-west-1:1:service/common/prod-api",
        );
        svc.service = Some(Box::new(crate::model::ServiceInfo {
            cluster: "common".into(),
            ..Default::default()
        }));
        let scope = Scope::new(&[svc], &[]);
        assert!(scope.has_alarm("arn:a", &d(&[("ClusterName", "common"), ("ServiceName", "prod-api")])));
        assert!(!scope.has_alarm("arn:a", &d(&[("ClusterName", "common")])));
        assert!(!scope.has_alarm(
            "arn:a",
            &d(&[("ClusterName", "common"), ("ServiceName", "staging-api")])
        ));
    }

    #[test]
    fn node_and_target_group_alarms_match_their_resource() {
        let mut cache = res(
            ResourceKind::ElastiCache,
            "sessions",
            "arn:aws:elasticache:eu-west-1:1:replicationgroup:sessions",
        );
        cache.details.push((
            super::super::elasticache::NODES.into(),
            "sessions-001, sessions-002".into(),
        ));
        let tg = res(
            ResourceKind::TargetGroup,
            "blue",
            "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/blue/1",
        );
        let mut lb = res(
            ResourceKind::LoadBalancer,
            "alb",
            "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/alb/2",
        );
        lb.links.push(tg.id.clone());
        let scope = Scope::new(&[cache, tg, lb], &[]);
        assert!(scope.has_alarm("arn:a", &d(&[("CacheClusterId", "sessions-002")])));
        assert!(!scope.has_alarm("arn:a", &d(&[("CacheClusterId", "sessions")])));
        assert!(scope.has_alarm(
            "arn:a",
            &d(&[("TargetGroup", "targetgroup/blue/1"), ("LoadBalancer", "app/alb/2")])
        ));
        assert!(!scope.has_alarm(
            "arn:a",
            &d(&[("TargetGroup", "targetgroup/blue/1"), ("LoadBalancer", "app/other/3")])
        ));
    }

    #[test]
    fn rest_apis_are_keyed_by_name_and_http_apis_by_id() {
        let rest = res(
            ResourceKind::ApiGateway,
            "orders",
            "arn:aws:apigateway:eu-west-1::/restapis/a1b2",
        );
        assert_eq!(dims_of(&rest), vec![("ApiName", "orders".to_string())]);
        let http = res(
            ResourceKind::ApiGateway,
            "orders-http",
            "arn:aws:apigateway:eu-west-1::/apis/z9",
        );
        assert_eq!(dims_of(&http), vec![("ApiId", "z9".to_string())]);
    }
}
