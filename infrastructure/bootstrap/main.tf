# Bootstrap of one GCP project (dev or prod), applied ONCE by a project admin with their own
# credentials (docs/deploy.md, step 2), and again only when what it owns changes:
#   - every API the app roots and colibri use (google_project_service), so nothing is enabled by hand
#   - the service agents that must exist before the app roots bind them (Pub/Sub, Cloud Run)
#   - the identities: colibri's runtime account, the Pub/Sub push account, the CI deployer with
#     a custom least-privilege role, Workload Identity Federation for CircleCI
#   - every project-level or account-level grant (the deployer may change neither)
#   - the secrets' containers and who may read them (values are added with gcloud, never in state)
#   - in dev's project, the image registry CI pushes to and prod pulls from
# CI applies only infrastructure/envs/<env> (another state prefix it alone may write).
locals {
  apis = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
  ])
  runtime_account_id = "${var.service_name}-run"
  service_agents = {
    "pubsub.googleapis.com" = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    "run.googleapis.com"    = "service-${data.google_project.this.number}@serverless-robot-prod.iam.gserviceaccount.com"
  }
  push_account_id = "${var.service_name}-push"
}

resource "google_project_service" "apis" {
  for_each = local.apis
  project  = var.project_id
  service  = each.value
  # turning an API off would break whatever else in the project uses it
  disable_on_destroy         = false
  disable_dependent_services = false
}

# Service agents are created lazily by Google; on a new project the Pub/Sub agent may not exist
# yet when this root and the app root grant it roles (push tokens, dead-lettering). Create them
# now. google_project_service_identity would do it but exists only in the google-beta provider;
# the admin who applies this root has gcloud, which calls the same Service Usage API
# (services.generateServiceIdentity; idempotent: it returns the agent if it exists).
data "google_project" "this" {
  project_id = var.project_id
}

resource "terraform_data" "service_agents" {
  for_each         = local.service_agents
  triggers_replace = [var.project_id, each.key]
  provisioner "local-exec" {
    command = "gcloud beta services identity create --service=${each.key} --project=${var.project_id} --quiet"
  }
  depends_on = [google_project_service.apis]
}

# --- colibri's identities ----------------------------------------------------------------------
resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = local.runtime_account_id
  display_name = "colibri Cloud Run runtime (${var.service_name})"
  description  = "Identity of the colibri service: BigQuery data editor on its dataset, subscriber on its subscription, publisher on its dead-letter topic, metric writer (Managed Prometheus sidecar)."
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = local.push_account_id
  display_name = "Pub/Sub push to colibri (${var.service_name})"
  description  = "OIDC identity on Pub/Sub push requests to colibri's /pubsub/push; holds only run.invoker on the service."
  depends_on   = [google_project_service.apis]
}

# Project-level grants of the runtime account: BigQuery jobs have no narrower scope; the Managed
# Prometheus sidecar writes time series to the project.
resource "google_project_iam_member" "runtime" {
  for_each = toset(["roles/bigquery.jobUser", "roles/monitoring.metricWriter"])
  project  = var.project_id
  role     = each.value
  member   = google_service_account.runtime.member
}

# Pub/Sub mints the push requests' OIDC tokens as the push account.
resource "google_service_account_iam_member" "pubsub_agent_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.service_agents["pubsub.googleapis.com"]}"
  depends_on         = [terraform_data.service_agents]
}

# The deployer deploys revisions that run as the runtime account, and creates the push
# subscription whose tokens carry the push account: actAs on exactly these two accounts.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each           = { runtime = google_service_account.runtime.name, push = google_service_account.push.name }
  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = module.ci_identity.deployer_member
}

# --- secrets: containers and readers here; values with gcloud (docs/deploy.md), so no secret
# value is ever in a Terraform state ------------------------------------------------------------
resource "google_secret_manager_secret" "this" {
  for_each  = toset(["cursor-secret", "api-keys"])
  project   = var.project_id
  secret_id = "${var.service_name}-${each.value}"
  labels    = { app = "colibri", environment = var.environment }
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "runtime_reads" {
  for_each  = google_secret_manager_secret.this
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

# --- the image registry (dev's project only): CI pushes once, prod runs the same digest -----------
# Here rather than in envs/dev: it must exist before CI's first push, and who may read it from
# other projects (prod's Cloud Run agent) is a cross-project grant, an admin's decision.
module "artifact_registry" {
  source         = "../modules/artifact_registry"
  count          = var.image_registry ? 1 : 0
  project_id     = var.project_id
  region         = var.region
  writer_members = [module.ci_identity.deployer_member]
  reader_members = var.image_reader_members
  labels         = { app = "colibri", environment = var.environment }
  depends_on     = [google_project_service.apis]
}

# --- CI --------------------------------------------------------------------------------------------
module "ci_identity" {
  source              = "../modules/ci_identity"
  project_id          = var.project_id
  circleci_org_id     = var.circleci_org_id
  circleci_project_id = var.circleci_project_id
  branch              = var.branch
  state_bucket        = var.state_bucket
  state_prefix        = "colibri/${var.environment}"
  depends_on          = [google_project_service.apis]
}
