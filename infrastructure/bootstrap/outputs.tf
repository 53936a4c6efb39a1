output "workload_identity_provider" {
  description = "For the CircleCI context: GCP_WIF_PROVIDER."
  value       = module.ci_identity.workload_identity_provider
}

output "deployer_email" {
  description = "For the CircleCI context: GCP_DEPLOYER_SA."
  value       = module.ci_identity.deployer_email
}

output "runtime_service_account_email" {
  description = "colibri's runtime account (the app roots look it up by account id)."
  value       = google_service_account.runtime.email
}

output "push_service_account_email" {
  description = "The Pub/Sub push identity (COLIBRI_PUSH_SERVICE_ACCOUNT in push mode)."
  value       = google_service_account.push.email
}

output "secret_ids" {
  description = "Secrets whose values the admin adds with gcloud (docs/deploy.md, step 3)."
  value       = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
}

output "run_service_agent" {
  description = "Cloud Run service agent of this project: add it to dev's image_reader_members when this is prod."
  value       = "serviceAccount:${local.service_agents["run.googleapis.com"]}"
}

output "image_repo" {
  description = "For the CircleCI context gcp-dev: IMAGE_REPO (null where image_registry is false)."
  value       = one(module.artifact_registry[*].image_base)
}
