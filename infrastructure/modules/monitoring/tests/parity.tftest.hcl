# GCP monitoring parity with monitoring/rules (finding 7 of issue 13): availability counts only
# the data routes, the pipeline alerts exist for the subscription, colibri's own metrics are
# queried with PromQL, and alerts have somewhere to go. Mock providers: no network.
mock_provider "google" {}

variables {
  project_id         = "p"
  environment        = "dev"
  service_name       = "colibri"
  service_url        = "https://colibri-abc-tl.a.run.app"
  subscription_name  = "flights-colibri-push"
  notification_email = "oncall@example.com"
}

run "availability_counts_data_routes_only" {
  command = plan
  assert {
    condition = alltrue([for m in google_logging_metric.data_requests :
    strcontains(m.filter, "httpRequest.requestUrl=~\"/data(/[^/?]+)?($|\\\\?)\"")])
    error_message = "Both sides of the availability SLI must be restricted to GET /data and /data/{id}."
  }
  assert {
    condition     = strcontains(google_logging_metric.data_requests["errors"].filter, "httpRequest.status>=500") && !strcontains(google_logging_metric.data_requests["all"].filter, "status")
    error_message = "bad = 5xx among data-route requests; total = all data-route requests."
  }
}

run "pipeline_alerts" {
  command = plan
  assert {
    condition     = jsonencode(sort(keys(google_monitoring_alert_policy.pubsub))) == jsonencode(["backlog-age", "pubsub-dead-letters", "undelivered"])
    error_message = "Backlog age, undelivered messages and Pub/Sub dead letters must alert."
  }
  assert {
    condition     = alltrue([for a in google_monitoring_alert_policy.pubsub : strcontains(a.conditions[0].condition_threshold[0].filter, "resource.label.\"subscription_id\"=\"flights-colibri-push\"")])
    error_message = "The Pub/Sub alerts must watch the subscription feeding colibri."
  }
  assert {
    condition     = contains(keys(google_monitoring_alert_policy.promql), "ColibriFreshnessStale") && contains(keys(google_monitoring_alert_policy.promql), "ColibriDeadLetterRateHigh")
    error_message = "Freshness and colibri's dead-letter ratio must alert (PromQL on the sidecar's metrics)."
  }
  assert {
    condition     = length(google_monitoring_notification_channel.email) == 1
    error_message = "notification_email creates a channel."
  }
}

run "alerts_need_a_channel" {
  command = plan
  variables {
    notification_email = null
  }
  expect_failures = [google_monitoring_custom_service.colibri]
}
