output "topic_id" {
  description = "projects/P/topics/T of the events topic."
  value       = google_pubsub_topic.events.id
}

output "topic_name" {
  description = "Events topic name."
  value       = google_pubsub_topic.events.name
}

output "dead_letter_topic_id" {
  description = "projects/P/topics/T of the dead-letter topic."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_topic_name" {
  description = "Dead-letter topic name."
  value       = google_pubsub_topic.dead_letter.name
}

output "subscription_id" {
  description = "projects/P/subscriptions/S feeding colibri."
  value       = local.subscription.id
}

output "subscription_name" {
  description = "Name of the subscription feeding colibri."
  value       = local.subscription.name
}

output "pull_subscription_id" {
  description = "projects/P/subscriptions/S of the pull subscription (null in push mode); depends only on it."
  value       = one(google_pubsub_subscription.pull[*].id)
}

output "pull_subscription_name" {
  description = "Pull subscription name (null in push mode)."
  value       = one(google_pubsub_subscription.pull[*].name)
}

output "push_oidc_token" {
  description = "Push mode: the OIDC token settings of the push subscription (audience, service account); null in pull mode."
  value       = one(flatten(google_pubsub_subscription.push[*].push_config[0].oidc_token))
}

output "publisher_members" {
  description = "Who may publish to the events topic."
  value       = sort(keys(google_pubsub_topic_iam_member.publishers))
}
