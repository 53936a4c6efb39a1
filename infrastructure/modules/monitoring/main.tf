# Cloud Monitoring for the Cloud Run service, mirroring monitoring/rules/*.yml (Prometheus):
#   - uptime check on /healthz, with an alert when it fails from several regions
#   - SLO availability: 99.9% of GET /data and /data/{id} not 5xx, 30-day rolling (log-based
#     counters over the request log: the routes the Prometheus SLO counts)
#   - SLO latency: 99% of GET /data answered in < 300 ms, 30-day rolling (a log-based
#     distribution metric over Cloud Run's request logs, which carry path and latency)
#   - multi-window burn-rate alerts as in the Prometheus rules: 14.4x over 1h and 5m, 6x over 6h
#     and 30m (page); 3x over 1d and 2h, 1x over 3d and 6h (ticket)
locals {
  host = trimsuffix(trimprefix(var.service_url, "https://"), "/")
  notification_channels = concat(
    var.notification_channels,
    [for c in google_monitoring_notification_channel.email : c.id],
  )

  slos = {
    availability = google_monitoring_slo.availability.name
    latency      = google_monitoring_slo.latency.name
  }
  # name => [long window, short window, burn rate, severity]
  burn_windows = {
    fast-1h = ["3600s", "300s", 14.4, "page"]
    fast-6h = ["21600s", "1800s", 6, "page"]
    slow-1d = ["86400s", "7200s", 3, "ticket"]
    slow-3d = ["259200s", "21600s", 1, "ticket"]
  }
  burn_alerts = merge([
    for slo, slo_name in local.slos : {
      for w, spec in local.burn_windows : "${slo}-${w}" => {
        slo = slo, slo_name = slo_name, long = spec[0], short = spec[1], rate = spec[2], severity = spec[3]
      }
    }
  ]...)
}

resource "google_monitoring_notification_channel" "email" {
  for_each     = var.notification_email == null ? toset([]) : toset([var.notification_email])
  project      = var.project_id
  display_name = "colibri ${var.environment} on-call"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

resource "google_monitoring_uptime_check_config" "healthz" {
  project      = var.project_id
  display_name = "colibri ${var.environment} /healthz"
  timeout      = "10s"
  period       = "60s"

  http_check {
    path         = "/healthz"
    port         = 443
    use_ssl      = true
    validate_ssl = true
    accepted_response_status_codes {
      status_value = 200
    }
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = local.host
    }
  }
}

resource "google_monitoring_alert_policy" "uptime" {
  project               = var.project_id
  display_name          = "colibri ${var.environment}: /healthz failing"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "CRITICAL"
  user_labels           = { service = var.service_name, environment = var.environment, severity = "page" }

  conditions {
    display_name = "uptime check failed in 2+ regions"
    condition_threshold {
      filter          = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type=\"uptime_url\" AND metric.label.\"check_id\"=\"${google_monitoring_uptime_check_config.healthz.uptime_check_id}\""
      duration        = "120s"
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.*"]
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = "colibri's /healthz has failed from at least two checker regions for 2 minutes. See docs/runbook.md#colibritargetdown."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_custom_service" "colibri" {
  project      = var.project_id
  service_id   = "${var.service_name}-${var.environment}"
  display_name = "colibri (${var.environment})"
  lifecycle {
    precondition {
      condition     = length(var.notification_channels) > 0 || var.notification_email != null
      error_message = "Alerts need somewhere to go: set notification_email or notification_channels."
    }
  }
}

# Availability counts only the data routes (GET /data, GET /data/{id}), as the Prometheus SLO
# does: Cloud Run's request_count has no path, so both sides of the ratio are log-based counters
# over Cloud Run's request log. /healthz, /readyz, /metrics and /pubsub/push are not counted.
locals {
  data_route_requests = [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.service_name}\"",
    "log_name=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\"",
    "httpRequest.requestUrl=~\"/data(/[^/?]+)?($|\\\\?)\"",
  ]
}

resource "google_logging_metric" "data_requests" {
  for_each = {
    all    = local.data_route_requests
    errors = concat(local.data_route_requests, ["httpRequest.status>=500"])
  }
  project = var.project_id
  name    = "${var.service_name}/data_requests_${each.key}"
  filter  = join(" AND ", each.value)
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "colibri data-route requests (${each.key})"
  }
}

resource "google_monitoring_slo" "availability" {
  project             = var.project_id
  service             = google_monitoring_custom_service.colibri.service_id
  slo_id              = "availability"
  display_name        = "99.9% of GET /data and /data/{id} are not 5xx (30 days)"
  goal                = var.availability_goal
  rolling_period_days = 30
  request_based_sli {
    good_total_ratio {
      bad_service_filter   = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.data_requests["errors"].name}\" AND resource.type=\"cloud_run_revision\""
      total_service_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.data_requests["all"].name}\" AND resource.type=\"cloud_run_revision\""
    }
  }
}

# GET /data latency per request, from Cloud Run's own request log (it has the path; the
# request_latencies metric does not). Buckets put a boundary at the 300 ms objective.
resource "google_logging_metric" "data_latency" {
  project = var.project_id
  name    = "${var.service_name}/get_data_latency"
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.service_name}\"",
    "log_name=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\"",
    "httpRequest.requestMethod=\"GET\"",
    "httpRequest.requestUrl=~\"/data($|\\\\?)\"",
  ])
  value_extractor = "REGEXP_EXTRACT(httpRequest.latency, \"([0-9.]+)s\")"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "s"
    display_name = "colibri GET /data latency"
  }

  bucket_options {
    explicit_buckets {
      bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10]
    }
  }
}

resource "google_monitoring_slo" "latency" {
  project             = var.project_id
  service             = google_monitoring_custom_service.colibri.service_id
  slo_id              = "get-data-latency"
  display_name        = "99% of GET /data in < 300 ms (30 days)"
  goal                = var.latency_goal
  rolling_period_days = 30

  request_based_sli {
    distribution_cut {
      distribution_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.data_latency.name}\" AND resource.type=\"cloud_run_revision\""
      range {
        max = var.latency_threshold_seconds
      }
    }
  }
}

resource "google_monitoring_alert_policy" "burn_rate" {
  for_each              = local.burn_alerts
  project               = var.project_id
  display_name          = "colibri ${var.environment}: ${each.value.slo} error budget burn ${each.value.rate}x (${each.key})"
  combiner              = "AND"
  notification_channels = local.notification_channels
  severity              = each.value.severity == "page" ? "CRITICAL" : "WARNING"
  user_labels           = { service = var.service_name, environment = var.environment, severity = each.value.severity, slo = each.value.slo }

  conditions {
    display_name = "burn rate > ${each.value.rate} over ${each.value.long}"
    condition_threshold {
      filter          = "select_slo_burn_rate(\"${each.value.slo_name}\", \"${each.value.long}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.rate
      duration        = "0s"
    }
  }

  conditions {
    display_name = "burn rate > ${each.value.rate} over ${each.value.short}"
    condition_threshold {
      filter          = "select_slo_burn_rate(\"${each.value.slo_name}\", \"${each.value.short}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.rate
      duration        = "0s"
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    content   = "The ${each.value.slo} SLO of colibri (${var.environment}) is burning its 30-day error budget ${each.value.rate} times faster than sustainable over both ${each.value.long} and ${each.value.short}. Same rule as Colibri${title(each.value.slo)}BudgetBurn* in monitoring/rules/alerts.yml; see docs/runbook.md."
    mime_type = "text/markdown"
  }
}
