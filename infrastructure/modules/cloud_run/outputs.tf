output "url" {
  description = "Service URL (https://...run.app)."
  value       = google_cloud_run_v2_service.this.uri
}

output "name" {
  description = "Service name."
  value       = google_cloud_run_v2_service.this.name
}

output "env" {
  description = "Plain environment of the colibri container (no secrets), for tests and review."
  value       = local.env
}

output "invoker_members" {
  description = "Members with roles/run.invoker on the service."
  value       = sort(keys(google_cloud_run_v2_service_iam_member.invokers))
}

output "custom_audiences" {
  description = "Audiences Cloud Run accepts besides its URLs (the push audience in push mode)."
  value       = google_cloud_run_v2_service.this.custom_audiences
}

output "secret_env" {
  description = "Environment variables read from Secret Manager (name => secret id)."
  value       = local.secret_env
}
