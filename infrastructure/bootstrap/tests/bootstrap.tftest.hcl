# What the admin's one-time apply must provide before CI can apply the app roots (findings 2, 3
# and 6 of issue 13): every API, the service agents, the identities and their grants.
mock_provider "google" {}

override_data {
  target = data.google_project.this
  values = { number = "123" }
}

override_resource {
  target = google_service_account.runtime
  values = { name = "projects/dev-project/serviceAccounts/colibri-run@dev-project.iam.gserviceaccount.com", email = "colibri-run@dev-project.iam.gserviceaccount.com", member = "serviceAccount:colibri-run@dev-project.iam.gserviceaccount.com" }
}
override_resource {
  target = google_service_account.push
  values = { name = "projects/dev-project/serviceAccounts/colibri-push@dev-project.iam.gserviceaccount.com", email = "colibri-push@dev-project.iam.gserviceaccount.com", member = "serviceAccount:colibri-push@dev-project.iam.gserviceaccount.com" }
}
override_module {
  target = module.ci_identity
  outputs = {
    deployer_member            = "serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com"
    deployer_email             = "circleci-deployer@dev-project.iam.gserviceaccount.com"
    workload_identity_provider = "projects/123/locations/global/workloadIdentityPools/circleci/providers/circleci"
    deployer_role              = "projects/dev-project/roles/colibriDeployer"
  }
}

# Runs plan only: the service agents are made by a local-exec (gcloud) during the admin's apply,
# which must never run here.

variables {
  project_id          = "dev-project"
  environment         = "dev"
  state_bucket        = "dev-project-tfstate"
  circleci_org_id     = "org"
  circleci_project_id = "proj"
}

run "apis_and_agents" {
  command = plan
  assert {
    condition = alltrue([for api in [
      "run.googleapis.com", "pubsub.googleapis.com", "bigquery.googleapis.com", "artifactregistry.googleapis.com",
      "secretmanager.googleapis.com", "monitoring.googleapis.com", "logging.googleapis.com", "iam.googleapis.com",
      "iamcredentials.googleapis.com", "sts.googleapis.com", "cloudresourcemanager.googleapis.com",
    ] : contains(keys(google_project_service.apis), api)])
    error_message = "Every API colibri and the app roots use must be enabled by bootstrap."
  }
  assert {
    condition     = alltrue([for s in google_project_service.apis : s.disable_on_destroy == false])
    error_message = "Destroying bootstrap must not turn APIs off under other users."
  }
  assert {
    condition     = output.run_service_agent == "serviceAccount:service-123@serverless-robot-prod.iam.gserviceaccount.com"
    error_message = "prod's Cloud Run agent is what dev's registry must let read the image."
  }
  assert {
    condition     = google_service_account_iam_member.pubsub_agent_mints_push_tokens.member == "serviceAccount:service-123@gcp-sa-pubsub.iam.gserviceaccount.com"
    error_message = "The Pub/Sub service agent (created here) mints the push tokens."
  }
  assert {
    condition     = jsonencode(sort(keys(terraform_data.service_agents))) == jsonencode(["pubsub.googleapis.com", "run.googleapis.com"])
    error_message = "The Pub/Sub and Cloud Run service agents must be created, not assumed."
  }
}

run "deployer_acts_as_two_accounts_only" {
  command = plan
  assert {
    condition     = jsonencode(sort(keys(google_service_account_iam_member.deployer_acts_as))) == jsonencode(["push", "runtime"])
    error_message = "actAs on the runtime and push accounts only."
  }
  assert {
    condition     = alltrue([for b in google_service_account_iam_member.deployer_acts_as : b.member == "serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com" && b.role == "roles/iam.serviceAccountUser"])
    error_message = "The grants are actAs for the deployer."
  }
  assert {
    condition     = jsonencode(sort([for m in google_project_iam_member.runtime : m.role])) == jsonencode(["roles/bigquery.jobUser", "roles/monitoring.metricWriter"])
    error_message = "The runtime account's project roles: BigQuery jobs and metric writing (Managed Prometheus sidecar)."
  }
  assert {
    condition     = jsonencode(sort([for s in google_secret_manager_secret.this : s.secret_id])) == jsonencode(["colibri-api-keys", "colibri-cursor-secret"])
    error_message = "The two secrets the app roots reference."
  }
}

run "environment_is_dev_or_prod" {
  command = plan
  variables {
    environment = "staging"
  }
  expect_failures = [var.environment]
}

run "registry_in_dev_with_deployer_writer_and_prod_reader" {
  command = plan
  variables {
    image_registry       = true
    image_reader_members = ["serviceAccount:service-456@serverless-robot-prod.iam.gserviceaccount.com"]
  }
  assert {
    condition     = length(module.artifact_registry) == 1
    error_message = "dev's bootstrap makes the registry."
  }
}

run "no_registry_in_prod" {
  command = plan
  variables {
    environment = "prod"
  }
  assert {
    condition     = length(module.artifact_registry) == 0 && output.image_repo == null
    error_message = "prod pulls from dev's registry and has none of its own."
  }
}
