//! CloudWatch Logs: where a resource writes its logs (a Lambda's group, an ECS task definition's
//! awslogs group and stream prefix, an API stage's access log, a rule's log-group target), the
//! lines of a window with a filter pattern, newest first and bounded, and Logs Insights queries
//! over one source's group.

use super::err_text;
use crate::model::{INSIGHTS_MAX_ROWS, LogLine};
use crate::ssr::cloud::{InsightsRead, LogPlace};
use aws_sdk_cloudwatchlogs::Client as Logs;

/// FilterLogEvents pages read for one view, at most: the window is read newest slice first, so
/// when the bound is reached it is the oldest lines that are left out.
pub const MAX_PAGES: usize = 16;
/// No log view waits longer than this for its lines.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Pages one slice of the window may take before it is halved.
const SLICE_PAGES: usize = 4;
/// The window is read in this many slices, newest first.
const SLICES: i64 = 4;

/// The group of a log-group ARN (`arn:aws:logs:r:a:log-group:NAME` or `…:NAME:*`).
pub fn group_of_arn(arn: &str) -> Option<String> {
    let rest = arn.split(":log-group:").nth(1)?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then(|| name.to_string())
}

/// A Lambda function's group: its logging config's, else `/aws/lambda/{name}`.
pub async fn lambda_place(client: &aws_sdk_lambda::Client, name: &str) -> Result<LogPlace, String> {
    let out = client
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|e| err_text("Lambda GetFunctionConfiguration", &e))?;
    let group = out
        .logging_config()
        .and_then(|l| l.log_group())
        .map(str::to_string)
        .unwrap_or_else(|| format!("/aws/lambda/{name}"));
    Ok(LogPlace::group(group))
}

/// The awslogs settings of a task definition's containers: (container, group, stream prefix,
/// region).
pub async fn awslogs(
    client: &aws_sdk_ecs::Client,
    task_definition: &str,
) -> Result<Vec<(String, String, Option<String>, Option<String>)>, String> {
    let out = client
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|e| err_text("ECS DescribeTaskDefinition", &e))?;
    let mut found = Vec::new();
    for c in out
        .task_definition()
        .map(|t| t.container_definitions())
        .unwrap_or_default()
    {
        let Some(lc) = c.log_configuration() else { continue };
        if lc.log_driver().as_str() != "awslogs" {
            continue;
        }
        let opts = lc.options();
        let Some(group) = opts.and_then(|o| o.get("awslogs-group")) else {
            continue;
        };
        found.push((
            c.name().unwrap_or_default().to_string(),
            group.clone(),
            opts.and_then(|o| o.get("awslogs-stream-prefix")).cloned(),
            opts.and_then(|o| o.get("awslogs-region")).cloned(),
        ));
    }
    Ok(found)
}

/// Where an ECS service's (task `None`) or one task's lines are, from its task definition's
/// awslogs settings: the streams are `{prefix}/{container}/{task id}`.
///
/// A service's view is the streams of its known tasks (running and last stopped) when it has
/// any: two environments' services can share a group, a prefix and a container name, and only
/// the task ids tell their streams apart. Without known tasks, the prefix.
pub fn ecs_place(
    settings: &[(String, String, Option<String>, Option<String>)],
    region: &str,
    task: Option<&str>,
    known: &[String],
) -> Result<LogPlace, String> {
    let Some((_, group, _, _)) = settings.first() else {
        return Err("its task definition sends no container's logs to CloudWatch Logs (no awslogs driver)".into());
    };
    if let Some((_, _, _, Some(r))) = settings.iter().find(|(_, g, _, _)| g == group)
        && r != region
    {
        return Err(format!("its logs go to {r}, not to this environment's region {region}"));
    }
    let mine: Vec<_> = settings.iter().filter(|(_, g, _, _)| g == group).collect();
    let mut place = LogPlace::group(group.clone());
    match task {
        Some(id) => {
            place.streams = mine
                .iter()
                .filter_map(|(c, _, p, _)| p.as_ref().map(|p| format!("{p}/{c}/{id}")))
                .collect();
            if place.streams.is_empty() {
                return Err("its containers log without a stream prefix, so one task's streams cannot be told".into());
            }
        }
        None if !known.is_empty() && mine.iter().all(|(_, _, p, _)| p.is_some()) => {
            place.streams = known
                .iter()
                .flat_map(|id| {
                    mine.iter()
                        .filter_map(move |(c, _, p, _)| p.as_ref().map(|p| format!("{p}/{c}/{id}")))
                })
                .take(100)
                .collect();
        }
        None => {
            let prefixes: Vec<&String> = mine.iter().filter_map(|(_, _, p, _)| p.as_ref()).collect();
            place.prefix = match (prefixes.as_slice(), mine.as_slice()) {
                ([p], [(c, ..)]) => Some(format!("{p}/{c}/")),
                ([p, rest @ ..], _) if rest.iter().all(|r| r == p) => Some(format!("{p}/")),
                _ => None,
            };
        }
    }
    Ok(place)
}

/// An API's access log: the first stage with access logging on (REST through apigateway, HTTP
/// and WebSocket through apigatewayv2).
pub async fn api_place(
    rest: &aws_sdk_apigateway::Client,
    http: &aws_sdk_apigatewayv2::Client,
    api_id: &str,
    is_rest: bool,
) -> Result<LogPlace, String> {
    let arn = if is_rest {
        let out = rest
            .get_stages()
            .rest_api_id(api_id)
            .send()
            .await
            .map_err(|e| err_text("API Gateway GetStages", &e))?;
        out.item().iter().find_map(|s| {
            s.access_log_settings()
                .and_then(|a| a.destination_arn())
                .map(str::to_string)
        })
    } else {
        let out = http
            .get_stages()
            .api_id(api_id)
            .send()
            .await
            .map_err(|e| err_text("API Gateway GetStages", &e))?;
        out.items().iter().find_map(|s| {
            s.access_log_settings()
                .and_then(|a| a.destination_arn())
                .map(str::to_string)
        })
    };
    let arn = arn.ok_or("none of its stages writes an access log")?;
    group_of_arn(&arn)
        .map(LogPlace::group)
        .ok_or_else(|| format!("its access log goes to {arn}, not to a CloudWatch Logs group"))
}

/// The log group an EventBridge rule delivers to (a CloudWatch Logs target).
pub async fn rule_place(client: &aws_sdk_eventbridge::Client, rule: &str) -> Result<LogPlace, String> {
    let out = client
        .list_targets_by_rule()
        .rule(rule)
        .limit(100)
        .send()
        .await
        .map_err(|e| err_text("EventBridge ListTargetsByRule", &e))?;
    out.targets()
        .iter()
        .find_map(|t| group_of_arn(t.arn()))
        .map(LogPlace::group)
        .ok_or_else(|| "none of its targets is a CloudWatch Logs group".to_string())
}

/// The lines of `place` in [start, end) matching `pattern`, newest first, at most `limit`; true
/// when more may match than were read. The window is read newest slice first; a slice too busy
/// to read within `SLICE_PAGES` pages is halved toward its newer end (FilterLogEvents pages go
/// oldest first, so a cut-off read would keep the oldest lines, not the newest). At most
/// `MAX_PAGES` calls in all.
pub async fn filter(
    client: &Logs,
    place: &LogPlace,
    start_ms: i64,
    end_ms: i64,
    pattern: &str,
    limit: usize,
) -> Result<(Vec<LogLine>, bool), String> {
    let mut lines: Vec<LogLine> = Vec::new();
    let mut calls = 0;
    let mut hi = end_ms;
    let mut width = ((end_ms - start_ms) / SLICES).max(1);
    while hi > start_ms && lines.len() < limit {
        let lo = (hi - width).max(start_ms);
        match slice(client, place, lo, hi, pattern, limit, &mut calls).await? {
            Some(got) => {
                lines.extend(got);
                hi = lo;
            }
            // Too busy: the newer half of it, unless a second of lines is already too many.
            None if hi - lo > 1_000 && calls < MAX_PAGES => width = (hi - lo) / 2,
            None => return Ok((newest(lines, limit), true)),
        }
        if calls >= MAX_PAGES {
            break;
        }
    }
    let more = lines.len() > limit || hi > start_ms;
    Ok((newest(lines, limit), more))
}

/// Pages of one slice read to its end: None when it takes more than `SLICE_PAGES`.
#[allow(clippy::too_many_arguments)]
async fn slice(
    client: &Logs,
    place: &LogPlace,
    lo: i64,
    hi: i64,
    pattern: &str,
    limit: usize,
    calls: &mut usize,
) -> Result<Option<Vec<LogLine>>, String> {
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..SLICE_PAGES {
        *calls += 1;
        let mut req = client
            .filter_log_events()
            .log_group_name(&place.group)
            .start_time(lo)
            .end_time(hi - 1)
            .limit(limit.min(10_000) as i32)
            .set_next_token(token.take());
        if !pattern.is_empty() {
            req = req.filter_pattern(pattern);
        }
        if !place.streams.is_empty() {
            req = req.set_log_stream_names(Some(place.streams.iter().take(100).cloned().collect()));
        } else if let Some(p) = &place.prefix {
            req = req.log_stream_name_prefix(p);
        }
        let page = req
            .send()
            .await
            .map_err(|e| err_text("CloudWatch Logs FilterLogEvents", &e))?;
        // Only the streams asked for, whatever the endpoint did with the prefix (moto ignores
        // `logStreamNamePrefix`; a line of another task's stream is not this one's).
        let mine = page
            .events()
            .iter()
            .filter(|e| place.holds(e.log_stream_name().unwrap_or_default()));
        for e in mine {
            lines.push(LogLine {
                t_ms: e.timestamp().unwrap_or(0),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().trim_end().to_string(),
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(Some(lines)),
        }
    }
    Ok(None)
}

fn newest(mut lines: Vec<LogLine>, limit: usize) -> Vec<LogLine> {
    lines.sort_by(|a, b| b.t_ms.cmp(&a.t_ms).then_with(|| a.stream.cmp(&b.stream)));
    lines.truncate(limit);
    lines
}

/// The query narrowed to the place's streams (a group can hold other services' streams).
pub fn scoped_query(place: &LogPlace, query: &str) -> Result<String, String> {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let scope = if !place.streams.is_empty() {
        let names: Vec<String> = place.streams.iter().take(50).map(|s| quote(s)).collect();
        format!("filter @logStream in [{}]\n| ", names.join(", "))
    } else if let Some(p) = &place.prefix {
        let escaped: String = p
            .chars()
            .flat_map(|c| {
                if c.is_ascii_alphanumeric() {
                    vec![c]
                } else {
                    vec!['\\', c]
                }
            })
            .collect();
        format!("filter @logStream like /^{escaped}/\n| ")
    } else {
        String::new()
    };
    let q = format!("{scope}{query}");
    if q.chars().count() > 10_000 {
        return Err("the query and this source's stream filter together exceed 10,000 characters".into());
    }
    Ok(q)
}

/// StartQuery over one place: its query id.
pub async fn start_query(
    client: &Logs,
    place: &LogPlace,
    start_ms: i64,
    end_ms: i64,
    query: &str,
) -> Result<String, String> {
    let query = scoped_query(place, query)?;
    let out = client
        .start_query()
        .log_group_names(&place.group)
        .start_time(start_ms / 1000)
        .end_time(end_ms / 1000)
        .query_string(&query)
        .limit(INSIGHTS_MAX_ROWS)
        .send()
        .await
        .map_err(|e| err_text("CloudWatch Logs StartQuery", &e))?;
    out.query_id()
        .map(str::to_string)
        .ok_or_else(|| "CloudWatch Logs StartQuery gave no query id".into())
}

/// GetQueryResults: the status, the rows (columns in the order they first appear, `@ptr` left
/// out) and what was scanned.
pub async fn query_results(client: &Logs, id: &str) -> Result<InsightsRead, String> {
    let out = client
        .get_query_results()
        .query_id(id)
        .send()
        .await
        .map_err(|e| err_text("CloudWatch Logs GetQueryResults", &e))?;
    let mut columns: Vec<String> = Vec::new();
    for row in out.results() {
        for f in row {
            if let Some(name) = f.field()
                && name != "@ptr"
                && !columns.iter().any(|c| c == name)
            {
                columns.push(name.to_string());
            }
        }
    }
    let rows = out
        .results()
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    row.iter()
                        .find(|f| f.field() == Some(c.as_str()))
                        .and_then(|f| f.value())
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .collect();
    let stats = out.statistics();
    Ok(InsightsRead {
        status: out
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Unknown".into()),
        columns,
        rows,
        bytes_scanned: stats.map(|s| s.bytes_scanned()).unwrap_or(0.0),
        records_scanned: stats.map(|s| s.records_scanned()).unwrap_or(0.0),
        records_matched: stats.map(|s| s.records_matched()).unwrap_or(0.0),
    })
}

pub async fn stop_query(client: &Logs, id: &str) -> Result<(), String> {
    client
        .stop_query()
        .query_id(id)
        .send()
        .await
        .map_err(|e| err_text("CloudWatch Logs StopQuery", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(c: &str, g: &str, p: Option<&str>) -> (String, String, Option<String>, Option<String>) {
        (c.into(), g.into(), p.map(str::to_string), None)
    }

    #[test]
    fn a_task_definitions_awslogs_settings_lead_to_its_streams() {
        let one = [s("api", "/ecs/taskflow", Some("ecs"))];
        let svc = ecs_place(&one, "us-east-1", None, &[]).expect("a place");
        assert_eq!(
            (svc.group.as_str(), svc.prefix.as_deref()),
            ("/ecs/taskflow", Some("ecs/api/"))
        );
        let task = ecs_place(&one, "us-east-1", Some("0abc"), &[]).expect("a place");
        assert_eq!(task.streams, vec!["ecs/api/0abc".to_string()]);
        let two = [s("api", "/ecs/t", Some("ecs")), s("sidecar", "/ecs/t", Some("ecs"))];
        assert_eq!(
            ecs_place(&two, "us-east-1", None, &[])
                .expect("a place")
                .prefix
                .as_deref(),
            Some("ecs/")
        );
        assert_eq!(
            ecs_place(&two, "us-east-1", Some("9"), &[])
                .expect("a place")
                .streams
                .len(),
            2
        );
        let known = ["t1".to_string(), "t2".to_string()];
        assert_eq!(
            ecs_place(&one, "us-east-1", None, &known).expect("a place").streams,
            vec!["ecs/api/t1".to_string(), "ecs/api/t2".to_string()],
            "a service's own tasks, not everything under a shared prefix"
        );
        assert!(ecs_place(&[], "us-east-1", None, &[]).is_err());
        let elsewhere = [(
            "api".to_string(),
            "/ecs/t".to_string(),
            Some("ecs".to_string()),
            Some("eu-west-1".to_string()),
        )];
        assert!(ecs_place(&elsewhere, "us-east-1", None, &[]).is_err());
    }

    #[test]
    fn a_query_reads_only_the_places_streams() {
        let mut p = LogPlace::group("/ecs/shared".into());
        assert_eq!(scoped_query(&p, "fields @message").expect("q"), "fields @message");
        p.prefix = Some("ecs/api/".into());
        assert_eq!(
            scoped_query(&p, "fields @message").expect("q"),
            "filter @logStream like /^ecs\\/api\\//\n| fields @message"
        );
        p.streams = vec!["ecs/api/1".into(), "x\"y".into()];
        assert_eq!(
            scoped_query(&p, "fields @message").expect("q"),
            "filter @logStream in [\"ecs/api/1\", \"x\\\"y\"]\n| fields @message"
        );
        assert!(scoped_query(&p, &"x".repeat(10_000)).is_err());
    }

    #[test]
    fn log_group_arns() {
        assert_eq!(
            group_of_arn("arn:aws:logs:us-east-1:1:log-group:/aws/events/weekly:*").as_deref(),
            Some("/aws/events/weekly")
        );
        assert_eq!(
            group_of_arn("arn:aws:logs:us-east-1:1:log-group:api-access").as_deref(),
            Some("api-access")
        );
        assert_eq!(group_of_arn("arn:aws:lambda:us-east-1:1:function:f"), None);
    }
}
