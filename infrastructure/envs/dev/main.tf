# colibri in one environment: registry, dataset and table, topic and subscription, the Cloud Run
# service, least-privilege IAM, CI's keyless identity, and monitoring with SLOs.
# The image registry lives here, in dev: CI builds once, pushes once, and prod deploys the same
# digest after it passed dev's smoke test (prod's Cloud Run service agent is a reader).
# Applied by CI (scripts/deploy) with the image built for the commit; see infrastructure/README.md.
locals {
  schema_json = file("${path.root}/../../../schema/flights.json")
  labels      = { app = "colibri", environment = var.environment }
}

module "artifact_registry" {
  source         = "../../modules/artifact_registry"
  project_id     = var.project_id
  region         = var.region
  writer_members = [module.ci_identity.deployer_member]
  reader_members = var.image_reader_members
  labels         = local.labels
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
  push_endpoint_base_url     = var.ingest_mode == "push" ? module.cloud_run.url : null
  push_service_account_email = var.ingest_mode == "push" ? module.iam.push_service_account_email : null
  publisher_members          = concat(var.publisher_members, [module.ci_identity.deployer_member])
  labels                     = local.labels
}

module "cloud_run" {
  source               = "../../modules/cloud_run"
  project_id           = var.project_id
  region               = var.region
  service_name         = "colibri"
  image                = var.image
  store_uri            = module.bigquery.store_uri
  subscription_id      = module.pubsub.pull_subscription_id
  dead_letter_topic_id = module.pubsub.dead_letter_topic_id
  api_keys_secret_id   = var.api_keys_secret_id
  min_instances        = var.min_instances
  max_instances        = var.max_instances
  cpu                  = var.cpu
  memory               = var.memory
  deletion_protection  = var.deletion_protection
  invoker_members = concat(
    var.public ? ["allUsers"] : [module.ci_identity.deployer_member],
    var.ingest_mode == "push" ? [module.iam.push_service_account_member] : [],
  )
  labels = local.labels
}

module "iam" {
  source                     = "../../modules/iam"
  project_id                 = var.project_id
  name_prefix                = "colibri"
  runtime_member             = module.cloud_run.service_account_member
  runtime_service_account_id = "projects/${var.project_id}/serviceAccounts/${module.cloud_run.service_account_email}"
  dataset_id                 = module.bigquery.dataset_id
  pull_subscription_name     = module.pubsub.pull_subscription_name
  dead_letter_topic_name     = module.pubsub.dead_letter_topic_name
  deployer_member            = module.ci_identity.deployer_member
}

module "ci_identity" {
  source              = "../../modules/ci_identity"
  project_id          = var.project_id
  circleci_org_id     = var.circleci_org_id
  circleci_project_id = var.circleci_project_id
  state_bucket        = var.state_bucket
}

module "monitoring" {
  source                = "../../modules/monitoring"
  project_id            = var.project_id
  environment           = var.environment
  service_name          = module.cloud_run.name
  service_url           = module.cloud_run.url
  notification_channels = var.notification_channels
  notification_email    = var.notification_email
}
