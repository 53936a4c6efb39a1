# The colibri service on Cloud Run (v2 API). Two shapes:
#  push mode: Pub/Sub pushes to /pubsub/push; CPU only during requests; may scale to zero.
#  pull mode: colibri's subscriber thread pulls; CPU always allocated and at least one instance,
#             or nothing would pull between requests. POST /pubsub/push is off (404).
# The identity, the secrets and every project-level grant come from infrastructure/bootstrap;
# this module only references them.
#
# Rollouts are CI's (scripts/deploy): it deploys the tested digest as a tagged revision with no
# traffic, smoke-tests the tag's URL, then moves traffic. Terraform creates the service with the
# first image and afterwards ignores what the rollout owns: the colibri container's image, the
# traffic split and the client fields gcloud stamps (see lifecycle below).
locals {
  pull = var.subscription_id != null
  env = merge(
    {
      COLIBRI_STORE      = var.store_uri
      COLIBRI_LOG_FORMAT = "json"
      COLIBRI_LOG_LEVEL  = var.log_level
      # push closed by default: the route answers 404 unless push mode is configured, and then
      # colibri verifies the OIDC token's audience and signer (the push account)
      COLIBRI_PUSH = var.push == null ? "off" : "on"
      # GET /data without `since` reads only the last N hours, so the partition filter always
      # applies on BigQuery and the bytes-billed guard is predictable
      COLIBRI_BQ_DEFAULT_WINDOW_H = tostring(var.bq_default_window_hours)
      # every connection comes from Cloud Run's front end, one address for all clients: a
      # per-address cap would cap everyone (the front end bounds concurrency per instance)
      COLIBRI_HTTP_MAX_CONNECTIONS_PER_CLIENT = "0"
    },
    var.push == null ? {} : {
      COLIBRI_PUSH_AUDIENCE        = var.push.audience
      COLIBRI_PUSH_SERVICE_ACCOUNT = var.push.service_account_email
    },
    local.pull ? { COLIBRI_SUBSCRIBE = "pubsub://${var.subscription_id}" } : {},
    var.dead_letter_topic_id == null ? {} : { COLIBRI_DLQ_TOPIC = var.dead_letter_topic_id },
    var.extra_env,
  )
  secret_env = merge(
    { COLIBRI_CURSOR_SECRET = var.cursor_secret_id },
    var.api_keys_secret_id == null ? {} : { COLIBRI_API_KEYS = var.api_keys_secret_id },
  )
}

resource "google_cloud_run_v2_service" "this" {
  project             = var.project_id
  name                = var.service_name
  location            = var.region
  description         = "colibri: flight events from Pub/Sub into BigQuery, served over HTTP"
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection
  labels              = var.labels
  # Pub/Sub signs push tokens for this fixed audience (not the URL, which would be a cycle and
  # differs on tagged revisions); Cloud Run's IAM check accepts it because it is listed here.
  custom_audiences = var.push == null ? [] : [var.push.audience]

  template {
    service_account                  = var.runtime_service_account_email
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    labels                           = var.labels

    scaling {
      min_instance_count = local.pull ? max(var.min_instances, 1) : var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      name  = "colibri"
      image = var.image
      args  = ["serve"]
      ports {
        name           = "http1"
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = !local.pull
        startup_cpu_boost = true
      }
      dynamic "env" {
        for_each = local.env
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
      # Ready = the store answers and the subscriber holds its assignment.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 2
        timeout_seconds       = 2
        failure_threshold     = 30
        http_get {
          path = "/readyz"
          port = 8080
        }
      }
      liveness_probe {
        period_seconds    = 15
        timeout_seconds   = 3
        failure_threshold = 3
        http_get {
          path = "/healthz"
          port = 8080
        }
      }
    }

    # Google Cloud Managed Service for Prometheus sidecar: scrapes colibri's /metrics on :8080
    # (its default RunMonitoring config) and writes the series to Cloud Monitoring as
    # prometheus.googleapis.com/<metric>/<kind>, where the PromQL alert policies read them.
    dynamic "containers" {
      for_each = var.metrics_sidecar_image == null ? [] : [var.metrics_sidecar_image]
      content {
        name       = "metrics"
        image      = containers.value
        depends_on = ["colibri"]
        resources {
          limits = {
            cpu    = "500m"
            memory = "256Mi"
          }
          cpu_idle = !local.pull
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    # owned by the rollout (scripts/deploy): a later apply must not undo a rollback or send all
    # traffic to an untested revision
    ignore_changes = [
      client,
      client_version,
      traffic,
      template[0].revision,
      template[0].containers[0].image,
    ]
    precondition {
      condition     = var.push == null || local.pull == false
      error_message = "push and pull at once would ingest every message twice: give push or subscription_id, not both."
    }
    precondition {
      condition     = !contains(var.invoker_members, "allUsers") || var.api_keys_secret_id != null
      error_message = "A public service (allUsers invoker) must require API keys: set api_keys_secret_id."
    }
  }
}

# Who may call the service: the Pub/Sub push identity (push mode), the callers of the API, and
# allUsers only where an environment opts in (then colibri's API keys guard /data).
resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = toset(var.invoker_members)
  project  = var.project_id
  location = google_cloud_run_v2_service.this.location
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
