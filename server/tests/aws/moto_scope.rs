//! Two environments in one account and region, told apart only by their tags (the common real
//! layout): neither sees the other's resources, alarms, backups or status results.

use crate::common;
use crate::fixtures;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic, Tag};
use serde_json::Value;

const REGION: &str = "eu-north-1";

struct Seeded {
    tag: String,
    cluster: String,
    service: String,
    function: String,
    stack: String,
    alarms: Vec<String>,
    vault: String,
    plan: String,
}

async fn sdk(moto: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(moto)
        .load()
        .await
}

async fn alarm(cw: &aws_sdk_cloudwatch::Client, name: &str, dims: &[(&str, &str)], tag: Option<&str>) {
    let mut req = cw
        .put_metric_alarm()
        .alarm_name(name)
        .namespace(if dims.is_empty() { "Shop" } else { "AWS/ECS" })
        .metric_name(if dims.is_empty() { "Backlog" } else { "CPUUtilization" })
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .set_dimensions(Some(
            dims.iter()
                .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                .collect(),
        ));
    if let Some(t) = tag {
        req = req.tags(Tag::builder().key("Environment").value(t).build());
    }
    req.send().await.expect("PutMetricAlarm");
}

/// A tagged cluster with a service (desired 0, so it is at its desired count), an untagged alarm
/// on the service, a tagged alarm on no resource, and a tagged backup vault and plan.
async fn seed(config: &aws_config::SdkConfig, name: &str) -> Seeded {
    let tag = format!("{name}-{:08x}", rand::random::<u32>());
    let ecs = aws_sdk_ecs::Client::new(config);
    let cluster = format!("{tag}-cluster");
    let service = format!("{tag}-api");
    fixtures::tagged_cluster(&ecs, &cluster, &tag).await;
    ecs.register_task_definition()
        .family(&service)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("api")
                .image("api:1")
                .memory(512)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    ecs.create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(&service)
        .desired_count(0)
        .send()
        .await
        .expect("CreateService");
    let cw = aws_sdk_cloudwatch::Client::new(config);
    let on_service = format!("{tag}-api-5xx");
    alarm(
        &cw,
        &on_service,
        &[("ClusterName", &cluster), ("ServiceName", &service)],
        None,
    )
    .await;
    let tagged = format!("{tag}-orders-backlog");
    alarm(&cw, &tagged, &[], Some(&tag)).await;
    let backup = aws_sdk_backup::Client::new(config);
    let vault = format!("{tag}-vault");
    backup
        .create_backup_vault()
        .backup_vault_name(&vault)
        .backup_vault_tags("Environment", &tag)
        .send()
        .await
        .expect("CreateBackupVault");
    let plan = format!("{tag}-daily");
    backup
        .create_backup_plan()
        .backup_plan(
            aws_sdk_backup::types::BackupPlanInput::builder()
                .backup_plan_name(&plan)
                .rules(
                    aws_sdk_backup::types::BackupRuleInput::builder()
                        .rule_name("daily")
                        .target_backup_vault_name(&vault)
                        .schedule_expression("cron(0 2 * * ? *)")
                        .build()
                        .expect("rule"),
                )
                .build()
                .expect("plan"),
        )
        .backup_plan_tags("Environment", &tag)
        .send()
        .await
        .expect("CreateBackupPlan");
    // A function (production's fails 10 % of its calls) and a stack, each tagged.
    let role = fixtures::lambda_role(config, &format!("{tag}-fn")).await;
    let function = format!("{tag}-worker");
    fixtures::function(config, &function, &role, &tag).await;
    let dim = ("FunctionName", function.as_str());
    fixtures::put(&cw, "AWS/Lambda", "Invocations", dim, 100.0).await;
    fixtures::put(
        &cw,
        "AWS/Lambda",
        "Errors",
        dim,
        if name == "prod" { 10.0 } else { 0.0 },
    )
    .await;
    let stack = format!("{tag}-stack");
    fixtures::stack(config, &stack, &tag).await;
    let mut alarms = vec![on_service, tagged];
    alarms.sort();
    Seeded {
        tag,
        cluster,
        service,
        function,
        stack,
        alarms,
        vault,
        plan,
    }
}

fn config(moto: &str, staging: &Seeded, prod: &Seeded) -> String {
    format!(
        r#"demo = false
[[environments]]
name = "shop-staging"
tier = "staging"
region = "{REGION}"
endpoint_url = "{moto}"
selector = {{ tag_key = "Environment", tag_value = "{}" }}

[[environments]]
name = "shop-prod"
tier = "prod"
region = "{REGION}"
endpoint_url = "{moto}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"
selector = {{ tag_key = "Environment", tag_value = "{}" }}
"#,
        staging.tag, prod.tag
    )
}

fn names(v: &Value, kind: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .expect("a list")
        .iter()
        .filter(|r| kind.is_none_or(|k| r["kind"] == k))
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn two_environments_in_one_account_and_region_see_only_their_own() {
    let _turn = common::moto_turn().await;
    let moto = common::moto_url();
    let aws = sdk(&moto).await;
    let staging = seed(&aws, "staging").await;
    let prod = seed(&aws, "prod").await;
    let cw = aws_sdk_cloudwatch::Client::new(&aws);
    // Alarms that are nobody's: untagged on a custom metric, and one that watches a resource of
    // each environment.
    alarm(&cw, "shared-billing", &[], None).await;
    alarm(
        &cw,
        "mixed-cpu",
        &[("ClusterName", &prod.cluster), ("ServiceName", &staging.service)],
        None,
    )
    .await;

    let toml = config(&moto, &staging, &prod);
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = fixtures::config_file(dir.path(), &toml);
    let app = common::spawn_app_with(&toml).await;

    for (env, mine) in [("shop-staging", &staging), ("shop-prod", &prod)] {
        let (status, detail) = app.call("environments/get", &[("name", env)]).await;
        assert_eq!(status, 200, "{detail}");
        let inv = &detail["inventory"];
        assert_eq!(inv["notes"], serde_json::json!([]), "{env}: every part read");
        assert_eq!(
            names(&inv["resources"], Some("EcsCluster")),
            vec![mine.cluster.clone()],
            "{env}"
        );
        assert_eq!(
            names(&inv["resources"], Some("EcsService")),
            vec![mine.service.clone()],
            "{env}"
        );
        assert_eq!(names(&inv["alarms"], None), mine.alarms, "{env}: its own alarms only");
        assert_eq!(
            names(&inv["resources"], Some("Lambda")),
            vec![mine.function.clone()],
            "{env}"
        );
        assert_eq!(
            names(&inv["resources"], Some("CloudFormationStack")),
            vec![mine.stack.clone()],
            "{env}"
        );
        let (status, backups) = app.call("environments/backups", &[("name", env)]).await;
        assert_eq!(status, 200, "{backups}");
        let plans: Vec<&str> = backups["plans"]
            .as_array()
            .expect("plans")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(plans, vec![mine.plan.as_str()], "{env}: its own backup plan only");
        let vaults: Vec<&str> = backups["vaults"]
            .as_array()
            .expect("vaults")
            .iter()
            .filter_map(|v| v[0].as_str())
            .collect();
        assert_eq!(vaults, vec![mine.vault.as_str()], "{env}: its own vault only");
    }

    // Production's alarm fires: production is unhealthy (exit 2), staging is not touched by it.
    cw.set_alarm_state()
        .alarm_name(&prod.alarms[0])
        .state_value(StateValue::Alarm)
        .state_reason("set by the test")
        .send()
        .await
        .expect("SetAlarmState");
    let (code, report) = common::status_cli(&config_path, "shop-prod");
    assert_eq!(code, Some(2), "{report}");
    assert!(
        fixtures::check(&report, "active_alarms")["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&prod.alarms[0])),
        "{report}"
    );
    let (code, report) = common::status_cli(&config_path, "shop-staging");
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        fixtures::check(&report, "active_alarms")["detail"],
        "none of 2 alarms is firing",
        "{report}"
    );
    assert!(
        !report.to_string().contains(&prod.tag),
        "nothing of production: {report}"
    );
    assert_eq!(
        fixtures::check(&report, "lambda_error_rate")["level"],
        "healthy",
        "{report}"
    );
    // Production's failing function is production's finding.
    let (_, report) = common::status_cli(&config_path, "shop-prod");
    let lambda = fixtures::check(&report, "lambda_error_rate");
    assert_eq!(lambda["level"], "degraded", "{report}");
    assert!(
        lambda["detail"].as_str().is_some_and(|d| d.starts_with(&prod.function)),
        "{lambda}"
    );

    // The incident alarm poll reads the same scoped set.
    let staging_meta = app.state.environment("shop-staging").expect("meta").clone();
    let polled = app
        .state
        .cloud(&staging_meta)
        .alarms_now("shop-staging")
        .await
        .expect("alarms now");
    let mut polled: Vec<String> = polled.into_iter().map(|a| a.name).collect();
    polled.sort();
    assert_eq!(polled, staging.alarms);
}

/// When the tagged resources cannot be read, whose an alarm or backup is cannot be told: nothing
/// is claimed, the status check says it cannot check (exit 3) rather than counting another
/// environment's alarms, and rollbacks wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_whose_tags_cannot_be_read_claims_nothing() {
    let _turn = common::moto_turn().await;
    use crate::common::{Hold, proxied_moto};
    let moto = common::moto_url();
    let aws = sdk(&moto).await;
    let staging = seed(&aws, "staging").await;
    let prod = seed(&aws, "prod").await;
    aws_sdk_cloudwatch::Client::new(&aws)
        .set_alarm_state()
        .alarm_name(&staging.alarms[0])
        .state_value(StateValue::Alarm)
        .state_reason("set by the test")
        .send()
        .await
        .expect("SetAlarmState");
    // The tagging API refuses the read role (its requests are JSON naming the tag filters).
    let refuse = |seen: &str| {
        if seen.contains("TagFilters") {
            Hold::Refuse("AccessDeniedException")
        } else {
            Hold::Pass
        }
    };
    let endpoint = proxied_moto(moto.clone(), std::sync::Arc::new(refuse)).await;
    let toml = config(&endpoint, &staging, &prod);
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = fixtures::config_file(dir.path(), &toml);
    let app = common::spawn_app_with(&toml).await;

    let (_, detail) = app.call("environments/get", &[("name", "shop-prod")]).await;
    let inv = &detail["inventory"];
    assert!(
        inv["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x["part"] == "scope")),
        "{}",
        inv["notes"]
    );
    assert_eq!(inv["alarms"], serde_json::json!([]), "no alarm is claimed");
    let (_, backups) = app.call("environments/backups", &[("name", "shop-prod")]).await;
    assert_eq!(backups["plans"], serde_json::json!([]), "no plan is claimed");
    assert!(
        backups["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x["part"] == "scope")),
        "the backups page says why it claims none: {backups}"
    );
    // The incident poller is told it cannot see, rather than "nothing is firing".
    let meta = app.state.environment("shop-prod").expect("meta").clone();
    let polled = app.state.cloud(&meta).alarms_now("shop-prod").await;
    assert!(polled.is_err(), "{polled:?}");

    let (code, report) = tokio::task::spawn_blocking(move || common::status_cli(&config_path, "shop-prod"))
        .await
        .expect("status");
    assert_eq!(
        code,
        Some(3),
        "staging's firing alarm must not make production unhealthy: {report}"
    );
    assert!(
        report["checks"]
            .as_array()
            .is_some_and(|c| c.iter().all(|x| x["available"] == false)),
        "{report}"
    );

    let alice = app.session_as("alice", "responder").await;
    let (s, incident) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "shop-prod"),
                ("title", "checkout 5xx"),
                ("severity", "2"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{incident}");
    let incident = incident.as_i64().expect("incident id").to_string();
    let (status, body) = app
        .call_as(
            &alice,
            "rollbacks/request",
            &[
                ("environment", "shop-prod"),
                ("cluster", &prod.cluster),
                ("service", &prod.service),
                ("to", "x:1"),
                ("reason", "bad release"),
                ("incident", &incident),
            ],
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.to_string().contains("rollback waits"), "{body}");
}
