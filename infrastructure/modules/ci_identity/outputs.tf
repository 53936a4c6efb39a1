output "workload_identity_provider" {
  description = "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER for CircleCI's context (GCP_WIF_PROVIDER)."
  value       = google_iam_workload_identity_pool_provider.circleci.name
}

output "deployer_email" {
  description = "Service account CircleCI impersonates (GCP_DEPLOYER_SA)."
  value       = google_service_account.deployer.email
}

output "deployer_member" {
  description = "Deployer as an IAM member."
  value       = google_service_account.deployer.member
}

output "deployer_role" {
  description = "The deployer's custom role (projects/P/roles/ID)."
  value       = google_project_iam_custom_role.deployer.name
}
