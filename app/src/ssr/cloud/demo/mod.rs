//! `DemoCloud`: the demo systems described in docs/DEMO.md, simulated in-process. Everything here
//! is demo data; the environments carry `demo = true` and every page that shows them says so.
//! Metrics move with the clock (deterministic waves, so two replicas agree), and alarms are
//! evaluated against them, so the overview changes over time like a real estate would.
//!
//! `sim` holds the clock and the builders; each simulated system has its own file (`taskflow`,
//! `homebrew`, `bluegreen`, `curriculum`); `charts`, `backups` and `profiles` answer the other
//! questions the console asks of an environment.

mod activity;
mod backups;
mod bluegreen;
mod charts;
mod curriculum;
mod homebrew;
mod profiles;
mod sim;
mod taskflow;

pub use backups::demo_backups;
pub use charts::demo_charts;
pub use profiles::demo_profiles;

use super::{
    BackupsData, Cloud, CloudError, DenyWritten, InsightsRead, LogPlace, LogTarget, ServiceNow, SeverityRules,
    TempCredentials,
};
use crate::model::{Alarm, AlarmState, Chart, DataNote, Gauge, Inventory, Resource, Tier, TimeRange};
use async_trait::async_trait;
use homebrew::HomebrewSize;
use sim::{Reading, Sim, link_demo, round2};
use std::sync::Arc;

/// A demo environment as docs/DEMO.md describes it.
#[derive(Debug, Clone)]
pub struct DemoEnv {
    pub name: &'static str,
    pub tier: Tier,
    pub region: &'static str,
    pub account_id: Option<&'static str>,
    pub description: &'static str,
    /// Which of the team's environment documents the system was modelled on (docs/DEMO.md
    /// lists them); for maintainers, never shown on a page.
    pub seed: &'static str,
    pub rpo_hours: Option<u32>,
}

pub const DEMO_ENVS: [DemoEnv; 6] = [
    DemoEnv {
        name: "taskflow-production",
        tier: Tier::Prod,
        region: "us-east-1",
        account_id: Some("987654321098"),
        description: "TaskFlow: CloudFront + WAF → ALB over two AZs → ECS (2-20 tasks) → RDS primary/standby + Redis",
        seed: "004",
        rpo_hours: Some(24),
    },
    DemoEnv {
        name: "homebrew-bottles-sync-prod",
        tier: Tier::Prod,
        region: "us-east-1",
        account_id: None,
        description: "Homebrew Bottles Sync: Lambda orchestrator + sync worker, ECS Fargate task, S3, weekly EventBridge schedule",
        seed: "000",
        rpo_hours: Some(24),
    },
    DemoEnv {
        name: "homebrew-bottles-sync-staging",
        tier: Tier::Staging,
        region: "us-east-1",
        account_id: None,
        description: "Homebrew Bottles Sync staging: production-like on Fargate Spot, Saturday schedule",
        seed: "002",
        rpo_hours: None,
    },
    DemoEnv {
        name: "homebrew-bottles-sync-dev",
        tier: Tier::Dev,
        region: "us-west-2",
        account_id: None,
        description: "Homebrew Bottles Sync dev: smaller sizes, every 6 hours",
        seed: "002",
        rpo_hours: None,
    },
    DemoEnv {
        name: "docdb-bluegreen-prod",
        tier: Tier::Prod,
        region: "us-east-1",
        account_id: None,
        description: "Blue/green production: VPC over two AZs with a NAT each, ALB with two target groups, ECS 2-8 tasks, DocumentDB ×2",
        seed: "001",
        rpo_hours: Some(24),
    },
    DemoEnv {
        name: "curriculum-alignment-prod",
        tier: Tier::Prod,
        region: "eu-central-1",
        account_id: None,
        description: "Curriculum Alignment: CloudFormation stack of Lambda, API Gateway, S3 and DynamoDB; RPO 4 h / RTO 2 h",
        seed: "003",
        rpo_hours: Some(4),
    },
];

pub fn demo_env(name: &str) -> Option<&'static DemoEnv> {
    DEMO_ENVS.iter().find(|e| e.name == name)
}

pub struct DemoCloud {
    severity: Arc<SeverityRules>,
    queries: activity::DemoQueries,
}

impl DemoCloud {
    pub fn new(severity: Arc<SeverityRules>) -> DemoCloud {
        DemoCloud {
            severity,
            queries: activity::DemoQueries::default(),
        }
    }
}

#[async_trait]
impl Cloud for DemoCloud {
    async fn log_place(&self, _env: &str, target: &LogTarget<'_>) -> Result<LogPlace, CloudError> {
        activity::place(target)
    }

    async fn log_lines(
        &self,
        _env: &str,
        place: &LogPlace,
        start_ms: i64,
        end_ms: i64,
        pattern: &str,
        limit: usize,
    ) -> Result<(Vec<crate::model::LogLine>, bool), CloudError> {
        Ok(activity::lines(place, start_ms, end_ms, pattern, limit))
    }

    async fn insights_start(
        &self,
        _env: &str,
        place: &LogPlace,
        start_ms: i64,
        end_ms: i64,
        query: &str,
    ) -> Result<String, CloudError> {
        Ok(self
            .queries
            .start(place, start_ms, end_ms, query, crate::ssr::clock::now()))
    }

    async fn insights_results(&self, _env: &str, id: &str) -> Result<InsightsRead, CloudError> {
        self.queries.results(id, crate::ssr::clock::now())
    }

    async fn insights_stop(&self, _env: &str, _id: &str) -> Result<(), CloudError> {
        Ok(())
    }

    async fn trail_changes(
        &self,
        _env: &str,
        inv: &Inventory,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<crate::model::Change>, bool), CloudError> {
        Ok((activity::trail(inv, from_ms, to_ms), false))
    }

    async fn session_events(
        &self,
        _env: &str,
        session: &str,
        _access_key_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<crate::model::Change>, bool), CloudError> {
        Ok((activity::session(session, from_ms, to_ms), false))
    }

    async fn inventory(&self, env: &str, now_ms: i64) -> Result<Inventory, CloudError> {
        let sim = Sim {
            t: now_ms as f64 / 1000.0,
            now_ms,
        };
        let (mut resources, readings) =
            readings_at(env, &sim).ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?;
        link_demo(&mut resources);
        let mut alarms = Vec::new();
        let mut gauges = Vec::new();
        for r in readings {
            gauges.push(Gauge {
                label: r.label.to_string(),
                value: round2(r.value),
                unit: r.unit.to_string(),
            });
            if let Some(a) = r.alarm {
                let firing = if a.above {
                    r.value > a.threshold
                } else {
                    r.value < a.threshold
                };
                let (state, reason) = if firing {
                    (
                        AlarmState::Alarm,
                        format!(
                            "Threshold crossed: {} {} {} (demo)",
                            round2(r.value),
                            if a.above { ">" } else { "<" },
                            a.threshold
                        ),
                    )
                } else {
                    (AlarmState::Ok, "Threshold not crossed (demo)".to_string())
                };
                let name = format!("{env}-{}", a.suffix);
                alarms.push(Alarm {
                    severity: self.severity.severity(&name),
                    name,
                    state,
                    reason,
                    condition: a.condition.to_string(),
                    since_ms: sim.since(a.flip_period),
                    resource: a.resource.map(|s| format!("{env}{s}")),
                    metric: Some(format!("demo/{}", r.label)),
                    threshold: Some(a.threshold),
                });
            }
        }
        alarms.sort_by(|a, b| {
            (b.state == AlarmState::Alarm)
                .cmp(&(a.state == AlarmState::Alarm))
                .then(a.severity.cmp(&b.severity))
        });
        Ok(Inventory {
            resources,
            alarms,
            gauges,
            fetched_ms: now_ms,
            notes: vec![],
        })
    }

    async fn metrics(
        &self,
        env: &str,
        _inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<(Vec<Chart>, Vec<DataNote>), CloudError> {
        demo_charts(env, range, now_ms)
            .map(|c| (c, vec![]))
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))
    }

    async fn backups(&self, env: &str, rpo_hours: Option<u32>, now_ms: i64) -> Result<BackupsData, CloudError> {
        demo_backups(env, rpo_hours, now_ms).ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))
    }

    async fn alarms_now(&self, env: &str) -> Result<Vec<Alarm>, CloudError> {
        Ok(self.inventory(env, crate::ssr::clock::now()).await?.alarms)
    }

    async fn alarm_history(
        &self,
        _env: &str,
        _alarm: &str,
        _since_ms: i64,
    ) -> Result<Vec<(i64, AlarmState)>, CloudError> {
        Err(CloudError::NotAvailable("the demo keeps no alarm history".into()))
    }

    async fn service_now(&self, env: &str, cluster: &str, service: &str) -> Result<ServiceNow, CloudError> {
        let inv = self.inventory(env, crate::ssr::clock::now()).await?;
        inv.resources
            .iter()
            .filter_map(|r| r.service.as_ref().map(|s| (r, s)))
            .find(|(r, s)| r.name == service && s.cluster == cluster)
            .map(|(r, s)| ServiceNow {
                task_definition: s.task_definition.clone(),
                deployments: s.deployments.clone(),
                running: r.tasks.map(|t| t.running).unwrap_or(0),
                desired: r.tasks.map(|t| t.desired).unwrap_or(0),
                events: s.events.clone(),
                controller: s.controller,
            })
            .ok_or_else(|| CloudError::NotAvailable(format!("no service {cluster}/{service} in {env}")))
    }

    fn rollback_off(&self, _env: &str) -> Option<String> {
        Some("this is a simulated demo environment: it has no operator role, so rollback is off".into())
    }

    async fn assume_role(
        &self,
        _env: &str,
        _role_arn: &str,
        _session_name: &str,
        duration_s: i32,
        _source_identity: &str,
        _tags: &[(String, String)],
    ) -> Result<TempCredentials, CloudError> {
        // Shaped like real credentials, valid nowhere, and named so.
        let id: String = (0..12).map(|_| char::from(b'A' + rand::random::<u8>() % 26)).collect();
        Ok(TempCredentials {
            access_key_id: format!("ASIADEMO{id}"),
            secret_access_key: "demo-secret-not-valid-anywhere".into(),
            session_token: "demo-session-token-not-valid-anywhere".into(),
            expires_ms: crate::ssr::clock::now() + i64::from(duration_s) * 1000,
        })
    }

    async fn deny_session(
        &self,
        _env: &str,
        _role: &str,
        _session_name: &str,
        before: i64,
    ) -> Result<DenyWritten, CloudError> {
        // Demo credentials work nowhere: no IAM policy is written.
        Ok(DenyWritten {
            policy_chars: 0,
            role_wide: false,
            cutoff_ms: before,
        })
    }

    async fn task_definition_arn(&self, _env: &str, _task_definition: &str) -> Result<String, CloudError> {
        Err(CloudError::NotAvailable("demo environments cannot be changed".into()))
    }

    async fn rollback(&self, _env: &str, _c: &str, _s: &str, _td: &str) -> Result<(), CloudError> {
        Err(CloudError::NotAvailable("demo environments cannot be changed".into()))
    }
}

/// The simulated estate of `env` at one instant.
fn readings_at(env: &str, sim: &Sim) -> Option<(Vec<Resource>, Vec<Reading>)> {
    Some(match env {
        "taskflow-production" => taskflow::taskflow(sim),
        "homebrew-bottles-sync-prod" => homebrew::homebrew(sim, HomebrewSize::Prod),
        "homebrew-bottles-sync-staging" => homebrew::homebrew(sim, HomebrewSize::Staging),
        "homebrew-bottles-sync-dev" => homebrew::homebrew(sim, HomebrewSize::Dev),
        "docdb-bluegreen-prod" => bluegreen::bluegreen(sim),
        "curriculum-alignment-prod" => curriculum::curriculum(sim),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Health, ResourceKind, health_of};

    fn cloud() -> DemoCloud {
        DemoCloud::new(Arc::new(SeverityRules::new(&[])))
    }

    #[tokio::test]
    async fn every_demo_environment_has_an_inventory_from_its_seed() -> Result<(), Box<dyn std::error::Error>> {
        let c = cloud();
        for env in &DEMO_ENVS {
            let inv = c.inventory(env.name, 1_800_000_000_000).await?;
            assert!(!inv.resources.is_empty(), "{}", env.name);
        }
        let tf = c.inventory("taskflow-production", 1_800_000_000_000).await?;
        let svc = tf
            .resources
            .iter()
            .find(|r| r.name == "taskflow-api-production")
            .ok_or("service")?;
        let t = svc.tasks.ok_or("counts")?;
        assert!((2..=20).contains(&t.desired), "{t:?}");
        assert!(tf.resources.iter().any(|r| r.kind == ResourceKind::ElastiCache));
        let bg = c.inventory("docdb-bluegreen-prod", 1_800_000_000_000).await?;
        assert_eq!(
            bg.resources
                .iter()
                .filter(|r| r.kind == ResourceKind::TargetGroup)
                .count(),
            2
        );
        assert_eq!(
            bg.resources
                .iter()
                .filter(|r| r.kind == ResourceKind::DocDbInstance)
                .count(),
            2
        );
        assert!(c.inventory("nope", 0).await.is_err());
        Ok(())
    }

    #[tokio::test]
    async fn curriculum_keeps_a_firing_alarm_and_metrics_move() -> Result<(), Box<dyn std::error::Error>> {
        let c = cloud();
        let a = c.inventory("curriculum-alignment-prod", 1_800_000_000_000).await?;
        let firing: Vec<_> = a.alarms.iter().filter(|x| x.state == AlarmState::Alarm).collect();
        assert!(
            firing
                .iter()
                .any(|x| x.name == "curriculum-alignment-prod-lambda-error-rate"),
            "{firing:?}"
        );
        assert_ne!(health_of(&a), Health::Healthy);
        let b = c.inventory("curriculum-alignment-prod", 1_800_000_300_000).await?;
        assert_ne!(a.gauges[0].value, b.gauges[0].value);
        Ok(())
    }
}
