//! Elastic Load Balancing v2: load balancers, their listeners, every target group (also those
//! that only a test listener or nothing yet points at, as in blue/green) and target health.

use super::{CONCURRENCY, err_text};
use crate::model::{Health, Resource, ResourceKind};
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{Action, LoadBalancerStateEnum, TargetHealthStateEnum};
use futures::{StreamExt, TryStreamExt, stream};

pub async fn read(client: &Client) -> Result<Vec<Resource>, String> {
    let lbs: Vec<_> = client
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("ELB DescribeLoadBalancers", &e))?;
    let tgs: Vec<_> = client
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("ELB DescribeTargetGroups", &e))?;
    // Listeners of each load balancer (no batch API: one paginated call each).
    let lb_arns: Vec<String> = lbs
        .iter()
        .map(|lb| lb.load_balancer_arn().unwrap_or_default().to_string())
        .collect();
    let listeners: Vec<Vec<_>> = stream::iter(lb_arns)
        .map(|arn| {
            let client = client.clone();
            async move {
                client
                    .describe_listeners()
                    .load_balancer_arn(arn)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| err_text("ELB DescribeListeners", &e))
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    // Target health of each target group.
    let tg_arns: Vec<String> = tgs
        .iter()
        .map(|tg| tg.target_group_arn().unwrap_or_default().to_string())
        .collect();
    let health: Vec<Vec<TargetHealthStateEnum>> = stream::iter(tg_arns)
        .map(|arn| {
            let client = client.clone();
            async move {
                client
                    .describe_target_health()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map(|o| {
                        o.target_health_descriptions()
                            .iter()
                            .filter_map(|d| d.target_health().and_then(|h| h.state()).cloned())
                            .collect()
                    })
                    .map_err(|e| err_text("ELB DescribeTargetHealth", &e))
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;

    let mut out = Vec::new();
    for (lb, ls) in lbs.iter().zip(listeners) {
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let mut links: Vec<String> = ls
            .iter()
            .flat_map(|l| l.default_actions().iter().flat_map(action_targets))
            .collect();
        for tg in &tgs {
            if tg.load_balancer_arns().contains(&arn) {
                links.push(tg.target_group_arn().unwrap_or_default().to_string());
            }
        }
        links.sort();
        links.dedup();
        let state = lb.state().and_then(|s| s.code());
        let listener_text: Vec<String> = ls
            .iter()
            .map(|l| {
                format!(
                    "{} :{}",
                    l.protocol().map(|p| p.as_str()).unwrap_or("?"),
                    l.port().unwrap_or(0)
                )
            })
            .collect();
        out.push(Resource {
            kind: ResourceKind::LoadBalancer,
            name: lb.load_balancer_name().unwrap_or_default().to_string(),
            id: arn,
            status: state
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "unknown".into()),
            health: match state {
                Some(LoadBalancerStateEnum::Active) => Health::Healthy,
                Some(LoadBalancerStateEnum::Failed) => Health::Unhealthy,
                Some(_) => Health::Degraded,
                None => Health::Unknown,
            },
            zones: lb
                .availability_zones()
                .iter()
                .filter_map(|z| z.zone_name().map(str::to_string))
                .collect(),
            tasks: None,
            details: vec![
                (
                    "type".into(),
                    lb.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                ),
                ("listeners".into(), listener_text.join(", ")),
                ("DNS".into(), lb.dns_name().unwrap_or_default().to_string()),
            ],
            links,
            service: None,
        });
    }
    for (tg, states) in tgs.iter().zip(health) {
        let healthy = states.iter().filter(|s| **s == TargetHealthStateEnum::Healthy).count();
        let unhealthy = states
            .iter()
            .filter(|s| **s == TargetHealthStateEnum::Unhealthy)
            .count();
        let attached = !tg.load_balancer_arns().is_empty();
        let (status, health) = if states.is_empty() {
            (
                if attached { "no targets" } else { "unused" }.to_string(),
                Health::Healthy,
            )
        } else if unhealthy == states.len() {
            (format!("{unhealthy} unhealthy"), Health::Unhealthy)
        } else if unhealthy > 0 {
            (format!("{healthy} healthy, {unhealthy} unhealthy"), Health::Degraded)
        } else {
            (format!("{healthy} healthy of {}", states.len()), Health::Healthy)
        };
        out.push(Resource {
            kind: ResourceKind::TargetGroup,
            name: tg.target_group_name().unwrap_or_default().to_string(),
            id: tg.target_group_arn().unwrap_or_default().to_string(),
            status,
            health,
            zones: vec![],
            tasks: None,
            details: vec![
                (
                    "port".into(),
                    format!(
                        "{} {}",
                        tg.protocol().map(|p| p.as_str()).unwrap_or(""),
                        tg.port().unwrap_or(0)
                    ),
                ),
                (
                    "target type".into(),
                    tg.target_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                ),
                (
                    "load balancers".into(),
                    if attached {
                        tg.load_balancer_arns().len().to_string()
                    } else {
                        "none".into()
                    },
                ),
            ],
            links: vec![],
            service: None,
        });
    }
    Ok(out)
}

/// Target groups an action forwards to (simple forward or weighted forward config).
fn action_targets(a: &Action) -> Vec<String> {
    let mut out: Vec<String> = a.target_group_arn().map(str::to_string).into_iter().collect();
    if let Some(f) = a.forward_config() {
        out.extend(
            f.target_groups()
                .iter()
                .filter_map(|t| t.target_group_arn().map(str::to_string)),
        );
    }
    out
}
