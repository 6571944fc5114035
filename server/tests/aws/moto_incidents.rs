//! Incidents against moto (started by scripts/test.sh): the alarm poller records a linked
//! alarm's change on the timeline by itself, and the guarded rollback calls UpdateService with
//! the previous task definition only after a second person confirms.

use crate::common::{self, eventually, spawn_app_with};
use serde_json::Value;
use std::time::Duration;

fn config(moto: &str) -> String {
    format!(
        r#"demo = false
[jobs]
alarm_poll_seconds = 1
[[environments]]
name = "taskflow-production"
tier = "prod"
region = "us-east-1"
endpoint_url = "{moto}"
operator_role_arn = "arn:aws:iam::123456789012:role/ops-console-operate"

[[environments]]
name = "taskflow-dr"
tier = "staging"
region = "us-west-2"
endpoint_url = "{moto}"
"#
    )
}

fn texts(view: &Value) -> Vec<String> {
    view["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e["kind"].as_str().unwrap_or(""),
                        e["text"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_linked_alarm_going_ok_appears_on_the_timeline_by_itself() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let url = common::moto_url();
    let cw = aws_sdk_cloudwatch::Client::new(&common::moto_sdk(&url).await);
    let alarm = format!("incident-test-5xx-{:08x}", rand::random::<u32>());
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(10.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");
    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Alarm)
        .state_reason("Threshold crossed: 42 > 10")
        .send()
        .await
        .expect("SetAlarmState ALARM");

    let app = spawn_app_with(&config(&url)).await;
    let alice = app.session_as("alice", "responder").await;
    let (s, id) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "5xx"),
                ("severity", "1"),
                ("alarms", &alarm),
            ],
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id").to_string();
    let (_, view) = app.call_as(&alice, "incidents/get", &[("id", &id)]).await;
    let first = texts(&view);
    assert!(
        first
            .iter()
            .any(|t| t.starts_with("alarm: ") && t.contains("is ALARM: Threshold crossed: 42 > 10")),
        "the triggering state starts the timeline: {first:?}"
    );

    // A note, then the alarm recovers in AWS: the poller records it without anyone asking.
    let (s, _) = app
        .call_as(&alice, "incidents/note", &[("id", &id), ("text", "scaling out")])
        .await;
    assert_eq!(s, 200);
    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Ok)
        .state_reason("Threshold not crossed")
        .send()
        .await
        .expect("SetAlarmState OK");
    let entries = eventually(Duration::from_secs(10), || async {
        let (_, view) = app.call_as(&alice, "incidents/get", &[("id", &id)]).await;
        let t = texts(&view);
        t.iter().any(|x| x.contains(&format!("{alarm} is OK"))).then_some(t)
    })
    .await
    .expect("the OK transition is on the timeline within a few poll intervals");
    let ok_at = entries.iter().position(|t| t.contains("is OK")).expect("ok");
    let note_at = entries.iter().position(|t| t.contains("scaling out")).expect("note");
    assert!(note_at < ok_at, "ordered by when things happened: {entries:?}");
    // Recorded once, however many rounds ran.
    let (_, view) = app.call_as(&alice, "incidents/get", &[("id", &id)]).await;
    assert_eq!(texts(&view).iter().filter(|t| t.contains("is OK")).count(), 1);
}

#[tokio::test]
async fn rollback_needs_a_second_person_and_calls_update_service_with_the_previous_revision() {
    let url = common::moto_url();
    let ecs = aws_sdk_ecs::Client::new(&common::moto_sdk(&url).await);
    let common::TwoRevisions {
        cluster,
        service,
        family,
        arns,
    } = common::ecs_service_on_revision_2(&ecs, "rb").await;

    let app = spawn_app_with(&config(&url)).await;
    let alice = app.session_as("alice", "responder").await;
    let bob = app.session_as("bob", "approver").await;
    let dave = app.session_as("dave", "viewer").await;
    let svc = format!("{cluster}/{service}");
    let (_, id) = app
        .call_as(
            &alice,
            "incidents/declare",
            &[
                ("environment", "taskflow-production"),
                ("title", "bad deploy"),
                ("severity", "2"),
                ("services", &svc),
            ],
        )
        .await;
    let incident = id.as_i64().expect("incident id").to_string();

    let (s, target) = app
        .call_as(
            &dave,
            "rollbacks/target",
            &[
                ("environment", "taskflow-production"),
                ("cluster", &cluster),
                ("service", &service),
            ],
        )
        .await;
    assert_eq!(s, 200, "{target}");
    assert_eq!(target["previous"], format!("{family}:1"), "{target}");
    assert!(target["disabled_reason"].is_null(), "{target}");

    let ask = [
        ("environment", "taskflow-production"),
        ("cluster", cluster.as_str()),
        ("service", service.as_str()),
        ("to", &format!("{family}:1")),
        ("reason", "5xx since 1.5.0"),
        ("incident", incident.as_str()),
    ];
    let (s, _) = app.call_as(&dave, "rollbacks/request", &ask).await;
    assert_eq!(s, 403, "a viewer cannot ask");
    let (s, rid) = app.call_as(&alice, "rollbacks/request", &ask).await;
    assert_eq!(s, 200, "{rid}");
    let rid = rid.as_i64().expect("rollback id").to_string();

    // Without a second person nothing changes in AWS.
    let (s, body) = app.call_as(&alice, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 403, "the requester cannot confirm: {body}");
    assert!(body.to_string().contains("two-person"), "{body}");
    let (s, _) = app.call_as(&dave, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 403, "a viewer cannot confirm");
    let now = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        now.services()[0].task_definition(),
        Some(arns[1].as_str()),
        "still on revision 2"
    );

    // bob confirms: UpdateService with revision 1's ARN.
    let (s, view) = app.call_as(&bob, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["confirmed_by"], "bob");
    let now = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        now.services()[0].task_definition(),
        Some(arns[0].as_str()),
        "rolled back to revision 1"
    );
    let (s, _) = app.call_as(&bob, "rollbacks/confirm", &[("id", &rid)]).await;
    assert_eq!(s, 409, "confirmed once");

    let (_, inc) = app.call_as(&alice, "incidents/get", &[("id", &incident)]).await;
    let t = texts(&inc);
    assert!(t.iter().any(|x| x.contains("requested: 5xx since 1.5.0")), "{t:?}");
    assert!(
        t.iter().any(|x| x.contains("confirmed by bob (asked by alice)")),
        "{t:?}"
    );
    // The watch reports what it sees until the service is stable (or the timeout).
    let progress = eventually(Duration::from_secs(10), || async {
        let (_, inc) = app.call_as(&alice, "incidents/get", &[("id", &incident)]).await;
        let p = inc["rollbacks"][0]["progress"].as_str().unwrap_or_default().to_string();
        (p != "UpdateService sent").then_some((inc["rollbacks"][0]["status"].clone(), p))
    })
    .await
    .expect("progress after UpdateService");
    // moto never moves the deployment (shared/DESIGN.md), so the watch reports what it saw.
    assert!(progress.1.contains(&format!("service on {family}:1")), "{progress:?}");

    // An environment without an operator role explains why rollback is off.
    let (s, target) = app
        .call_as(
            &dave,
            "rollbacks/target",
            &[("environment", "taskflow-dr"), ("cluster", "x"), ("service", "y")],
        )
        .await;
    assert_eq!(s, 200, "{target}");
    assert!(
        target["disabled_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no operator role"),
        "{target}"
    );
}
