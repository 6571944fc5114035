use crate::api::get_environment;
use crate::components::badges::{DataNotes, DemoBadge, DemoBanner, ErrorBox};
use crate::model::{EnvDetail, format_ts};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// `/env/{name}/deployments`: every ECS service's deployments, newest first, with the way to its
/// guarded rollback (on the service page).
#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.with(|p| p.get("name").unwrap_or_default()),
        get_environment,
    );
    view! {
        <super::Live name="page" every=15>
        <Transition fallback=|| view! { <p class="muted">"Reading deployments…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(d) => view! { <Deployments d=d/> }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
    }
}

#[component]
fn Deployments(d: EnvDetail) -> impl IntoView {
    let name = d.summary.name.clone();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if let Some(inv) = d.inventory {
        notes = inv.notes.clone();
        for r in inv.resources {
            if let Some(s) = r.service {
                for dep in &s.deployments {
                    rows.push((r.name.clone(), s.cluster.clone(), dep.clone()));
                }
            }
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.2.created_ms));
    view! {
        <super::environment::EnvTabs name=name.clone() current="deployments"/>
        <div class="page-head">
            <h1>{format!("{name}: deployments")}</h1>
            {d.summary.demo.then(|| view! { <DemoBadge/> })}
        </div>
        {d.summary.demo.then(|| view! { <DemoBanner/> })}
        <DataNotes notes=notes/>
        {d.summary.error.clone().map(|e| view! { <div class="error-box" role="alert">"Could not read this environment: " {e}</div> })}
        <p class="muted">"To roll a service back, open it: rollback needs a second person to confirm."</p>
        <table class="grid" data-testid="deployments">
            <thead><tr><th>"Service"</th><th>"Status"</th><th>"Task definition"</th><th>"Running/desired/pending"</th><th>"Rollout"</th><th>"Created"</th><th>"Updated"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|(svc, cluster, dep)| view! {
                    <tr>
                        <td><a href=format!("/env/{name}/services/{svc}")>{format!("{cluster}/{svc}")}</a></td>
                        <td>{dep.status.clone()}</td>
                        <td>{dep.task_definition.clone()}</td>
                        <td>{format!("{}/{}/{}", dep.running, dep.desired, dep.pending)}</td>
                        <td>{dep.rollout_state.clone().unwrap_or_else(|| "-".into())}</td>
                        <td>{dep.created_ms.map(format_ts).unwrap_or_default()}</td>
                        <td>{dep.updated_ms.map(format_ts).unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
