# colibri in one environment: dataset and table, topic and subscription, the Cloud Run service,
# resource-level IAM, and monitoring with SLOs. Applied by CI (scripts/deploy) as the deployer;
# identities, APIs, project-level grants and the image registry (dev's project) come from
# infrastructure/bootstrap.
locals {
  schema_json = file("${path.root}/../../../schema/flights.json")
  labels      = { app = "colibri", environment = var.environment }
  push        = var.ingest_mode == "push"
  # A fixed audience, the same in Pub/Sub's tokens, Cloud Run's custom audiences and colibri's
  # check (COLIBRI_PUSH_AUDIENCE); per project, so a token minted for dev never passes in prod.
  push_audience = "colibri-pubsub-push:${var.project_id}"
}

# Made once by infrastructure/bootstrap (an admin); looked up here so a missing bootstrap fails
# the plan with a clear "not found" instead of a 403 half-way through an apply.
data "google_service_account" "runtime" {
  project    = var.project_id
  account_id = "colibri-run"
}

data "google_service_account" "push" {
  project    = var.project_id
  account_id = "colibri-push"
}

data "google_service_account" "deployer" {
  project    = var.project_id
  account_id = "circleci-deployer"
}

module "bigquery" {
  source                     = "../../modules/bigquery"
  project_id                 = var.project_id
  location                   = var.region
  schema_json                = local.schema_json
  partition_expiration_days  = var.partition_expiration_days
  deletion_protection        = var.deletion_protection
  delete_contents_on_destroy = !var.deletion_protection
  labels                     = local.labels
}

module "pubsub" {
  source                     = "../../modules/pubsub"
  project_id                 = var.project_id
  topic_name                 = "flights"
  mode                       = var.ingest_mode
  push_endpoint_base_url     = local.push ? module.cloud_run.url : null
  push_audience              = local.push ? local.push_audience : null
  push_service_account_email = local.push ? data.google_service_account.push.email : null
  publisher_members          = concat(var.publisher_members, var.smoke_publishes ? [data.google_service_account.deployer.member] : [])
  labels                     = local.labels
}

module "cloud_run" {
  source                        = "../../modules/cloud_run"
  project_id                    = var.project_id
  region                        = var.region
  service_name                  = "colibri"
  image                         = var.image
  runtime_service_account_email = data.google_service_account.runtime.email
  store_uri                     = module.bigquery.store_uri
  subscription_id               = module.pubsub.pull_subscription_id
  push = local.push ? {
    audience              = local.push_audience
    service_account_email = data.google_service_account.push.email
  } : null
  dead_letter_topic_id    = module.pubsub.dead_letter_topic_id
  cursor_secret_id        = "colibri-cursor-secret"
  api_keys_secret_id      = var.api_keys ? "colibri-api-keys" : null
  bq_default_window_hours = var.bq_default_window_hours
  min_instances           = var.min_instances
  max_instances           = var.max_instances
  cpu                     = var.cpu
  memory                  = var.memory
  deletion_protection     = var.deletion_protection
  # run.invoker: the push account only in push mode; allUsers only where the env opts in (API
  # keys then guard /data); otherwise the named API callers and the deployer (smoke test).
  invoker_members = distinct(concat(
    local.push ? [data.google_service_account.push.member] : [],
    var.public ? ["allUsers"] : concat(var.api_invoker_members, [data.google_service_account.deployer.member]),
  ))
  labels = local.labels
}

module "iam" {
  source                 = "../../modules/iam"
  project_id             = var.project_id
  runtime_member         = data.google_service_account.runtime.member
  dataset_id             = module.bigquery.dataset_id
  pull_subscription_name = module.pubsub.pull_subscription_name
  dead_letter_topic_name = module.pubsub.dead_letter_topic_name
}

module "monitoring" {
  source                = "../../modules/monitoring"
  project_id            = var.project_id
  environment           = var.environment
  service_name          = module.cloud_run.name
  service_url           = module.cloud_run.url
  subscription_name     = module.pubsub.subscription_name
  notification_channels = var.notification_channels
  notification_email    = var.notification_email
}
