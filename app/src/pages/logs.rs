use crate::api::activity::{AttachLogLine, StartInsights, get_insights, read_logs};
use crate::components::badges::{ActionError, DataNotes, DemoBadge, DemoBanner, ErrorBox};
use crate::model::{InsightsView, LogLine, LogSource, LogView, LogsQuery, format_ts};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The query of the page as it was opened.
fn page_query(q: &leptos_router::params::ParamsMap) -> (String, LogsQuery) {
    let get = |k: &str| q.get(k).unwrap_or_default();
    (
        get("source"),
        LogsQuery {
            filter: get("filter"),
            minutes: get("minutes"),
            end: get("end"),
            incident: get("incident"),
            around: get("around"),
            query: get("q"),
            ticket: get("ticket"),
        },
    )
}

/// `/env/{name}/logs?source=lambda:NAME&filter=…&minutes=15`: the lines of one source, newest
/// first, following new ones while the window ends now; a Logs Insights query box; each line can
/// be attached to an open incident's timeline.
#[component]
pub fn LogsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let key = move || (name(), query.with(page_query));
    let lines = Resource::new(key, |(n, (s, q))| read_logs(n, s, q.filter, q.minutes, q.end, q.around));
    let insights = Resource::new(key, |(n, (s, q))| async move {
        if q.ticket.is_empty() {
            Ok(None)
        } else {
            get_insights(n, s, q.ticket).await.map(Some)
        }
    });
    let attach = ServerAction::<AttachLogLine>::new();
    let start = ServerAction::<StartInsights>::new();
    view! {
        <super::Live name="logs" every=10>
        <Transition fallback=|| view! { <p class="muted">"Reading the logs…"</p> }>
            {move || Suspend::new(async move {
                let (_, q) = query.with_untracked(page_query);
                match lines.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(v) => view! { <Lines v=v q=q/> }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
        <ActionError value=attach.value()/>
        <section class="panel">
            <h2>"Logs Insights"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let (_, q) = query.with_untracked(page_query);
                    let env = name();
                    // The source the lines are of (the first of the environment when none was named).
                    let Ok(source) = lines.await.map(|v| v.source.key()) else {
                        return ().into_any();
                    };
                    let text = if q.query.is_empty() {
                        "fields @timestamp, @message\n| filter @message like /ERROR/\n| sort @timestamp desc\n| limit 100".to_string()
                    } else {
                        q.query.clone()
                    };
                    let result = insights.await;
                    view! {
                        <ActionForm action=start attr:class="stack" attr:data-testid="insights-form">
                            <input type="hidden" name="name" value=env/>
                            <input type="hidden" name="source" value=source/>
                            <input type="hidden" name="end" value=q.end.clone()/>
                            <label>"Over the last "
                                <select name="minutes">
                                    {[("15", "15 minutes"), ("60", "hour"), ("360", "6 hours"), ("1440", "24 hours")]
                                        .into_iter()
                                        .map(|(m, label)| view! { <option value=m selected=q.minutes == m>{label}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                            <textarea name="query" rows="4" required maxlength="10000" data-testid="insights-query">{text}</textarea>
                            <button type="submit">"Run query"</button>
                            <span class="muted">"Runs over this source's log group only; stopped after 10 GiB scanned."</span>
                        </ActionForm>
                        <ActionError value=start.value()/>
                        {match result {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(None) => ().into_any(),
                            Ok(Some(r)) => view! {
                                // Every 5 s while it runs (the page's refresh is its fastest region's).
                                <super::Live name="insights" every=if r.finished() { 600 } else { 5 }>
                                    <Insights r=r/>
                                </super::Live>
                            }.into_any(),
                        }}
                    }.into_any()
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Lines(v: LogView, q: LogsQuery) -> impl IntoView {
    let env = v.summary.name.clone();
    let source = v.source.clone();
    let window = format!(
        "{} to {}{}",
        format_ts(v.start_ms),
        format_ts(v.end_ms),
        if v.live {
            ", following new lines (every 10 s)"
        } else {
            ""
        }
    );
    // The incident a line goes to: the one the page was opened from, else the open ones.
    let targets: Vec<(i64, String)> = match q.incident.parse::<i64>() {
        Ok(id) if v.incidents.iter().any(|(i, _)| *i == id) => {
            v.incidents.iter().filter(|(i, _)| *i == id).cloned().collect()
        }
        _ => v.incidents.clone(),
    };
    let presets = [("15", "15 min"), ("60", "1 h"), ("360", "6 h"), ("1440", "24 h")];
    view! {
        <p class="muted"><a href=format!("/env/{env}")>{env.clone()}</a> " / logs"</p>
        <div class="page-head">
            <h1 data-testid="logs-title">{source.label()}</h1>
            {v.summary.demo.then(|| view! { <DemoBadge/> })}
        </div>
        {v.summary.demo.then(|| view! { <DemoBanner/> })}
        <DataNotes notes=v.notes.clone()/>
        {v.stopped_reason.clone().map(|r| view! { <p class="error-box" data-testid="stopped-reason">"This task " {r}</p> })}
        <dl class="facts">
            <dt>"Log group"</dt><dd data-testid="log-group">{v.group.clone().unwrap_or_else(|| "-".into())}</dd>
            <dt>"Streams"</dt><dd>{v.streams.clone().unwrap_or_else(|| "all".into())}</dd>
            <dt>"Window"</dt><dd>{window}</dd>
        </dl>
        <form method="get" action=format!("/env/{env}/logs") class="filters" data-testid="logs-filter">
            <select name="source">
                {v.sources.iter().map(|s| {
                    let key = s.key();
                    view! { <option value=key.clone() selected=*s == source>{s.label()}</option> }
                }).collect_view()}
            </select>
            <input name="filter" value=v.filter.clone() placeholder="filter pattern, e.g. ERROR -healthcheck" maxlength="1024"/>
            <select name="minutes">
                {presets.iter().map(|(m, label)| view! { <option value=*m selected=q.minutes == *m>{"last " }{*label}</option> }).collect_view()}
            </select>
            <input type="hidden" name="incident" value=q.incident.clone()/>
            <button type="submit">"Show"</button>
        </form>
        <p class="muted">
            {format!("{} line(s), newest first", v.lines.len())}
            {v.truncated.then_some(" · more lines matched than are shown: narrow the filter or the window")}
        </p>
        <table class="grid logs" data-testid="log-lines">
            <thead><tr><th>"Time"</th><th>"Stream"</th><th>"Message"</th><th></th></tr></thead>
            <tbody>
                {v.lines.into_iter().map(|l| view! {
                    <LineRow l=l env=env.clone() source=source.clone() targets=targets.clone()/>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn LineRow(l: LogLine, env: String, source: LogSource, targets: Vec<(i64, String)>) -> impl IntoView {
    // Text only: a message is never rendered as HTML.
    view! {
        <tr>
            <td class="nowrap">{format_ts(l.t_ms)}</td>
            <td class="muted small">{l.stream.clone()}</td>
            <td><pre class="log">{l.message.clone()}</pre></td>
            <td>
                {(!targets.is_empty()).then(|| view! {
                    <form method="post" action="/api/v1/logs/attach" class="inline" data-testid="attach-form">
                        <input type="hidden" name="name" value=env.clone()/>
                        <input type="hidden" name="source" value=source.key()/>
                        <input type="hidden" name="t_ms" value=l.t_ms.to_string()/>
                        <input type="hidden" name="stream" value=l.stream.clone()/>
                        <input type="hidden" name="message" value=l.message.clone()/>
                        {if targets.len() == 1 {
                            view! { <input type="hidden" name="incident" value=targets[0].0.to_string()/> }.into_any()
                        } else {
                            view! {
                                <select name="incident">
                                    {targets.iter().map(|(id, t)| view! { <option value=id.to_string()>{format!("#{id} {t}")}</option> }).collect_view()}
                                </select>
                            }.into_any()
                        }}
                        <button type="submit" class="small" title=format!("Attach to incident #{}", targets[0].0)>"Attach to timeline"</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

#[component]
fn Insights(r: InsightsView) -> impl IntoView {
    let mib = r.bytes_scanned / (1024.0 * 1024.0);
    view! {
        <p data-testid="insights-status">
            <span class="badge">{r.status.clone()}</span>
            {format!(
                " · {mib:.2} MiB scanned · {} records scanned, {} matched",
                r.records_scanned as u64, r.records_matched as u64
            )}
            {(!r.finished()).then_some(" · running, refreshed every 5 s")}
            {r.stopped_at_bound.then_some(" · stopped by the console at 10 GiB scanned")}
            {r.demo.then_some(" · demo data")}
        </p>
        <table class="grid" data-testid="insights-results">
            <thead><tr>{r.columns.iter().map(|c| view! { <th>{c.clone()}</th> }).collect_view()}</tr></thead>
            <tbody>
                {r.rows.into_iter().map(|row| view! {
                    <tr>{row.into_iter().map(|cell| view! { <td><pre class="log">{cell}</pre></td> }).collect_view()}</tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
