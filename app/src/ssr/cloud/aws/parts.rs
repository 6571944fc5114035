//! The inventory of an environment: its parts, each read through the cache within its time
//! (`part`), joined (`compose`), scoped (scope.rs), with the current figures and CodeDeploy read
//! as tasks that outlive the page's budget.

use super::*;

impl SdkCloud {
    /// The charts of a range (cached for one period), their notes, and the current figures.
    pub(super) async fn charts(
        &self,
        env: &str,
        inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<(Vec<Chart>, Vec<DataNote>, Vec<crate::model::Gauge>), CloudError> {
        let fetched = self.spawn_charts(env, inv, range, now_ms).await?.await;
        let fetched = fetched.unwrap_or_else(|e| Fetched::Failed(format!("the metrics read stopped: {e}")));
        let mut notes = Vec::new();
        let (charts, mut inner, gauges) = take("metrics", fetched, &mut notes);
        notes.append(&mut inner);
        Ok((charts, notes, gauges))
    }

    /// The chart read as a task of its own: a caller that stops waiting (the inventory's budget)
    /// leaves it to finish and fill the cache for the next view, instead of throwing it away.
    async fn spawn_charts(
        &self,
        env: &str,
        inv: &Inventory,
        range: TimeRange,
        now_ms: i64,
    ) -> Result<tokio::task::JoinHandle<Fetched<ChartsRead>>, CloudError> {
        self.reader(env).await?;
        let reader = self
            .envs
            .get(env)
            .ok_or_else(|| CloudError::UnknownEnvironment(env.to_string()))?
            .clone();
        let metrics = self.metrics.clone();
        let period = range.period();
        let (specs, queries) = cloudwatch::plan(&inv.resources, period);
        let alarms = inv.alarms.clone();
        let ttl = Duration::from_secs(u64::try_from(period).unwrap_or(60));
        Ok(tokio::spawn(async move {
            let Some(clients) = reader.clients.get() else {
                return Fetched::Failed("the environment's clients are not ready".into());
            };
            let fetch = async {
                let end = now_ms - now_ms.rem_euclid(i64::from(period) * 1000);
                let start = end - range.seconds() * 1000;
                let (values, notes) = cloudwatch::fetch(&clients.cloudwatch, &queries, period, start, end).await;
                let failed_percentiles = notes.iter().any(|n| n.part == "metrics (percentiles)");
                let failed_all = notes.iter().any(|n| n.part == "metrics");
                let charts = cloudwatch::assemble(&specs, &queries, &values, failed_percentiles, failed_all, &alarms);
                let gauges = cloudwatch::gauges(&specs, &charts);
                Ok((charts, notes, gauges))
            };
            part(&reader.charts, range.label(), ttl, &metrics, fetch).await
        }))
    }

    /// Services deployed by CodeDeploy get their deployment group and last deployment (read only
    /// when there is such a service).
    async fn with_codedeploy(
        &self,
        env: &str,
        resources: &mut [Resource],
        notes: &mut Vec<DataNote>,
        budget: Duration,
    ) {
        let wanted: Vec<(String, String)> = resources
            .iter()
            .filter_map(|r| {
                let s = r.service.as_ref()?;
                (s.controller == crate::model::DeploymentController::CodeDeploy)
                    .then(|| (s.cluster.clone(), r.name.clone()))
            })
            .collect();
        let Some(reader) = self.envs.get(env).cloned().filter(|_| !wanted.is_empty()) else {
            return;
        };
        if budget.is_zero() {
            return;
        }
        let metrics = self.metrics.clone();
        // A task of its own, so that running out of the page's budget leaves it to fill the cache.
        let task = tokio::spawn(async move {
            let Some(clients) = reader.clients.get() else {
                return Fetched::Failed("the environment's clients are not ready".into());
            };
            let read = codedeploy::read(&clients.codedeploy, &wanted);
            part(&reader.codedeploy, "codedeploy", TTL_CODEDEPLOY, &metrics, read).await
        });
        let fetched = within(budget, task)
            .await
            .unwrap_or_else(|| Fetched::Failed("no answer within the page's time; shown on a later view".into()));
        let failed = matches!(fetched, Fetched::Failed(_));
        let groups = take("CodeDeploy", fetched, notes);
        for r in resources.iter_mut() {
            let Some(cluster) = r
                .service
                .as_ref()
                .filter(|s| s.controller == crate::model::DeploymentController::CodeDeploy)
                .map(|s| s.cluster.clone())
            else {
                continue;
            };
            let text = groups
                .iter()
                .find(|(c, s, _)| *c == cluster && *s == r.name)
                .map(|(_, _, t)| t.clone())
                .unwrap_or_else(|| {
                    if failed {
                        "not read (see the note)".into()
                    } else {
                        "no deployment group found for this service".into()
                    }
                });
            r.details.push(("CodeDeploy".into(), text));
        }
    }

    /// The scope of an inventory just read (its tagged ARNs come from the same cache entry).
    pub(super) async fn scope_of(&self, env: &str, inv: &Inventory) -> Result<Option<scope::Scope>, CloudError> {
        let (reader, clients) = self.reader(env).await?;
        let Some(selector) = reader.config.selector.as_ref() else {
            return Ok(None);
        };
        if inv.notes.iter().any(|n| n.part == "scope") {
            return Ok(Some(scope::Scope::default()));
        }
        let arns = part(
            &reader.arns,
            "tagged",
            TTL_TAGGED,
            &self.metrics,
            tagging::read(&clients.tagging, Some(selector)),
        )
        .await;
        Ok(Some(match arns {
            Fetched::Fresh(v) | Fetched::Stale { value: v, .. } => scope::Scope::new(&inv.resources, &v),
            Fetched::Failed(_) => scope::Scope::default(),
        }))
    }
}

impl SdkCloud {
    /// ECS, the part that grows with the services and tasks, read as a task of its own: a read
    /// longer than a page waits (`PART_TIMEOUT`; a first read of hundreds of services) goes on,
    /// within `LONG_READ_TIMEOUT`, and fills the cache for the next view. Meanwhile the previous
    /// value is served, or a note says the read is under way.
    async fn ecs_part(&self, env: &str) -> Fetched<Vec<Resource>> {
        let Some(reader) = self.envs.get(env).cloned() else {
            return Fetched::Failed(format!("{env} is not an environment this cloud knows"));
        };
        let (metrics, keep) = (self.metrics.clone(), reader.clone());
        let task = tokio::spawn(async move {
            let Some(clients) = reader.clients.get() else {
                return Fetched::Failed("the environment's clients are not ready".into());
            };
            reader
                .resources
                .get("ecs", TTL_ECS, &metrics, || async {
                    match tokio::time::timeout(LONG_READ_TIMEOUT, ecs::read(&clients.ecs, &reader.taskdefs)).await {
                        Ok(r) => r,
                        Err(_) => Err(format!("no answer within {} s", LONG_READ_TIMEOUT.as_secs())),
                    }
                })
                .await
        });
        match within(PART_TIMEOUT, task).await {
            Some(fetched) => fetched,
            None => match keep.resources.previous("ecs", TTL_ECS) {
                Some(previous) => previous,
                None => Fetched::Failed(format!(
                    "no answer within {} s; the read goes on and shows on a later view",
                    PART_TIMEOUT.as_secs()
                )),
            },
        }
    }
}

/// A read running as a task of its own (charts, CodeDeploy, ECS), waited for `wait` at most:
/// `None` while it still runs; it goes on and fills its cache for a later view.
async fn within<T>(wait: Duration, task: tokio::task::JoinHandle<Fetched<T>>) -> Option<Fetched<T>> {
    match tokio::time::timeout(wait, task).await {
        Ok(Ok(fetched)) => Some(fetched),
        Ok(Err(e)) => Some(Fetched::Failed(format!("the read stopped: {e}"))),
        Err(_) => None,
    }
}

/// One part of the inventory, fetched through the cache within `PART_TIMEOUT`.
pub(super) async fn part<T, Fut>(
    cache: &Cache<T>,
    key: &str,
    ttl: Duration,
    metrics: &Metrics,
    fetch: Fut,
) -> Fetched<T>
where
    Fut: std::future::Future<Output = Result<T, String>>,
{
    cache
        .get(key, ttl, metrics, || async move {
            match tokio::time::timeout(PART_TIMEOUT, fetch).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} s", PART_TIMEOUT.as_secs())),
            }
        })
        .await
}

pub(super) fn take<T: Clone + Default>(label: &str, f: Fetched<T>, notes: &mut Vec<DataNote>) -> T {
    match f {
        Fetched::Fresh(v) => (*v).clone(),
        Fetched::Stale { value, age, error } => {
            notes.push(DataNote {
                part: label.into(),
                message: error,
                stale_age_s: Some(age.as_secs()),
            });
            (*value).clone()
        }
        Fetched::Failed(error) => {
            notes.push(DataNote {
                part: label.into(),
                message: error,
                stale_age_s: None,
            });
            T::default()
        }
    }
}

impl SdkCloud {
    /// Every part at once, joined and scoped (`Cloud::inventory`).
    /// `budget`: how long after it began the read may wait for the current figures and CodeDeploy
    /// (zero for the reads that only need the resources: scope, backups, the alarm poll).
    pub(super) async fn read_inventory(
        &self,
        env: &str,
        now_ms: i64,
        budget: Duration,
    ) -> Result<Inventory, CloudError> {
        let (reader, clients) = self.reader(env).await?;
        let m = &self.metrics;
        let selector = reader.config.selector.as_ref();
        let region = reader.config.region.as_str();
        let mut notes = Vec::new();
        let started = std::time::Instant::now();
        let tagged = || {
            part(
                &reader.arns,
                "tagged",
                TTL_TAGGED,
                m,
                tagging::read(&clients.tagging, selector),
            )
        };
        // Kinds whose list calls carry no tags are narrowed to the tagged ARNs before any
        // per-resource call: they wait for the same (single-flight, cached) tagged read.
        let owned = || async {
            match tagged().await {
                Fetched::Fresh(v) | Fetched::Stale { value: v, .. } if selector.is_some() => {
                    Some(v.iter().cloned().collect::<HashSet<String>>())
                }
                _ => None,
            }
        };
        let cache = &reader.resources;
        let ecs = self.ecs_part(env);
        let (arns, ecs, elb, rds, alarms, stacks, lambdas, apis, rules, caches, scaling) = tokio::join!(
            tagged(),
            ecs,
            part(cache, "elb", TTL_ELB, m, elb::read(&clients.elb)),
            part(cache, "rds", TTL_RDS, m, rds::read(&clients.rds)),
            part(
                &reader.alarms,
                "alarms",
                TTL_ALARMS,
                m,
                cloudwatch::alarms(&clients.cloudwatch, &self.severity)
            ),
            // Stacks and APIs carry their tags: narrowed by their own.
            part(
                cache,
                "cloudformation",
                TTL_STACKS,
                m,
                cloudformation::read(&clients.cloudformation, selector)
            ),
            part(cache, "lambda", TTL_LAMBDA, m, async {
                lambda::read(&clients.lambda, owned().await.as_ref(), &reader.concurrency).await
            }),
            part(
                cache,
                "apis",
                TTL_APIS,
                m,
                apigateway::read(&clients.apigateway, &clients.apigatewayv2, region, selector)
            ),
            part(cache, "events", TTL_RULES, m, async {
                eventbridge::read(
                    &clients.eventbridge,
                    selector,
                    owned().await.as_ref(),
                    &reader.rule_tags,
                )
                .await
            }),
            part(cache, "elasticache", TTL_ELASTICACHE, m, async {
                elasticache::read(&clients.elasticache, owned().await.as_ref()).await
            }),
            part(
                &reader.scaling,
                "scaling",
                TTL_SCALING,
                m,
                scaling::read(&clients.scaling)
            ),
        );
        let tagging_failed = matches!(arns, Fetched::Failed(_));
        let arns = take("tagged resources", arns, &mut notes);
        let narrow = selector.is_some() && !tagging_failed;
        let ecs = take("ECS", ecs, &mut notes);
        let elb = take("load balancers", elb, &mut notes);
        let rds = take("databases", rds, &mut notes);
        let alarms = take("alarms", alarms, &mut notes);
        let mut extra = take("CloudFormation stacks", stacks, &mut notes);
        extra.extend(take("Lambda functions", lambdas, &mut notes));
        extra.extend(take("API Gateway", apis, &mut notes));
        extra.extend(take("EventBridge rules", rules, &mut notes));
        extra.extend(take("ElastiCache", caches, &mut notes));
        let scaling = take("ECS auto scaling", scaling, &mut notes);
        if selector.is_some() && tagging_failed {
            notes.push(DataNote {
                part: "scope".into(),
                message: SCOPE_UNKNOWN.into(),
                stale_age_s: None,
            });
        }
        let mut resources = compose(ecs, elb, rds, extra, &arns, narrow);
        for r in resources.iter_mut() {
            let Some(info) = &r.service else { continue };
            let key = format!("service/{}/{}", info.cluster, r.name);
            if let Some((_, text)) = scaling.iter().find(|(id, _)| *id == key) {
                r.details.push(("autoscaling".into(), text.clone()));
            }
        }
        let left = budget.saturating_sub(started.elapsed());
        self.with_codedeploy(env, &mut resources, &mut notes, left).await;
        // Without its tagged resources, whose an alarm is cannot be told: none is claimed.
        let scope = match (narrow, selector) {
            (true, _) => Some(scope::Scope::new(&resources, &arns)),
            (false, Some(_)) => Some(scope::Scope::default()),
            (false, None) => None,
        };
        let alarms = cloudwatch::scoped(&alarms, scope.as_ref());
        let mut inv = Inventory {
            resources,
            alarms,
            gauges: vec![],
            fetched_ms: now_ms,
            notes,
        };
        // Current figures: the latest datapoints of the last hour's charts (shared with the status
        // check and the metrics page through the chart cache). A failure shows on the metrics page.
        // Within what is left of the page's budget; a slow CloudWatch leaves the figures out.
        let left = budget.saturating_sub(started.elapsed());
        if !left.is_zero()
            && let Ok(task) = self.spawn_charts(env, &inv, TimeRange::H1, now_ms).await
            && let Some(Fetched::Fresh(read) | Fetched::Stale { value: read, .. }) = within(left, task).await
        {
            inv.gauges = read.2.clone();
            cloudwatch::last_runs(&mut inv.resources, &read.0);
        }
        Ok(inv)
    }
}

/// Joins the parts: narrows ECS, load balancers and databases to the selector's tagged ARNs when
/// there is a selector, adds the kinds read (and narrowed) through their own APIs, links
/// target groups to the services they feed, and adds the other tagged resources by type.
pub fn compose(
    ecs: Vec<Resource>,
    elb: Vec<Resource>,
    rds: Vec<Resource>,
    extra: Vec<Resource>,
    tagged: &[String],
    narrow: bool,
) -> Vec<Resource> {
    let tagged_set: HashSet<&str> = tagged.iter().map(String::as_str).collect();
    let mut out: Vec<Resource> = Vec::new();
    if narrow {
        // Clusters carry the tag; their services and tasks belong to the environment.
        let clusters: HashSet<String> = ecs
            .iter()
            .filter(|r| r.kind == ResourceKind::EcsCluster && tagged_set.contains(r.id.as_str()))
            .map(|r| r.name.clone())
            .collect();
        out.extend(ecs.into_iter().filter(|r| match r.kind {
            ResourceKind::EcsCluster => clusters.contains(&r.name),
            _ => {
                tagged_set.contains(r.id.as_str()) || r.service.as_ref().is_some_and(|s| clusters.contains(&s.cluster))
            }
        }));
        let lbs: Vec<Resource> = elb
            .iter()
            .filter(|r| r.kind == ResourceKind::LoadBalancer && tagged_set.contains(r.id.as_str()))
            .cloned()
            .collect();
        let lb_targets: HashSet<&str> = lbs.iter().flat_map(|l| l.links.iter().map(String::as_str)).collect();
        let tgs: Vec<Resource> = elb
            .iter()
            .filter(|r| {
                r.kind == ResourceKind::TargetGroup
                    && (tagged_set.contains(r.id.as_str()) || lb_targets.contains(r.id.as_str()))
            })
            .cloned()
            .collect();
        out.extend(lbs);
        out.extend(tgs);
        out.extend(rds.into_iter().filter(|r| tagged_set.contains(r.id.as_str())));
    } else {
        out.extend(ecs);
        out.extend(elb);
        out.extend(rds);
    }
    // Read through their own APIs and already narrowed (by their own tags or the tagged ARNs).
    out.extend(extra);
    // Target group → services it feeds (and, through them, the topology's request path).
    let feeds: Vec<(String, String)> = out
        .iter()
        .filter_map(|r| r.service.as_ref().map(|s| (r.id.clone(), s.target_groups.clone())))
        .flat_map(|(svc, tgs)| tgs.into_iter().map(move |tg| (tg, svc.clone())))
        .collect();
    for r in out.iter_mut().filter(|r| r.kind == ResourceKind::TargetGroup) {
        r.links
            .extend(feeds.iter().filter(|(tg, _)| *tg == r.id).map(|(_, svc)| svc.clone()));
    }
    let known: HashSet<String> = out.iter().map(|r| r.id.clone()).collect();
    out.extend(
        tagged
            .iter()
            // An API's stages carry tags too; they are the API's, not APIs of their own.
            .filter(|a| !tagging::read_elsewhere(a) && !known.contains(*a) && !a.contains("/stages/"))
            .map(|a| tagging::resource_for(a)),
    );
    out
}
