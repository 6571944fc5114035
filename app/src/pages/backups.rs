use crate::api::get_backups;
use crate::components::badges::{DataNotes, DemoBadge, DemoBanner, ErrorBox};
use crate::model::{BackupsView, format_ts};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// `/env/{name}/backups`: vaults, plans with schedule and retention, recent jobs, and the newest
/// recovery point of each protected resource against the RPO.
#[component]
pub fn BackupsPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.with(|p| p.get("name").unwrap_or_default()), get_backups);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Reading backups…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(v) => view! { <Backups v=v/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Backups(v: BackupsView) -> impl IntoView {
    let name = v.summary.name.clone();
    let rpo = v
        .rpo_hours
        .map(|h| format!("RPO {h} h"))
        .unwrap_or_else(|| "no RPO configured (24 h assumed)".into());
    view! {
        <super::environment::EnvTabs name=name.clone() current="backups"/>
        <div class="page-head">
            <h1>{format!("{name}: backups")}</h1>
            {v.summary.demo.then(|| view! { <DemoBadge/> })}
            <span class="muted">{rpo}</span>
        </div>
        {v.summary.demo.then(|| view! { <DemoBanner/> })}
        <DataNotes notes=v.notes/>
        <section>
            <h2>"Recovery points"</h2>
            {match v.recovery_points {
                None => view! { <p class="muted" data-testid="points-na">"Not available from this endpoint."</p> }.into_any(),
                Some(points) if points.is_empty() => view! { <p class="muted">"No protected resources."</p> }.into_any(),
                Some(points) => view! {
                    <table class="grid" data-testid="recovery-points">
                        <thead><tr><th>"Resource"</th><th>"Type"</th><th>"Newest recovery point"</th><th>"Against the RPO"</th></tr></thead>
                        <tbody>
                            {points.into_iter().map(|p| view! {
                                <tr class:firing=p.late>
                                    <td>{p.resource}</td>
                                    <td>{p.resource_type}</td>
                                    <td>{p.last_ms.map(format_ts).unwrap_or_else(|| "none".into())}</td>
                                    <td>{if p.late { "LATE or MISSING" } else { "ok" }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
        <section>
            <h2>"Recent jobs (7 days)"</h2>
            {match v.jobs {
                None => view! { <p class="muted" data-testid="jobs-na">"Not available from this endpoint."</p> }.into_any(),
                Some(jobs) if jobs.is_empty() => view! { <p class="muted">"No backup jobs."</p> }.into_any(),
                Some(jobs) => view! {
                    <table class="grid" data-testid="jobs">
                        <thead><tr><th>"Started"</th><th>"State"</th><th>"Resource"</th><th>"Message"</th></tr></thead>
                        <tbody>
                            {jobs.into_iter().map(|j| {
                                let failed = j.state != "COMPLETED" && j.state != "RUNNING" && j.state != "CREATED";
                                view! {
                                    <tr class:firing=failed>
                                        <td>{format_ts(j.created_ms)}</td>
                                        <td>{j.state}</td>
                                        <td>{j.resource}</td>
                                        <td>{j.message}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
        <section>
            <h2>"Plans"</h2>
            <table class="grid" data-testid="plans">
                <thead><tr><th>"Plan"</th><th>"Rule"</th><th>"Schedule"</th><th>"Retention"</th></tr></thead>
                <tbody>
                    {v.plans.into_iter().flat_map(|p| {
                        let plan = p.name.clone();
                        p.rules.into_iter().map(move |(rule, schedule, retention)| view! {
                            <tr><td>{plan.clone()}</td><td>{rule}</td><td>{schedule}</td><td>{retention}</td></tr>
                        })
                    }).collect_view()}
                </tbody>
            </table>
            <h2>"Vaults"</h2>
            <ul data-testid="vaults">
                {v.vaults.into_iter().map(|(n, c)| view! { <li>{format!("{n}: {c} recovery points")}</li> }).collect_view()}
            </ul>
        </section>
    }
}
