//! `/incidents` (open first, filters, time to acknowledge against the target, declare) and
//! `/incidents/{id}`: the timeline page people share, updating itself while it is open.

use crate::api::incidents::{
    AddIncidentNote, DeclareIncident, PinIncidentEntry, SaveIncidentPostmortem, SetIncidentRoles, SetIncidentSeverity,
    SetIncidentStatus, export_incident, get_incident, list_incidents,
};
use crate::api::rollbacks::ConfirmRollback;
use crate::components::badges::{ActionError, DemoBadge, ErrorBox};
use crate::model::{
    IncidentStatus, IncidentSummary, IncidentView, RollbackStatus, RollbackView, Severity, TimelineEntry, format_ts,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

fn minutes(ms: i64) -> String {
    let m = ms.max(0) / 60_000;
    if m >= 120 {
        format!("{} h {} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

/// Time to acknowledge against the target; red when it was missed (or is being missed now).
#[component]
fn AckCell(i: IncidentSummary, now_ms: i64) -> impl IntoView {
    let took = i.time_to_ack_ms(now_ms);
    let text = match i.acknowledged_ms {
        Some(_) => format!("{} (target {} min)", minutes(took), i.target_minutes),
        None => format!("not yet, {} so far (target {} min)", minutes(took), i.target_minutes),
    };
    view! { <span class:breached=i.ack_breached data-testid="ack">{text}</span> }
}

#[component]
fn StatusBadge(status: IncidentStatus) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.label())>{status.label()}</span> }
}

#[component]
fn SevBadge(sev: Severity) -> impl IntoView {
    view! { <span class=format!("badge sev sev{}", sev.number())>{sev.label()}</span> }
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        query.with(|q| {
            (
                q.get("environment").unwrap_or_default(),
                q.get("status").unwrap_or_else(|| "".into()),
                q.get("severity").and_then(|s| s.parse::<u8>().ok()).unwrap_or(0),
            )
        })
    };
    let list = Resource::new(filters, |(e, s, sev)| list_incidents(e, s, sev));
    let prefill = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    // A plain post: the server answers with the new incident's page (api::go_to).
    let declare = ServerAction::<DeclareIncident>::new();
    let open_form = move || prefill("declare") == "1";
    view! {
        <div class="page-head">
            <h1>"Incidents"</h1>
        </div>
        <form method="get" action="/incidents" class="filters">
            <input name="environment" placeholder="environment" value=move || filters().0/>
            <select name="status">
                <option value="" selected=move || filters().1.is_empty()>"any status"</option>
                <option value="open" selected=move || filters().1 == "open">"open"</option>
                {IncidentStatus::ALL.iter().map(|s| {
                    let l = s.label();
                    view! { <option value=l selected=move || filters().1 == l>{l}</option> }
                }).collect_view()}
            </select>
            <select name="severity">
                <option value="0">"any severity"</option>
                {(1..=4u8).map(|n| view! { <option value=n.to_string() selected=move || filters().2 == n>{format!("SEV{n}")}</option> }).collect_view()}
            </select>
            <button type="submit">"Filter"</button>
        </form>
        <super::Live name="list" every=15>
        <Transition fallback=|| view! { <p class="muted">"Reading incidents…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(l) if l.incidents.is_empty() && l.emergency_reviews.is_empty() => view! { <p class="muted" data-testid="no-incidents">"No incidents match."</p> }.into_any(),
                    Ok(l) => {
                        let (items, now) = (l.incidents, l.now_ms);
                        let reviews = l.emergency_reviews;
                        view! {
                            {(!reviews.is_empty()).then(|| view! {
                                <div class="error-box" role="alert" data-testid="emergency-reviews">
                                    <strong>{format!("{} break-glass grant(s) waiting for review: ", reviews.len())}</strong>
                                    {reviews.into_iter().map(|r| view! {
                                        <a href=format!("/access/requests/{}", r.id)>
                                            {format!("#{} {} ({} on {}{}) ", r.id, r.requester, r.profile, r.environment,
                                                r.incident_id.map(|i| format!(", incident #{i}")).unwrap_or_default())}
                                        </a>
                                    }).collect_view()}
                                </div>
                            })}
                            <table class="grid" data-testid="incidents">
                                <thead><tr><th>"#"</th><th>"Severity"</th><th>"Title"</th><th>"Environment"</th><th>"Status"</th><th>"Commander"</th><th>"Started"</th><th>"Acknowledged"</th></tr></thead>
                                <tbody>
                                    {items.into_iter().map(|i| view! {
                                        <tr class:open=i.status.is_open() class:breached=i.ack_breached>
                                            <td><a href=format!("/incidents/{}", i.id)>{format!("#{}", i.id)}</a></td>
                                            <td><SevBadge sev=i.severity/></td>
                                            <td><a href=format!("/incidents/{}", i.id)>{i.title.clone()}</a></td>
                                            <td>{i.environment.clone()} " " {i.demo.then(|| view! { <DemoBadge/> })}</td>
                                            <td><StatusBadge status=i.status/></td>
                                            <td>{i.commander.clone()}</td>
                                            <td>{format_ts(i.started_ms)}</td>
                                            <td><AckCell i=i.clone() now_ms=now/></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        </super::Live>
        <details class="panel" open=open_form>
            <summary>"Declare an incident"</summary>
            <ActionForm action=declare attr:class="stack" attr:data-testid="declare-form">
                <label>"Environment" <input name="environment" required value=move || prefill("env")/></label>
                <label>"Title" <input name="title" required maxlength="200" value=move || prefill("title")/></label>
                <label>"Severity"
                    <select name="severity">
                        {(1..=4u8).map(|n| view! {
                            <option value=n.to_string() selected=move || prefill("sev") == n.to_string()>
                                {format!("SEV{n} ({} min to respond)", crate::model::response_target_minutes(n))}
                            </option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Alarms (comma-separated)" <input name="alarms" value=move || prefill("alarm")/></label>
                <label>"Services (cluster/service, comma-separated)" <input name="services" value=move || prefill("services")/></label>
                <label>"Ticket" <input name="ticket" maxlength="64"/></label>
                <label>"What is happening" <textarea name="summary" rows="3"></textarea></label>
                <button type="submit" data-testid="declare">"Declare"</button>
            </ActionForm>
            <ActionError value=declare.value()/>
        </details>
    }
}

#[component]
pub fn IncidentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let status = ServerAction::<SetIncidentStatus>::new();
    let note = ServerAction::<AddIncidentNote>::new();
    let sev = ServerAction::<SetIncidentSeverity>::new();
    let roles = ServerAction::<SetIncidentRoles>::new();
    let pin = ServerAction::<PinIncidentEntry>::new();
    let confirm = ServerAction::<ConfirmRollback>::new();
    let postmortem = ServerAction::<SaveIncidentPostmortem>::new();
    let versions = move || {
        (
            id(),
            status.version().get()
                + note.version().get()
                + sev.version().get()
                + roles.version().get()
                + pin.version().get()
                + confirm.version().get()
                + postmortem.version().get(),
        )
    };
    let data = Resource::new(versions, |(id, _)| get_incident(id));
    let context = Resource::new(id, crate::api::activity::get_incident_context);
    // The post-mortem editor reads once (and after a save), so that the live refresh never
    // overwrites what someone is typing.
    let editor = Resource::new(move || (id(), postmortem.version().get()), |(id, _)| get_incident(id));
    view! {
        <super::Live name="incident" every=5>
        <Transition fallback=|| view! { <p class="muted">"Reading the incident…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(v) => view! { <IncidentHeader v=v.clone()/> <Timeline v=v pin=pin confirm=confirm/> }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                context.await.ok().map(|c| view! { <Context c=c/> })
            })}
        </Transition>
        <section class="panel">
            <h2>"Update"</h2>
            <ActionForm action=status attr:class="inline" attr:data-testid="status-form">
                <input type="hidden" name="id" value=move || id().to_string()/>
                <select name="to">
                    {IncidentStatus::ALL.iter().map(|s| view! { <option value=s.label()>{s.label()}</option> }).collect_view()}
                </select>
                <input name="note" placeholder="why (optional)" maxlength="2000"/>
                <button type="submit">"Change status"</button>
            </ActionForm>
            <ActionError value=status.value()/>
            <ActionForm action=note attr:class="stack" attr:data-testid="note-form">
                <input type="hidden" name="id" value=move || id().to_string()/>
                <select name="kind">
                    <option value="note">"note"</option>
                    <option value="update">"status update"</option>
                    <option value="correction">"correction"</option>
                </select>
                <textarea name="text" rows="2" required maxlength="4000" placeholder="What was seen or done"></textarea>
                <button type="submit">"Add to the timeline"</button>
            </ActionForm>
            <ActionError value=note.value()/>
            <ActionForm action=sev attr:class="inline">
                <input type="hidden" name="id" value=move || id().to_string()/>
                <select name="severity">
                    {(1..=4u8).map(|n| view! { <option value=n.to_string()>{format!("SEV{n}")}</option> }).collect_view()}
                </select>
                <input name="reason" required placeholder="reason" maxlength="500"/>
                <button type="submit">"Change severity"</button>
            </ActionForm>
            <ActionError value=sev.value()/>
            <ActionForm action=roles attr:class="inline">
                <input type="hidden" name="id" value=move || id().to_string()/>
                <input name="commander" placeholder="commander (user)"/>
                <input name="communications" placeholder="communications (user)"/>
                <button type="submit">"Set roles"</button>
            </ActionForm>
            <ActionError value=roles.value()/>
            <ActionError value=pin.value()/>
            <ActionError value=confirm.value()/>
        </section>
        <Export id=Signal::derive(id)/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                editor.await.ok().map(|v| {
                    let text = if v.postmortem.is_empty() { v.postmortem_draft.clone() } else { v.postmortem.clone() };
                    view! {
                        <section class="panel">
                            <h2>"Post-mortem"</h2>
                            <p class="muted">{if v.postmortem.is_empty() {
                                "A draft from the timeline: edit and save it. SEV1 and SEV2 incidents close only with a saved post-mortem."
                            } else { "Saved." }}</p>
                            <ActionForm action=postmortem attr:class="stack" attr:data-testid="postmortem-form">
                                <input type="hidden" name="id" value=v.incident.id.to_string()/>
                                <textarea name="text" rows="16">{text}</textarea>
                                <button type="submit">"Save post-mortem"</button>
                            </ActionForm>
                            <ActionError value=postmortem.value()/>
                        </section>
                    }
                })
            })}
        </Transition>
    }
}

/// What changed in the hour before the incident, and where its logs are.
#[component]
fn Context(c: crate::model::IncidentContext) -> impl IntoView {
    view! {
        <section class="panel" data-testid="incident-context">
            <h2>"Logs"</h2>
            {if c.logs.is_empty() {
                view! { <p class="muted">"None of the incident's alarms or services has logs the console reads."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid="incident-logs">
                        {c.logs.into_iter().map(|(label, href)| view! { <li><a href=href>{label}</a></li> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <h2>"Changed in the hour before"</h2>
            {c.demo.then(|| view! { <p class="muted">"Demo data: simulated changes."</p> })}
            <crate::components::badges::DataNotes notes=c.notes/>
            <p class="muted">
                {format!("{} change(s) from {} to {}", c.changes.len(), format_ts(c.from_ms), format_ts(c.to_ms))}
                " · " <a href=format!("/env/{}/changes?since=24h", c.environment)>"all recent changes"</a>
            </p>
            <super::changes::ChangeTable changes=c.changes testid="changes-before"/>
        </section>
    }
}

#[component]
fn IncidentHeader(v: IncidentView) -> impl IntoView {
    let i = v.incident.clone();
    let elapsed = i.resolved_ms.unwrap_or(v.now_ms) - i.started_ms;
    view! {
        <p class="muted"><a href="/incidents">"Incidents"</a> {format!(" / #{}", i.id)}</p>
        <div class="page-head">
            <h1 data-testid="incident-title">{i.title.clone()}</h1>
            <SevBadge sev=i.severity/>
            <span data-testid="incident-status"><StatusBadge status=i.status/></span>
            {i.demo.then(|| view! { <DemoBadge/> })}
        </div>
        {i.demo.then(|| view! {
            <p class="demo-banner" role="note">"Demo environment: the alarms, deployments and services on this timeline are simulated."</p>
        })}
        <dl class="facts" data-testid="incident-facts">
            <dt>"Environment"</dt><dd><a href=format!("/env/{}", i.environment)>{i.environment.clone()}</a></dd>
            <dt>"Commander"</dt><dd>{if i.commander.is_empty() { "unassigned".into() } else { i.commander.clone() }}</dd>
            <dt>"Communications"</dt><dd>{if i.communications.is_empty() { "unassigned".into() } else { i.communications.clone() }}</dd>
            <dt>"Declared"</dt><dd>{format!("{} by {}", format_ts(i.started_ms), i.declared_by)}</dd>
            <dt>{if i.resolved_ms.is_some() { "Duration" } else { "Elapsed" }}</dt><dd>{minutes(elapsed)}</dd>
            <dt>"Acknowledged"</dt><dd><AckCell i=i.clone() now_ms=v.now_ms/></dd>
            <dt>"Ticket"</dt><dd>{if i.ticket.is_empty() { "-".into() } else { i.ticket.clone() }}</dd>
            <dt>"Alarms"</dt><dd>{i.alarms.join(", ")}</dd>
            <dt>"Services"</dt><dd>{i.services.iter().map(|s| {
                let (c, svc) = s.split_once('/').unwrap_or(("", s));
                view! { <a href=format!("/env/{}/services/{svc}", i.environment)>{format!("{c}/{svc}")}</a> " " }
            }).collect_view()}</dd>
            <dt>"Next"</dt><dd>{v.next_statuses.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")}</dd>
            <dt>"Access"</dt><dd>
                <a href=format!("/access?incident={}", i.id) data-testid="access-for-incident">
                    {if i.severity.is_major() && i.status.is_open() { "Request access or break-glass for this incident" } else { "Request access for this incident" }}
                </a>
            </dd>
        </dl>
        {v.chart.clone().map(|c| view! {
            <section data-testid="incident-chart">
                <h2>"Linked alarm's metric"</h2>
                <crate::components::chart::LineChart chart=c/>
            </section>
        })}
    }
}

#[component]
fn Timeline(
    v: IncidentView,
    pin: ServerAction<PinIncidentEntry>,
    confirm: ServerAction<ConfirmRollback>,
) -> impl IntoView {
    let id = v.incident.id;
    let rollbacks = v.rollbacks.clone();
    view! {
        <section>
            <h2>"Timeline " <span class="muted">{format!("({} entries, times are when things happened)", v.entries.len())}</span></h2>
            <ol class="timeline" data-testid="timeline">
                {v.entries.into_iter().map(|e| view! { <Entry e=e id=id pin=pin/> }).collect_view()}
            </ol>
        </section>
        {(!rollbacks.is_empty()).then(|| view! {
            <section>
                <h2>"Rollbacks"</h2>
                <RollbackTable rows=rollbacks confirm=confirm/>
            </section>
        })}
    }
}

#[component]
fn Entry(e: TimelineEntry, id: i64, pin: ServerAction<PinIncidentEntry>) -> impl IntoView {
    let pinned = e.pinned;
    view! {
        <li class=format!("entry kind-{}", e.kind) class:pinned=pinned data-kind=e.kind.clone()>
            <span class="marker" aria-hidden="true"></span>
            <time>{format_ts(e.at_ms)}</time>
            <span class="kind">{e.kind.clone()}</span>
            <span class="actor">{e.actor.clone()}</span>
            <span class="text">{e.text.clone()}</span>
            <ActionForm action=pin attr:class="pin">
                <input type="hidden" name="id" value=id.to_string()/>
                <input type="hidden" name="entry" value=e.id.to_string()/>
                <input type="hidden" name="pinned" value=(!pinned).to_string()/>
                <button type="submit" class="small" title=if pinned { "Unpin" } else { "Pin" }>{if pinned { "unpin" } else { "pin" }}</button>
            </ActionForm>
        </li>
    }
}

#[component]
pub fn RollbackTable(rows: Vec<RollbackView>, confirm: ServerAction<ConfirmRollback>) -> impl IntoView {
    view! {
        <table class="grid" data-testid="rollbacks">
            <thead><tr><th>"#"</th><th>"Service"</th><th>"From → to"</th><th>"Asked by"</th><th>"Reason"</th><th>"Status"</th><th>"Progress"</th><th></th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td>{r.id}</td>
                        <td>{format!("{}/{}", r.cluster, r.service)}</td>
                        <td>{format!("{} → {}", r.from_task_definition, r.to_task_definition)}</td>
                        <td>{format!("{} at {}", r.requested_by, format_ts(r.requested_ms))}</td>
                        <td>{r.reason.clone()}</td>
                        <td>{r.status.label()}{r.confirmed_by.clone().map(|b| format!(" (confirmed by {b})"))}</td>
                        <td>{r.progress.clone()}</td>
                        <td>{(r.status == RollbackStatus::Pending).then(|| view! {
                            <ActionForm action=confirm>
                                <input type="hidden" name="id" value=r.id.to_string()/>
                                <button type="submit" class="danger" title="A second person: not the one who asked">"Confirm rollback"</button>
                            </ActionForm>
                        })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The exports as links (`?export=md|json`), rendered by the server into the page.
#[component]
fn Export(id: Signal<i64>) -> impl IntoView {
    let query = use_query_map();
    let format = move || query.with(|q| q.get("export").unwrap_or_default());
    let text = Resource::new(
        move || (id.get(), format()),
        |(id, f)| async move {
            if f.is_empty() {
                Ok(String::new())
            } else {
                export_incident(id, f).await
            }
        },
    );
    view! {
        <section class="panel" id="export">
            <h2>"Export"</h2>
            <a class="button" href="?export=md#export" data-testid="export-md">"Markdown"</a>
            " "
            <a class="button" href="?export=json#export" data-testid="export-json">"JSON"</a>
            <p class="muted">"Also from the API: POST /api/v1/incidents/export with id and format (md or json)."</p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match text.await {
                        Ok(t) if t.is_empty() => ().into_any(),
                        Ok(t) => view! { <pre class="export" data-testid="export">{t}</pre> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
