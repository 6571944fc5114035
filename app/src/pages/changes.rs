use crate::api::activity::list_changes;
use crate::components::badges::{DataNotes, DemoBadge, DemoBanner, ErrorBox};
use crate::model::{Change, ChangesView, format_ts};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/env/{name}/changes?since=6h`: what changed in the environment, newest first: CloudTrail
/// writes on its resources, ECS deployments, alarm state changes and this console's own actions.
#[component]
pub fn ChangesPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        (
            params.with(|p| p.get("name").unwrap_or_default()),
            query.with(|q| q.get("since").unwrap_or_default()),
        )
    };
    let data = Resource::new(key, |(name, since)| list_changes(name, since));
    view! {
        <super::Live name="changes" every=30>
        <Transition fallback=|| view! { <p class="muted">"Reading the changes…"</p> }>
            {move || Suspend::new(async move {
                let since = query.with_untracked(|q| q.get("since").unwrap_or_default());
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(v) => view! { <Changes v=v since=since/> }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
    }
}

#[component]
fn Changes(v: ChangesView, since: String) -> impl IntoView {
    let name = v.summary.name.clone();
    view! {
        <super::environment::EnvTabs name=name.clone() current="changes"/>
        <div class="page-head">
            <h1>"Changes in " {name.clone()}</h1>
            {v.summary.demo.then(|| view! { <DemoBadge/> })}
        </div>
        {v.summary.demo.then(|| view! { <DemoBanner/> })}
        <DataNotes notes=v.notes.clone()/>
        <form method="get" action=format!("/env/{name}/changes") class="filters">
            <label>"Since " <input name="since" value=since placeholder="6h, 2d or 2026-12-01T09:30" maxlength="32"/></label>
            <button type="submit">"Show"</button>
            {["1h", "6h", "24h", "7d"].into_iter().map(|s| view! {
                <a class="tab" data-nav="" href=format!("/env/{name}/changes?since={s}")>{s}</a>
            }).collect_view()}
        </form>
        <p class="muted">
            {format!("{} change(s) from {} to {}", v.changes.len(), format_ts(v.since_ms), format_ts(v.until_ms))}
            {v.truncated.then_some(" · more changes than are shown: the oldest are left out, narrow the window")}
        </p>
        <ChangeTable changes=v.changes testid="changes"/>
    }
}

/// Changes as a table, newest first (also the incident page's "changed in the hour before").
#[component]
pub fn ChangeTable(changes: Vec<Change>, testid: &'static str) -> impl IntoView {
    view! {
        <table class="grid" data-testid=testid>
            <thead><tr><th>"When"</th><th>"Source"</th><th>"Who"</th><th>"What"</th><th>"Resource"</th></tr></thead>
            <tbody>
                {changes.into_iter().map(|c| {
                    let refused = c.error.is_some();
                    view! {
                    <tr class:read-only=c.read_only class:refused=refused>
                        <td class="nowrap">{format_ts(c.at_ms)}</td>
                        <td>{c.source.label()}{c.deployment.then_some(" · deployment")}</td>
                        <td>{c.who}</td>
                        <td>{c.what}{c.error.map(|e| format!(" ({e})"))}</td>
                        <td>{c.resource}</td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
}
