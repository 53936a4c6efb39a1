# Keyless CI: CircleCI's OIDC token (CIRCLE_OIDC_TOKEN_V2, in jobs that use a context) is exchanged
# through Workload Identity Federation for a short-lived token of the deployer service account.
# No service-account key exists anywhere. Only pipelines of the one CircleCI project, on its one
# branch, may use it.
#
# Applied by an admin from infrastructure/bootstrap, never by CI: the deployer cannot change its
# own identity, its role or its state-bucket access (it has no permission to read them either,
# which is why they must not live in the state CI applies).

resource "google_iam_workload_identity_pool" "circleci" {
  project                   = var.project_id
  workload_identity_pool_id = var.pool_id
  display_name              = "CircleCI"
  description               = "OIDC tokens of CircleCI organization ${var.circleci_org_id}"
}

resource "google_iam_workload_identity_pool_provider" "circleci" {
  project                            = var.project_id
  workload_identity_pool_id          = google_iam_workload_identity_pool.circleci.workload_identity_pool_id
  workload_identity_pool_provider_id = "circleci"
  display_name                       = "CircleCI OIDC"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.project_id" = "assertion['oidc.circleci.com/project-id']"
    "attribute.vcs_ref"    = "assertion['oidc.circleci.com/vcs-ref']"
  }
  # only this CircleCI project, and only its protected branch
  attribute_condition = "attribute.project_id == '${var.circleci_project_id}' && attribute.vcs_ref == 'refs/heads/${var.branch}'"
  oidc {
    issuer_uri        = "https://oidc.circleci.com/org/${var.circleci_org_id}"
    allowed_audiences = [var.circleci_org_id]
  }
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = var.deployer_account_id
  display_name = "CircleCI deployer"
  description  = "Impersonated by CircleCI via Workload Identity Federation: pushes images, applies infrastructure/envs/<env>, rolls out revisions, runs the smoke test."
}

resource "google_service_account_iam_member" "circleci_impersonates_deployer" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.circleci.name}/attribute.project_id/${var.circleci_project_id}"
}

# What CI needs, and nothing else: one custom role with exactly the permissions that applying
# infrastructure/envs/<env> and rolling out a revision use (list in variables.tf). No predefined
# admin role, no iam.serviceAccounts.create/setIamPolicy (it could grant itself any account), no
# secretmanager.versions.access (it could read every secret), no resourcemanager.projects.setIamPolicy.
resource "google_project_iam_custom_role" "deployer" {
  project     = var.project_id
  role_id     = var.deployer_role_id
  title       = "colibri CI deployer"
  description = "Least privilege for CircleCI's terraform apply of infrastructure/envs/* and the Cloud Run rollout. Managed by infrastructure/bootstrap."
  permissions = sort(distinct(var.deployer_permissions))
  stage       = "GA"
}

resource "google_project_iam_member" "deployer" {
  project = var.project_id
  role    = google_project_iam_custom_role.deployer.name
  member  = google_service_account.deployer.member
}

# State: objects under this environment's prefix only (the bootstrap state, which CI must not read
# or change, lives under another prefix of the same bucket). Listing is a bucket-level call, so
# the bucket itself is allowed for the list permission that objectUser carries.
resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectUser"
  member = google_service_account.deployer.member
  condition {
    title       = "app-state-prefix-only"
    description = "Objects under ${var.state_prefix}/ (the app state and its lock), and listing the bucket."
    expression  = "resource.type == \"storage.googleapis.com/Bucket\" || resource.name.startsWith(\"projects/_/buckets/${var.state_bucket}/objects/${var.state_prefix}/\")"
  }
}
