# dev runs in push mode. What must hold (finding 1 of issue 13): the push route is on only here,
# with one fixed audience that Pub/Sub signs, Cloud Run accepts and colibri checks, and one push
# account; the service is not public; the invokers are exactly the push account and the deployer.
# Mock providers: no credentials, no network (tests/delivery/check-terraform runs this).
# Refusals inside modules (public without API keys, alerts without a channel) are tested in
# modules/*/tests, where they are checkable.
mock_provider "google" {}

override_data {
  target = data.google_service_account.runtime
  values = { email = "colibri-run@dev-project.iam.gserviceaccount.com", member = "serviceAccount:colibri-run@dev-project.iam.gserviceaccount.com" }
}
override_data {
  target = data.google_service_account.push
  values = { email = "colibri-push@dev-project.iam.gserviceaccount.com", member = "serviceAccount:colibri-push@dev-project.iam.gserviceaccount.com" }
}
override_data {
  target = data.google_service_account.deployer
  values = { email = "circleci-deployer@dev-project.iam.gserviceaccount.com", member = "serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com" }
}

variables {
  project_id         = "dev-project"
  image              = "southamerica-west1-docker.pkg.dev/dev-project/colibri/colibri@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  notification_email = "oncall@example.com"
}

run "push_route_verified_with_a_fixed_audience" {
  command = apply

  assert {
    condition     = output.colibri_env["COLIBRI_PUSH"] == "on"
    error_message = "dev is in push mode: COLIBRI_PUSH must be on."
  }
  assert {
    condition     = output.colibri_env["COLIBRI_PUSH_AUDIENCE"] == "colibri-pubsub-push:dev-project"
    error_message = "COLIBRI_PUSH_AUDIENCE must be the fixed per-project audience."
  }
  assert {
    condition     = output.colibri_env["COLIBRI_PUSH_SERVICE_ACCOUNT"] == "colibri-push@dev-project.iam.gserviceaccount.com"
    error_message = "COLIBRI_PUSH_SERVICE_ACCOUNT must be the push account."
  }
  assert {
    condition     = module.pubsub.push_oidc_token.audience == output.colibri_env["COLIBRI_PUSH_AUDIENCE"]
    error_message = "Pub/Sub must sign push tokens for the audience colibri checks."
  }
  assert {
    condition     = module.pubsub.push_oidc_token.service_account_email == output.colibri_env["COLIBRI_PUSH_SERVICE_ACCOUNT"]
    error_message = "Pub/Sub must sign push tokens as the account colibri checks."
  }
  assert {
    condition     = jsonencode(module.cloud_run.custom_audiences) == jsonencode(["colibri-pubsub-push:dev-project"])
    error_message = "Cloud Run must accept the push audience (custom_audiences), and only it."
  }
}

run "invokers_are_the_push_account_and_the_deployer_only" {
  command = apply

  assert {
    condition = jsonencode(module.cloud_run.invoker_members) == jsonencode(sort([
      "serviceAccount:colibri-push@dev-project.iam.gserviceaccount.com",
      "serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com",
    ]))
    error_message = "run.invoker must be exactly the push account and the deployer (smoke test): ${jsonencode(module.cloud_run.invoker_members)}"
  }
  assert {
    condition     = !contains(module.cloud_run.invoker_members, "allUsers") && !contains(module.cloud_run.invoker_members, "allAuthenticatedUsers")
    error_message = "dev must not be public unless it opts in."
  }
  assert {
    condition     = module.cloud_run.secret_env["COLIBRI_API_KEYS"] == "colibri-api-keys"
    error_message = "/data must require API keys from Secret Manager."
  }
  assert {
    condition     = output.colibri_env["COLIBRI_BQ_DEFAULT_WINDOW_H"] == "168"
    error_message = "GET /data without since must be bounded (168 h) on BigQuery."
  }
}

run "public_opt_in_adds_allUsers_and_keeps_keys" {
  command = apply
  variables {
    public = true
  }
  assert {
    condition     = contains(module.cloud_run.invoker_members, "allUsers") && contains(module.cloud_run.invoker_members, "serviceAccount:colibri-push@dev-project.iam.gserviceaccount.com")
    error_message = "public = true: allUsers and the push account are invokers."
  }
  assert {
    condition     = !contains(module.cloud_run.invoker_members, "serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com")
    error_message = "public = true: the deployer needs no grant of its own."
  }
}

run "image_must_be_a_digest" {
  command = plan
  variables {
    image = "southamerica-west1-docker.pkg.dev/dev-project/colibri/colibri:latest"
  }
  expect_failures = [var.image]
}
