use crate::api::list_environments;
use crate::components::badges::{DemoBadge, DemoBanner, ErrorBox, HealthBadge, TierBadge};
use crate::model::EnvSummary;
use leptos::prelude::*;

#[cfg(test)]
fn matches(env: &EnvSummary, needle: &str) -> bool {
    crate::islands::card_matches(&env.name, env.tier.label(), &env.region, needle)
}

/// `/`: every environment at a glance, with a filter box (the `EnvFilter` island).
#[component]
pub fn Overview() -> impl IntoView {
    let envs = Resource::new(|| (), |_| list_environments());
    view! {
        <div class="page-head">
            <h1>"Environments"</h1>
            <crate::islands::EnvFilter/>
        </div>
        <super::Live name="page" every=15>
        <Transition fallback=|| view! { <p class="muted">"Reading environments…"</p> }>
            {move || Suspend::new(async move {
                match envs.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(list) => {
                        let any_demo = list.iter().any(|e| e.demo);
                        view! {
                            {any_demo.then(|| view! { <DemoBanner/> })}
                            <div class="cards" data-filter-list="">
                                {list.into_iter().enumerate().map(|(i, e)| view! { <EnvCard env=e order=i/> }).collect_view()}
                            </div>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
        </super::Live>
    }
}

#[component]
fn EnvCard(env: EnvSummary, order: usize) -> impl IntoView {
    let href = format!("/env/{}", env.name);
    view! {
        <a
            class=format!("card health-edge-{}", env.health.label())
            href=href
            data-testid="env-card"
            data-order=order
            data-env-name=env.name.clone()
            data-env-tier=env.tier.label()
            data-env-region=env.region.clone()
        >
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
