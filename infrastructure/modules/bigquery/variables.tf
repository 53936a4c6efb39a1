variable "project_id" {
  description = "GCP project of the dataset."
  type        = string
}

variable "location" {
  description = "BigQuery location (region or multi-region)."
  type        = string
}

variable "dataset_id" {
  description = "Dataset name."
  type        = string
  default     = "colibri"
}

variable "table_id" {
  description = "Events table name."
  type        = string
  default     = "flights"
}

variable "schema_json" {
  description = "The table schema in BigQuery JSON format: file(\"schema/flights.json\")."
  type        = string
}

variable "event_time_column" {
  description = "TIMESTAMP column the table is partitioned on by day (COLIBRI_EVENT_TIME)."
  type        = string
  default     = "event_time"
}

variable "clustering" {
  description = "Clustering columns; null = the schema's columns marked \"x-cluster\": true."
  type        = list(string)
  default     = null
}

variable "partition_expiration_days" {
  description = "Partitions older than this are deleted; null keeps them forever."
  type        = number
  default     = 400
}

variable "dead_letter_expiration_days" {
  description = "Dead letters are kept this long."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "Refuse to destroy the tables."
  type        = bool
  default     = true
}

variable "delete_contents_on_destroy" {
  description = "Allow destroying a non-empty dataset (dev only)."
  type        = bool
  default     = false
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key (CMEK) for the dataset and tables; null = Google-managed."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels for the dataset and tables."
  type        = map(string)
  default     = {}
}
