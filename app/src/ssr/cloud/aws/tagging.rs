//! The Resource Groups Tagging API: everything else that carries the environment's tags (Lambda,
//! S3, DynamoDB, ElastiCache, API Gateway, CloudFront, WAF…), shown by type, and the set of
//! tagged ARNs that a selector narrows the other parts to.

use super::err_text;
use crate::model::{Health, Resource, ResourceKind};
use crate::ssr::config::Selector;
use aws_sdk_resourcegroupstagging::Client;
use aws_sdk_resourcegroupstagging::types::TagFilter;

/// Every tagged ARN (matching the selector when there is one).
pub async fn read(client: &Client, selector: Option<&Selector>) -> Result<Vec<String>, String> {
    let mut req = client.get_resources().resources_per_page(100);
    if let Some(s) = selector {
        req = req.tag_filters(TagFilter::builder().key(&s.tag_key).values(&s.tag_value).build());
    }
    let items: Vec<_> = req
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("Tagging GetResources", &e))?;
    Ok(items
        .iter()
        .filter_map(|m| m.resource_arn().map(str::to_string))
        .collect())
}

/// Services whose resources the console reads through their own APIs (alarms are not resources).
pub fn read_elsewhere(arn: &str) -> bool {
    let service = arn.split(':').nth(2).unwrap_or_default();
    matches!(service, "ecs" | "elasticloadbalancing" | "rds" | "cloudwatch")
}

/// A resource row for a tagged ARN the console has no detail view for.
pub fn resource_for(arn: &str) -> Resource {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let service = parts.get(2).copied().unwrap_or_default();
    let rest = parts.get(5).copied().unwrap_or_default();
    let (rtype, name) = match rest.split_once(['/', ':']) {
        Some((t, n)) => (t, n),
        None => ("", rest),
    };
    let kind = match (service, rtype) {
        ("lambda", _) => ResourceKind::Lambda,
        ("s3", _) => ResourceKind::S3Bucket,
        ("dynamodb", _) => ResourceKind::DynamoDb,
        ("elasticache", _) => ResourceKind::ElastiCache,
        ("apigateway", _) | ("execute-api", _) => ResourceKind::ApiGateway,
        ("cloudfront", _) => ResourceKind::CloudFront,
        ("wafv2", _) | ("waf", _) => ResourceKind::Waf,
        ("cloudformation", _) => ResourceKind::CloudFormationStack,
        ("events", _) => ResourceKind::EventBridgeRule,
        ("ecr", _) => ResourceKind::Ecr,
        ("backup", "backup-vault") => ResourceKind::BackupVault,
        ("backup", "backup-plan") => ResourceKind::BackupPlan,
        ("ec2", "vpc") => ResourceKind::Vpc,
        ("ec2", "natgateway") => ResourceKind::NatGateway,
        (s, "") => ResourceKind::Other(s.to_string()),
        (s, t) => ResourceKind::Other(format!("{s} {t}")),
    };
    // A WAF web ACL is `…:regional/webacl/<name>/<id>`: its metrics are keyed by the name.
    let name = if kind == ResourceKind::Waf {
        rest.split('/').nth(2).unwrap_or(name).to_string()
    } else {
        name.rsplit('/').next().unwrap_or(name).to_string()
    };
    Resource {
        kind,
        name: if name.is_empty() { arn.to_string() } else { name },
        id: arn.to_string(),
        status: "tagged".into(),
        health: Health::Unknown,
        zones: vec![],
        tasks: None,
        details: vec![],
        links: vec![],
        service: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_map_to_kinds_and_names() {
        let r = resource_for("arn:aws:lambda:us-east-1:123456789012:function:taskflow-worker");
        assert_eq!((r.kind, r.name.as_str()), (ResourceKind::Lambda, "taskflow-worker"));
        let r = resource_for("arn:aws:s3:::taskflow-static");
        assert_eq!((r.kind, r.name.as_str()), (ResourceKind::S3Bucket, "taskflow-static"));
        let r = resource_for("arn:aws:dynamodb:us-east-1:123456789012:table/sessions");
        assert_eq!((r.kind, r.name.as_str()), (ResourceKind::DynamoDb, "sessions"));
        let r = resource_for("arn:aws:sqs:us-east-1:123456789012:jobs");
        assert_eq!((r.kind, r.name.as_str()), (ResourceKind::Other("sqs".into()), "jobs"));
        let r = resource_for("arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop-acl/0a1b2c");
        assert_eq!((r.kind, r.name.as_str()), (ResourceKind::Waf, "shop-acl"));
        assert!(read_elsewhere("arn:aws:ecs:us-east-1:1:cluster/x"));
        assert!(!read_elsewhere("arn:aws:s3:::b"));
    }
}
