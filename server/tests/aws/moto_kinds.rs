//! Every kind the seeds run, read through its own SDK crate against moto with its state and its
//! numbers, and the status checks that must be able to fire on a real account: a failed stack, one
//! Lambda function of six with 5 % errors, an API's 5xx read by its name; and a CodeDeploy service
//! whose rollback is refused instead of being sent to UpdateService.

use crate::common::{self, Hold, proxied_moto};
use crate::fixtures::{self, put};
use serde_json::Value;

const REGION: &str = "eu-west-3";

async fn sdk(moto: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(moto)
        .load()
        .await
}

fn config(endpoint: &str, tag: &str) -> String {
    format!(
        r#"demo = false
[[environments]]
name = "curriculum-staging"
tier = "staging"
region = "{REGION}"
endpoint_url = "{endpoint}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
selector = {{ tag_key = "Environment", tag_value = "{tag}" }}
"#
    )
}

struct Seeded {
    tag: String,
    functions: Vec<String>,
    rest_api: String,
    http_api: String,
    rule: String,
    cache: String,
    stack: String,
    cluster: String,
    bluegreen: String,
    deployment_group: String,
}

async fn seed(aws: &aws_config::SdkConfig) -> Seeded {
    let tag = format!("staging-{:08x}", rand::random::<u32>());
    let tags = || std::collections::HashMap::from([("Environment".to_string(), tag.clone())]);
    // Six functions; the sixth fails 5 % of its invocations.
    let role = fixtures::lambda_role(aws, &format!("{tag}-lambda")).await;
    let cw = aws_sdk_cloudwatch::Client::new(aws);
    let mut functions = Vec::new();
    for i in 1..=6 {
        let name = format!("{tag}-fn-{i}");
        fixtures::function(aws, &name, &role, &tag).await;
        put(&cw, "AWS/Lambda", "Invocations", ("FunctionName", &name), 100.0).await;
        let errors = if i == 6 { 5.0 } else { 0.0 };
        put(&cw, "AWS/Lambda", "Errors", ("FunctionName", &name), errors).await;
        functions.push(name);
    }
    // A REST API whose 5xx CloudWatch keys by its name, and an HTTP API.
    let rest_api = format!("{tag}-orders");
    aws_sdk_apigateway::Client::new(aws)
        .create_rest_api()
        .name(&rest_api)
        .set_tags(Some(tags()))
        .send()
        .await
        .expect("CreateRestApi");
    put(&cw, "AWS/ApiGateway", "5XXError", ("ApiName", &rest_api), 3.0).await;
    let http_api = format!("{tag}-webhooks");
    aws_sdk_apigatewayv2::Client::new(aws)
        .create_api()
        .name(&http_api)
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
        .set_tags(Some(tags()))
        .send()
        .await
        .expect("CreateApi");
    // A schedule.
    let rule = format!("{tag}-nightly-sync");
    let events = aws_sdk_eventbridge::Client::new(aws);
    events
        .put_rule()
        .name(&rule)
        .schedule_expression("rate(1 day)")
        .tags(
            aws_sdk_eventbridge::types::Tag::builder()
                .key("Environment")
                .value(&tag)
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("PutRule");
    put(&cw, "AWS/Events", "Invocations", ("RuleName", &rule), 1.0).await;
    put(&cw, "AWS/Events", "FailedInvocations", ("RuleName", &rule), 1.0).await;
    // A Redis replication group.
    let cache = format!("{tag}-redis").chars().take(40).collect::<String>();
    aws_sdk_elasticache::Client::new(aws)
        .create_replication_group()
        .replication_group_id(&cache)
        .replication_group_description("sessions")
        .engine("redis")
        .cache_node_type("cache.t4g.small")
        .num_cache_clusters(2)
        .automatic_failover_enabled(true)
        .tags(
            aws_sdk_elasticache::types::Tag::builder()
                .key("Environment")
                .value(&tag)
                .build(),
        )
        .send()
        .await
        .expect("CreateReplicationGroup");
    // A stack.
    let stack = format!("{tag}-network");
    fixtures::stack(aws, &stack, &tag).await;
    // A tagged cluster with a service on Spot, scaled 2-8, and one deployed by CodeDeploy.
    let ecs = aws_sdk_ecs::Client::new(aws);
    let cluster = format!("{tag}-cluster");
    fixtures::tagged_cluster(&ecs, &cluster, &tag).await;
    for (family, image) in [("worker", "worker:1"), ("web", "web:1"), ("web", "web:2")] {
        ecs.register_task_definition()
            .family(format!("{tag}-{family}"))
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name(family)
                    .image(image)
                    .memory(512)
                    .build(),
            )
            .send()
            .await
            .expect("RegisterTaskDefinition");
    }
    ecs.put_cluster_capacity_providers()
        .cluster(&cluster)
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(
            aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
                .capacity_provider("FARGATE_SPOT")
                .weight(3)
                .build()
                .expect("strategy"),
        )
        .default_capacity_provider_strategy(
            aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
                .capacity_provider("FARGATE")
                .base(1)
                .weight(1)
                .build()
                .expect("strategy"),
        )
        .send()
        .await
        .expect("PutClusterCapacityProviders");
    ecs.create_service()
        .cluster(&cluster)
        .service_name("worker")
        .task_definition(format!("{tag}-worker"))
        .desired_count(0)
        .send()
        .await
        .expect("CreateService worker");
    let scaling = aws_sdk_applicationautoscaling::Client::new(aws);
    let resource_id = format!("service/{cluster}/worker");
    scaling
        .register_scalable_target()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(&resource_id)
        .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(2)
        .max_capacity(8)
        .send()
        .await
        .expect("RegisterScalableTarget");
    scaling
        .put_scaling_policy()
        .policy_name("cpu-target")
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(&resource_id)
        .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount)
        .policy_type(aws_sdk_applicationautoscaling::types::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            aws_sdk_applicationautoscaling::types::TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(60.0)
                .predefined_metric_specification(
                    aws_sdk_applicationautoscaling::types::PredefinedMetricSpecification::builder()
                        .predefined_metric_type(
                            aws_sdk_applicationautoscaling::types::MetricType::EcsServiceAverageCpuUtilization,
                        )
                        .build()
                        .expect("metric"),
                )
                .build()
                .expect("target tracking"),
        )
        .send()
        .await
        .expect("PutScalingPolicy");
    // A worker task that died, as ECS keeps it for a while with why.
    let task = ecs
        .run_task()
        .cluster(&cluster)
        .task_definition(format!("{tag}-worker"))
        .group("service:worker")
        .send()
        .await
        .expect("RunTask")
        .tasks()
        .first()
        .and_then(|t| t.task_arn().map(str::to_string))
        .expect("task arn");
    ecs.stop_task()
        .cluster(&cluster)
        .task(&task)
        .reason("Essential container in task exited (exit code 137, OutOfMemoryError)")
        .send()
        .await
        .expect("StopTask");
    let bluegreen = "web".to_string();
    ecs.create_service()
        .cluster(&cluster)
        .service_name(&bluegreen)
        .task_definition(format!("{tag}-web:2"))
        .desired_count(0)
        .deployment_controller(
            aws_sdk_ecs::types::DeploymentController::builder()
                .r#type(aws_sdk_ecs::types::DeploymentControllerType::CodeDeploy)
                .build()
                .expect("controller"),
        )
        .send()
        .await
        .expect("CreateService web");
    let codedeploy = aws_sdk_codedeploy::Client::new(aws);
    let app_name = format!("{tag}-web");
    codedeploy
        .create_application()
        .application_name(&app_name)
        .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Ecs)
        .send()
        .await
        .expect("CreateApplication");
    let deployment_group = format!("{tag}-web-dg");
    codedeploy
        .create_deployment_group()
        .application_name(&app_name)
        .deployment_group_name(&deployment_group)
        .service_role_arn(&role)
        .ecs_services(
            aws_sdk_codedeploy::types::EcsService::builder()
                .cluster_name(&cluster)
                .service_name(&bluegreen)
                .build(),
        )
        .send()
        .await
        .expect("CreateDeploymentGroup");
    Seeded {
        tag,
        functions,
        rest_api,
        http_api,
        rule,
        cache,
        stack,
        cluster,
        bluegreen,
        deployment_group,
    }
}

fn find<'a>(resources: &'a [Value], kind: &str, name: &str) -> &'a Value {
    resources
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {resources:?}"))
}

fn detail<'a>(r: &'a Value, label: &str) -> &'a str {
    r["details"]
        .as_array()
        .and_then(|d| d.iter().find(|p| p[0] == label))
        .and_then(|p| p[1].as_str())
        .unwrap_or_else(|| panic!("no detail {label} in {r}"))
}

#[tokio::test]
async fn every_kind_the_seeds_run_is_read_and_its_checks_can_fire() {
    let _turn = common::moto_turn().await;
    let moto = common::moto_url();
    let aws = sdk(&moto).await;
    let s = seed(&aws).await;
    let toml = config(&moto, &s.tag);
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = fixtures::config_file(dir.path(), &toml);
    let app = common::spawn_app_with(&toml).await;

    let (status, detail_view) = app.call("environments/get", &[("name", "curriculum-staging")]).await;
    assert_eq!(status, 200, "{detail_view}");
    let inv = &detail_view["inventory"];
    assert_eq!(inv["notes"], serde_json::json!([]), "every part read: {}", inv["notes"]);
    let resources = inv["resources"].as_array().expect("resources");
    for f in &s.functions {
        let r = find(resources, "Lambda", f);
        assert_eq!(r["status"], "Active");
        assert_eq!(detail(r, "runtime"), "python3.12");
        assert_eq!(detail(r, "memory"), "256 MB");
        assert_eq!(detail(r, "timeout"), "30 s");
        assert_eq!(detail(r, "reserved concurrency"), "unreserved");
    }
    assert_eq!(detail(find(resources, "ApiGateway", &s.rest_api), "protocol"), "REST");
    assert_eq!(detail(find(resources, "ApiGateway", &s.http_api), "protocol"), "HTTP");
    let rule = find(resources, "EventBridgeRule", &s.rule);
    assert_eq!(
        (rule["status"].as_str(), detail(rule, "schedule")),
        (Some("ENABLED"), "every 1 day")
    );
    assert!(detail(rule, "last run").ends_with(" UTC"), "{rule}");
    assert_eq!(detail(rule, "failed invocations (1 h)"), "10", "{rule}");
    assert_eq!(rule["health"], "degraded", "{rule}");
    let cache = find(resources, "ElastiCache", &s.cache);
    assert_eq!(detail(cache, "automatic failover"), "enabled");
    assert!(
        detail(cache, "nodes").starts_with(&format!("{}-00", s.cache)),
        "{cache}"
    );
    let stack = find(resources, "CloudFormationStack", &s.stack);
    assert_eq!(
        (stack["status"].as_str(), stack["health"].as_str()),
        (Some("CREATE_COMPLETE"), Some("healthy"))
    );
    let cluster = find(resources, "EcsCluster", &s.cluster);
    assert_eq!(
        detail(cluster, "default capacity providers"),
        "FARGATE_SPOT (weight 3), FARGATE (base 1, weight 1)"
    );
    let worker = find(resources, "EcsService", "worker");
    assert_eq!(
        detail(worker, "autoscaling"),
        "2–8 tasks; policies: cpu-target (TargetTrackingScaling)"
    );
    assert!(
        detail(worker, "last stopped task").ends_with("OutOfMemoryError)"),
        "{worker}"
    );
    assert_eq!(
        worker["service"]["stopped"][0]["stopped_reason"],
        "Essential container in task exited (exit code 137, OutOfMemoryError)"
    );
    let web = find(resources, "EcsService", &s.bluegreen);
    assert_eq!(detail(web, "deployment controller"), "CODE_DEPLOY");
    assert_eq!(
        detail(web, "CodeDeploy"),
        format!("{}-web/{}; no deployment yet", s.tag, s.deployment_group)
    );
    // Nothing of the other environments in the region slipped in.
    assert!(
        resources.iter().all(|r| r["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(&s.tag) || ["worker", "web"].contains(&n))
            || r["id"].as_str().is_some_and(|i| i.contains(&s.cluster))),
        "{resources:?}"
    );

    // The API's 5xx, read by its name.
    let (_, metrics) = app
        .call(
            "environments/metrics",
            &[("name", "curriculum-staging"), ("range", "1h")],
        )
        .await;
    let api_chart = metrics["charts"]
        .as_array()
        .expect("charts")
        .iter()
        .find(|c| c["title"] == format!("API 5xx and latency — {}", s.rest_api))
        .expect("api chart");
    let five = api_chart["series"]
        .as_array()
        .and_then(|x| x.iter().find(|s| s["label"] == "5xx"))
        .expect("5xx series");
    assert_eq!(five["points"].as_array().map(Vec::len), Some(10), "{api_chart}");

    // Status: the sixth function's 5 % and the API's 5xx each degrade it (exit 1).
    let (code, report) = common::status_cli(&config_path, "curriculum-staging");
    assert_eq!(code, Some(1), "{report}");
    let lambda = fixtures::check(&report, "lambda_error_rate");
    assert_eq!(lambda["level"], "degraded", "{lambda}");
    assert!(
        lambda["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with(&format!("{}: 5.00 %", s.functions[5]))),
        "{lambda}"
    );
    let api = fixtures::check(&report, "api_5xx");
    assert_eq!(api["level"], "degraded", "{api}");
    assert!(api["detail"].as_str().is_some_and(|d| d.contains("30 5xx")), "{api}");
    assert_eq!(
        fixtures::check(&report, "service_state")["level"],
        "healthy",
        "{report}"
    );

    // The environment page shows current figures from the latest datapoints.
    assert!(
        inv["gauges"]
            .as_array()
            .is_some_and(|g| g.iter().any(|x| x["label"] == "all functions — all 6 functions")),
        "{}",
        inv["gauges"]
    );

    // The service pages say who deploys and why tasks stopped.
    let (_, html) = app.page("/env/curriculum-staging/services/web").await;
    assert!(html.contains("CODE_DEPLOY"), "{html}");
    assert!(html.contains(&s.deployment_group), "the deployment group is shown");
    let (_, html) = app.page("/env/curriculum-staging/services/worker").await;
    assert!(html.contains("data-testid=\"stopped-tasks\""), "{html}");
    assert!(html.contains("OutOfMemoryError"));

    // A CodeDeploy service: the rollback is refused with the reason, UpdateService never sent.
    let alice = app.session_as("alice", "responder").await;
    let (_, target) = app
        .call_as(
            &alice,
            "rollbacks/target",
            &[
                ("environment", "curriculum-staging"),
                ("cluster", &s.cluster),
                ("service", &s.bluegreen),
            ],
        )
        .await;
    assert!(
        target["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("CodeDeploy")),
        "{target}"
    );
    let (status, body) = app
        .call_as(
            &alice,
            "rollbacks/request",
            &[
                ("environment", "curriculum-staging"),
                ("cluster", &s.cluster),
                ("service", &s.bluegreen),
                ("to", &format!("{}-web:1", s.tag)),
                ("reason", "bad release"),
            ],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("ECS refuses UpdateService"), "{body}");
    assert_eq!(app.state.metrics.aws_calls(Some("UpdateService")), 0);
}

/// moto cannot put a stack in UPDATE_ROLLBACK_FAILED, so a proxy in front of it rewrites the
/// stack's status in DescribeStacks: `ops-console status` exits 2 and says which stack and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_stack_makes_status_exit_2() {
    let _turn = common::moto_turn().await;
    let moto = common::moto_url();
    let aws = sdk(&moto).await;
    let tag = format!("stack-{:08x}", rand::random::<u32>());
    let stack = format!("{tag}-api");
    fixtures::stack(&aws, &stack, &tag).await;
    let failed = |body: &str| {
        if body.contains("Action=DescribeStacks") {
            Hold::Rewrite(|xml| {
                xml.replace(
                    "<StackStatus>CREATE_COMPLETE</StackStatus>",
                    "<StackStatus>UPDATE_ROLLBACK_FAILED</StackStatus><StackStatusReason>Resource Alerts failed to roll back</StackStatusReason>",
                )
            })
        } else {
            Hold::Pass
        }
    };
    let endpoint = proxied_moto(moto.clone(), std::sync::Arc::new(failed)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("console.toml");
    let db = format!("database_url = \"sqlite://{}/c.db\"\n", dir.path().display());
    std::fs::write(&config_path, format!("{db}{}", config(&endpoint, &tag))).expect("config");
    let (code, report) = tokio::task::spawn_blocking(move || common::status_cli(&config_path, "curriculum-staging"))
        .await
        .expect("status");
    assert_eq!(code, Some(2), "{report}");
    let state = fixtures::check(&report, "service_state");
    assert_eq!(state["level"], "unhealthy", "{state}");
    assert!(
        state["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("CloudFormation stack {stack} is UPDATE_ROLLBACK_FAILED"))),
        "{state}"
    );
}

/// A part whose call the read role may not make says so on the page, and the rest still shows.
#[tokio::test]
async fn a_refused_part_is_said_and_the_rest_still_shows() {
    let _turn = common::moto_turn().await;
    let moto = common::moto_url();
    let aws = sdk(&moto).await;
    let s = seed(&aws).await;
    let refuse_lambda = |seen: &str| {
        if seen.starts_with("GET /2015-03-31/functions") {
            Hold::Refuse("AccessDeniedException")
        } else {
            Hold::Pass
        }
    };
    let endpoint = proxied_moto(moto.clone(), std::sync::Arc::new(refuse_lambda)).await;
    let app = common::spawn_app_with(&config(&endpoint, &s.tag)).await;
    let (status, view) = app.call("environments/get", &[("name", "curriculum-staging")]).await;
    assert_eq!(status, 200, "{view}");
    let inv = &view["inventory"];
    let notes = inv["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["part"], "Lambda functions");
    assert!(
        notes[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("HTTP 403 AccessDeniedException")),
        "{notes:?}"
    );
    let resources = inv["resources"].as_array().expect("resources");
    // The functions still show as tagged rows (from the tagging API), without their details.
    let f = find(resources, "Lambda", &s.functions[0]);
    assert_eq!(f["status"], "tagged");
    find(resources, "CloudFormationStack", &s.stack);
    find(resources, "ElastiCache", &s.cache);
    find(resources, "EcsService", &s.bluegreen);
    let (_, html) = app.page("/env/curriculum-staging").await;
    assert!(html.contains("Lambda functions"), "the page names the refused part");
}
