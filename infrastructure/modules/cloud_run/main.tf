# The colibri service on Cloud Run (v2 API), with a service account of its own. Two shapes:
#  push mode: Pub/Sub pushes to /pubsub/push; CPU only during requests; may scale to zero.
#  pull mode: colibri's subscriber thread pulls; CPU always allocated and at least one instance,
#             or nothing would pull between requests.
locals {
  pull = var.subscription_id != null

  env = merge(
    {
      COLIBRI_STORE      = var.store_uri
      COLIBRI_LOG_FORMAT = "json"
      COLIBRI_LOG_LEVEL  = var.log_level
    },
    local.pull ? { COLIBRI_SUBSCRIBE = "pubsub://${var.subscription_id}" } : {},
    var.dead_letter_topic_id == null ? {} : { COLIBRI_DLQ_TOPIC = var.dead_letter_topic_id },
    var.extra_env,
  )

  secret_env = merge(
    { COLIBRI_CURSOR_SECRET = google_secret_manager_secret.cursor.secret_id },
    var.api_keys_secret_id == null ? {} : { COLIBRI_API_KEYS = var.api_keys_secret_id },
  )
}

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.service_name}-run"
  display_name = "colibri Cloud Run runtime (${var.service_name})"
  description  = "Identity of the colibri service: BigQuery data editor on its dataset, subscriber on its subscription, publisher on its dead-letter topic."
}

# One HMAC key for cursors shared by all instances (COLIBRI_CURSOR_SECRET), so a cursor issued by
# one instance is accepted by the next.
resource "random_password" "cursor" {
  length  = 48
  special = false
}

resource "google_secret_manager_secret" "cursor" {
  project   = var.project_id
  secret_id = "${var.service_name}-cursor-secret"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "cursor" {
  secret      = google_secret_manager_secret.cursor.id
  secret_data = random_password.cursor.result
}

resource "google_secret_manager_secret_iam_member" "runtime_reads" {
  for_each  = local.secret_env
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

resource "google_cloud_run_v2_service" "this" {
  project             = var.project_id
  name                = var.service_name
  location            = var.region
  description         = "colibri: flight events from Pub/Sub into BigQuery, served over HTTP"
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account                  = google_service_account.runtime.email
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
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  depends_on = [google_secret_manager_secret_iam_member.runtime_reads, google_secret_manager_secret_version.cursor]
}

# Who may call the service: clients of the API (allUsers when the API is public and guarded by
# colibri's API keys) and the Pub/Sub push identity.
resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = toset(var.invoker_members)
  project  = var.project_id
  location = google_cloud_run_v2_service.this.location
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
