output "uptime_check_id" {
  description = "Uptime check id."
  value       = google_monitoring_uptime_check_config.healthz.uptime_check_id
}

output "slo_names" {
  description = "Full resource names of the SLOs."
  value       = local.slos
}

output "alert_policy_names" {
  description = "Burn-rate alert policies."
  value       = [for p in google_monitoring_alert_policy.burn_rate : p.name]
}
