variable "project_id" {
  description = "GCP project of the topics and subscriptions."
  type        = string
}

variable "topic_name" {
  description = "Topic producers publish flight events to."
  type        = string
  default     = "flights"
}

variable "mode" {
  description = "How colibri receives messages: push (to Cloud Run /pubsub/push) or pull (colibri subscribes)."
  type        = string
  default     = "push"
  validation {
    condition     = contains(["push", "pull"], var.mode)
    error_message = "mode is push or pull."
  }
}

variable "push_endpoint_base_url" {
  description = "Cloud Run service URL (push mode); messages go to <url>/pubsub/push."
  type        = string
  default     = null
}

variable "push_audience" {
  description = "Fixed OIDC audience of push tokens (push mode); colibri checks it (COLIBRI_PUSH_AUDIENCE)."
  type        = string
  default     = null
}

variable "push_service_account_email" {
  description = "Service account whose OIDC token Pub/Sub attaches to pushes (needs run.invoker)."
  type        = string
  default     = null
}

variable "ack_deadline_seconds" {
  description = "Ack deadline; colibri acks after the batch is stored (BATCH_MS plus the insert)."
  type        = number
  default     = 60
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message goes to the dead-letter topic (5-100)."
  type        = number
  default     = 10
}

variable "minimum_backoff" {
  description = "Retry policy: first redelivery delay."
  type        = string
  default     = "5s"
}

variable "maximum_backoff" {
  description = "Retry policy: longest redelivery delay."
  type        = string
  default     = "300s"
}

variable "topic_retention" {
  description = "How long the topics keep messages (allows seek/replay)."
  type        = string
  default     = "86400s"
}

variable "subscription_retention" {
  description = "How long unacked messages are kept on the subscription."
  type        = string
  default     = "604800s"
}

variable "publisher_members" {
  description = "IAM members allowed to publish events (producers, the CI smoke test)."
  type        = list(string)
  default     = []
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key (CMEK) for the topics; null = Google-managed."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels for topics and subscriptions."
  type        = map(string)
  default     = {}
}
