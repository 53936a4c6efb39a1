variable "project_id" {
  description = "GCP project of this environment."
  type        = string
}

variable "environment" {
  description = "Environment this project hosts (dev or prod): names the state prefix CI may write, colibri/<environment>."
  type        = string
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment is dev or prod (infrastructure/envs/<environment>)."
  }
}

variable "region" {
  description = "Default region of the provider."
  type        = string
  default     = "southamerica-west1"
}

variable "service_name" {
  description = "Cloud Run service name; prefixes the accounts and secrets made here."
  type        = string
  default     = "colibri"
}

variable "state_bucket" {
  description = "GCS bucket of the Terraform states (created with gcloud before the first init; docs/deploy.md)."
  type        = string
}

variable "circleci_org_id" {
  description = "CircleCI organization id (UUID)."
  type        = string
}

variable "circleci_project_id" {
  description = "CircleCI project id (UUID) allowed to deploy."
  type        = string
}

variable "branch" {
  description = "Only pipelines on this branch may deploy."
  type        = string
  default     = "main"
}

variable "image_registry" {
  description = "Create the Artifact Registry repository CI pushes to (true in dev's project; prod pulls from it)."
  type        = bool
  default     = false
}

variable "image_reader_members" {
  description = "Who may pull images besides this project: prod's Cloud Run service agent (prod bootstrap's output run_service_agent)."
  type        = list(string)
  default     = []
}
