# The service module on its own: push on only with its settings, never with pull at once, and
# the Managed Prometheus sidecar beside colibri. Mock providers: no credentials, no network.
mock_provider "google" {}

variables {
  project_id                    = "p"
  region                        = "southamerica-west1"
  image                         = "r/colibri@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  runtime_service_account_email = "colibri-run@p.iam.gserviceaccount.com"
  store_uri                     = "bigquery:p.colibri.events"
  cursor_secret_id              = "colibri-cursor-secret"
  deletion_protection           = false
}

run "push_off_by_default" {
  command = plan
  assert {
    condition     = output.env["COLIBRI_PUSH"] == "off" && !contains(keys(output.env), "COLIBRI_PUSH_AUDIENCE")
    error_message = "Without push settings the route must be off."
  }
  assert {
    condition     = length(google_cloud_run_v2_service.this.template[0].containers) == 2 && google_cloud_run_v2_service.this.template[0].containers[1].name == "metrics"
    error_message = "The Managed Prometheus sidecar must run beside colibri."
  }
  assert {
    condition     = google_cloud_run_v2_service.this.template[0].containers[0].name == "colibri"
    error_message = "colibri must be containers[0]: lifecycle.ignore_changes and scripts/deploy (--container colibri) name it."
  }
}

run "push_and_pull_together_refused" {
  command = plan
  variables {
    subscription_id = "projects/p/subscriptions/s"
    push            = { audience = "a", service_account_email = "colibri-push@p.iam.gserviceaccount.com" }
  }
  expect_failures = [google_cloud_run_v2_service.this]
}

run "window_must_be_whole_hours" {
  command = plan
  variables {
    bq_default_window_hours = -1
  }
  expect_failures = [var.bq_default_window_hours]
}

run "public_without_api_keys_refused" {
  command = plan
  variables {
    invoker_members    = ["allUsers"]
    api_keys_secret_id = null
  }
  expect_failures = [google_cloud_run_v2_service.this]
}

run "public_with_api_keys_allowed" {
  command = plan
  variables {
    invoker_members    = ["allUsers"]
    api_keys_secret_id = "colibri-api-keys"
  }
  assert {
    condition     = output.secret_env["COLIBRI_API_KEYS"] == "colibri-api-keys"
    error_message = "API keys come from Secret Manager."
  }
}
