//! Fan-out benchmark (not a test): AWS calls for one full refresh of an environment against the
//! naive count (one call per resource), and with 10 concurrent viewers against 1.
//! Run by scripts/bench.sh against moto seeded with N services and M tasks.

use app::ssr::cloud::Cloud;
use app::ssr::cloud::aws::SdkCloud;
use app::ssr::config::Config;
use app::ssr::prometheus::Metrics;
use std::sync::Arc;
use std::time::Instant;

const OPS: [&str; 29] = [
    "ListClusters",
    "DescribeClusters",
    "ListServices",
    "DescribeServices",
    "ListTasks",
    "DescribeTasks",
    "DescribeTaskDefinition",
    "DescribeLoadBalancers",
    "DescribeTargetGroups",
    "DescribeListeners",
    "DescribeTargetHealth",
    "DescribeDBInstances",
    "DescribeDBClusters",
    "GetResources",
    "DescribeAlarms",
    "DescribeStacks",
    "DescribeStackEvents",
    "ListFunctions",
    "GetFunctionConcurrency",
    "GetRestApis",
    "GetApis",
    "ListRules",
    "ListTagsForResource",
    "DescribeReplicationGroups",
    "DescribeScalableTargets",
    "DescribeScalingPolicies",
    "ListApplications",
    "GetMetricData",
    "GetDeploymentGroup",
];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = arg("--endpoint").ok_or("--endpoint URL")?;
    let region = arg("--region").unwrap_or_else(|| "eu-west-1".into());
    let toml = format!(
        "demo = false\n[[environments]]\nname = \"bench\"\ntier = \"prod\"\nregion = \"{region}\"\nendpoint_url = \"{endpoint}\"\n"
    );
    let config = Config::from_toml_with_overrides(&toml, "bench", &[])?;

    let severity = Arc::new(app::ssr::cloud::SeverityRules::new(&[]));
    // One viewer, cold caches.
    let metrics = Arc::new(Metrics::default());
    let cloud = SdkCloud::new(&config.environments, metrics.clone(), severity.clone());
    let started = Instant::now();
    let inv = cloud.inventory("bench", app::ssr::clock::now()).await?;
    let one_viewer_ms = started.elapsed().as_millis();
    if !inv.notes.is_empty() {
        return Err(format!("the refresh was incomplete: {:?}", inv.notes).into());
    }
    let calls = metrics.aws_calls(None);
    let services: Vec<_> = inv.resources.iter().filter_map(|r| r.service.as_ref()).collect();
    let clusters = inv
        .resources
        .iter()
        .filter(|r| r.kind == app::model::ResourceKind::EcsCluster)
        .count() as u64;
    let tasks: u64 = services.iter().map(|s| s.tasks.len() as u64).sum();
    let mut taskdefs: Vec<&str> = services.iter().map(|s| s.task_definition.as_str()).collect();
    taskdefs.sort();
    taskdefs.dedup();
    let count = |kind: app::model::ResourceKind| inv.resources.iter().filter(|r| r.kind == kind).count() as u64;
    let functions = count(app::model::ResourceKind::Lambda);
    let others = count(app::model::ResourceKind::CloudFormationStack)
        + count(app::model::ResourceKind::ApiGateway)
        + count(app::model::ResourceKind::EventBridgeRule)
        + count(app::model::ResourceKind::ElastiCache);
    // Naive: the four ECS list calls (with stopped tasks), then one describe per cluster, service,
    // task and task definition; the six list/describe calls of the other parts (load balancers,
    // target groups, DB instances, DB clusters, tagged resources, alarms); the eight list calls of
    // the newer kinds (stacks, functions, REST and HTTP APIs, rules, caches, scalable targets and
    // policies); one concurrency call and one metrics call per function, one describe per other
    // resource; and one metrics call per chart.
    let charts = cloud
        .metrics("bench", &inv, app::model::TimeRange::H1, app::ssr::clock::now())
        .await?
        .0
        .len() as u64;
    let naive =
        4 + clusters + services.len() as u64 + tasks + taskdefs.len() as u64 + 6 + 8 + 2 * functions + others + charts;

    // The next refresh once the ECS entries expire (load balancers, databases and tagged
    // resources have longer TTLs, task definitions never expire).
    tokio::time::sleep(app::ssr::cloud::aws::TTL_ECS + std::time::Duration::from_secs(1)).await;
    let before = metrics.aws_calls(None);
    cloud.inventory("bench", app::ssr::clock::now()).await?;
    let steady = metrics.aws_calls(None) - before;

    // Ten concurrent viewers, cold caches.
    let metrics10 = Arc::new(Metrics::default());
    let cloud10 = Arc::new(SdkCloud::new(&config.environments, metrics10.clone(), severity.clone()));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..10 {
        let c = cloud10.clone();
        handles.push(tokio::spawn(async move {
            c.inventory("bench", app::ssr::clock::now()).await
        }));
    }
    for h in handles {
        h.await??;
    }
    let ten_viewers_ms = started.elapsed().as_millis();
    let calls10 = metrics10.aws_calls(None);

    println!("| figure | value |");
    println!("| --- | ---: |");
    println!(
        "| clusters / services / tasks / task definitions | {clusters} / {} / {tasks} / {} |",
        services.len(),
        taskdefs.len()
    );
    println!("| Lambda functions / stacks, APIs, rules, caches / charts | {functions} / {others} / {charts} |");
    println!("| naive calls (one per resource + list calls) | {naive} |");
    println!("| calls for one full refresh (1 viewer, cold cache) | {calls} |");
    println!("| ratio to naive | 1/{:.1} |", naive as f64 / calls.max(1) as f64);
    println!(
        "| calls for the next refresh, {} s later (ECS expired, the rest cached) | {steady} (1/{:.1}) |",
        app::ssr::cloud::aws::TTL_ECS.as_secs() + 1,
        naive as f64 / steady.max(1) as f64
    );
    println!("| calls with 10 concurrent viewers (cold cache) | {calls10} |");
    println!(
        "| 10 viewers / 1 viewer | {:.2}x |",
        calls10 as f64 / calls.max(1) as f64
    );
    println!("| wall time, 1 viewer / 10 viewers (moto on loopback) | {one_viewer_ms} ms / {ten_viewers_ms} ms |");
    println!();
    println!("Calls by operation (1 viewer):");
    println!();
    for op in OPS {
        let n = metrics.aws_calls(Some(op));
        if n > 0 {
            println!("- {op}: {n}");
        }
    }
    Ok(())
}
