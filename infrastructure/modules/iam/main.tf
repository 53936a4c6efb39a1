# Least privilege for colibri's runtime identity, each grant on the one resource it needs:
#   BigQuery data editor on its dataset (not the project), job user on the project (jobs have no
#   narrower scope), subscriber on its one subscription, publisher on its dead-letter topic.
# Plus the identity Pub/Sub signs push requests with, which may only invoke the service.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_bigquery_dataset_iam_member" "runtime_data_editor" {
  project    = var.project_id
  dataset_id = var.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = var.runtime_member
}

resource "google_project_iam_member" "runtime_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = var.runtime_member
}

resource "google_pubsub_subscription_iam_member" "runtime_subscriber" {
  count        = var.pull_subscription_name == null ? 0 : 1
  project      = var.project_id
  subscription = var.pull_subscription_name
  role         = "roles/pubsub.subscriber"
  member       = var.runtime_member
}

resource "google_pubsub_topic_iam_member" "runtime_dead_letter_publisher" {
  project = var.project_id
  topic   = var.dead_letter_topic_name
  role    = "roles/pubsub.publisher"
  member  = var.runtime_member
}

# The push identity: Pub/Sub mints its OIDC tokens, so the Pub/Sub service agent may create
# tokens for this one account (not project-wide).
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-push"
  display_name = "Pub/Sub push to colibri (${var.name_prefix})"
  description  = "OIDC identity on Pub/Sub push requests to colibri's /pubsub/push; holds only run.invoker on the service."
}

resource "google_service_account_iam_member" "pubsub_agent_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# The CI deployer deploys revisions that run as the runtime account: actAs on that account only.
resource "google_service_account_iam_member" "deployer_acts_as_runtime" {
  count              = var.deployer_member == null ? 0 : 1
  service_account_id = var.runtime_service_account_id
  role               = "roles/iam.serviceAccountUser"
  member             = var.deployer_member
}
