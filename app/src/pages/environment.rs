use crate::api::{get_environment, get_status};
use crate::components::badges::{DataNotes, DemoBadge, DemoBanner, ErrorBox, HealthBadge, TierBadge};
use crate::components::topology::{Topology, service_href};
use crate::model::{AlarmState, EnvDetail, Inventory, LogSource, LogsQuery, StatusReport, format_ts, logs_href};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// `/env/{name}`: one environment's health, alarms, current figures and resources.
#[component]
pub fn EnvironmentPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let detail = Resource::new(name, get_environment);
    view! {
        <super::Live name="page" every=15>
        <Transition fallback=|| view! { <p class="muted">"Reading the environment…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(d) => view! { <Detail d=d/> }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
    }
}

#[component]
fn Detail(d: EnvDetail) -> impl IntoView {
    let s = d.summary;
    view! {
        <EnvTabs name=s.name.clone() current="topology"/>
        <div class="page-head">
            <h1 data-testid="env-title">{s.name.clone()}</h1>
            {s.demo.then(|| view! { <DemoBadge/> })}
            <TierBadge tier=s.tier/>
            <span class="region">{s.region.clone()}</span>
            {s.account_id.clone().map(|a| view! { <span class="muted">"account " {a}</span> })}
            <HealthBadge health=s.health/>
        </div>
        {s.demo.then(|| view! { <DemoBanner/> })}
        {(!s.description.is_empty()).then(|| view! { <p class="muted">{s.description.clone()}</p> })}
        {s.error.clone().map(|e| view! { <div class="error-box" role="alert">"Could not read this environment: " {e}</div> })}
        <StatusChecks name=s.name.clone()/>
        {d.inventory.map(|inv| view! { <InventoryView env=s.name.clone() inv=inv/> })}
    }
}

#[component]
fn InventoryView(env: String, inv: Inventory) -> impl IntoView {
    let firing = inv.alarms.iter().filter(|a| a.state == AlarmState::Alarm).count();
    let mut resources = inv.resources.clone();
    resources.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.name.cmp(&b.name)));
    let notes = inv.notes.clone();
    let diagram = inv.clone();
    let env_for_rows = env.clone();
    let env_name = env.clone();
    view! {
        <p class="muted">"Read at " {format_ts(inv.fetched_ms)}</p>
        <DataNotes notes=notes/>
        <section>
            <h2>"Topology"</h2>
            <Topology env=env inv=diagram/>
        </section>
        <section>
            <h2>"Now"</h2>
            <div class="gauges">
                {inv
                    .gauges
                    .iter()
                    .map(|g| {
                        view! {
                            <div class="gauge">
                                <span class="gauge-label">{g.label.clone()}</span>
                                <span class="gauge-value">{format!("{} {}", g.value, g.unit)}</span>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
        <section>
            <h2>"Alarms " <span class="muted">{format!("({firing} firing of {})", inv.alarms.len())}</span></h2>
            <table class="grid" data-testid="alarms">
                <thead>
                    <tr><th>"State"</th><th>"Severity"</th><th>"Alarm"</th><th>"Condition"</th><th>"Reason"</th><th>"Since"</th><th></th></tr>
                </thead>
                <tbody>
                    {inv
                        .alarms
                        .iter()
                        .map(|a| {
                            view! {
                                <tr class:firing={a.state == AlarmState::Alarm}>
                                    <td>{a.state.label()}</td>
                                    <td>{a.severity.label()}</td>
                                    <td>{a.name.clone()}</td>
                                    <td>{a.condition.clone()}</td>
                                    <td>{a.reason.clone()}</td>
                                    <td>{format_ts(a.since_ms)}</td>
                                    <td>
                                        {(a.state == AlarmState::Alarm).then(|| view! {
                                            <a class="button small" data-testid="declare-from-alarm" href=declare_link(&env_name, a)>"Declare incident"</a>
                                        })}
                                        " "
                                        {alarm_logs(&env_name, &inv, a).map(|href| view! {
                                            <a class="button small" data-testid="alarm-logs" href=href>"Logs"</a>
                                        })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <section>
            <h2>"Resources " <span class="muted">{format!("({})", resources.len())}</span></h2>
            <table class="grid" data-testid="resources">
                <thead>
                    <tr><th>"Type"</th><th>"Name"</th><th>"Status"</th><th>"Tasks (running/desired/pending)"</th><th>"Zones"</th><th>"Details"</th></tr>
                </thead>
                <tbody>
                    {resources
                        .into_iter()
                        .map(|r| {
                            let details = r.details.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ");
                            let name = match service_href(&env_for_rows, &r) {
                                Some(href) => view! { <a href=href>{r.name.clone()}</a> }.into_any(),
                                None => r.name.clone().into_any(),
                            };
                            let logs = LogSource::of_resource(&r.kind, &r.name).map(|src| view! {
                                " " <a class="small" data-testid="resource-logs" href=logs_href(&env_for_rows, &src, &LogsQuery::default())>"logs"</a>
                            });
                            view! {
                                <tr>
                                    <td>{r.kind.label().to_string()}</td>
                                    <td title=r.id.clone()>{name}{logs}</td>
                                    <td>{r.status.clone()}</td>
                                    <td>{r.tasks.map(|t| format!("{}/{}/{}", t.running, t.desired, t.pending)).unwrap_or_default()}</td>
                                    <td>{r.zones.join(", ")}</td>
                                    <td>{details}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Links between the pages of one environment.
#[component]
pub fn EnvTabs(name: String, current: &'static str) -> impl IntoView {
    let tabs = [
        ("topology", "Topology", String::new()),
        ("metrics", "Metrics", "/metrics".to_string()),
        ("backups", "Backups", "/backups".to_string()),
        ("deployments", "Deployments", "/deployments".to_string()),
        ("changes", "Changes", "/changes".to_string()),
        ("logs", "Logs", "/logs".to_string()),
    ];
    view! {
        <nav class="tabs">
            {tabs
                .into_iter()
                .map(|(id, label, suffix)| {
                    let class = if id == current { "tab current" } else { "tab" };
                    view! { <a class=class href=format!("/env/{name}{suffix}")>{label}</a> }
                })
                .collect_view()}
        </nav>
    }
}

/// The status check of the environment (the same as `ops-console status`).
#[component]
fn StatusChecks(name: String) -> impl IntoView {
    let report = Resource::new(move || name.clone(), get_status);
    view! {
        <section>
            <h2>"Health checks"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Checking…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(r) => view! { <StatusTable r=r/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn StatusTable(r: StatusReport) -> impl IntoView {
    view! {
        <p data-testid="status-level">
            <span class=format!("badge level-{}", r.level.label())>{r.level.label()}</span>
            " exit code " {r.exit_code} " of " <code>{format!("ops-console status --env {}", r.environment)}</code>
        </p>
        <table class="grid" data-testid="status">
            <thead><tr><th>"Check"</th><th>"Level"</th><th>"Detail"</th></tr></thead>
            <tbody>
                {r.checks.into_iter().map(|c| {
                    let level = if c.available { c.level.label().to_string() } else { "not available".to_string() };
                    view! {
                        <tr class=format!("level-{}", if c.available { c.level.label() } else { "na" })>
                            <td>{c.name}</td><td>{level}</td><td>{c.detail}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The logs of the resource an alarm watches, in the half hour around its last state change.
pub fn alarm_logs(env: &str, inv: &Inventory, a: &crate::model::Alarm) -> Option<String> {
    let src = inv.log_source_of(a.resource.as_deref()?)?;
    Some(logs_href(
        env,
        &src,
        &LogsQuery {
            around: a.since_ms.to_string(),
            ..LogsQuery::default()
        },
    ))
}

/// `/incidents?declare=…` prefilled from a firing alarm: one click to open, one to declare.
fn declare_link(env: &str, a: &crate::model::Alarm) -> String {
    let q: String = url_encode(&[
        ("declare", "1"),
        ("env", env),
        ("alarm", &a.name),
        ("sev", &a.severity.number().to_string()),
        ("title", &format!("{} firing", a.name)),
    ]);
    format!("/incidents?{q}")
}

/// A query string: each value percent-encoded (unreserved characters kept). The `url` crate is
/// ssr-only, and this page renders in the browser too.
fn url_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |v: &str| -> String {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
