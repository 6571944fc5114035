use crate::api::get_metrics;
use crate::components::badges::{DataNotes, DemoBadge, DemoBanner, ErrorBox, HealthBadge};
use crate::components::chart::LineChart;
use crate::model::{AlarmState, MetricsView, TimeRange, format_ts};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/env/{name}/metrics?range=1h|6h|24h|7d`: the environment's charts and alarms, refreshed in
/// place every 30 s while open.
#[component]
pub fn MetricsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        (
            params.with(|p| p.get("name").unwrap_or_default()),
            query.with(|q| q.get("range").unwrap_or_else(|| "1h".into())),
        )
    };
    // With the deployments of the range, marked on the charts (`changes/list`).
    let data = Resource::new(key, |(name, range)| async move {
        let (metrics, changes) = futures::join!(
            get_metrics(name.clone(), range.clone()),
            crate::api::activity::list_changes(name, range)
        );
        let marks: Vec<(i64, String)> = changes
            .map(|c| {
                c.changes
                    .into_iter()
                    .filter(|c| c.deployment)
                    .map(|c| (c.at_ms, format!("{}: {}", c.resource, c.what)))
                    .collect()
            })
            .unwrap_or_default();
        metrics.map(|m| (m, marks))
    });
    view! {
        <super::Live name="page" every=30>
        <Transition fallback=|| view! { <p class="muted">"Reading metrics…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok((v, marks)) => view! { <Metrics v=v marks=marks/> }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
    }
}

#[component]
fn Metrics(v: MetricsView, marks: Vec<(i64, String)>) -> impl IntoView {
    let name = v.summary.name.clone();
    let firing = v.alarms.iter().filter(|a| a.state == AlarmState::Alarm).count();
    view! {
        <super::environment::EnvTabs name=name.clone() current="metrics"/>
        <div class="page-head">
            <h1>{format!("{name}: metrics")}</h1>
            {v.summary.demo.then(|| view! { <DemoBadge/> })}
            <HealthBadge health=v.summary.health/>
            <nav class="ranges" aria-label="Time range">
                {TimeRange::ALL
                    .into_iter()
                    .map(|r| {
                        let class = if r == v.range { "range current" } else { "range" };
                        view! { <a class=class data-nav="" href=format!("/env/{name}/metrics?range={}", r.label())>{r.label()}</a> }
                    })
                    .collect_view()}
            </nav>
        </div>
        {v.summary.demo.then(|| view! { <DemoBanner/> })}
        <DataNotes notes=v.notes/>
        <p class="muted">
            {format!("Range {}, one point per {} s. Read at {}.", v.range.label(), v.range.period(), format_ts(v.fetched_ms))}
            {(!marks.is_empty()).then(|| format!(" Dashed lines: {} deployment(s) in the range.", marks.len()))}
        </p>
        <section>
            <h2>{format!("Alarms ({firing} firing of {})", v.alarms.len())}</h2>
            <table class="grid" data-testid="alarms">
                <thead><tr><th>"State"</th><th>"Severity"</th><th>"Alarm"</th><th>"Condition"</th><th>"Reason"</th><th>"Since"</th></tr></thead>
                <tbody>
                    {v.alarms.into_iter().map(|a| {
                        let firing = a.state == AlarmState::Alarm;
                        view! {
                            <tr class:firing=firing>
                                <td>{a.state.label()}</td>
                                <td>{a.severity.label()}</td>
                                <td>{a.name}</td>
                                <td>{a.condition}</td>
                                <td>{a.reason}</td>
                                <td>{format_ts(a.since_ms)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="charts">
            {if v.charts.is_empty() {
                view! { <p class="muted">"No metrics for the resources of this environment."</p> }.into_any()
            } else {
                v.charts.into_iter().map(|c| view! { <LineChart chart=c marks=marks.clone()/> }).collect_view().into_any()
            }}
        </section>
    }
}
