variable "project_id" {
  description = "GCP project of this environment (TF_VAR_project_id in CI)."
  type        = string
}

variable "environment" {
  description = "Environment name."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Artifact Registry and the BigQuery dataset."
  type        = string
}

variable "image" {
  description = "colibri image by digest for the service's first revision: <region>-docker.pkg.dev/<project>/colibri/colibri@sha256:... (later ones are rolled out by scripts/deploy)."
  type        = string
  validation {
    condition     = can(regex("@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be pinned by digest (...@sha256:<64 hex>): a tag can move under a running service."
  }
}

variable "ingest_mode" {
  description = "push: Pub/Sub pushes to Cloud Run (scales to zero; POST /pubsub/push on, token checked). pull: colibri pulls (CPU always allocated, min 1 instance; push route off)."
  type        = string
  validation {
    condition     = contains(["push", "pull"], var.ingest_mode)
    error_message = "ingest_mode is push or pull."
  }
}

variable "public" {
  description = "Opt-in: anyone may call the service (allUsers invoker; colibri's API keys from Secret Manager guard /data, and api_keys must be true). Many organisations forbid allUsers; false = IAM-authenticated callers only."
  type        = bool
  default     = false
}

variable "api_keys" {
  description = "Require API keys on /data (COLIBRI_API_KEYS from the secret colibri-api-keys, made by bootstrap)."
  type        = bool
  default     = true
}

variable "api_invoker_members" {
  description = "IAM members allowed to call the API when it is not public (groups, service accounts of consumers)."
  type        = list(string)
  default     = []
}

variable "bq_default_window_hours" {
  description = "COLIBRI_BQ_DEFAULT_WINDOW_H: GET /data without since reads only the last N hours (keeps the partition filter and the bytes-billed guard predictable; 0 = off)."
  type        = number
  default     = 168
}

variable "smoke_publishes" {
  description = "The deployer may publish to the events topic (the smoke test's tagged event). false in prod: prod's smoke test only reads."
  type        = bool
}

variable "min_instances" {
  description = "Minimum Cloud Run instances."
  type        = number
}

variable "max_instances" {
  description = "Maximum Cloud Run instances."
  type        = number
}

variable "cpu" {
  description = "vCPUs per instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per instance."
  type        = string
  default     = "512Mi"
}

variable "partition_expiration_days" {
  description = "Days a BigQuery partition is kept."
  type        = number
}

variable "deletion_protection" {
  description = "Protect the service and tables from terraform destroy."
  type        = bool
}

variable "publisher_members" {
  description = "Producers allowed to publish flight events."
  type        = list(string)
  default     = []
}

variable "notification_channels" {
  description = "Existing Cloud Monitoring notification channel ids for alerts (this or notification_email is required)."
  type        = list(string)
  default     = []
}

variable "notification_email" {
  description = "E-mail address of the on-call; a notification channel is created for it (TF_VAR_notification_email in the CircleCI context)."
  type        = string
  default     = null
}
