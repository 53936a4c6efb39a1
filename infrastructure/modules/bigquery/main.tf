# Dataset and the events table. The table schema is schema/flights.json, the same file colibri
# validates messages with; keys BigQuery does not know (x-cluster) are dropped here and columns
# marked "x-cluster": true become the clustering columns (max 4). colibri's metadata columns are
# appended, and the dead-letter table mirrors the SQLite store's _dead_letters.
locals {
  schema_fields = jsondecode(var.schema_json)
  bigquery_keys = ["name", "type", "mode", "description", "fields", "policyTags", "maxLength", "precision", "scale", "defaultValueExpression"]

  metadata_columns = [
    { name = "_id", type = "STRING", mode = "REQUIRED", description = "Source id: kafka:<topic>/<partition>/<offset> or the Pub/Sub messageId (also the insertId)." },
    { name = "_source", type = "STRING", mode = "NULLABLE", description = "Where the row came from (kafka topic or Pub/Sub subscription)." },
    { name = "_published_at", type = "TIMESTAMP", mode = "NULLABLE", description = "Broker timestamp of the message." },
    { name = "_ingested_at", type = "TIMESTAMP", mode = "REQUIRED", description = "When colibri stored the row." },
  ]

  table_schema = concat(
    [for f in local.schema_fields : { for k, v in f : k => v if contains(local.bigquery_keys, k) }],
    local.metadata_columns,
  )

  clustering = var.clustering != null ? var.clustering : [
    for f in local.schema_fields : f.name if try(f["x-cluster"], false)
  ]
}

resource "google_bigquery_dataset" "this" {
  #checkov:skip=CKV_GCP_81:CMEK is optional (var.kms_key_name); Google-managed encryption by default.
  project                     = var.project_id
  dataset_id                  = var.dataset_id
  friendly_name               = "colibri"
  description                 = "Events ingested by colibri from Pub/Sub or Kafka."
  location                    = var.location
  default_table_expiration_ms = null
  delete_contents_on_destroy  = var.delete_contents_on_destroy
  labels                      = var.labels

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}

resource "google_bigquery_table" "events" {
  #checkov:skip=CKV_GCP_80:CMEK is optional (var.kms_key_name); Google-managed encryption by default.
  #checkov:skip=CKV_GCP_121:deletion_protection is var.deletion_protection: true in prod, false in dev so the disposable environment can be destroyed.
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = var.table_id
  description         = "Flight events; schema from schema/flights.json plus colibri metadata columns."
  deletion_protection = var.deletion_protection
  labels              = var.labels
  schema              = jsonencode(local.table_schema)
  clustering          = local.clustering
  # GET /data is bounded by COLIBRI_BQ_DEFAULT_WINDOW_H; GET /data/{id} may look an id up
  # across partitions, so the filter is not made mandatory on the table
  require_partition_filter = false

  time_partitioning {
    type          = "DAY"
    field         = var.event_time_column
    expiration_ms = var.partition_expiration_days == null ? null : var.partition_expiration_days * 86400000
  }

  dynamic "encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = encryption_configuration.value
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.clustering) <= 4
      error_message = "BigQuery clusters on at most 4 columns; schema marks ${length(local.clustering)} with x-cluster."
    }
    precondition {
      condition     = contains([for f in local.schema_fields : f.name if f.type == "TIMESTAMP"], var.event_time_column)
      error_message = "The partitioning column ${var.event_time_column} must be a TIMESTAMP column of the schema."
    }
  }
}

resource "google_bigquery_table" "dead_letters" {
  #checkov:skip=CKV_GCP_80:CMEK is optional (var.kms_key_name); Google-managed encryption by default.
  #checkov:skip=CKV_GCP_121:deletion_protection is var.deletion_protection: true in prod, false in dev so the disposable environment can be destroyed.
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "_dead_letters"
  description         = "Messages colibri rejected, with the reason and the raw payload."
  deletion_protection = var.deletion_protection
  labels              = var.labels
  schema = jsonencode([
    { name = "id", type = "STRING", mode = "REQUIRED", description = "Source id of the rejected message." },
    { name = "source", type = "STRING", mode = "NULLABLE", description = "Topic or subscription it came from." },
    { name = "reason", type = "STRING", mode = "NULLABLE", description = "Why it was rejected." },
    { name = "payload", type = "STRING", mode = "NULLABLE", description = "The raw message." },
    { name = "at", type = "TIMESTAMP", mode = "REQUIRED", description = "When it was rejected." },
  ])

  time_partitioning {
    type          = "DAY"
    field         = "at"
    expiration_ms = var.dead_letter_expiration_days * 86400000
  }

  dynamic "encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = encryption_configuration.value
    }
  }
}
