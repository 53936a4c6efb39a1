output "push_service_account_email" {
  description = "Identity on Pub/Sub push requests (give it run.invoker on the service)."
  value       = google_service_account.push.email
}

output "push_service_account_member" {
  description = "Push identity as an IAM member."
  value       = google_service_account.push.member
}
