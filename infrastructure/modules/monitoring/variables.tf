variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "environment" {
  description = "Environment name (dev, prod) used in names and labels."
  type        = string
}

variable "service_name" {
  description = "Cloud Run service name."
  type        = string
}

variable "service_url" {
  description = "Cloud Run service URL (https://...)."
  type        = string
}

variable "availability_goal" {
  description = "Availability SLO: fraction of requests that are not 5xx."
  type        = number
  default     = 0.999
}

variable "latency_goal" {
  description = "Latency SLO: fraction of GET /data answered under latency_threshold_seconds."
  type        = number
  default     = 0.99
}

variable "latency_threshold_seconds" {
  description = "Latency SLO threshold."
  type        = number
  default     = 0.3
}

variable "notification_channels" {
  description = "Existing notification channel ids (projects/P/notificationChannels/N) alerts go to."
  type        = list(string)
  default     = []
}

variable "notification_email" {
  description = "If set, an email notification channel is created for this address and used too."
  type        = string
  default     = null
}

variable "subscription_name" {
  description = "Name of the Pub/Sub subscription feeding colibri (push or pull)."
  type        = string
}

variable "backlog_age_threshold_seconds" {
  description = "Page when the subscription's oldest unacked message is older than this for 5 minutes."
  type        = number
  default     = 300
}

variable "undelivered_threshold" {
  description = "Ticket when more messages than this wait undelivered for 10 minutes."
  type        = number
  default     = 10000
}

variable "freshness_threshold_seconds" {
  description = "Page when the newest stored event is older than this for 10 minutes."
  type        = number
  default     = 300
}
