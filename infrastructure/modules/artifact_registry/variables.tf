variable "project_id" {
  description = "GCP project that holds the repository."
  type        = string
}

variable "region" {
  description = "Artifact Registry location, e.g. southamerica-west1."
  type        = string
}

variable "repository_id" {
  description = "Repository name."
  type        = string
  default     = "colibri"
}

variable "keep_count" {
  description = "Most recent image versions always kept by the cleanup policy."
  type        = number
  default     = 20
}

variable "untagged_retention_days" {
  description = "Untagged images older than this are deleted."
  type        = number
  default     = 30
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key (CMEK) for the repository; null = Google-managed encryption."
  type        = string
  default     = null
}

variable "writer_members" {
  description = "IAM members that push images (the CI deployer service account)."
  type        = list(string)
  default     = []
}

variable "reader_members" {
  description = "IAM members that pull images (Cloud Run's runtime service accounts)."
  type        = list(string)
  default     = []
}

variable "labels" {
  description = "Labels for the repository."
  type        = map(string)
  default     = {}
}
