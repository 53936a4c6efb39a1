variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "runtime_member" {
  description = "colibri's runtime service account as an IAM member (serviceAccount:...)."
  type        = string
}

variable "dataset_id" {
  description = "BigQuery dataset colibri writes and reads."
  type        = string
}

variable "pull_subscription_name" {
  description = "Subscription colibri pulls from (pull mode); null in push mode."
  type        = string
  default     = null
}

variable "dead_letter_topic_name" {
  description = "Topic colibri republishes rejected messages to."
  type        = string
}
