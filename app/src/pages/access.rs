//! `/access` (my requests, decisions waiting for me, the request and break-glass forms) and
//! `/access/requests/{id}`: the page an approval link opens.

use crate::api::access::{
    CancelAccess, DecideAccess, EmergencyAccess, RequestAccess, ReviewAccess, RevokeAccess, activate_access,
    get_access_overview, get_access_request,
};
use crate::components::badges::{ActionError, DemoBadge, ErrorBox};
use crate::model::{
    AccessDetail, AccessRequestView, AccessStatus, IssuedCredentials, ProfileInfo, ReviewStatus, SessionActivity,
    format_ts,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// STS issues credentials for at least 15 minutes, whatever the window asked for.
const STS_MINIMUM_MINUTES: u32 = 15;

/// What one profile demands, as the server enforces it: MFA, approvals, ticket and the longest
/// grant for an ordinary profile; the incident, the review and the longest grant for break-glass.
fn profile_rule(p: &ProfileInfo) -> String {
    // Requests are limited to the profile's maximum and to 1 hour, whatever the profile says.
    let cap = p.max_minutes.min(60);
    let longest = if cap < STS_MINIMUM_MINUTES {
        format!("at most {cap} min (the credentials last {STS_MINIMUM_MINUTES} min, STS's minimum)")
    } else {
        format!("at most {cap} min")
    };
    let mfa = if p.require_mfa { "MFA" } else { "no MFA" };
    let mut parts: Vec<String> = Vec::new();
    if p.emergency {
        parts.push("break-glass only, during an open SEV1 or SEV2 incident of that environment".into());
        parts.push(mfa.into());
        parts.push("no approval beforehand but a review afterwards by an approver other than the grantee".into());
    } else {
        parts.push(mfa.into());
        parts.push(match p.approvals {
            1 => "1 approval by someone else".to_string(),
            n => format!("{n} approvals by other people"),
        });
        parts.push(match &p.ticket_pattern {
            Some(pattern) => format!("ticket matching {pattern}"),
            None => "ticket optional".to_string(),
        });
    }
    parts.push(longest);
    format!("{} on {}: {}.", p.name, p.environment, parts.join(", "))
}

/// The rules line of `/access`: the rules of the profiles actually configured, then what holds
/// for every grant.
fn rules_text(profiles: &[ProfileInfo]) -> String {
    let mut lines: Vec<String> = profiles.iter().map(profile_rule).collect();
    if lines.is_empty() {
        lines.push("No access profiles are configured.".into());
    }
    lines.push(
        "Nobody approves their own request or reviews their own break-glass access. Grants are temporary AWS \
         credentials (STS) that expire by themselves; everything is in the audit log."
            .into(),
    );
    lines.join(" ")
}

/// The label of demo profiles, naming their environments.
fn demo_text(profiles: &[ProfileInfo]) -> String {
    let mut envs: Vec<&str> = Vec::new();
    for p in profiles.iter().filter(|p| p.demo) {
        if !envs.contains(&p.environment.as_str()) {
            envs.push(&p.environment);
        }
    }
    format!(
        "Demo profiles ({}): grants on demo environments hand out credentials that work nowhere.",
        envs.join(", ")
    )
}

#[component]
fn StatusBadge(status: AccessStatus) -> impl IntoView {
    let word = status.label();
    view! { <span class=format!("badge access-{word}") data-testid="access-status">{word}</span> }
}

#[component]
fn RequestTable(rows: Vec<AccessRequestView>, testid: &'static str) -> impl IntoView {
    view! {
        <table class="grid" data-testid=testid>
            <thead><tr><th>"#"</th><th>"Who"</th><th>"Environment / profile"</th><th>"Minutes"</th><th>"Status"</th><th>"Reason"</th><th>"Asked"</th><th>"Ends"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr class:firing=r.emergency>
                        <td><a href=format!("/access/requests/{}", r.id)>{format!("#{}", r.id)}</a></td>
                        <td>{r.requester.clone()}</td>
                        <td>{format!("{} / {}", r.environment, r.profile)} " " {r.demo.then(|| view! { <DemoBadge/> })}
                            {r.emergency.then(|| view! { " " <span class="badge sev sev1">"break-glass"</span> })}</td>
                        <td>{r.duration_minutes}</td>
                        <td><StatusBadge status=r.status/></td>
                        <td>{r.reason.clone()}</td>
                        <td>{format_ts(r.created_ms)}</td>
                        <td>{r.grant.as_ref().map(|g| format_ts(g.expires_ms)).or(r.window_end_ms.map(format_ts)).unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn AccessPage() -> impl IntoView {
    let ask = ServerAction::<RequestAccess>::new();
    let breakglass = ServerAction::<EmergencyAccess>::new();
    // Plain posts: the server answers with the new request's page (api::go_to).
    let data = Resource::new(|| (), |_| get_access_overview());
    let query = use_query_map();
    let prefill = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    view! {
        <h1>"Production access"</h1>
        <super::Live name="page" every=15>
        <Transition fallback=|| view! { <p class="muted">"Reading requests…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(o) => {
                        let demo = o.profiles.iter().any(|p| p.demo);
                        let normal: Vec<_> = o.profiles.iter().filter(|p| !p.emergency).cloned().collect();
                        let choices: Vec<crate::islands::ProfileChoice> = normal
                            .iter()
                            .map(|p| crate::islands::ProfileChoice {
                                environment: p.environment.clone(),
                                name: p.name.clone(),
                                max_minutes: p.max_minutes,
                                ticket_pattern: p.ticket_pattern.clone(),
                            })
                            .collect();
                        let emergency: Vec<_> = o.profiles.iter().filter(|p| p.emergency).cloned().collect();
                        view! {
                            <p class="muted" data-testid="access-rules">{rules_text(&o.profiles)}</p>
                            {demo.then(|| view! { <p class="demo-banner" role="note">{demo_text(&o.profiles)}</p> })}
                            <section>
                                <h2>{format!("Waiting for your decision ({})", o.to_decide.len())}</h2>
                                <RequestTable rows=o.to_decide testid="to-decide"/>
                            </section>
                            {(!o.to_review.is_empty()).then(|| view! {
                                <section>
                                    <h2>"Break-glass grants waiting for review"</h2>
                                    <RequestTable rows=o.to_review testid="to-review"/>
                                </section>
                            })}
                            <section>
                                <h2>"My requests"</h2>
                                <RequestTable rows=o.mine testid="mine"/>
                            </section>
                            <section class="panel">
                                <h2>"Request access"</h2>
                                <table class="grid">
                                    <thead><tr><th>"Environment"</th><th>"Profile"</th><th>"Role"</th><th>"Max"</th><th>"Approvals"</th><th>"MFA"</th><th>"Ticket"</th><th>"You may ask"</th></tr></thead>
                                    <tbody>{normal.iter().map(|p| view! {
                                        <tr><td>{p.environment.clone()}</td><td>{p.name.clone()}</td><td>{p.role_arn.clone()}</td>
                                            <td>{format!("{} min", p.max_minutes)}</td><td>{p.approvals}</td><td>{if p.require_mfa { "yes" } else { "no" }}</td>
                                            <td>{p.ticket_pattern.clone().unwrap_or_else(|| "-".into())}</td><td>{if p.can_request { "yes" } else { "no" }}</td></tr>
                                    }).collect_view()}</tbody>
                                </table>
                                <ActionForm action=ask attr:class="stack" attr:data-testid="request-form">
                                    {if choices.is_empty() {
                                        view! { <p class="muted">"No profile you could ask for is configured."</p> }.into_any()
                                    } else {
                                        view! { <crate::islands::ProfileFields profiles=choices/> }.into_any()
                                    }}
                                    <label>"Incident # (optional)" <input name="incident" type="number" min="0" value=move || prefill("incident")/></label>
                                    <button type="submit" data-testid="request">"Ask for access"</button>
                                </ActionForm>
                                <ActionError value=ask.value()/>
                            </section>
                            {(!emergency.is_empty()).then(|| view! {
                                <section class="panel">
                                    <h2>"Break-glass (SEV1/SEV2 incidents only)"</h2>
                                    <p class="muted">"Self-approved, shorter, announced in Slack at once, and reviewed afterwards by an approver other than you."</p>
                                    <ActionForm action=breakglass attr:class="stack" attr:data-testid="emergency-form">
                                        <label>"Environment"
                                            <select name="environment">{emergency.iter().map(|p| view! { <option value=p.environment.clone()>{p.environment.clone()}</option> }).collect_view()}</select>
                                        </label>
                                        <label>"Profile"
                                            <select name="profile">{emergency.iter().map(|p| view! { <option value=p.name.clone()>{p.name.clone()}</option> }).collect_view()}</select>
                                        </label>
                                        <label>"Incident #" <input name="incident" type="number" min="1" required value=move || prefill("incident")/></label>
                                        <label>"Reason" <input name="reason" required maxlength="500"/></label>
                                        <button type="submit" class="danger">"Take break-glass access"</button>
                                    </ActionForm>
                                    <ActionError value=breakglass.value()/>
                                </section>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
        </super::Live>
    }
}

/// Set by the server for `POST /access/requests/{id}` (the activate button): this render issues
/// the credentials and shows them, once, in the page it answers (`Cache-Control: no-store`).
#[derive(Clone, Copy, Debug)]
pub struct ActivateNow(pub i64);

#[component]
pub fn AccessRequestPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let token = move || query.with(|q| q.get("t").unwrap_or_default());
    let decide = ServerAction::<DecideAccess>::new();
    let revoke = ServerAction::<RevokeAccess>::new();
    let cancel = ServerAction::<CancelAccess>::new();
    let review = ServerAction::<ReviewAccess>::new();
    let activate_now = use_context::<ActivateNow>().map(|a| a.0);
    // Activation first, then the request as it is after it.
    let data = Resource::new(
        move || (id(), token()),
        move |(id, t)| async move {
            let issued = match activate_now.filter(|a| *a == id) {
                Some(a) => Some(activate_access(a).await),
                None => None,
            };
            let detail = get_access_request(id, t).await;
            // What the session did, once credentials were issued (`access/activity`).
            let activity = match &detail {
                Ok(d) if d.request.grant.is_some() => crate::api::access::get_access_activity(id).await.ok(),
                _ => None,
            };
            (issued, detail.map(|d| (d, activity)))
        },
    );
    let reads = move || query.with(|q| q.get("reads").is_some_and(|v| v == "1"));
    view! {
        // Outside the refreshed region: a refresh renders the page without them.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                data.await.0.map(|c| match c {
                    Ok(c) => view! { <Credentials c=c/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                })
            })}
        </Transition>
        <super::Live name="request" every=10>
        <Transition fallback=|| view! { <p class="muted">"Reading the request…"</p> }>
            {move || Suspend::new(async move {
                match data.await.1 {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok((d, activity)) => view! {
                        <Detail d=d activity=activity reads=reads() token=token() decide=decide revoke=revoke cancel=cancel review=review/>
                    }.into_any(),
                }
            })}
        </Transition>
        </super::Live>
        <ActionError value=decide.value()/>
        <ActionError value=revoke.value()/>
        <ActionError value=cancel.value()/>
        <ActionError value=review.value()/>
    }
}

#[component]
fn Detail(
    d: AccessDetail,
    activity: Option<SessionActivity>,
    reads: bool,
    token: String,
    decide: ServerAction<DecideAccess>,
    revoke: ServerAction<RevokeAccess>,
    cancel: ServerAction<CancelAccess>,
    review: ServerAction<ReviewAccess>,
) -> impl IntoView {
    let r = d.request.clone();
    let id = r.id;
    let token = StoredValue::new(token);
    let role = d.profile.as_ref().map(|p| p.role_arn.clone()).unwrap_or_default();
    // The person, not the identity provider's subject: name, verified email, then the subject.
    let who = if d.requester_name.is_empty() {
        r.requester.clone()
    } else {
        d.requester_name.clone()
    };
    let requester = match (d.requester_email.is_empty(), who == r.requester) {
        (true, true) => format!("{} (no verified email)", r.requester),
        (true, false) => format!("{who} (no verified email; login {})", r.requester),
        (false, _) => format!("{who} <{}> (login {})", d.requester_email, r.requester),
    };
    view! {
        <p class="muted"><a href="/access">"Access"</a> {format!(" / request #{}", r.id)}</p>
        <div class="page-head">
            <h1 data-testid="access-title">{format!("{who} asks for {} on {}", r.profile, r.environment)}</h1>
            <StatusBadge status=r.status/>
            {r.demo.then(|| view! { <DemoBadge/> })}
            {r.emergency.then(|| view! { <span class="badge sev sev1">"break-glass"</span> })}
        </div>
        {r.demo.then(|| view! { <p class="demo-banner" role="note">"Demo environment: a grant here hands out credentials that work nowhere."</p> })}
        {(d.link_valid == Some(false)).then(|| view! {
            <div class="error-box" role="alert" data-testid="link-invalid">"This approval link is no longer valid (the request left pending, or the link expired). Nothing can be decided through it."</div>
        })}
        <dl class="facts" data-testid="access-facts">
            <dt>"Requester"</dt><dd data-testid="access-requester">{requester}</dd>
            <dt>"Environment"</dt><dd>{r.environment.clone()}</dd>
            <dt>"Profile / role"</dt><dd>{format!("{} ({role})", r.profile)}</dd>
            <dt>"Duration"</dt><dd>{format!("{} min from approval", r.duration_minutes)}</dd>
            <dt>"Reason"</dt><dd data-testid="access-reason">{r.reason.clone()}</dd>
            <dt>"Ticket"</dt><dd>{if r.ticket.is_empty() { "-".into() } else { r.ticket.clone() }}</dd>
            <dt>"Incident"</dt><dd>{r.incident_id.map(|i| view! { <a href=format!("/incidents/{i}")>{format!("#{i} {}", d.incident_title.clone().unwrap_or_default())}</a> })}</dd>
            <dt>"Asked"</dt><dd>{format!("{} (pending until {})", format_ts(r.created_ms), format_ts(r.pending_until_ms))}</dd>
            <dt>"Approved"</dt><dd>{r.approved_ms.map(format_ts).unwrap_or_else(|| "-".into())}</dd>
            <dt>"Window ends"</dt><dd>{r.window_end_ms.map(format_ts).unwrap_or_else(|| "-".into())}</dd>
            <dt>"Grant"</dt><dd data-testid="grant">{r.grant.as_ref().map(|g| format!("{} (session {}), expires {}", g.access_key_id, g.session_name, format_ts(g.expires_ms))).unwrap_or_else(|| "-".into())}</dd>
            <dt>"Ended"</dt><dd>{r.ended_ms.map(|t| format!("{} by {}", format_ts(t), r.ended_by)).unwrap_or_else(|| "-".into())}</dd>
            {(!r.revocation.is_empty()).then(|| view! { <dt>"Revocation"</dt><dd data-testid="revocation">{r.revocation.clone()}</dd> })}
            {r.emergency.then(|| view! { <dt>"Review"</dt><dd>{if r.review_status == ReviewStatus::Done { format!("done by {}: {}", r.reviewed_by, r.review_note) } else { "waiting for an approver other than the grantee".into() }}</dd> })}
        </dl>
        <section>
            <h2>{format!("Decisions ({} approval(s) needed)", d.approvals_needed)}</h2>
            <ul class="events" data-testid="approvals">
                {d.approvals.iter().map(|a| view! { <li>{format!("{} {} at {}{}", a.approver, a.decision.label(), format_ts(a.at_ms), if a.comment.is_empty() { String::new() } else { format!(": {}", a.comment) })}</li> }).collect_view()}
            </ul>
            {match d.decide_refused.clone() {
                Some(why) => view! { <p class="muted" data-testid="decide-refused">{format!("You cannot decide: {why}")}</p> }.into_any(),
                None => view! {
                    <ActionForm action=decide attr:class="inline" attr:data-testid="approve-form">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <input type="hidden" name="token" value=token.get_value()/>
                        <input type="hidden" name="decision" value="approve"/>
                        <input name="comment" placeholder="comment (optional)" maxlength="500"/>
                        <button type="submit" data-testid="approve">"Approve"</button>
                    </ActionForm>
                    <ActionForm action=decide attr:class="inline" attr:data-testid="deny-form">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <input type="hidden" name="token" value=token.get_value()/>
                        <input type="hidden" name="decision" value="deny"/>
                        <input name="comment" required placeholder="why not" maxlength="500"/>
                        <button type="submit" class="danger">"Deny"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
        {d.can_activate.then(|| view! {
            // To the page itself: its answer shows the credentials (never a redirect, which would
            // have to carry them somewhere).
            <form method="post" action=format!("/access/requests/{id}") class="inline" data-testid="activate-form">
                <button type="submit" data-testid="activate">"Activate: issue my credentials"</button>
            </form>
        })}
        {(r.status == AccessStatus::Pending).then(|| view! {
            <ActionForm action=cancel attr:class="inline">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit">"Cancel request"</button>
            </ActionForm>
        })}
        {d.can_revoke.then(|| view! {
            <ActionForm action=revoke attr:class="inline" attr:data-testid="revoke-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <input name="reason" placeholder="why (optional)" maxlength="500"/>
                <button type="submit" class="danger" data-testid="revoke">"Revoke now"</button>
            </ActionForm>
        })}
        {activity.clone().map(|a| view! { <SessionEvents a=a reads=reads/> })}
        {d.can_review.then(|| view! {
            <p class="muted">"Read what the session did (above) before reviewing: the review is refused if its events changed since this page was read."</p>
            <ActionForm action=review attr:class="stack" attr:data-testid="review-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <input type="hidden" name="seen" value=activity.as_ref().map(|a| a.digest.clone()).unwrap_or_default()/>
                <textarea name="note" required rows="3" placeholder="What was done with the access, and was it justified?"></textarea>
                <button type="submit">"Complete the review"</button>
            </ActionForm>
        })}
        <section>
            <h2>{format!("{}'s earlier requests", r.requester)}</h2>
            <RequestTable rows=d.history testid="history"/>
        </section>
    }
}

/// The credentials, shown once, with a countdown (an island) from the server's clock at issue.
#[component]
fn Credentials(c: IssuedCredentials) -> impl IntoView {
    view! {
        <section class="panel" data-testid="credentials">
            <h2>"Your credentials (shown once: copy them now)"</h2>
            {c.demo.then(|| view! { <p class="demo-banner" role="note">"Demo credentials: they work nowhere."</p> })}
            <p>{format!("Role {} as session {}, expires {} · ", c.role_arn, c.session_name, format_ts(c.expires_ms))}<crate::islands::Countdown left_ms=c.expires_ms - c.issued_now_ms/></p>
            <h3>"Environment variables"</h3>
            <pre class="export" data-testid="env-exports">{c.env_exports()}</pre>
            <h3>"~/.aws/credentials"</h3>
            <pre class="export">{c.credentials_file()}</pre>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, approvals: u32, max_minutes: u32, ticket: Option<&str>, emergency: bool) -> ProfileInfo {
        ProfileInfo {
            environment: "taskflow-production".into(),
            name: name.into(),
            role_arn: format!("arn:aws:iam::987654321098:role/{name}"),
            max_minutes,
            approvals,
            require_mfa: true,
            ticket_pattern: ticket.map(str::to_string),
            emergency,
            can_request: true,
            demo: true,
        }
    }

    #[test]
    fn the_rules_line_says_what_each_configured_profile_demands() {
        let ticket = Some("^(INC|CHG)-[0-9]+$");
        let text = rules_text(&[
            profile("prod-readonly", 1, 60, ticket, false),
            profile("prod-db-access", 2, 60, ticket, false),
            profile("prod-break-glass", 1, 30, None, true),
        ]);
        assert!(
            text.starts_with(
                "prod-readonly on taskflow-production: MFA, 1 approval by someone else, \
                 ticket matching ^(INC|CHG)-[0-9]+$, at most 60 min. \
                 prod-db-access on taskflow-production: MFA, 2 approvals by other people,"
            ),
            "{text}"
        );
        assert!(
            text.contains("prod-break-glass on taskflow-production: break-glass only"),
            "{text}"
        );
        assert!(text.ends_with("everything is in the audit log."), "{text}");
        assert!(!text.to_lowercase().contains("seed"), "{text}");
        let short = rules_text(&[ProfileInfo {
            require_mfa: false,
            ..profile("look", 1, 10, None, false)
        }]);
        assert!(
            short.starts_with(
                "look on taskflow-production: no MFA, 1 approval by someone else, ticket optional, \
                 at most 10 min (the credentials last 15 min, STS's minimum)."
            ),
            "{short}"
        );
        assert!(rules_text(&[]).starts_with("No access profiles are configured."));
    }

    #[test]
    fn the_demo_label_names_each_demo_environment_once() {
        let p = profile("a", 1, 60, None, false);
        let text = demo_text(&[
            p.clone(),
            p.clone(),
            ProfileInfo {
                demo: false,
                environment: "live".into(),
                ..p
            },
        ]);
        assert_eq!(
            text,
            "Demo profiles (taskflow-production): grants on demo environments hand out credentials that work nowhere."
        );
    }
}

/// The CloudTrail events made with the request's credentials: writes always, reads on request.
#[component]
fn SessionEvents(a: SessionActivity, reads: bool) -> impl IntoView {
    let total = a.events.len();
    let read_only = a.events.iter().filter(|e| e.read_only).count();
    let shown: Vec<_> = a.events.into_iter().filter(|e| reads || !e.read_only).collect();
    let toggle = if reads {
        (format!("/access/requests/{}", a.request_id), "hide read-only calls")
    } else {
        (
            format!("/access/requests/{}?reads=1", a.request_id),
            "show read-only calls",
        )
    };
    view! {
        <section class="panel" data-testid="session-events">
            <h2>"What this session did"</h2>
            <p class="muted">
                {format!(
                    "CloudTrail events of role session {} from {} to {}: {total} call(s), {read_only} of them read-only",
                    a.session, format_ts(a.from_ms), format_ts(a.to_ms)
                )}
                {a.truncated.then_some(" · more than are shown (the oldest are left out)")}
                {a.demo.then_some(" · demo data")}
                " · " <a href=toggle.0 data-testid="reads-toggle">{toggle.1}</a>
            </p>
            <crate::components::badges::DataNotes notes=a.notes/>
            <crate::pages::changes::ChangeTable changes=shown testid="session-event-rows"/>
        </section>
    }
}
