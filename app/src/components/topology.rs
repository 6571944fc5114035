//! The request-path diagram of an environment, as SVG (readable without JavaScript): edge →
//! load balancers → target groups → ECS services (tasks per AZ) → data stores, and below it
//! every other resource grouped by type. Colours follow health.

use crate::model::{Inventory, Resource, ResourceKind};
use leptos::prelude::*;

const COL_W: f64 = 230.0;
const BOX_W: f64 = 200.0;
const BOX_H: f64 = 46.0;
const SVC_H: f64 = 62.0;
const GAP: f64 = 14.0;
const TOP: f64 = 34.0;

const COLUMNS: [&str; 5] = ["Edge", "Load balancers", "Target groups", "Services", "Data stores"];

fn column(kind: &ResourceKind) -> Option<usize> {
    Some(match kind {
        ResourceKind::CloudFront | ResourceKind::Waf => 0,
        ResourceKind::LoadBalancer => 1,
        ResourceKind::TargetGroup => 2,
        ResourceKind::EcsService => 3,
        ResourceKind::RdsInstance
        | ResourceKind::DocDbCluster
        | ResourceKind::DocDbInstance
        | ResourceKind::ElastiCache => 4,
        _ => return None,
    })
}

struct Placed<'a> {
    r: &'a Resource,
    col: usize,
    x: f64,
    y: f64,
    h: f64,
}

/// Where each node goes; pure, so it can be tested.
fn layout(inv: &Inventory) -> (Vec<Placed<'_>>, f64) {
    let mut placed = Vec::new();
    let mut heights = [TOP; 5];
    for r in &inv.resources {
        if let Some(col) = column(&r.kind) {
            let h = if r.kind == ResourceKind::EcsService {
                SVC_H
            } else {
                BOX_H
            };
            placed.push(Placed {
                r,
                col,
                x: 10.0 + col as f64 * COL_W,
                y: heights[col],
                h,
            });
            heights[col] += h + GAP;
        }
    }
    let height = heights.iter().cloned().fold(TOP, f64::max) + 10.0;
    (placed, height)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn subtitle(r: &Resource) -> String {
    match &r.tasks {
        Some(t) => format!("{}/{} running, {} pending", t.running, t.desired, t.pending),
        None => format!("{} · {}", r.kind.label(), r.status),
    }
}

/// Running tasks per availability zone, for a service's third line.
fn zone_line(r: &Resource) -> Option<String> {
    let zones = r.service.as_ref()?.running_by_zone();
    (!zones.is_empty()).then(|| {
        zones
            .iter()
            .map(|(z, n)| format!("{z}: {n}"))
            .collect::<Vec<_>>()
            .join(" · ")
    })
}

#[component]
pub fn Topology(env: String, inv: Inventory) -> impl IntoView {
    let (placed, height) = layout(&inv);
    let width = 10.0 + COL_W * 5.0;
    let find = |id: &str| placed.iter().find(|p| p.r.id == id);
    // Explicit links (load balancer → target group → service)…
    let mut edges: Vec<(f64, f64, f64, f64, bool)> = Vec::new();
    for p in &placed {
        for l in &p.r.links {
            if let Some(q) = find(l) {
                edges.push((p.x + BOX_W, p.y + p.h / 2.0, q.x, q.y + q.h / 2.0, false));
            }
        }
    }
    // …and the implied request path: edge → every load balancer, services → data stores (dashed).
    for p in placed.iter().filter(|p| p.col == 0) {
        for q in placed.iter().filter(|q| q.col == 1) {
            edges.push((p.x + BOX_W, p.y + p.h / 2.0, q.x, q.y + q.h / 2.0, true));
        }
    }
    for p in placed.iter().filter(|p| p.col == 3) {
        for q in placed.iter().filter(|q| q.col == 4) {
            edges.push((p.x + BOX_W, p.y + p.h / 2.0, q.x, q.y + q.h / 2.0, true));
        }
    }
    // Firing alarms on the nodes they watch (alarm resource = the node's name or its id's suffix).
    let firing: Vec<(String, crate::model::Severity)> = inv
        .alarms
        .iter()
        .filter(|a| a.state == crate::model::AlarmState::Alarm)
        .filter_map(|a| a.resource.clone().map(|r| (r, a.severity)))
        .collect();
    let nodes = placed
        .iter()
        .map(|p| {
            let alarm = firing.iter().filter(|(r, _)| *r == p.r.name || p.r.id.ends_with(r.as_str())).map(|(_, s)| *s).min();
            let health = if alarm.is_some() { p.r.health.max(crate::model::Health::Degraded) } else { p.r.health };
            let title = format!("{} {} ({}): {}", p.r.kind.label(), p.r.name, health.label(), p.r.status);
            let label = truncate(&p.r.name, 28);
            let sub = truncate(&subtitle(p.r), 36);
            let zones = zone_line(p.r).map(|z| truncate(&z, 36));
            let href = service_href(&env, p.r);
            let body = view! {
                <g class=format!("node health-{}", health.label())>
                    {alarm.map(|sev| view! { <text x=p.x + BOX_W - 8.0 y=p.y + 18.0 class="node-alarm" text-anchor="end">{format!("ALARM {}", sev.label())}</text> })}
                    <title>{title}</title>
                    <rect x=p.x y=p.y width=BOX_W height=p.h rx="5"></rect>
                    <text x=p.x + 8.0 y=p.y + 18.0 class="node-name">{label}</text>
                    <text x=p.x + 8.0 y=p.y + 36.0 class="node-sub">{sub}</text>
                    {zones.map(|z| view! { <text x=p.x + 8.0 y=p.y + 53.0 class="node-sub">{z}</text> })}
                </g>
            };
            match href {
                Some(h) => view! { <a href=h>{body}</a> }.into_any(),
                None => body.into_any(),
            }
        })
        .collect_view();
    let headers = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| view! { <text x=10.0 + i as f64 * COL_W y="18" class="col-head">{*c}</text> })
        .collect_view();
    let lines = edges
        .into_iter()
        .map(|(x1, y1, x2, y2, implied)| {
            view! { <line x1=x1 y1=y1 x2=x2 y2=y2 class=if implied { "edge implied" } else { "edge" }></line> }
        })
        .collect_view();
    let others: Vec<(String, Vec<&Resource>)> = {
        let mut groups: Vec<(String, Vec<&Resource>)> = Vec::new();
        for r in inv.resources.iter().filter(|r| column(&r.kind).is_none()) {
            let label = r.kind.label().to_string();
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, v)) => v.push(r),
                None => groups.push((label, vec![r])),
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    };
    view! {
        <div class="topology">
            <svg
                viewBox=format!("0 0 {width} {height}")
                width=width
                height=height
                role="img"
                aria-label="Request path of the environment"
                data-testid="topology"
            >
                {headers}
                {lines}
                {nodes}
            </svg>
            <div class="other-resources">
                {others
                    .into_iter()
                    .map(|(label, rs)| {
                        view! {
                            <div class="other-group">
                                <strong>{format!("{label} ({})", rs.len())}</strong>
                                <ul>
                                    {rs
                                        .into_iter()
                                        .map(|r| {
                                            view! {
                                                <li class=format!("chip health-{}", r.health.label())>{r.name.clone()}</li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </div>
    }
}

/// ECS services link to their page.
pub fn service_href(env: &str, r: &Resource) -> Option<String> {
    (r.kind == ResourceKind::EcsService).then(|| format!("/env/{env}/services/{}", r.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Health;

    fn r(kind: ResourceKind, name: &str) -> Resource {
        Resource {
            kind,
            name: name.into(),
            id: name.into(),
            status: "ok".into(),
            health: Health::Healthy,
            zones: vec![],
            tasks: None,
            details: vec![],
            links: vec![],
            service: None,
        }
    }

    #[test]
    fn nodes_go_to_their_columns_in_order() {
        let inv = Inventory {
            resources: vec![
                r(ResourceKind::TargetGroup, "blue"),
                r(ResourceKind::LoadBalancer, "alb"),
                r(ResourceKind::TargetGroup, "green"),
                r(ResourceKind::Lambda, "fn"),
                r(ResourceKind::RdsInstance, "db"),
            ],
            alarms: vec![],
            gauges: vec![],
            fetched_ms: 0,
            notes: vec![],
        };
        let (placed, height) = layout(&inv);
        let pos = |n: &str| placed.iter().find(|p| p.r.name == n).map(|p| (p.col, p.y));
        assert_eq!(pos("alb"), Some((1, TOP)));
        assert_eq!(pos("blue"), Some((2, TOP)));
        assert_eq!(pos("green"), Some((2, TOP + BOX_H + GAP)));
        assert_eq!(pos("db"), Some((4, TOP)));
        assert_eq!(pos("fn"), None, "lambdas are listed below the diagram");
        assert!(height > TOP + 2.0 * BOX_H);
    }
}
