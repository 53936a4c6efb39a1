# Alerts on the ingestion pipeline, the GCP side of monitoring/rules/alerts.yml:
#   - Pub/Sub's own view of the subscription feeding colibri (works in push mode at zero
#     instances too): oldest unacked message age (backlog age), undelivered messages, messages
#     Pub/Sub dead-lettered after max delivery attempts
#   - colibri's own metrics, scraped by the Managed Service for Prometheus sidecar and queried
#     with the same PromQL as the Prometheus rules: freshness (publish-to-stored), dead-letter
#     ratio, readiness, store errors
locals {
  subscription_filter = join(" AND ", [
    "resource.type=\"pubsub_subscription\"",
    "resource.label.\"subscription_id\"=\"${var.subscription_name}\"",
  ])
  pubsub_alerts = {
    backlog-age = {
      title     = "oldest unacked message older than ${var.backlog_age_threshold_seconds}s"
      metric    = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"
      aligner   = "ALIGN_MAX"
      threshold = var.backlog_age_threshold_seconds
      duration  = "300s"
      severity  = "page"
      doc       = "Messages on ${var.subscription_name} wait longer than ${var.backlog_age_threshold_seconds}s: colibri is not consuming (down, not ready, store failing, or push deliveries rejected). See docs/runbook.md#colibrinotready."
    }
    undelivered = {
      title     = "more than ${var.undelivered_threshold} undelivered messages"
      metric    = "pubsub.googleapis.com/subscription/num_undelivered_messages"
      aligner   = "ALIGN_MAX"
      threshold = var.undelivered_threshold
      duration  = "600s"
      severity  = "ticket"
      doc       = "The backlog of ${var.subscription_name} has stayed above ${var.undelivered_threshold} messages for 10 minutes: producers outpace ingestion. Same intent as ColibriConsumerLagGrowing. See docs/runbook.md#colibriconsumerlaggrowing."
    }
    pubsub-dead-letters = {
      title     = "Pub/Sub dead-lettered messages"
      metric    = "pubsub.googleapis.com/subscription/dead_letter_message_count"
      aligner   = "ALIGN_SUM"
      threshold = 0
      duration  = "0s"
      severity  = "ticket"
      doc       = "Pub/Sub gave up on messages of ${var.subscription_name} after the maximum delivery attempts and moved them to the dead-letter topic (readable on its subscription). colibri answered 5xx or timed out on them repeatedly. See docs/runbook.md#colibrideadletterratehigh."
    }
  }
  # The same expressions as monitoring/rules (recording rules inlined: Cloud Monitoring evaluates
  # the PromQL itself). Metric names are colibri's, as scraped by the sidecar.
  promql_alerts = {
    ColibriFreshnessStale = {
      query    = "time() - max(colibri_newest_event_timestamp_seconds > 0) > ${var.freshness_threshold_seconds}"
      duration = "600s"
      severity = "page"
      doc      = "The newest stored event is older than ${var.freshness_threshold_seconds}s for 10 minutes: what producers publish is not readable from the API (publish-to-stored freshness). See docs/runbook.md#colibrifreshnessbudgetburnfast."
    }
    ColibriDeadLetterRateHigh = {
      query    = "(sum by (source) (rate(colibri_ingest_messages_total{result=\"dead_letter\"}[10m])) / sum by (source) (rate(colibri_ingest_messages_total[10m]))) > 0.01"
      duration = "300s"
      severity = "ticket"
      doc      = "More than 1% of the messages ingested over 10 minutes failed validation and went to the dead-letter table and topic. See docs/runbook.md#colibrideadletterratehigh."
    }
    ColibriNotReady = {
      query    = "min(colibri_ready) == 0"
      duration = "120s"
      severity = "page"
      doc      = "/readyz has answered 503 for 2 minutes on an instance: the store is unreachable or the subscriber holds no assignment. See docs/runbook.md#colibrinotready."
    }
    ColibriStoreErrors = {
      query    = "sum by (backend, kind) (rate(colibri_store_errors_total[5m])) > 0.05"
      duration = "300s"
      severity = "ticket"
      doc      = "The store returns errors at more than 3 a minute for 5 minutes. See docs/runbook.md#colibristoreerrors."
    }
  }
}

resource "google_monitoring_alert_policy" "pubsub" {
  for_each              = local.pubsub_alerts
  project               = var.project_id
  display_name          = "colibri ${var.environment}: ${each.value.title}"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = each.value.severity == "page" ? "CRITICAL" : "WARNING"
  user_labels           = { service = var.service_name, environment = var.environment, severity = each.value.severity }
  conditions {
    display_name = each.value.title
    condition_threshold {
      filter          = "metric.type=\"${each.value.metric}\" AND ${local.subscription_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = each.value.duration
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = each.value.aligner
      }
      trigger {
        count = 1
      }
    }
  }
  alert_strategy {
    auto_close = "86400s"
  }
  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "promql" {
  for_each              = local.promql_alerts
  project               = var.project_id
  display_name          = "colibri ${var.environment}: ${each.key}"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = each.value.severity == "page" ? "CRITICAL" : "WARNING"
  user_labels           = { service = var.service_name, environment = var.environment, severity = each.value.severity }
  conditions {
    display_name = each.key
    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.duration
      evaluation_interval = "60s"
      alert_rule          = each.key
      rule_group          = "colibri"
      labels              = { severity = each.value.severity }
    }
  }
  alert_strategy {
    auto_close = "86400s"
  }
  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
}
