output "service_url" {
  description = "colibri's Cloud Run URL."
  value       = module.cloud_run.url
}

output "service_name" {
  description = "Cloud Run service (scripts/deploy rolls revisions out on it)."
  value       = module.cloud_run.name
}

output "region" {
  description = "Region of the service."
  value       = var.region
}

output "topic_id" {
  description = "Pub/Sub topic producers (and the dev smoke test) publish to."
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

output "colibri_env" {
  description = "Plain environment of the colibri container (COLIBRI_PUSH, audience, default window, ...)."
  value       = module.cloud_run.env
}

output "smoke_publishes" {
  description = "Whether the smoke test publishes an event here (false: read-only smoke)."
  value       = var.smoke_publishes
}
