# Keyless CI: CircleCI's OIDC token (CIRCLE_OIDC_TOKEN_V2, in jobs that use a context) is exchanged
# through Workload Identity Federation for a short-lived token of the deployer service account.
# No service-account key exists anywhere. Only pipelines of the one CircleCI project may use it.
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
  description  = "Impersonated by CircleCI via Workload Identity Federation: pushes images, runs terraform apply, runs the smoke test."
}

resource "google_service_account_iam_member" "circleci_impersonates_deployer" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.circleci.name}/attribute.project_id/${var.circleci_project_id}"
}

# What `terraform apply` of envs/<env> needs, as predefined roles on the project. Resource-level
# grants (image push, actAs on the runtime account, publish for the smoke test) are made where
# those resources are defined.
resource "google_project_iam_member" "deployer" {
  #checkov:skip=CKV_GCP_49:terraform apply creates the runtime and push service accounts and sets IAM on them (serviceAccountAdmin); the deployer gets no project-level serviceAccountUser or TokenCreator, so it cannot act as any of them except the runtime account it is granted on.
  for_each = toset(var.deployer_project_roles)
  project  = var.project_id
  role     = each.value
  member   = google_service_account.deployer.member
}

resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectUser"
  member = google_service_account.deployer.member
}

# The one project-level grant the environments make (roles/bigquery.jobUser for colibri's runtime
# account): project IAM admin, but conditioned so that it can grant or revoke only that role.
resource "google_project_iam_member" "deployer_grants_job_user_only" {
  project = var.project_id
  role    = "roles/resourcemanager.projectIamAdmin"
  member  = google_service_account.deployer.member
  condition {
    title       = "only-bigquery-job-user"
    description = "May add or remove bindings of roles/bigquery.jobUser and nothing else."
    expression  = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/bigquery.jobUser'])"
  }
}
