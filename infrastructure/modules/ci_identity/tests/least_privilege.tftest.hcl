# The deployer's custom role may not carry a permission that would let CI escalate (manage
# accounts or keys, change project IAM, read secrets, change its own federation or state access),
# and the state-bucket grant is limited to the app state's prefix.
mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      name   = "projects/p/serviceAccounts/circleci-deployer@p.iam.gserviceaccount.com"
      email  = "circleci-deployer@p.iam.gserviceaccount.com"
      member = "serviceAccount:circleci-deployer@p.iam.gserviceaccount.com"
    }
  }
  mock_resource "google_project_iam_custom_role" {
    defaults = { name = "projects/p/roles/colibriDeployer" }
  }
  mock_resource "google_iam_workload_identity_pool" {
    defaults = { name = "projects/123/locations/global/workloadIdentityPools/circleci" }
  }
}

variables {
  project_id          = "p"
  circleci_org_id     = "org"
  circleci_project_id = "proj"
  state_bucket        = "p-tfstate"
  state_prefix        = "colibri/dev"
}

run "default_role_is_least_privilege" {
  command = apply
  assert {
    condition     = length([for p in google_project_iam_custom_role.deployer.permissions : p if can(regex("(setIamPolicy$|\\.create$)", p)) && startswith(p, "iam.")]) == 0
    error_message = "The deployer must not create service accounts or set their IAM."
  }
  assert {
    condition     = !contains(google_project_iam_custom_role.deployer.permissions, "pubsub.topics.publish") && !contains(google_project_iam_custom_role.deployer.permissions, "bigquery.tables.getData")
    error_message = "The deployer may not publish events or read data project-wide (prod's smoke test is read-only through the API)."
  }
  assert {
    condition     = !contains(google_project_iam_custom_role.deployer.permissions, "secretmanager.versions.access")
    error_message = "The deployer must not read secrets."
  }
  assert {
    condition     = google_project_iam_member.deployer.role == google_project_iam_custom_role.deployer.name
    error_message = "The deployer's only project role is its custom role."
  }
  assert {
    condition     = strcontains(google_storage_bucket_iam_member.deployer_state.condition[0].expression, "objects/colibri/dev/")
    error_message = "The state grant must be conditioned to the app state's prefix."
  }
}

run "escalating_permission_refused" {
  command = plan
  variables {
    deployer_permissions = ["run.services.get", "iam.serviceAccounts.setIamPolicy"]
  }
  expect_failures = [var.deployer_permissions]
}

run "secret_reading_refused" {
  command = plan
  variables {
    deployer_permissions = ["secretmanager.versions.access"]
  }
  expect_failures = [var.deployer_permissions]
}
