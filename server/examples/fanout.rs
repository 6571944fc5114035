//! Fan-out benchmark (not a test): AWS calls for one full refresh of an environment against the
//! naive count (one call per resource), and with 10 concurrent viewers against 1.
//! Run by scripts/bench.sh against moto seeded with N services and M tasks.

use app::ssr::cloud::Cloud;
use app::ssr::cloud::aws::SdkCloud;
use app::ssr::config::Config;
use app::ssr::prometheus::Metrics;
use std::sync::Arc;
use std::time::Instant;

const OPS: [&str; 15] = [
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
    let inv = cloud.inventory("bench", 0).await?;
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
    // Naive: the three list calls, then one describe per cluster, service, task and task
    // definition, and the six list/describe calls of the other parts (load balancers, target
    // groups, DB instances, DB clusters, tagged resources, alarms).
    let naive = 3 + clusters + services.len() as u64 + tasks + taskdefs.len() as u64 + 6;

    // The next refresh once the ECS entries expire (load balancers, databases and tagged
    // resources have longer TTLs, task definitions never expire).
    tokio::time::sleep(app::ssr::cloud::aws::TTL_ECS + std::time::Duration::from_secs(1)).await;
    let before = metrics.aws_calls(None);
    cloud.inventory("bench", 0).await?;
    let steady = metrics.aws_calls(None) - before;

    // Ten concurrent viewers, cold caches.
    let metrics10 = Arc::new(Metrics::default());
    let cloud10 = Arc::new(SdkCloud::new(&config.environments, metrics10.clone(), severity.clone()));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..10 {
        let c = cloud10.clone();
        handles.push(tokio::spawn(async move { c.inventory("bench", 0).await }));
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
