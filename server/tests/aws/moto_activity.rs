//! Logs, Logs Insights, recent changes and session events (issue 16) against moto: two
//! environments in one account and region, told apart by their tags, each reading only its own
//! log groups and changes. CloudTrail LookupEvents, which moto lacks, is answered by the proxy
//! in front of moto with the events the test records (`Hold::Answer`).

use crate::common::{self, Hold, Rule, proxied_moto, spawn_app_with};
use crate::fixtures;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const REGION: &str = "ap-south-1";

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .load()
        .await
}

struct Env {
    tag: String,
    function: String,
    service: String,
    group: String,
}

/// A tagged function and a tagged cluster with a service whose task definition sends its
/// container's logs to `/ecs/{tag}` with the stream prefix `ecs`.
async fn seed(aws: &aws_config::SdkConfig, name: &str) -> Env {
    let tag = format!("{name}-{:08x}", rand::random::<u32>());
    let role = fixtures::lambda_role(aws, &format!("{tag}-fn")).await;
    let function = format!("{tag}-worker");
    fixtures::function(aws, &function, &role, &tag).await;
    let ecs = aws_sdk_ecs::Client::new(aws);
    let cluster = format!("{tag}-cluster");
    fixtures::tagged_cluster(&ecs, &cluster, &tag).await;
    let service = format!("{tag}-api");
    let group = format!("/ecs/{tag}");
    ecs.register_task_definition()
        .family(&service)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("api")
                .image("api:1")
                .memory(512)
                .log_configuration(
                    aws_sdk_ecs::types::LogConfiguration::builder()
                        .log_driver(aws_sdk_ecs::types::LogDriver::Awslogs)
                        .options("awslogs-group", &group)
                        .options("awslogs-region", REGION)
                        .options("awslogs-stream-prefix", "ecs")
                        .build()
                        .expect("log configuration"),
                )
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
    Env {
        tag,
        function,
        service,
        group,
    }
}

/// Log events into a stream (created with its group when new), `ago` seconds before now each.
async fn put(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, stream: &str, lines: &[(i64, &str)]) {
    let _ = logs.create_log_group().log_group_name(group).send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut events: Vec<_> = lines
        .iter()
        .map(|(ago, m)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - ago * 1000)
                .message(*m)
                .build()
                .expect("event")
        })
        .collect();
    events.sort_by_key(|e| e.timestamp());
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("PutLogEvents");
}

fn config(endpoint: &str, a: &Env, b: &Env, extra: &str) -> String {
    format!(
        r#"demo = false
[[environments]]
name = "shop-prod"
tier = "prod"
region = "{REGION}"
endpoint_url = "{endpoint}"
selector = {{ tag_key = "Environment", tag_value = "{}" }}
{extra}
[[environments]]
name = "shop-staging"
tier = "staging"
region = "{REGION}"
endpoint_url = "{endpoint}"
selector = {{ tag_key = "Environment", tag_value = "{}" }}
"#,
        a.tag, b.tag
    )
}

fn messages(v: &Value) -> Vec<String> {
    v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["message"].as_str().expect("message").to_string())
        .collect()
}

#[tokio::test]
async fn a_functions_and_a_services_logs_show_with_the_filter_and_only_the_environments_own() {
    let _turn = common::moto_turn().await;
    let moto = common::moto_url();
    let aws = sdk(&moto).await;
    let (prod, staging) = (seed(&aws, "prod").await, seed(&aws, "staging").await);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws);
    let lambda_group = format!("/aws/lambda/{}", prod.function);
    put(
        &logs,
        &lambda_group,
        "2026/12/01/[$LATEST]a",
        &[
            (300, "INFO started"),
            (200, "ERROR boom <script>alert(1)</script>"),
            (100, "ERROR boom again"),
        ],
    )
    .await;
    put(
        &logs,
        &format!("/aws/lambda/{}", staging.function),
        "s",
        &[(100, "ERROR staging's own")],
    )
    .await;
    put(
        &logs,
        &prod.group,
        "ecs/api/task-1",
        &[(120, "GET /orders 200"), (60, "ERROR db timeout")],
    )
    .await;
    put(
        &logs,
        &prod.group,
        "other/sidecar/task-1",
        &[(90, "ERROR not the service's stream")],
    )
    .await;
    put(&logs, &prod.group, "ecs/api/task-old", &[(7200, "ERROR two hours ago")]).await;

    let app = spawn_app_with(&config(&moto, &prod, &staging, "")).await;
    let dave = app.session_as("dave", "viewer").await;

    // The function's group, the filter applied, newest first, within the last 15 minutes.
    let source = format!("lambda:{}", prod.function);
    let (s, v) = app
        .call_as(
            &dave,
            "logs/read",
            &[("name", "shop-prod"), ("source", &source), ("filter", "ERROR")],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["group"], lambda_group.as_str());
    assert_eq!(
        messages(&v),
        ["ERROR boom again", "ERROR boom <script>alert(1)</script>"],
        "{v}"
    );

    // The service's task definition leads to its group and stream prefix: the sidecar's stream
    // and lines older than the window are not shown.
    let (s, v) = app
        .call_as(
            &dave,
            "logs/read",
            &[("name", "shop-prod"), ("source", &format!("service:{}", prod.service))],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["group"], prod.group.as_str());
    assert_eq!(messages(&v), ["ERROR db timeout", "GET /orders 200"], "{v}");
    assert!(v["lines"][0]["stream"] == "ecs/api/task-1", "{v}");
    // A longer window reaches back to the old task's line.
    let (_, v) = app
        .call_as(
            &dave,
            "logs/read",
            &[
                ("name", "shop-prod"),
                ("source", &format!("service:{}", prod.service)),
                ("minutes", "180"),
            ],
        )
        .await;
    assert_eq!(
        messages(&v).last().map(String::as_str),
        Some("ERROR two hours ago"),
        "{v}"
    );

    // A task of the service that ECS stopped, with why: its own stream. Once the service has a
    // known task, its view is that task's streams: a stream under the same prefix that none of
    // its tasks wrote (another service's, in a shared group) is left out. (A console started
    // now: the first one's ECS read is cached.)
    let ecs = aws_sdk_ecs::Client::new(&aws);
    let cluster = format!("{}-cluster", prod.tag);
    let task_arn = ecs
        .run_task()
        .cluster(&cluster)
        .task_definition(&prod.service)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .group(format!("service:{}", prod.service))
        .send()
        .await
        .expect("RunTask")
        .tasks()
        .first()
        .and_then(|t| t.task_arn().map(str::to_string))
        .expect("task arn");
    ecs.stop_task()
        .cluster(&cluster)
        .task(&task_arn)
        .reason("Essential container in task exited (exit code 137, OutOfMemoryError)")
        .send()
        .await
        .expect("StopTask");
    let task_id = task_arn.rsplit('/').next().expect("task id").to_string();
    put(
        &logs,
        &prod.group,
        &format!("ecs/api/{task_id}"),
        &[(30, "FATAL out of memory")],
    )
    .await;
    let later = spawn_app_with(&config(&moto, &prod, &staging, "")).await;
    let dave_later = later.session_as("dave", "viewer").await;
    let (s, v) = later
        .call_as(
            &dave_later,
            "logs/read",
            &[("name", "shop-prod"), ("source", &format!("task:{task_id}"))],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["stopped_reason"].as_str().unwrap_or("").contains("OutOfMemoryError"),
        "{v}"
    );
    assert_eq!(messages(&v), ["FATAL out of memory"], "{v}");
    let (_, v) = later
        .call_as(
            &dave_later,
            "logs/read",
            &[("name", "shop-prod"), ("source", &format!("service:{}", prod.service))],
        )
        .await;
    assert_eq!(
        messages(&v),
        ["FATAL out of memory"],
        "only its known task's stream: {v}"
    );

    // The other environment's function shares the account and region, and is not prod's.
    let theirs = format!("lambda:{}", staging.function);
    let (s, v) = app
        .call_as(&dave, "logs/read", &[("name", "shop-prod"), ("source", &theirs)])
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = app
        .call_as(&dave, "logs/read", &[("name", "shop-staging"), ("source", &theirs)])
        .await;
    assert_eq!((s, messages(&v)), (200, vec!["ERROR staging's own".to_string()]), "{v}");

    // The page shows the lines as text: the markup in a message is escaped, never HTML.
    let (s, page) = app
        .page(&format!("/env/shop-prod/logs?source={source}&filter=ERROR"))
        .await;
    assert_eq!(s, 200);
    assert!(
        page.contains("ERROR boom &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"), "a log line rendered as HTML");

    // Logs Insights over the function's group: started, then its rows.
    let (s, started) = app
        .call_as(
            &dave,
            "logs/insights/start",
            &[
                ("name", "shop-prod"),
                ("source", &source),
                ("query", "fields @timestamp, @message | sort @timestamp desc | limit 2"),
                ("minutes", "15"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{started}");
    let ticket = started["ticket"].as_str().expect("ticket").to_string();
    let done = common::eventually(std::time::Duration::from_secs(10), || {
        let (app, dave, source, ticket) = (&app, &dave, source.clone(), ticket.clone());
        async move {
            let (s, v) = app
                .call_as(
                    dave,
                    "logs/insights/get",
                    &[("name", "shop-prod"), ("source", &source), ("ticket", &ticket)],
                )
                .await;
            (s == 200 && v["status"] == "Complete").then_some(v)
        }
    })
    .await
    .expect("the query completes");
    assert_eq!(done["columns"], json!(["@timestamp", "@message"]), "{done}");
    let rows: Vec<&str> = done["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r[1].as_str().expect("message"))
        .collect();
    assert_eq!(
        rows,
        ["ERROR boom again", "ERROR boom <script>alert(1)</script>"],
        "{done}"
    );
    // The ticket names prod's query of that source: not staging's, not another source, not forged.
    for (name, src, t) in [
        ("shop-staging", source.as_str(), ticket.as_str()),
        ("shop-prod", &format!("service:{}", prod.service), ticket.as_str()),
        ("shop-prod", source.as_str(), &ticket.replace('.', ".0")),
    ] {
        let (s, v) = app
            .call_as(
                &dave,
                "logs/insights/get",
                &[("name", name), ("source", src), ("ticket", t)],
            )
            .await;
        assert!(s == 422 || s == 404, "{name} {src}: {s} {v}");
    }
    // A query that names log groups itself is refused before anything runs.
    let (s, v) = app
        .call_as(
            &dave,
            "logs/insights/start",
            &[
                ("name", "shop-prod"),
                ("source", &source),
                (
                    "query",
                    &format!("SOURCE '/aws/lambda/{}' | fields @message", staging.function),
                ),
            ],
        )
        .await;
    assert_eq!(s, 422, "{v}");
}

/// CloudTrail events as LookupEvents answers them.
fn trail_event(name: &str, source: &str, at_ms: i64, user: &str, read_only: bool, params: Value) -> Value {
    keyed_event(name, source, at_ms, user, "AKIAOTHER", read_only, params)
}

/// The same, made with the credentials of `key`.
#[allow(clippy::too_many_arguments)]
fn keyed_event(name: &str, source: &str, at_ms: i64, user: &str, key: &str, read_only: bool, params: Value) -> Value {
    let raw = json!({
        "eventSource": source,
        "eventName": name,
        "readOnly": read_only,
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::123456789012:assumed-role/r/{user}")},
        "requestParameters": params,
    });
    json!({
        "EventId": format!("{:016x}", rand::random::<u64>()),
        "EventName": name,
        "EventSource": source,
        "EventTime": at_ms as f64 / 1000.0,
        "Username": user,
        "AccessKeyId": key,
        "ReadOnly": read_only.to_string(),
        "CloudTrailEvent": raw.to_string(),
    })
}

/// A proxy answering LookupEvents from `events` (by the lookup attribute asked for), the rest
/// passed on to moto; the bodies of the lookups asked, for the test to read.
fn trail_rule(events: Arc<Mutex<Vec<Value>>>, asked: Arc<Mutex<Vec<String>>>) -> Rule {
    Arc::new(move |body: &str| {
        if !body.contains("LookupAttributes") {
            return Hold::Pass;
        }
        asked.lock().unwrap().push(body.to_string());
        let v: Value = serde_json::from_str(body).unwrap_or_default();
        let attr = &v["LookupAttributes"][0];
        let matching: Vec<Value> = events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| match attr["AttributeKey"].as_str() {
                Some("ReadOnly") => e["ReadOnly"] == attr["AttributeValue"],
                Some("AccessKeyId") => e["AccessKeyId"] == attr["AttributeValue"],
                _ => false,
            })
            .cloned()
            .collect();
        Hold::Answer(json!({ "Events": matching }).to_string())
    })
}

#[tokio::test]
async fn a_deployment_and_a_cloudtrail_event_appear_on_the_changes_page_in_time_order() {
    let _turn = common::moto_turn().await;
    let moto = common::moto_url();
    let aws = sdk(&moto).await;
    let (prod, staging) = (seed(&aws, "prod").await, seed(&aws, "staging").await);
    let now = chrono::Utc::now().timestamp_millis();
    let events = Arc::new(Mutex::new(vec![
        trail_event(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            now - 20 * 60_000,
            "carol",
            false,
            json!({"functionName": prod.function, "timeout": 60}),
        ),
        // The same account and region: staging's function, and a write on nothing of prod's.
        trail_event(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            now - 10 * 60_000,
            "carol",
            false,
            json!({"functionName": staging.function}),
        ),
        trail_event(
            "CreateBucket",
            "s3.amazonaws.com",
            now - 5 * 60_000,
            "carol",
            false,
            json!({"bucketName": "someone-elses"}),
        ),
    ]));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let endpoint = proxied_moto(moto.clone(), trail_rule(events.clone(), asked.clone())).await;
    let app = spawn_app_with(&config(&endpoint, &prod, &staging, "")).await;
    let dave = app.session_as("dave", "viewer").await;

    let (s, v) = app
        .call_as(&dave, "changes/list", &[("name", "shop-prod"), ("since", "1h")])
        .await;
    assert_eq!(s, 200, "{v}");
    let changes = v["changes"].as_array().expect("changes");
    let whats: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c["source"].as_str().unwrap_or(""), c["resource"].as_str().unwrap_or("")))
        .collect();
    // moto starts the service's deployment when it is created: after the CloudTrail event.
    let deploy = changes
        .iter()
        .position(|c| c["source"] == "Ecs" && c["resource"] == prod.service.as_str() && c["deployment"] == true)
        .unwrap_or_else(|| panic!("the deployment: {whats:?}"));
    let trail = changes
        .iter()
        .position(|c| c["source"] == "CloudTrail")
        .unwrap_or_else(|| panic!("the CloudTrail event: {whats:?}"));
    assert!(deploy < trail, "newest first: {whats:?}");
    assert_eq!(changes[trail]["who"], "carol");
    assert_eq!(changes[trail]["what"], "lambda UpdateFunctionConfiguration20150331v2");
    assert_eq!(
        changes.iter().filter(|c| c["source"] == "CloudTrail").count(),
        1,
        "staging's change and the bucket nobody here owns are not prod's: {whats:?}"
    );
    let at: Vec<i64> = changes.iter().map(|c| c["at_ms"].as_i64().expect("at")).collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "in time order: {at:?}");
    // Management writes only, over the window asked.
    let asked = asked.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .all(|b| b.contains(r#""AttributeKey":"ReadOnly""#) && b.contains(r#""AttributeValue":"false""#)),
        "{asked:?}"
    );

    // The page lists them in the same order.
    let (s, page) = app.page("/env/shop-prod/changes?since=1h").await;
    assert_eq!(s, 200);
    let (d, t) = (
        page.find("deployment of").expect("deployment row"),
        page.find("UpdateFunctionConfiguration").expect("CloudTrail row"),
    );
    assert!(d < t, "newest first on the page");
    // A window the console will not read.
    let (s, v) = app
        .call_as(&dave, "changes/list", &[("name", "shop-prod"), ("since", "30d")])
        .await;
    assert_eq!(s, 422, "{v}");
}

#[tokio::test]
async fn a_grants_session_events_show_on_its_page_and_an_emergency_review_needs_them_read() {
    let moto = common::moto_url();
    let aws = common::moto_sdk(&moto).await;
    let iam = aws_sdk_iam::Client::new(&aws);
    let name = format!("bg-{:08x}", rand::random::<u32>());
    let role = iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}"#,
        )
        .send()
        .await
        .expect("role");
    let role_arn = role.role().map(|r| r.arn().to_string()).expect("arn");
    let events = Arc::new(Mutex::new(Vec::new()));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let endpoint = proxied_moto(moto.clone(), trail_rule(events.clone(), asked.clone())).await;
    let dir = tempfile::tempdir().expect("dir");
    let cfg = format!(
        r#"demo = false
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{endpoint}"

[[environments.access_profiles]]
name = "prod-break-glass"
role_arn = "{role_arn}"
max_minutes = 30
approver_groups = ["tech-leads"]
approvals = 1
require_mfa = false
emergency = true
"#
    );
    let app = common::spawn_app_in(dir.path(), &cfg).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let (s, inc) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "orders locked"),
                ("severity", "1"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{inc}");
    let inc = inc.to_string();
    let (s, id) = app
        .call_as(
            &alice,
            "access/emergency",
            &[
                ("environment", "taskflow-production"),
                ("profile", "prod-break-glass"),
                ("incident", inc.as_str()),
                ("reason", "orders table locked"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.to_string();
    let (s, creds) = app.call_as(&alice, "access/activate", &[("id", id.as_str())]).await;
    assert_eq!(s, 200, "{creds}");
    let session = creds["session_name"].as_str().expect("session").to_string();
    assert_eq!(session, format!("req-{id}-alice"));
    let key = creds["access_key_id"].as_str().expect("key").to_string();

    // What the session did, as CloudTrail records it: a write and a read. And someone else's
    // call under the same session name (anyone who may assume some role can pick a name): the
    // grant's own are those made with its credentials.
    let now = chrono::Utc::now().timestamp_millis();
    events.lock().unwrap().extend([
        keyed_event(
            "UpdateService",
            "ecs.amazonaws.com",
            now + 1_000,
            &session,
            &key,
            false,
            json!({"service": "api"}),
        ),
        keyed_event(
            "DescribeDBInstances",
            "rds.amazonaws.com",
            now + 2_000,
            &session,
            &key,
            true,
            json!({}),
        ),
        trail_event(
            "DeleteTable",
            "dynamodb.amazonaws.com",
            now + 1_500,
            &session,
            false,
            json!({}),
        ),
    ]);
    let (s, a) = app.call_as(&bob, "access/activity", &[("id", id.as_str())]).await;
    assert_eq!(s, 200, "{a}");
    let got: Vec<(&str, &str, bool)> = a["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["what"].as_str().unwrap_or(""),
                e["who"].as_str().unwrap_or(""),
                e["read_only"] == true,
            )
        })
        .collect();
    let who = format!("alice ({session})");
    assert_eq!(
        got,
        [
            ("rds DescribeDBInstances", who.as_str(), true),
            ("ecs UpdateService", who.as_str(), false)
        ],
        "looked up by the session's name, the person named: {a}"
    );
    assert!(
        asked
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains(r#""AttributeKey":"AccessKeyId""#) && b.contains(&key)),
        "looked up by the grant's access key id"
    );

    // The request page shows the write; the read only when asked for.
    let page = bob
        .get(format!("{}/access/requests/{id}", app.url))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("ecs UpdateService") && !page.contains("rds DescribeDBInstances"),
        "{page}"
    );
    let page = bob
        .get(format!("{}/access/requests/{id}?reads=1", app.url))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("rds DescribeDBInstances"), "{page}");
    let digest = a["digest"].as_str().expect("digest").to_string();
    assert!(
        page.contains(&format!(r#"name="seen" value="{digest}""#)),
        "the review form carries what was read"
    );

    // The review needs what was read, and it must still be what CloudTrail says.
    let (s, v) = app
        .call_as(&bob, "access/review", &[("id", id.as_str()), ("note", "justified")])
        .await;
    assert_eq!(s, 422, "not read: {v}");
    // A call arrives after bob read the page. (The lookup window is cached to the minute: the
    // console restarted on the same database has none cached, as another replica would.)
    events.lock().unwrap().push(keyed_event(
        "RebootDBInstance",
        "rds.amazonaws.com",
        now + 3_000,
        &session,
        &key,
        false,
        json!({}),
    ));
    let app2 = common::spawn_app_in(dir.path(), &cfg).await;
    let bob2 = app2.session_as("bob", "approver").await;
    let review = |seen: String| {
        let (app2, bob2, id) = (&app2, &bob2, id.clone());
        async move {
            app2.call_as(
                bob2,
                "access/review",
                &[("id", id.as_str()), ("note", "justified"), ("seen", seen.as_str())],
            )
            .await
        }
    };
    let (s, v) = review(digest).await;
    assert_eq!(s, 409, "events changed since they were read: {v}");
    let (_, fresh) = app2.call_as(&bob2, "access/activity", &[("id", id.as_str())]).await;
    assert_eq!(fresh["events"].as_array().map(Vec::len), Some(3), "{fresh}");
    let (s, v) = review(fresh["digest"].as_str().expect("digest").to_string()).await;
    assert_eq!(s, 200, "{v}");

    // The incident the grant was for is open: the job step puts the session's writes on its
    // timeline, each once however often it runs.
    app::ssr::activity::sessions::record_on_timelines(&app2.state).await;
    app::ssr::activity::sessions::record_on_timelines(&app2.state).await;
    let (_, view) = app2.call_as(&bob2, "incidents/get", &[("id", inc.as_str())]).await;
    let texts: Vec<String> = view["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "access" && e["text"].as_str().unwrap_or("").contains(" called "))
        .map(|e| e["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts.len(), 2, "the two writes, once each, not the read: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("ecs UpdateService")), "{texts:?}");
}
