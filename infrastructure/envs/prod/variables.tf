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
  description = "colibri image by digest, set by CI: <region>-docker.pkg.dev/<project>/colibri/colibri@sha256:..."
  type        = string
}

variable "ingest_mode" {
  description = "push: Pub/Sub pushes to Cloud Run (scales to zero). pull: colibri pulls (CPU always allocated, min 1 instance)."
  type        = string
}

variable "public" {
  description = "Anyone may call the API (allUsers invoker; colibri's API keys guard /data). false = IAM-authenticated callers only."
  type        = bool
}

variable "api_keys_secret_id" {
  description = "Secret Manager secret holding COLIBRI_API_KEYS (created and versioned outside Terraform); null = no keys."
  type        = string
  default     = null
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

variable "circleci_org_id" {
  description = "CircleCI organization id (OIDC issuer and audience)."
  type        = string
}

variable "circleci_project_id" {
  description = "CircleCI project id allowed to deploy."
  type        = string
}

variable "state_bucket" {
  description = "GCS bucket holding this state (the deployer gets object access on it)."
  type        = string
}

variable "notification_channels" {
  description = "Existing Cloud Monitoring notification channel ids for alerts."
  type        = list(string)
  default     = []
}

variable "notification_email" {
  description = "Optional e-mail address; a notification channel is created for it."
  type        = string
  default     = null
}
