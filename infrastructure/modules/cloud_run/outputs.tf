output "url" {
  description = "Service URL (https://...run.app)."
  value       = google_cloud_run_v2_service.this.uri
}

output "name" {
  description = "Service name."
  value       = google_cloud_run_v2_service.this.name
}

output "service_account_email" {
  description = "Runtime service account."
  value       = google_service_account.runtime.email
}

output "service_account_member" {
  description = "Runtime service account as an IAM member."
  value       = google_service_account.runtime.member
}

output "latest_revision" {
  description = "Latest ready revision."
  value       = google_cloud_run_v2_service.this.latest_ready_revision
}
