variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "circleci_org_id" {
  description = "CircleCI organization id (UUID): the OIDC issuer is https://oidc.circleci.com/org/<id> and the audience is the id."
  type        = string
}

variable "circleci_project_id" {
  description = "CircleCI project id (UUID) allowed to impersonate the deployer."
  type        = string
}

variable "branch" {
  description = "Only pipelines on this branch may deploy."
  type        = string
  default     = "main"
}

variable "pool_id" {
  description = "Workload identity pool id."
  type        = string
  default     = "circleci"
}

variable "deployer_account_id" {
  description = "Deployer service account id."
  type        = string
  default     = "circleci-deployer"
}

variable "state_bucket" {
  description = "GCS bucket of the Terraform state."
  type        = string
}

variable "deployer_project_roles" {
  description = "Project roles terraform apply needs (no owner/editor, no project IAM admin)."
  type        = list(string)
  default = [
    "roles/run.admin",
    "roles/bigquery.dataOwner",
    "roles/pubsub.admin",
    "roles/monitoring.editor",
    "roles/logging.configWriter",
    "roles/secretmanager.admin",
    "roles/artifactregistry.admin",
    "roles/iam.serviceAccountAdmin",
  ]
}
