//! Application Auto Scaling for ECS services: each service's min/max task count and its scaling
//! policies (DescribeScalableTargets and DescribeScalingPolicies, namespace `ecs`), keyed by the
//! resource id `service/<cluster>/<service>`.

use super::err_text;
use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use std::collections::BTreeMap;

/// `service/<cluster>/<service>` → "2–8 tasks; policies: cpu-target (TargetTrackingScaling)".
pub async fn read(client: &Client) -> Result<Vec<(String, String)>, String> {
    let targets: Vec<_> = client
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("Application Auto Scaling DescribeScalableTargets", &e))?;
    let policies: Vec<_> = client
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("Application Auto Scaling DescribeScalingPolicies", &e))?;
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for t in &targets {
        let names: Vec<String> = policies
            .iter()
            .filter(|p| p.resource_id() == t.resource_id())
            .map(|p| format!("{} ({})", p.policy_name(), p.policy_type().as_str()))
            .collect();
        out.insert(
            t.resource_id().to_string(),
            format!(
                "{}–{} tasks; {}",
                t.min_capacity(),
                t.max_capacity(),
                if names.is_empty() {
                    "no scaling policy".to_string()
                } else {
                    format!("policies: {}", names.join(", "))
                }
            ),
        );
    }
    Ok(out.into_iter().collect())
}
