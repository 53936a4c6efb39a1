variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the accounts created here (the service name)."
  type        = string
  default     = "colibri"
}

variable "runtime_member" {
  description = "colibri's runtime service account as an IAM member (serviceAccount:...)."
  type        = string
}

variable "runtime_service_account_id" {
  description = "Runtime service account resource name (projects/P/serviceAccounts/EMAIL)."
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

variable "deployer_member" {
  description = "CI deployer as an IAM member; gets actAs on the runtime account only. null = none."
  type        = string
  default     = null
}
