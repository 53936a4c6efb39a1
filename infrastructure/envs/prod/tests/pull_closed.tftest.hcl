# prod runs in pull mode: POST /pubsub/push must be off (404), nothing may invoke the service as
# the push account, no test event may be published by CI (the smoke test only reads), and the
# service is not public. Mock providers: no credentials, no network.
mock_provider "google" {}

override_data {
  target = data.google_service_account.runtime
  values = { email = "colibri-run@prod-project.iam.gserviceaccount.com", member = "serviceAccount:colibri-run@prod-project.iam.gserviceaccount.com" }
}
override_data {
  target = data.google_service_account.push
  values = { email = "colibri-push@prod-project.iam.gserviceaccount.com", member = "serviceAccount:colibri-push@prod-project.iam.gserviceaccount.com" }
}
override_data {
  target = data.google_service_account.deployer
  values = { email = "circleci-deployer@prod-project.iam.gserviceaccount.com", member = "serviceAccount:circleci-deployer@prod-project.iam.gserviceaccount.com" }
}

variables {
  project_id         = "prod-project"
  image              = "southamerica-west1-docker.pkg.dev/dev-project/colibri/colibri@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  notification_email = "oncall@example.com"
}

run "push_route_off_in_pull_mode" {
  command = apply

  assert {
    condition     = output.colibri_env["COLIBRI_PUSH"] == "off"
    error_message = "prod pulls: COLIBRI_PUSH must be off."
  }
  assert {
    condition     = !contains(keys(output.colibri_env), "COLIBRI_PUSH_AUDIENCE") && !contains(keys(output.colibri_env), "COLIBRI_PUSH_SERVICE_ACCOUNT")
    error_message = "No push settings in pull mode."
  }
  assert {
    condition     = startswith(output.colibri_env["COLIBRI_SUBSCRIBE"], "pubsub://")
    error_message = "prod must pull from its subscription."
  }
  assert {
    condition     = module.pubsub.push_oidc_token == null && length(module.cloud_run.custom_audiences) == 0
    error_message = "No push subscription and no push audience in pull mode."
  }
}

run "invoker_is_the_deployer_only" {
  command = apply

  assert {
    condition     = jsonencode(module.cloud_run.invoker_members) == jsonencode(["serviceAccount:circleci-deployer@prod-project.iam.gserviceaccount.com"])
    error_message = "prod's run.invoker must be the deployer (smoke test) and the named API callers only: ${jsonencode(module.cloud_run.invoker_members)}"
  }
}

run "ci_cannot_publish_to_prod" {
  command = apply

  assert {
    condition     = !contains(module.pubsub.publisher_members, "serviceAccount:circleci-deployer@prod-project.iam.gserviceaccount.com")
    error_message = "The smoke test must not write into the prod table: the deployer may not publish in prod."
  }
  assert {
    condition     = output.smoke_publishes == false
    error_message = "prod's smoke test is read-only."
  }
}

run "api_callers_are_invokers" {
  command = apply
  variables {
    api_invoker_members = ["group:flight-analysts@example.com"]
  }
  assert {
    condition     = contains(module.cloud_run.invoker_members, "group:flight-analysts@example.com")
    error_message = "api_invoker_members must get run.invoker."
  }
}
