use crate::api::whoami;
use crate::model::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The people of the development login (dev mode only): a name and the role they get by default.
pub const DEV_USERS: [(&str, &str, Role); 4] = [
    ("alice", "Alice (on-call)", Role::Responder),
    ("bob", "Bob (tech lead)", Role::Approver),
    ("carol", "Carol (ops admin)", Role::Admin),
    ("dave", "Dave (reader)", Role::Viewer),
];

/// `/login` in dev mode: pick a demo user and a role. (In oidc mode the server redirects
/// `/login` to the identity provider before this page is reached.)
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/".into()));
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <h1>"Sign in"</h1>
        <p class="dev-warning" role="note">
            "Development login: anyone who can reach this console on its loopback address can pick any user and role. It is refused on any other address; production uses SSO (OIDC)."
        </p>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await.ok().filter(|v| !v.anonymous).map(|v| view! { <p>"Signed in as " {v.name} "."</p> })
            })}
        </Suspense>
        <div class="cards">
            {DEV_USERS
                .iter()
                .map(|(user, name, role)| {
                    view! {
                        <form method="post" action="/auth/dev-login" class="card login-card">
                            <input type="hidden" name="user" value=*user/>
                            <input type="hidden" name="next" value=next/>
                            <strong>{*name}</strong>
                            <label>
                                "Role "
                                <select name="role">
                                    {Role::ALL
                                        .iter()
                                        .map(|r| view! { <option value=r.label() selected=*r == *role>{r.label()}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                            <button type="submit" data-testid=format!("login-{user}")>"Sign in as " {*user}</button>
                        </form>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// `GET /logout` shows a button; signing out is a POST. After signing out (and after the
/// provider's own logout) it says so.
#[component]
pub fn LogoutPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(v) if !v.anonymous => view! {
                        <h1>"Sign out"</h1>
                        <form method="post" action="/logout">
                            <button type="submit">"Sign out"</button>
                        </form>
                    }
                        .into_any(),
                    _ => view! {
                        <h1>"Signed out"</h1>
                        <p>"You are signed out. " <a href="/login">"Sign in again"</a></p>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}
