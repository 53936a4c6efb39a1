variable "project_id" {
  description = "GCP project of the service."
  type        = string
}

variable "region" {
  description = "Cloud Run region."
  type        = string
}

variable "service_name" {
  description = "Cloud Run service name."
  type        = string
  default     = "colibri"
}

variable "image" {
  description = "Container image of the first revision, by digest (later revisions are rolled out by scripts/deploy)."
  type        = string
}

variable "runtime_service_account_email" {
  description = "colibri's runtime account (made by infrastructure/bootstrap)."
  type        = string
}

variable "store_uri" {
  description = "COLIBRI_STORE, e.g. bigquery:PROJECT.DATASET.TABLE."
  type        = string
}

variable "subscription_id" {
  description = "Pull mode: projects/P/subscriptions/S colibri pulls from (COLIBRI_SUBSCRIBE). null = not pull mode."
  type        = string
  default     = null
}

variable "push" {
  description = "Push mode: the fixed OIDC audience and the push account's email (COLIBRI_PUSH=on, COLIBRI_PUSH_AUDIENCE, COLIBRI_PUSH_SERVICE_ACCOUNT). null = POST /pubsub/push is off."
  type = object({
    audience              = string
    service_account_email = string
  })
  default = null
}

variable "dead_letter_topic_id" {
  description = "COLIBRI_DLQ_TOPIC: where colibri republishes messages it rejects."
  type        = string
  default     = null
}

variable "cursor_secret_id" {
  description = "Secret Manager secret holding COLIBRI_CURSOR_SECRET (made by bootstrap, value added with gcloud)."
  type        = string
}

variable "api_keys_secret_id" {
  description = "Secret Manager secret holding COLIBRI_API_KEYS; null = no API keys (only for IAM-protected services)."
  type        = string
  default     = null
}

variable "bq_default_window_hours" {
  description = "COLIBRI_BQ_DEFAULT_WINDOW_H: GET /data without since reads the last N hours (0 = unbounded)."
  type        = number
  default     = 168
  validation {
    condition     = var.bq_default_window_hours >= 0 && floor(var.bq_default_window_hours) == var.bq_default_window_hours
    error_message = "bq_default_window_hours is a whole number of hours, 0 or more."
  }
}

variable "metrics_sidecar_image" {
  description = "Managed Service for Prometheus sidecar image; null = no sidecar (colibri's own metrics then never reach Cloud Monitoring)."
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
}

variable "extra_env" {
  description = "More environment variables (COLIBRI_BATCH_MAX, COLIBRI_HTTP_THREADS, ...)."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "COLIBRI_LOG_LEVEL."
  type        = string
  default     = "info"
}

variable "min_instances" {
  description = "Minimum instances (raised to 1 in pull mode)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Maximum instances."
  type        = number
  default     = 10
}

variable "concurrency" {
  description = "Concurrent requests per instance."
  type        = number
  default     = 80
}

variable "cpu" {
  description = "vCPUs of the colibri container."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory of the colibri container."
  type        = string
  default     = "512Mi"
}

variable "request_timeout_seconds" {
  description = "Request timeout."
  type        = number
  default     = 60
}

variable "invoker_members" {
  description = "IAM members with roles/run.invoker: the push account, API callers; allUsers only with api_keys_secret_id."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Refuse to destroy the service."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels."
  type        = map(string)
  default     = {}
}
