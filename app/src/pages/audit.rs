use crate::api::list_audit;
use crate::components::badges::ErrorBox;
use crate::model::format_ts;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// `/audit` (admin): the newest entries of the audit log, filtered by actor and action.
#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let params = move || query.with(|q| (q.get("actor"), q.get("action")));
    let page = Resource::new(params, |(actor, action)| list_audit(actor, action, Some(200)));
    view! {
        <h1>"Audit log"</h1>
        <form method="get" action="/audit" class="filters">
            <input name="actor" placeholder="actor" value=move || params().0.unwrap_or_default()/>
            <input name="action" placeholder="action" value=move || params().1.unwrap_or_default()/>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Reading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(p) => {
                        view! {
                            <p class="muted" data-testid="audit-head">
                                {format!("Chain head: #{} {}", p.head_seq, p.head_mac)}
                            </p>
                            <table class="grid" data-testid="audit">
                                <thead>
                                    <tr><th>"#"</th><th>"Time"</th><th>"Actor"</th><th>"Action"</th><th>"Target"</th><th>"Outcome"</th><th>"Detail"</th></tr>
                                </thead>
                                <tbody>
                                    {p.entries
                                        .into_iter()
                                        .map(|e| {
                                            let refused = e.outcome != "ok";
                                            view! {
                                                <tr class:refused=refused>
                                                    <td>{e.seq}</td>
                                                    <td>{format_ts(e.ts_ms)}</td>
                                                    <td>{e.actor}</td>
                                                    <td>{e.action}</td>
                                                    <td>{e.target}</td>
                                                    <td>{e.outcome}</td>
                                                    <td class="detail">{e.detail}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}
