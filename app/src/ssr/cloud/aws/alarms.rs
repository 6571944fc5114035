//! CloudWatch alarms: every metric and composite alarm of the account and region
//! (DescribeAlarms, paginated), and which of them are an environment's (scope.rs).

use super::err_text;
use crate::model::{Alarm, AlarmState};
use crate::ssr::cloud::SeverityRules;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::StateValue;

/// An alarm as read, with what decides whose it is (its ARN, for the tag, and every dimension;
/// for a composite alarm, the alarms its rule names).
#[derive(Debug, Clone)]
pub struct ReadAlarm {
    pub alarm: Alarm,
    pub arn: String,
    pub dims: Vec<(String, String)>,
    pub children: Vec<String>,
}

/// The alarms of `read` that belong to the scope (all of them without one). A composite alarm
/// belongs when it carries the tag, or every alarm its rule names belongs (a composite of
/// composites too).
pub fn scoped(read: &[ReadAlarm], scope: Option<&super::scope::Scope>) -> Vec<Alarm> {
    let Some(scope) = scope else {
        return read.iter().map(|a| a.alarm.clone()).collect();
    };
    let mut ours: std::collections::HashSet<&str> = read
        .iter()
        .filter(|a| {
            if a.children.is_empty() {
                scope.has_alarm(&a.arn, &a.dims)
            } else {
                scope.has_alarm(&a.arn, &[])
            }
        })
        .map(|a| a.alarm.name.as_str())
        .collect();
    // Composites whose children are all ours, until no more join (each pass adds one at least).
    loop {
        let more: Vec<&str> = read
            .iter()
            .filter(|a| !a.children.is_empty() && !ours.contains(a.alarm.name.as_str()))
            .filter(|a| a.children.iter().all(|c| ours.contains(c.as_str())))
            .map(|a| a.alarm.name.as_str())
            .collect();
        if more.is_empty() {
            break;
        }
        ours.extend(more);
    }
    read.iter()
        .filter(|a| ours.contains(a.alarm.name.as_str()))
        .map(|a| a.alarm.clone())
        .collect()
}

/// The alarm names a composite alarm's rule refers to: `ALARM("a") OR OK(b)` → a, b. A rule with
/// any other function (`AT_LEAST(…)`) cannot be told by its children: `[""]`, which nothing
/// owns, so it belongs by its tag only.
pub fn rule_children(rule: &str) -> Vec<String> {
    let unknown = || vec![String::new()];
    let mut out = Vec::new();
    let mut rest = rule;
    while let Some(open) = rest.find('(') {
        let head = rest[..open].trim_end();
        let word = head
            .rsplit(|c: char| !c.is_ascii_alphabetic() && c != '_')
            .next()
            .unwrap_or("");
        let after = &rest[open + 1..];
        match word {
            "ALARM" | "OK" | "INSUFFICIENT_DATA" => {
                // The name: quoted (may hold parentheses) or bare up to the closing parenthesis.
                let trimmed = after.trim_start();
                let (name, tail) = match trimmed.strip_prefix('"') {
                    Some(q) => match q.find('"') {
                        Some(end) => (&q[..end], q[end + 1..].split_once(')').map(|(_, t)| t)),
                        None => return unknown(),
                    },
                    None => match trimmed.split_once(')') {
                        Some((n, t)) => (n.trim(), Some(t)),
                        None => return unknown(),
                    },
                };
                let name = name.rsplit(":alarm:").next().unwrap_or(name).trim();
                if name.is_empty() {
                    return unknown();
                }
                out.push(name.to_string());
                rest = tail.unwrap_or("");
            }
            // A group in parentheses (`(a OR b)`, after AND/OR/NOT or at the start).
            "" | "AND" | "OR" | "NOT" => rest = after,
            _ => return unknown(),
        }
    }
    if out.is_empty() { unknown() } else { out }
}

fn state_of(v: Option<&StateValue>) -> AlarmState {
    match v {
        Some(StateValue::Alarm) => AlarmState::Alarm,
        Some(StateValue::Ok) => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    }
}

pub async fn alarms(client: &Client, severity: &SeverityRules) -> Result<Vec<ReadAlarm>, String> {
    let pages: Vec<_> = client
        .describe_alarms()
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| err_text("CloudWatch DescribeAlarms", &e))?;
    let mut out = Vec::new();
    for page in pages {
        for a in page.metric_alarms() {
            let name = a.alarm_name().unwrap_or_default().to_string();
            let dims: Vec<(String, String)> = a
                .dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
                .collect();
            let alarm = Alarm {
                severity: severity.severity(&name),
                state: state_of(a.state_value()),
                reason: a.state_reason().unwrap_or_default().to_string(),
                condition: format!(
                    "{} {} {} ({} × {} s)",
                    a.metric_name().unwrap_or("?"),
                    a.comparison_operator().map(|c| c.as_str()).unwrap_or("?"),
                    a.threshold().map(|t| t.to_string()).unwrap_or_default(),
                    a.evaluation_periods().unwrap_or(1),
                    a.period().unwrap_or(0)
                ),
                since_ms: a.state_updated_timestamp().map(super::secs_to_ms).unwrap_or(0),
                resource: dims.first().map(|(_, v)| v.clone()),
                metric: match (a.namespace(), a.metric_name()) {
                    (Some(ns), Some(m)) => Some(format!("{ns}/{m}")),
                    _ => None,
                },
                threshold: a.threshold(),
                name,
            };
            out.push(ReadAlarm {
                alarm,
                arn: a.alarm_arn().unwrap_or_default().to_string(),
                dims,
                children: vec![],
            });
        }
        for a in page.composite_alarms() {
            let name = a.alarm_name().unwrap_or_default().to_string();
            let rule = a.alarm_rule().unwrap_or_default();
            let children = rule_children(rule);
            out.push(ReadAlarm {
                alarm: Alarm {
                    severity: severity.severity(&name),
                    state: state_of(a.state_value()),
                    reason: a.state_reason().unwrap_or_default().to_string(),
                    condition: rule.chars().take(200).collect(),
                    since_ms: a.state_updated_timestamp().map(super::secs_to_ms).unwrap_or(0),
                    resource: None,
                    metric: None,
                    threshold: None,
                    name,
                },
                arn: a.alarm_arn().unwrap_or_default().to_string(),
                dims: vec![],
                // A rule that names nothing cannot be told by its children: only by its tag.
                children: if children.is_empty() {
                    vec![String::new()]
                } else {
                    children
                },
            });
        }
    }
    out.sort_by(|a, b| {
        (b.alarm.state == AlarmState::Alarm)
            .cmp(&(a.alarm.state == AlarmState::Alarm))
            .then(a.alarm.severity.cmp(&b.alarm.severity))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, ResourceKind};

    #[test]
    fn a_composite_alarm_is_the_environments_when_every_alarm_it_names_is() {
        assert_eq!(
            rule_children(
                r#"ALARM("prod-5xx") OR (OK(prod-cpu) AND ALARM("arn:aws:cloudwatch:eu-west-1:1:alarm:prod-db"))"#
            ),
            vec!["prod-5xx", "prod-cpu", "prod-db"]
        );
        assert_eq!(rule_children(r#"ALARM("a (old)") AND NOT OK(b)"#), vec!["a (old)", "b"]);
        assert_eq!(
            rule_children("ALARM(prod-x) OR AT_LEAST(1, ALARM, (staging-a, staging-b))"),
            vec![""],
            "a function the console cannot read is claimed by tag only"
        );
        assert_eq!(rule_children("TRUE"), vec![""]);
        let alarm = |name: &str, dims: &[(&str, &str)], children: &[&str]| ReadAlarm {
            alarm: Alarm {
                name: name.into(),
                state: AlarmState::Ok,
                reason: String::new(),
                condition: String::new(),
                severity: crate::model::Severity::SEV3,
                since_ms: 0,
                resource: None,
                metric: None,
                threshold: None,
            },
            arn: format!("arn:{name}"),
            dims: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            children: children.iter().map(|c| c.to_string()).collect(),
        };
        let f = Resource {
            kind: ResourceKind::Lambda,
            name: "prod-fn".into(),
            id: "arn:aws:lambda:eu-west-1:1:function:prod-fn".into(),
            status: String::new(),
            health: crate::model::Health::Unknown,
            zones: vec![],
            tasks: None,
            details: vec![],
            links: vec![],
            service: None,
        };
        let scope = super::super::scope::Scope::new(&[f], &[]);
        let read = vec![
            alarm("prod-errors", &[("FunctionName", "prod-fn")], &[]),
            alarm("staging-errors", &[("FunctionName", "staging-fn")], &[]),
            alarm("prod-any", &[], &["prod-errors"]),
            alarm("mixed-any", &[], &["prod-errors", "staging-errors"]),
            alarm("names-nothing", &[], &[""]),
            alarm("prod-any-of-any", &[], &["prod-any"]),
        ];
        let names: Vec<String> = scoped(&read, Some(&scope)).into_iter().map(|a| a.name).collect();
        assert_eq!(names, vec!["prod-errors", "prod-any", "prod-any-of-any"]);
    }
}
