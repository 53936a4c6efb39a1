output "service_url" {
  description = "colibri's Cloud Run URL (the smoke test's target)."
  value       = module.cloud_run.url
}

output "topic_id" {
  description = "Pub/Sub topic producers (and the smoke test) publish to."
  value       = module.pubsub.topic_id
}

output "subscription_id" {
  description = "Subscription feeding colibri."
  value       = module.pubsub.subscription_id
}

output "store_uri" {
  description = "COLIBRI_STORE of the service."
  value       = module.bigquery.store_uri
}

output "workload_identity_provider" {
  description = "For CircleCI's context: GCP_WIF_PROVIDER."
  value       = module.ci_identity.workload_identity_provider
}

output "deployer_email" {
  description = "For CircleCI's context: GCP_DEPLOYER_SA."
  value       = module.ci_identity.deployer_email
}
