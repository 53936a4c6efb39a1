# Topic producers publish flight events to, its dead-letter topic, and one subscription feeding
# colibri: push (Pub/Sub POSTs to Cloud Run's /pubsub/push with an OIDC token; scales to zero) or
# pull (colibri's subscriber thread pulls; CPU always allocated). Not both: each subscription
# receives every message, so two would ingest everything twice.
data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  subscription = var.mode == "push" ? google_pubsub_subscription.push[0] : google_pubsub_subscription.pull[0]
}

resource "google_pubsub_topic" "events" {
  #checkov:skip=CKV_GCP_83:CMEK is optional (var.kms_key_name); Google-managed encryption by default.
  project                    = var.project_id
  name                       = var.topic_name
  kms_key_name               = var.kms_key_name
  message_retention_duration = var.topic_retention
  labels                     = var.labels
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:CMEK is optional (var.kms_key_name); Google-managed encryption by default.
  project                    = var.project_id
  name                       = "${var.topic_name}-dead-letter"
  kms_key_name               = var.kms_key_name
  message_retention_duration = var.topic_retention
  labels                     = var.labels
}

# Keeps dead-lettered messages readable (a topic without subscriptions drops them).
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.topic_name}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false
  labels                     = var.labels
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  count                      = var.mode == "push" ? 1 : 0
  project                    = var.project_id
  name                       = "${var.topic_name}-colibri-push"
  topic                      = google_pubsub_topic.events.id
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.subscription_retention
  labels                     = var.labels

  push_config {
    push_endpoint = "${var.push_endpoint_base_url}/pubsub/push"
    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.push_audience
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }

  lifecycle {
    precondition {
      condition     = var.push_endpoint_base_url != null && var.push_service_account_email != null && var.push_audience != null
      error_message = "push mode needs push_endpoint_base_url (the Cloud Run URL), push_audience and push_service_account_email."
    }
  }
}

resource "google_pubsub_subscription" "pull" {
  count                        = var.mode == "pull" ? 1 : 0
  project                      = var.project_id
  name                         = "${var.topic_name}-colibri-pull"
  topic                        = google_pubsub_topic.events.id
  ack_deadline_seconds         = var.ack_deadline_seconds
  message_retention_duration   = var.subscription_retention
  enable_exactly_once_delivery = true
  labels                       = var.labels

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering is done by the Pub/Sub service agent: it must publish to the dead-letter topic
# and acknowledge (subscribe) on the source subscription.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_source" {
  project      = var.project_id
  subscription = local.subscription.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = toset(var.publisher_members)
  project  = var.project_id
  topic    = google_pubsub_topic.events.name
  role     = "roles/pubsub.publisher"
  member   = each.value
}
