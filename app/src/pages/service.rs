use crate::api::get_service;
use crate::components::badges::{DataNotes, DemoBadge, DemoBanner, ErrorBox, HealthBadge};
use crate::model::{LogSource, LogsQuery, ServiceView, format_ts, logs_href};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// `/env/{name}/services/{service}`: task definition, tasks and their zones, deployments and the
/// last service events of one ECS service.
#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.with(|p| (p.get("name").unwrap_or_default(), p.get("service").unwrap_or_default()));
    let view_data = Resource::new(key, |(env, svc)| get_service(env, svc));
    view! {
        <super::Live name="page" every=15>
        <Transition fallback=|| view! { <p class="muted">"Reading the service…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(v) => view! { <ServiceDetail v=v/> }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
    }
}

#[component]
fn ServiceDetail(v: ServiceView) -> impl IntoView {
    let r = v.service;
    let info = r.service.clone().unwrap_or_default();
    let counts = r
        .tasks
        .map(|t| format!("{} running / {} desired / {} pending", t.running, t.desired, t.pending));
    let zones = info.running_by_zone();
    view! {
        <p class="muted"><a href=format!("/env/{}", v.summary.name)>{v.summary.name.clone()}</a> " / ECS service"</p>
        <div class="page-head">
            <h1 data-testid="service-title">{r.name.clone()}</h1>
            {v.summary.demo.then(|| view! { <DemoBadge/> })}
            <HealthBadge health=r.health/>
            <span>{counts}</span>
            <a class="button small" data-testid="service-logs"
                href=logs_href(&v.summary.name, &LogSource::Service(r.name.clone()), &LogsQuery::default())>"Logs"</a>
        </div>
        {v.summary.demo.then(|| view! { <DemoBanner/> })}
        <DataNotes notes=v.notes/>
        <p class="muted">"Read at " {format_ts(v.fetched_ms)} " · cluster " {info.cluster.clone()}</p>
        <section>
            <h2>"Task definition"</h2>
            <dl class="facts" data-testid="taskdef">
                <dt>"Revision"</dt><dd>{info.task_definition.clone()}</dd>
                <dt>"CPU"</dt><dd>{info.cpu.clone().unwrap_or_else(|| "-".into())}</dd>
                <dt>"Memory (MB)"</dt><dd>{info.memory.clone().unwrap_or_else(|| "-".into())}</dd>
                <dt>"Images"</dt><dd>{info.images.join(", ")}</dd>
                <dt>"Launch type"</dt><dd>{info.launch_type.clone().unwrap_or_else(|| "-".into())}</dd>
                <dt>"Traffic from"</dt>
                <dd>{v.upstream.iter().map(|u| format!("{} {}", u.kind.label(), u.name)).collect::<Vec<_>>().join(", ")}</dd>
                <dt>"Deployed by"</dt><dd data-testid="controller">{info.controller.label()}</dd>
                {r.details
                    .iter()
                    .filter(|(k, _)| ["CodeDeploy", "capacity providers", "autoscaling"].contains(&k.as_str()))
                    .map(|(k, val)| view! { <dt>{k.clone()}</dt><dd>{val.clone()}</dd> })
                    .collect_view()}
            </dl>
        </section>
        <section>
            <h2>"Deployments"</h2>
            <table class="grid" data-testid="deployments">
                <thead><tr><th>"Status"</th><th>"Task definition"</th><th>"Running/desired/pending"</th><th>"Rollout"</th><th>"Created"</th><th>"Updated"</th></tr></thead>
                <tbody>
                    {info.deployments.iter().map(|d| view! {
                        <tr>
                            <td>{d.status.clone()}</td>
                            <td>{d.task_definition.clone()}</td>
                            <td>{format!("{}/{}/{}", d.running, d.desired, d.pending)}</td>
                            <td>{d.rollout_state.clone().unwrap_or_else(|| "-".into())}</td>
                            <td>{d.created_ms.map(format_ts).unwrap_or_default()}</td>
                            <td>{d.updated_ms.map(format_ts).unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <RollbackPanel env=v.summary.name.clone() cluster=info.cluster.clone() service=r.name.clone()/>
        <section>
            <h2>{format!("Tasks ({})", info.tasks.len())}</h2>
            <p class="muted">
                {if zones.is_empty() { "No running tasks.".to_string() } else {
                    format!("Running per zone: {}", zones.iter().map(|(z, n)| format!("{z} {n}")).collect::<Vec<_>>().join(", "))
                }}
            </p>
            <table class="grid" data-testid="tasks">
                <thead><tr><th>"Task"</th><th>"Zone"</th><th>"Status"</th><th>"Desired"</th><th>"Health"</th><th>"Revision"</th><th>"Started"</th></tr></thead>
                <tbody>
                    {info.tasks.iter().map(|t| view! {
                        <tr>
                            <td>{t.id.clone()} " " <a class="small" data-testid="task-logs" href=task_logs(&v.summary.name, &t.id, "")>"logs"</a></td>
                            <td>{t.az.clone().unwrap_or_else(|| "-".into())}</td>
                            <td>{t.last_status.clone()}</td>
                            <td>{t.desired_status.clone()}</td>
                            <td>{t.health.clone().unwrap_or_else(|| "-".into())}</td>
                            <td>{t.task_definition.clone()}</td>
                            <td>{t.started_ms.map(format_ts).unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        {(!info.stopped.is_empty()).then(|| view! {
            <section>
                <h2>"Last stopped tasks"</h2>
                <table class="grid" data-testid="stopped-tasks">
                    <thead><tr><th>"Task"</th><th>"Zone"</th><th>"Revision"</th><th>"Stopped"</th><th>"Why"</th></tr></thead>
                    <tbody>
                        {info.stopped.iter().map(|t| view! {
                            <tr>
                                <td>{t.id.clone()} " " <a class="small" data-testid="task-logs" href=task_logs(&v.summary.name, &t.id, "1440")>"last lines"</a></td>
                                <td>{t.az.clone().unwrap_or_else(|| "-".into())}</td>
                                <td>{t.task_definition.clone()}</td>
                                <td>{t.started_ms.map(format_ts).unwrap_or_default()}</td>
                                <td>{t.stopped_reason.clone().unwrap_or_else(|| "-".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
        <section>
            <h2>"Last service events"</h2>
            {if info.events.is_empty() {
                view! { <p class="muted">"No events reported."</p> }.into_any()
            } else {
                view! {
                    <ul class="events" data-testid="events">
                        {info.events.iter().map(|e| view! { <li><span class="muted">{format_ts(e.at_ms)}</span> " " {e.message.clone()}</li> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// 004's emergency rollback, guarded: a responder asks for the previous revision, a second
/// person (another responder or an approver) confirms, then the console sends UpdateService as
/// the environment's operator role and watches until the service is stable.
#[component]
fn RollbackPanel(env: String, cluster: String, service: String) -> impl IntoView {
    use crate::api::rollbacks::{ConfirmRollback, RequestRollback, get_rollback_target};
    let ask = ServerAction::<RequestRollback>::new();
    let confirm = ServerAction::<ConfirmRollback>::new();
    let key = (env.clone(), cluster.clone(), service.clone());
    let target = Resource::new(
        move || (key.clone(), ask.version().get() + confirm.version().get()),
        |((e, c, s), _)| get_rollback_target(e, c, s),
    );
    view! {
        <section class="panel" data-testid="rollback">
            <h2>"Rollback"</h2>
            <super::Live name="rollback" every=10>
            <Transition fallback=|| view! { <p class="muted">"Reading the service…"</p> }>
                {move || Suspend::new(async move {
                    match target.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(t) => {
                            let to = t.previous.clone().unwrap_or_default();
                            view! {
                                <p>"Running " <strong>{t.current.clone()}</strong>
                                    {t.previous.clone().map(|p| view! { "; previous revision " <strong>{p}</strong> })}</p>
                                {match t.disabled_reason.clone() {
                                    Some(why) => view! { <p class="muted" data-testid="rollback-off">"Rollback is off: " {why}</p> }.into_any(),
                                    None => view! {
                                        <ActionForm action=ask attr:class="inline">
                                            <input type="hidden" name="environment" value=t.environment.clone()/>
                                            <input type="hidden" name="cluster" value=t.cluster.clone()/>
                                            <input type="hidden" name="service" value=t.service.clone()/>
                                            <input type="hidden" name="to" value=to.clone()/>
                                            <input name="reason" required maxlength="500" placeholder="reason"/>
                                            {if t.needs_incident {
                                                view! {
                                                    <select name="incident" required data-testid="rollback-incident">
                                                        {t.open_incidents.iter().map(|i| view! {
                                                            <option value=i.id.to_string()>{format!("#{} {} {}", i.id, i.severity.label(), i.title)}</option>
                                                        }).collect_view()}
                                                    </select>
                                                }.into_any()
                                            } else {
                                                view! { <input name="incident" type="number" min="0" placeholder="incident # (optional)"/> }.into_any()
                                            }}
                                            <button type="submit" class="danger">{format!("Roll back to {to}")}</button>
                                        </ActionForm>
                                        <p class="muted">"A second person (another responder or an approver) must confirm before anything changes."
                                            {t.needs_incident.then_some(" In prod, only during an open incident of this environment.")}</p>
                                    }.into_any(),
                                }}
                                {(!t.rollbacks.is_empty()).then(|| view! {
                                    <crate::pages::incidents::RollbackTable rows=t.rollbacks.clone() confirm=confirm/>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
            </super::Live>
            <crate::components::badges::ActionError value=ask.value()/>
            <crate::components::badges::ActionError value=confirm.value()/>
        </section>
    }
}

/// The log page of one task (running, or stopped with why: its last lines of the day).
fn task_logs(env: &str, task: &str, minutes: &str) -> String {
    let q = LogsQuery {
        minutes: minutes.to_string(),
        ..LogsQuery::default()
    };
    logs_href(env, &LogSource::Task(task.to_string()), &q)
}
