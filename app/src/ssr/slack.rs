//! Slack messages (Block Kit) and their delivery through the outbox: Slack being down delays a
//! message, never drops it; at most one message per second per webhook; each message carries an
//! idempotency key so that a retry after a timeout does not post twice (where the receiver honours
//! it; Slack's incoming webhooks do not dedupe, so a timeout after a successful post is the one
//! case that can repeat a message).

use super::state::AppState;
use super::store::OutboxRow;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Slack mrkdwn needs &, < and > escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A Block Kit message: a header, fields, and a button linking to the console.
pub fn message(headline: &str, fields: &[(&str, String)], body: &str, link_text: &str, link: &str) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": headline.chars().take(150).collect::<String>()}}),
    ];
    if !fields.is_empty() {
        let f: Vec<Value> = fields
            .iter()
            .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{}*\n{}", esc(k), esc(v))}))
            .collect();
        blocks.push(json!({"type": "section", "fields": f}));
    }
    if !body.is_empty() {
        let text: String = esc(body).chars().take(2900).collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    blocks.push(json!({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": link_text}, "url": link}
    ]}));
    json!({
        "text": format!("{headline}: {link}"),
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": blocks,
    })
}

/// How long to wait before the next attempt: 2 s doubling per attempt, at most 5 minutes.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(0, 8) as u32;
    Duration::from_secs((2u64 << exp).min(300))
}

/// Undelivered messages read per round (oldest first), due or not.
pub const PENDING_READ: i64 = 500;
/// Messages posted per round at most (each webhook takes one a second).
pub const POSTS_PER_ROUND: usize = 50;

pub struct Sender {
    client: reqwest::Client,
    last_post: HashMap<String, Instant>,
}

impl Default for Sender {
    fn default() -> Self {
        Sender::new()
    }
}

impl Sender {
    pub fn new() -> Sender {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Sender {
            client,
            last_post: HashMap::new(),
        }
    }

    /// Delivers what is due, oldest first, in order per webhook: a message is not sent while an
    /// older one to the same webhook waits for its retry (after Slack was down, "resolved" must
    /// not arrive before the older "SEV1 → SEV2"), and a webhook that fails is not tried again this
    /// round. Returns how many were delivered.
    pub async fn deliver_due(&mut self, state: &AppState) -> usize {
        let now = crate::ssr::clock::now();
        let due = match state.store.outbox_pending(PENDING_READ).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot read");
                return 0;
            }
        };
        let mut blocked: Vec<String> = Vec::new();
        let mut delivered = 0;
        let mut posted = 0;
        for m in due {
            if posted == POSTS_PER_ROUND {
                break;
            }
            let Some(url) = state.slack_webhook(&m.environment) else {
                let _ = state
                    .store
                    .outbox_delivered(m.id, now, "not sent: no Slack webhook is configured")
                    .await;
                continue;
            };
            if blocked.contains(&url) {
                continue;
            }
            if m.next_attempt_ms > now {
                // Waiting for its retry: the webhook's later messages wait behind it.
                blocked.push(url);
                continue;
            }
            // At most one message per second per webhook (Slack's limit for incoming webhooks).
            if let Some(last) = self.last_post.get(&url) {
                let since = last.elapsed();
                if since < Duration::from_secs(1) {
                    tokio::time::sleep(Duration::from_secs(1) - since).await;
                }
            }
            self.last_post.insert(url.clone(), Instant::now());
            posted += 1;
            match self.post(&url, &m).await {
                Ok(()) => {
                    delivered += 1;
                    if let Err(e) = state.store.outbox_delivered(m.id, crate::ssr::clock::now(), "").await {
                        tracing::warn!(error = %e, id = m.id, "outbox: delivered but not marked");
                    }
                }
                Err((error, retry_after)) => {
                    blocked.push(url);
                    let wait = retry_after.unwrap_or_else(|| backoff(m.attempts));
                    let next = crate::ssr::clock::now() + wait.as_millis() as i64;
                    tracing::warn!(id = m.id, attempts = m.attempts + 1, %error, "outbox: delivery failed, will retry");
                    let _ = state.store.outbox_retry(m.id, next, &error).await;
                }
            }
        }
        if let Ok(depth) = state.store.outbox_depth().await {
            state.metrics.set_outbox_depth(depth);
        }
        delivered
    }

    async fn post(&self, url: &str, m: &OutboxRow) -> Result<(), (String, Option<Duration>)> {
        let r = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-idempotency-key", &m.idempotency_key)
            .body(m.payload.clone())
            .send()
            .await
            .map_err(|e| {
                (
                    if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        "connection failed".to_string()
                    },
                    None,
                )
            })?;
        let status = r.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(600)));
        Err((format!("HTTP {}", status.as_u16()), retry_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_unfurl_and_escape_text() {
        let m = message(
            "SEV1 declared",
            &[("Title", "<script> & co".into())],
            "",
            "Open",
            "https://ops/x",
        );
        assert_eq!(m["unfurl_links"], false);
        let text = m.to_string();
        assert!(text.contains("&lt;script&gt; &amp; co"), "{text}");
        assert_eq!(m["blocks"][2]["elements"][0]["url"], "https://ops/x");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(2));
        assert_eq!(backoff(1), Duration::from_secs(4));
        assert_eq!(backoff(20), Duration::from_secs(300));
    }
}
