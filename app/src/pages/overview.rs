use crate::api::list_environments;
use crate::components::badges::{DemoBadge, DemoBanner, ErrorBox, HealthBadge, TierBadge};
use crate::model::EnvSummary;
use leptos::prelude::*;

fn matches(env: &EnvSummary, needle: &str) -> bool {
    let needle = needle.trim().to_lowercase();
    needle.is_empty()
        || needle.split_whitespace().all(|w| {
            env.name.to_lowercase().contains(w) || env.tier.label() == w || env.region.to_lowercase().contains(w)
        })
}

/// `/`: every environment at a glance, with a filter box.
#[component]
pub fn Overview() -> impl IntoView {
    let envs = Resource::new(|| (), |_| list_environments());
    let (filter, set_filter) = signal(String::new());
    super::auto_refresh(15, move || envs.refetch());
    view! {
        <div class="page-head">
            <h1>"Environments"</h1>
            <input
                type="search"
                class="filter"
                data-testid="env-filter"
                placeholder="Filter by name, tier or region"
                aria-label="Filter environments"
                prop:value=filter
                on:input=move |ev| set_filter.set(event_target_value(&ev))
            />
        </div>
        <Transition fallback=|| view! { <p class="muted">"Reading environments…"</p> }>
            {move || Suspend::new(async move {
                match envs.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(list) => {
                        let any_demo = list.iter().any(|e| e.demo);
                        let total = list.len();
                        let list = StoredValue::new(list);
                        view! {
                            {any_demo.then(|| view! { <DemoBanner/> })}
                            <p class="muted" data-testid="env-count">
                                {move || {
                                    let shown = list.with_value(|l| l.iter().filter(|e| matches(e, &filter.get())).count());
                                    format!("{shown} of {total} environments")
                                }}
                            </p>
                            <div class="cards">
                                {move || {
                                    let needle = filter.get();
                                    list.with_value(|l| {
                                        l.iter()
                                            .filter(|e| matches(e, &needle))
                                            .cloned()
                                            .map(|e| view! { <EnvCard env=e/> })
                                            .collect_view()
                                    })
                                }}
                            </div>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn EnvCard(env: EnvSummary) -> impl IntoView {
    let href = format!("/env/{}", env.name);
    view! {
        <a class=format!("card health-edge-{}", env.health.label()) href=href data-testid="env-card">
            <div class="card-head">
                <strong class="env-name">{env.name.clone()}</strong>
                {env.demo.then(|| view! { <DemoBadge/> })}
            </div>
            <div class="card-tags">
                <TierBadge tier=env.tier/>
                <span class="region">{env.region.clone()}</span>
                <HealthBadge health=env.health/>
            </div>
            {match env.error.clone() {
                Some(err) => view! { <p class="card-error">{err}</p> }.into_any(),
                None => {
                    view! {
                        <dl class="card-facts">
                            <dt>"Services"</dt>
                            <dd>{env.services}</dd>
                            <dt>"Tasks"</dt>
                            <dd>{format!("{}/{}", env.tasks_running, env.tasks_desired)}</dd>
                            <dt>"Alarms firing"</dt>
                            <dd class:firing={env.alarms_firing > 0}>{env.alarms_firing}</dd>
                            <dt>"Resources"</dt>
                            <dd>{env.resources}</dd>
                        </dl>
                    }
                        .into_any()
                }
            }}
        </a>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Health, Tier};

    #[test]
    fn filter_matches_name_tier_and_region_words() {
        let e = EnvSummary {
            name: "taskflow-production".into(),
            tier: Tier::Prod,
            region: "us-east-1".into(),
            account_id: None,
            demo: true,
            description: String::new(),
            health: Health::Healthy,
            services: 1,
            tasks_running: 1,
            tasks_desired: 1,
            alarms_firing: 0,
            resources: 1,
            error: None,
            data_notes: 0,
        };
        assert!(matches(&e, ""));
        assert!(matches(&e, "TaskFlow"));
        assert!(matches(&e, "prod us-east"));
        assert!(!matches(&e, "staging"));
        assert!(!matches(&e, "eu-central"));
    }
}
