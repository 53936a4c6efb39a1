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
