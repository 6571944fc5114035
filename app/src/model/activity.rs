//! What happened and what changed (issue 16): log lines, Logs Insights results, recent changes and
//! what an elevated session did; the types the pages and the API share.

use super::{DataNote, EnvSummary, ResourceKind};
use serde::{Deserialize, Serialize};

/// Where log lines come from: one resource of the environment's inventory, named as the
/// inventory names it. Written `lambda:NAME`, `service:NAME`, `task:ID`, `api:NAME`, `rule:NAME`
/// in URLs and the API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogSource {
    /// A Lambda function: its log group (`/aws/lambda/{name}` unless it logs elsewhere).
    Lambda(String),
    /// An ECS service: the awslogs group and stream prefix of its task definition.
    Service(String),
    /// One ECS task, running or stopped: its own streams (and, stopped, why).
    Task(String),
    /// An API Gateway API: its stage's access log.
    Api(String),
    /// An EventBridge rule: the log group it delivers to.
    Rule(String),
}

impl LogSource {
    const KINDS: [&'static str; 5] = ["lambda", "service", "task", "api", "rule"];

    pub fn kind_label(&self) -> &'static str {
        match self {
            LogSource::Lambda(_) => "lambda",
            LogSource::Service(_) => "service",
            LogSource::Task(_) => "task",
            LogSource::Api(_) => "api",
            LogSource::Rule(_) => "rule",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            LogSource::Lambda(n)
            | LogSource::Service(n)
            | LogSource::Task(n)
            | LogSource::Api(n)
            | LogSource::Rule(n) => n,
        }
    }

    /// `lambda:NAME`: how URLs and the API write it.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind_label(), self.name())
    }

    /// Parses `kind:name` (a name of 1 to 255 printable characters).
    pub fn parse(s: &str) -> Result<LogSource, String> {
        let (kind, name) = s.trim().split_once(':').ok_or_else(|| {
            format!(
                "source: \"{s}\" is not kind:name (kind one of {})",
                Self::KINDS.join(", ")
            )
        })?;
        if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
            return Err("source: the name must be 1 to 255 printable characters".into());
        }
        let name = name.to_string();
        Ok(match kind {
            "lambda" => LogSource::Lambda(name),
            "service" => LogSource::Service(name),
            "task" => LogSource::Task(name),
            "api" => LogSource::Api(name),
            "rule" => LogSource::Rule(name),
            other => {
                return Err(format!("source: \"{other}\" is not one of {}", Self::KINDS.join(", ")));
            }
        })
    }

    /// The inventory kind the source must be (a task is found through its service).
    pub fn resource_kind(&self) -> ResourceKind {
        match self {
            LogSource::Lambda(_) => ResourceKind::Lambda,
            LogSource::Service(_) | LogSource::Task(_) => ResourceKind::EcsService,
            LogSource::Api(_) => ResourceKind::ApiGateway,
            LogSource::Rule(_) => ResourceKind::EventBridgeRule,
        }
    }

    /// "Lambda function sync-worker": for headings.
    pub fn label(&self) -> String {
        let kind = match self {
            LogSource::Task(_) => "ECS task",
            other => return format!("{} {}", other.resource_kind().label(), other.name()),
        };
        format!("{kind} {}", self.name())
    }

    /// The source of a resource row, when the console can read logs of its kind.
    pub fn of_resource(kind: &ResourceKind, name: &str) -> Option<LogSource> {
        let name = name.to_string();
        match kind {
            ResourceKind::Lambda => Some(LogSource::Lambda(name)),
            ResourceKind::EcsService => Some(LogSource::Service(name)),
            ResourceKind::ApiGateway => Some(LogSource::Api(name)),
            ResourceKind::EventBridgeRule => Some(LogSource::Rule(name)),
            _ => None,
        }
    }
}

/// The query of a log page (`/env/{name}/logs?…`), as text: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsQuery {
    pub filter: String,
    pub minutes: String,
    pub end: String,
    /// The incident a line would be attached to (the page was opened from it).
    pub incident: String,
    /// Unix ms: the window is the half hour around it (an alarm's state change).
    pub around: String,
    pub query: String,
    pub ticket: String,
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/env/{env}/logs?source=…` with the non-empty fields of `q`.
pub fn logs_href(env: &str, source: &LogSource, q: &LogsQuery) -> String {
    let mut href = format!(
        "/env/{}/logs?source={}",
        encode_query_value(env),
        encode_query_value(&source.key())
    );
    for (k, v) in [
        ("filter", &q.filter),
        ("minutes", &q.minutes),
        ("end", &q.end),
        ("incident", &q.incident),
        ("around", &q.around),
        ("q", &q.query),
        ("ticket", &q.ticket),
    ] {
        if !v.is_empty() {
            href.push_str(&format!("&{k}={}", encode_query_value(v)));
        }
    }
    href
}

impl super::Inventory {
    /// Every source of logs the environment has, in inventory order.
    pub fn log_sources(&self) -> Vec<LogSource> {
        self.resources
            .iter()
            .filter_map(|r| LogSource::of_resource(&r.kind, &r.name))
            .collect()
    }

    /// The source of the resource an alarm watches (`Alarm::resource`: a name, an id, or the
    /// last part of an ARN), when the console reads its logs.
    pub fn log_source_of(&self, resource: &str) -> Option<LogSource> {
        if resource.is_empty() {
            return None;
        }
        let tail = format!("/{resource}");
        let fn_tail = format!(":{resource}");
        self.resources
            .iter()
            .filter(|r| r.name == resource || r.id == resource || r.id.ends_with(&tail) || r.id.ends_with(&fn_tail))
            .find_map(|r| LogSource::of_resource(&r.kind, &r.name))
    }
}

/// The longest window a log view reads, and the most lines it shows.
pub const LOG_MAX_MINUTES: u32 = 24 * 60;
pub const LOG_MAX_LINES: usize = 500;

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub t_ms: i64,
    pub stream: String,
    /// As written by the program: shown as text, never as HTML.
    pub message: String,
}

/// The log lines of one source over a window, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogView {
    pub summary: EnvSummary,
    pub source: LogSource,
    /// The log group read (None when the source writes no logs the console can find).
    pub group: Option<String>,
    /// The streams read: a prefix (`ecs/api/`) or names, for the heading.
    pub streams: Option<String>,
    pub filter: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The window ends now, so the page follows new lines while it is open.
    pub live: bool,
    pub lines: Vec<LogLine>,
    /// More lines matched than `LOG_MAX_LINES`: the oldest of the window are not shown.
    pub truncated: bool,
    /// A stopped task: its last status and why ECS stopped it.
    pub stopped_reason: Option<String>,
    /// Other sources of the environment, for switching.
    pub sources: Vec<LogSource>,
    /// Open incidents of this environment a line can be attached to (id, title).
    pub incidents: Vec<(i64, String)>,
    pub notes: Vec<DataNote>,
    pub fetched_ms: i64,
}

/// A Logs Insights query and what it found so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsightsView {
    pub source: LogSource,
    pub query: String,
    /// Scheduled, Running, Complete, Failed, Cancelled, Timeout, Unknown (as AWS says).
    pub status: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub bytes_scanned: f64,
    pub records_scanned: f64,
    pub records_matched: f64,
    /// The console stopped the query at the scan bound (`INSIGHTS_MAX_BYTES`).
    pub stopped_at_bound: bool,
    /// Names this query for the next read (signed: `id.signature`).
    pub ticket: String,
    pub demo: bool,
}

impl InsightsView {
    pub fn finished(&self) -> bool {
        !matches!(self.status.as_str(), "Scheduled" | "Running")
    }
}

/// A query stops once it has scanned this many bytes.
pub const INSIGHTS_MAX_BYTES: f64 = 10.0 * 1024.0 * 1024.0 * 1024.0;
/// The most result rows a query returns.
pub const INSIGHTS_MAX_ROWS: i32 = 1000;

/// Where a change was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum ChangeSource {
    /// A CloudTrail management event.
    CloudTrail,
    /// An ECS deployment or task definition read from the service.
    Ecs,
    /// A CloudFormation stack event.
    CloudFormation,
    /// An alarm's state change.
    Alarm,
    /// Something done through this console (grants, rollbacks, incidents).
    Console,
}

impl ChangeSource {
    pub fn label(self) -> &'static str {
        match self {
            ChangeSource::CloudTrail => "CloudTrail",
            ChangeSource::Ecs => "ECS",
            ChangeSource::CloudFormation => "CloudFormation",
            ChangeSource::Alarm => "alarm",
            ChangeSource::Console => "console",
        }
    }
}

/// One change: when, who, what, to which resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The CloudTrail event id (empty for the other sources): two identical calls in one second
    /// are two changes.
    #[serde(default)]
    pub id: String,
    pub at_ms: i64,
    pub source: ChangeSource,
    /// The principal (`arn:…`, a user name), or for a grant's session the person behind it
    /// ("alice (req-42-alice)").
    pub who: String,
    /// The event name or a sentence ("UpdateService", "deployment of api:8 started").
    pub what: String,
    pub resource: String,
    /// A read (CloudTrail `readOnly`): hidden unless asked for.
    pub read_only: bool,
    /// A deployment (ECS, CodeDeploy, Lambda code): marked on the metric charts.
    pub deployment: bool,
    /// An error code when AWS refused the call.
    pub error: Option<String>,
}

/// The recent changes of an environment, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangesView {
    pub summary: EnvSummary,
    pub since_ms: i64,
    pub until_ms: i64,
    pub changes: Vec<Change>,
    /// More changes than `CHANGES_MAX` in the window: the oldest are not shown.
    pub truncated: bool,
    pub notes: Vec<DataNote>,
}

/// What the incident page shows beside its timeline: the changes of the hour before it was
/// declared, and the logs of its alarms' and services' resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentContext {
    pub incident_id: i64,
    pub environment: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub changes: Vec<Change>,
    pub truncated: bool,
    pub notes: Vec<DataNote>,
    /// (label, href) of log pages, each opened for this incident.
    pub logs: Vec<(String, String)>,
    pub demo: bool,
}

/// The longest window of the changes page, and the most changes it lists.
pub const CHANGES_MAX_HOURS: i64 = 7 * 24;
pub const CHANGES_MAX: usize = 500;

/// What an elevated session did: CloudTrail events made with one grant's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionActivity {
    pub request_id: i64,
    /// The role session name the events were looked up by (`req-42-alice`).
    pub session: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Newest first; reads included (the page hides them unless asked).
    pub events: Vec<Change>,
    pub truncated: bool,
    pub notes: Vec<DataNote>,
    pub demo: bool,
    /// What a reviewer read (`count@newest`): sent with an emergency review, which is refused
    /// when the events changed since.
    pub digest: String,
}

/// CloudTrail delivers an event this long after the call, at most (AWS: "typically within 5
/// minutes", up to 15): how far past a session's end its events are looked for.
pub const CLOUDTRAIL_DELAY_MS: i64 = 15 * 60_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_and_refuse_what_they_do_not_know() {
        for s in [
            "lambda:sync-worker",
            "service:api",
            "task:0123abcd",
            "api:curriculum-api",
            "rule:weekly",
        ] {
            let parsed = LogSource::parse(s).expect("parses");
            assert_eq!(parsed.key(), s);
        }
        assert_eq!(
            LogSource::parse("service:a:b"),
            Ok(LogSource::Service("a:b".into())),
            "the name may hold a colon"
        );
        assert!(LogSource::parse("bucket:x").is_err());
        assert!(LogSource::parse("lambda:").is_err());
        assert!(LogSource::parse("lambda").is_err());
        assert!(LogSource::parse("lambda:a\nb").is_err());
        assert_eq!(LogSource::Lambda("f".into()).label(), "Lambda function f");
        assert_eq!(LogSource::Task("t".into()).label(), "ECS task t");
        let q = LogsQuery {
            filter: "\"timed out\" -debug".into(),
            incident: "7".into(),
            ..LogsQuery::default()
        };
        assert_eq!(
            logs_href("prod", &LogSource::Lambda("f/x".into()), &q),
            "/env/prod/logs?source=lambda%3Af%2Fx&filter=%22timed%20out%22%20-debug&incident=7"
        );
    }
}
