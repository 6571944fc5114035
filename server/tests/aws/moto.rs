//! SdkCloud through the real AWS SDK against moto (started and seeded by scripts/test.sh with
//! scripts/seed_moto.py), and against an endpoint that accepts connections and never answers.

use crate::common;
use serde_json::Value;
use std::time::{Duration, Instant};

fn moto() -> (String, Value) {
    let url = std::env::var("OPS_CONSOLE_TEST_MOTO_URL")
        .expect("OPS_CONSOLE_TEST_MOTO_URL is not set: run the tests with `make test`, which starts moto");
    let seed_path = std::env::var("OPS_CONSOLE_TEST_MOTO_SEED").expect("OPS_CONSOLE_TEST_MOTO_SEED");
    let seed = std::fs::read_to_string(seed_path).expect("seed file");
    (url, serde_json::from_str(&seed).expect("seed json"))
}

fn two_environments(moto: &str) -> String {
    format!(
        r#"demo = false
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{moto}"
selector = {{ tag_key = "Environment", tag_value = "production" }}

[[environments]]
name = "taskflow-dr"
tier = "staging"
region = "us-west-2"
endpoint_url = "{moto}"
"#
    )
}

fn names_of<'a>(resources: &'a [Value], kind: &str) -> Vec<&'a str> {
    let mut v: Vec<&str> = resources
        .iter()
        .filter(|r| r["kind"] == kind)
        .filter_map(|r| r["name"].as_str())
        .collect();
    v.sort();
    v
}

fn strs(v: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test]
async fn two_regions_on_moto_show_what_was_seeded() {
    let _turn = common::moto_turn().await;
    let (url, seed) = moto();
    let app = common::spawn_app_with(&two_environments(&url)).await;

    let (status, list) = app.call("environments/list", &[]).await;
    assert_eq!(status, 200, "{list}");
    let envs = list.as_array().expect("list");
    assert_eq!(envs.len(), 2);
    for e in envs {
        assert_eq!(e["demo"], false);
        assert!(e["error"].is_null(), "{e}");
    }
    let by_name = |n: &str| envs.iter().find(|e| e["name"] == n).cloned().expect(n);
    assert_eq!(by_name("taskflow-dr")["region"], "us-west-2");

    for (env, key) in [("taskflow-production", "primary"), ("taskflow-dr", "dr")] {
        let s = &seed[key];
        let (status, detail) = app.call("environments/get", &[("name", env)]).await;
        assert_eq!(status, 200, "{detail}");
        let inv = &detail["inventory"];
        assert_eq!(inv["notes"], serde_json::json!([]), "{env}: every part read");
        let resources = inv["resources"].as_array().expect("resources");
        assert_eq!(
            names_of(resources, "EcsCluster"),
            vec![s["cluster"].as_str().expect("cluster")],
            "{env}"
        );
        assert_eq!(names_of(resources, "EcsService"), strs(&s["services"]), "{env}");
        assert_eq!(names_of(resources, "LoadBalancer"), strs(&s["load_balancers"]), "{env}");
        assert_eq!(names_of(resources, "TargetGroup"), strs(&s["target_groups"]), "{env}");
        assert_eq!(names_of(resources, "RdsInstance"), strs(&s["db_instances"]), "{env}");
        let svc = resources.iter().find(|r| r["kind"] == "EcsService").expect("service");
        let tasks = s["tasks"].as_u64().expect("tasks");
        assert_eq!(
            svc["tasks"]["running"].as_u64(),
            Some(tasks),
            "{env}: running = desired after UpdateService"
        );
        assert_eq!(svc["tasks"]["desired"].as_u64(), Some(tasks));
        assert_eq!(
            svc["service"]["tasks"].as_array().map(Vec::len),
            Some(tasks as usize),
            "{env}: RunTask tasks"
        );
        assert_eq!(svc["service"]["cpu"], "1024");
        // Blue/green: the green target group is listed though nothing points at it.
        let green = resources
            .iter()
            .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with("-green")))
            .expect("green");
        assert_eq!(green["status"], "unused");
        let blue = resources
            .iter()
            .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with("-blue")))
            .expect("blue");
        assert_eq!(
            blue["links"],
            serde_json::json!([svc["id"]]),
            "the blue target group feeds the service"
        );
        assert!(
            blue["status"]
                .as_str()
                .is_some_and(|st| st.contains(&format!("{tasks} healthy"))),
            "{blue}"
        );
    }

    // Tagged resources of the production selector, by type; the untagged cluster is left out.
    let (_, detail) = app.call("environments/get", &[("name", "taskflow-production")]).await;
    let resources = detail["inventory"]["resources"].as_array().expect("resources");
    assert_eq!(names_of(resources, "Lambda"), vec!["taskflow-production-worker"]);
    assert_eq!(names_of(resources, "S3Bucket"), vec!["taskflow-production-static"]);
    assert_eq!(names_of(resources, "DynamoDb"), vec!["taskflow-production-sessions"]);
    assert!(!names_of(resources, "EcsCluster").contains(&"scratch-untagged"));

    // The service page.
    let service = seed["primary"]["services"][0].as_str().expect("service name");
    let (status, view) = app
        .call(
            "environments/service",
            &[("name", "taskflow-production"), ("service", service)],
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["service"]["service"]["task_definition"], format!("{service}:1"));
    let upstream = names_of(view["upstream"].as_array().expect("upstream"), "LoadBalancer");
    assert_eq!(upstream, vec!["taskflow-production-alb"]);
    let (status, _) = app
        .call(
            "environments/service",
            &[("name", "taskflow-production"), ("service", "nope")],
        )
        .await;
    assert_eq!(status, 404);

    // Every call is counted; a second look within the TTL is served from the cache.
    let calls = app.state.metrics.aws_calls(None);
    assert!(
        app.state.metrics.aws_calls(Some("ListClusters")) >= 2,
        "one per environment"
    );
    app.call("environments/get", &[("name", "taskflow-production")]).await;
    assert_eq!(app.state.metrics.aws_calls(None), calls, "cached: no new AWS calls");
    let (_, text) = app.page("/metrics").await;
    assert!(
        text.contains(r#"ops_console_aws_calls_total{service="ECS",operation="DescribeServices",outcome="ok"}"#),
        "{text}"
    );

    // The topology page is server-rendered with the diagram.
    let (status, html) = app.page("/env/taskflow-production").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"topology\""), "diagram rendered");
    assert!(
        html.contains(&format!("/env/taskflow-production/services/{service}")),
        "service linked"
    );
    assert!(!html.contains("Demo data"), "live data is not labelled as demo");
}

/// An endpoint that accepts connections and never answers: the page still comes back within 5 s,
/// with the error said, not a 5xx.
#[tokio::test]
async fn a_silent_endpoint_gives_an_error_banner_not_a_hang() {
    let _turn = common::moto_turn().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock); // keep it open, say nothing
        }
    });
    let config = format!(
        "demo = false\n[[environments]]\nname = \"silent\"\ntier = \"prod\"\nregion = \"us-east-1\"\nendpoint_url = \"http://{addr}\"\n"
    );
    let app = common::spawn_app_with(&config).await;
    let started = Instant::now();
    let page = app
        .client
        .get(format!("{}/env/silent", app.url))
        .send()
        .await
        .expect("page");
    let status = page.status();
    let html = page.text().await.expect("html");
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(html.contains("Could not read this environment"), "error banner");
    let (_, list) = app.call("environments/list", &[]).await;
    let env = &list[0];
    assert_eq!(env["health"], "unknown");
    assert!(env["error"].as_str().is_some_and(|e| e.contains("ECS")), "{env}");
    // Within the retry interval, viewers get the error at once instead of waiting for another
    // timeout: no new AWS call is made.
    let calls = app.state.metrics.aws_calls(None);
    app.call("environments/list", &[]).await;
    assert_eq!(app.state.metrics.aws_calls(None), calls);
}

async fn set_alarm(moto: &str, name: &str, state: aws_sdk_cloudwatch::types::StateValue) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .load()
        .await;
    aws_sdk_cloudwatch::Client::new(&config)
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason("set by the test")
        .send()
        .await
        .expect("SetAlarmState");
}

fn status(config_path: &std::path::Path) -> (Option<i32>, Value) {
    common::status_cli(config_path, "taskflow-production")
}

/// Metrics put into moto show on the metrics page with the alarm thresholds; an alarm set to ALARM
/// is listed as firing with its severity and makes `ops-console status` exit non-zero; with every
/// alarm OK it exits 0. Backup jobs (which moto lacks) are "not available" and do not count.
#[tokio::test]
async fn metrics_alarms_and_the_status_check_against_moto() {
    let _turn = common::moto_turn().await;
    let (url, seed) = moto();
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("console.toml");
    let db = format!("database_url = \"sqlite://{}/c.db\"\n", dir.path().display());
    std::fs::write(&config_path, format!("{db}{}", two_environments(&url))).expect("config");

    let app = common::spawn_app_with(&two_environments(&url)).await;
    let (status_code, view) = app
        .call(
            "environments/metrics",
            &[("name", "taskflow-production"), ("range", "1h")],
        )
        .await;
    assert_eq!(status_code, 200, "{view}");
    let charts = view["charts"].as_array().expect("charts");
    let chart = |prefix: &str| {
        charts
            .iter()
            .find(|c| c["title"].as_str().is_some_and(|t| t.starts_with(prefix)))
            .expect(prefix)
    };
    let requests = chart("Requests/s");
    let per_second = seed["primary"]["requests_per_minute"].as_f64().expect("rpm") / 60.0;
    let points = requests["series"][0]["points"].as_array().expect("points");
    assert!(
        points.len() >= 25,
        "the last 30 minutes, one point a minute: {}",
        points.len()
    );
    assert!(
        points
            .iter()
            .all(|p| (p[1].as_f64().unwrap_or(0.0) - per_second).abs() < 1e-9),
        "{requests}"
    );
    assert_eq!(chart("5xx")["threshold"], 10.0, "the 5xx alarm's threshold is drawn");
    assert_eq!(chart("CPU and memory")["threshold"], 85.0);
    assert!(
        chart("DB connections")["note"]
            .as_str()
            .is_some_and(|n| n.contains("no data points"))
    );
    let (code, _) = app
        .call(
            "environments/metrics",
            &[("name", "taskflow-production"), ("range", "2h")],
        )
        .await;
    assert_eq!(code, 422, "unknown range refused");

    let (_, backups) = app
        .call("environments/backups", &[("name", "taskflow-production")])
        .await;
    assert_eq!(
        strs(&serde_json::json!(
            backups["plans"]
                .as_array()
                .expect("plans")
                .iter()
                .map(|p| p["name"].clone())
                .collect::<Vec<_>>()
        )),
        strs(&seed["primary"]["backup_plans"])
    );
    assert!(backups["jobs"].is_null(), "moto has no backup jobs: not available");
    let points: Vec<&str> = backups["recovery_points"]
        .as_array()
        .expect("recovery points")
        .iter()
        .filter_map(|p| p["resource"].as_str())
        .collect();
    assert_eq!(
        points.len(),
        1,
        "the primary's automated backups, not the replica's: {points:?}"
    );
    assert!(points[0].ends_with(":db:taskflow-production"), "{points:?}");

    // Every alarm OK (the seeded ones start without data): healthy, exit 0.
    for name in seed["primary"]["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .filter_map(Value::as_str)
    {
        set_alarm(&url, name, aws_sdk_cloudwatch::types::StateValue::Ok).await;
    }
    let (code, report) = status(&config_path);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["level"], "healthy");
    let backups_check = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "backups")
        .expect("backups");
    // moto has no backup jobs or protected resources, but the database's automated backups
    // (LatestRestorableTime) count against the RPO.
    assert_eq!(backups_check["available"], true, "{backups_check}");
    assert_eq!(backups_check["level"], "healthy", "{backups_check}");

    // The 5xx alarm fires: SEV1 by the default rules, so unhealthy, exit 2.
    set_alarm(
        &url,
        "taskflow-production-5xx",
        aws_sdk_cloudwatch::types::StateValue::Alarm,
    )
    .await;
    let (code, report) = status(&config_path);
    assert_eq!(code, Some(2), "{report}");
    let alarms = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "active_alarms")
        .expect("alarms");
    assert_eq!(alarms["level"], "unhealthy");
    assert!(
        alarms["detail"]
            .as_str()
            .is_some_and(|d| d.contains("taskflow-production-5xx (SEV1)")),
        "{alarms}"
    );
    // The page lists it as firing with its severity (a fresh console: no cached alarms).
    let fresh = common::spawn_app_with(&two_environments(&url)).await;
    let (_, view) = fresh
        .call(
            "environments/metrics",
            &[("name", "taskflow-production"), ("range", "1h")],
        )
        .await;
    let firing: Vec<&Value> = view["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .filter(|a| a["state"] == "ALARM")
        .collect();
    assert_eq!(firing.len(), 1);
    assert_eq!(
        (firing[0]["name"].as_str(), firing[0]["severity"].as_u64()),
        (Some("taskflow-production-5xx"), Some(1))
    );

    set_alarm(
        &url,
        "taskflow-production-5xx",
        aws_sdk_cloudwatch::types::StateValue::Ok,
    )
    .await;
    let (code, _) = status(&config_path);
    assert_eq!(code, Some(0));

    // An environment the console does not know: could not check at all, exit 3.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ops-console"))
        .args(["status", "--env", "nope", "--json", "--config"])
        .arg(&config_path)
        .output()
        .expect("run status");
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
}
