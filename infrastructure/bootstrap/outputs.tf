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

output "image_attestor" {
  description = "For the CircleCI context gcp-dev: BINAUTHZ_ATTESTOR; prod's trusted_attestors (null where image_registry is false)."
  value       = module.binary_authorization.attestor
}

output "image_signing_key" {
  description = "For the CircleCI context gcp-dev: IMAGE_SIGNING_KEY, the KMS key version scripts/image-sign uses (null where image_registry is false)."
  value       = module.binary_authorization.signing_key_version
}

output "binauthz_service_agent" {
  description = "Binary Authorization agent of this project: add it to dev's attestor_verifier_members when this is prod."
  value       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-binaryauthorization.iam.gserviceaccount.com"
}

output "binauthz_enforcement" {
  description = "Binary Authorization enforcement mode of this project (dry-run in dev, enforced in prod)."
  value       = module.binary_authorization.enforcement_mode
}
