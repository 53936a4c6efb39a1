variable "project_id" {
  description = "GCP project whose Binary Authorization policy this is."
  type        = string
}

variable "region" {
  description = "Cloud KMS location of the signing key."
  type        = string
}

variable "enforce" {
  description = "true: unsigned images are refused (ENFORCED_BLOCK_AND_AUDIT_LOG); false: dry-run, only audit-logged."
  type        = bool
}

variable "create_signer" {
  description = "Create the KMS signing key, note and attestor here (the project that hosts the image registry)."
  type        = bool
  default     = false
}

variable "trusted_attestors" {
  description = "Attestors of other projects whose signature admits an image (projects/<dev>/attestors/colibri-image-signer)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.trusted_attestors : can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/attestors/[A-Za-z0-9_-]+$", a))])
    error_message = "trusted_attestors are full attestor names: projects/<project>/attestors/<name>."
  }
}

variable "signer_members" {
  description = "Who signs images (CI's deployer); only where create_signer."
  type        = list(string)
  default     = []
}

variable "verifier_members" {
  description = "Binary Authorization service agents of other projects that trust this attestor (prod bootstrap's output binauthz_service_agent)."
  type        = list(string)
  default     = []
}

variable "allowlist_patterns" {
  description = "Images admitted without attestation: only Google's Managed Prometheus sidecar, which CI does not build."
  type        = list(string)
  default     = ["us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/*"]
}

variable "labels" {
  description = "Labels for the signing key."
  type        = map(string)
  default     = {}
}
