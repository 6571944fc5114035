use crate::api::whoami;
use leptos::prelude::*;

/// Header with navigation and who is signed in, then the page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <header class="topbar">
            <a class="brand" href="/">"ops-console"</a>
            <nav>
                <a href="/">"Environments"</a>
                <a href="/incidents">"Incidents"</a>
                <a href="/access">"Access"</a>
                <a href="/audit">"Audit"</a>
            </nav>
            <div class="who">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match me.await {
                            Ok(v) if v.anonymous => {
                                view! {
                                    <span class="muted">{v.name}</span>
                                    <a href="/login">"Sign in"</a>
                                }
                                    .into_any()
                            }
                            Ok(v) if v.roles.is_empty() => {
                                // Signed in, but no group maps to a role: say so plainly.
                                view! {
                                    <span class="no-access" role="alert" data-testid="no-access">
                                        {format!("No access: {} has no console role. Ask an ops-console admin to map one of your groups in [roles].", v.name)}
                                    </span>
                                    <form method="post" action="/logout" class="inline">
                                        <button type="submit">"Sign out"</button>
                                    </form>
                                }
                                    .into_any()
                            }
                            Ok(v) => {
                                let roles = v.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
                                view! {
                                    <span data-testid="who">{v.name}" ("{roles}")"</span>
                                    <form method="post" action="/logout" class="inline">
                                        <button type="submit">"Sign out"</button>
                                    </form>
                                }
                                    .into_any()
                            }
                            Err(_) => view! { <a href="/login">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </header>
        <main>{children()}</main>
        // Last in the page: the island script hydrates in document order, so once this one has
        // marked the body as live, every island before it is too.
        <crate::islands::LiveRegions/>
    }
}
