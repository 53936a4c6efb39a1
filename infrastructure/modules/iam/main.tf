# Least privilege for colibri's runtime identity, each grant on the one resource it needs:
# BigQuery data editor on its dataset (not the project), subscriber on its one subscription,
# publisher on its dead-letter topic. The identities themselves, and every project-level or
# account-level grant (bigquery.jobUser, monitoring.metricWriter, actAs), are made by
# infrastructure/bootstrap: CI cannot create accounts or change project IAM.
resource "google_bigquery_dataset_iam_member" "runtime_data_editor" {
  project    = var.project_id
  dataset_id = var.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = var.runtime_member
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
