//! Counts every AWS call attempt by service, operation and outcome (for /metrics and the
//! fan-out benchmark), as an SDK interceptor so that paginators and retries are counted too.

use crate::ssr::prometheus::Metrics;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::Arc;

#[derive(Clone)]
pub struct CountCalls {
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for CountCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CountCalls")
    }
}

impl CountCalls {
    pub fn new(metrics: Arc<Metrics>) -> CountCalls {
        CountCalls { metrics }
    }
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service(), m.name()))
            .unwrap_or(("unknown", "unknown"));
        let outcome = match context.response().map(|r| r.status().as_u16()) {
            Some(s) if s < 300 => "ok",
            Some(429) => "throttled",
            Some(s) if s < 500 => "client_error",
            Some(_) => "server_error",
            None => "no_response",
        };
        self.metrics.count_aws_call(service, operation, outcome);
        Ok(())
    }
}
