variable "project_id" {
  description = "GCP project of the service."
  type        = string
}

variable "region" {
  description = "Cloud Run region."
  type        = string
}

variable "service_name" {
  description = "Cloud Run service name (also prefixes its service account and secret)."
  type        = string
  default     = "colibri"
}

variable "image" {
  description = "Container image, preferably by digest: <region>-docker.pkg.dev/<project>/colibri/colibri@sha256:..."
  type        = string
}

variable "store_uri" {
  description = "COLIBRI_STORE, e.g. bigquery:PROJECT.DATASET.TABLE."
  type        = string
}

variable "subscription_id" {
  description = "Pull mode: projects/P/subscriptions/S colibri pulls from (COLIBRI_SUBSCRIBE). null = push mode."
  type        = string
  default     = null
}

variable "dead_letter_topic_id" {
  description = "COLIBRI_DLQ_TOPIC: where colibri republishes messages it rejects."
  type        = string
  default     = null
}

variable "api_keys_secret_id" {
  description = "Secret Manager secret (id in this project) holding COLIBRI_API_KEYS; null = no API keys."
  type        = string
  default     = null
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
  description = "vCPUs per instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per instance."
  type        = string
  default     = "512Mi"
}

variable "request_timeout_seconds" {
  description = "Request timeout."
  type        = number
  default     = 60
}

variable "invoker_members" {
  description = "IAM members with roles/run.invoker (allUsers for a public API, the push service account)."
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
