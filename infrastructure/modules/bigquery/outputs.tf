output "dataset_id" {
  description = "Dataset name."
  value       = google_bigquery_dataset.this.dataset_id
}

output "table_id" {
  description = "Events table name."
  value       = google_bigquery_table.events.table_id
}

output "store_uri" {
  description = "COLIBRI_STORE value for this table: bigquery:PROJECT.DATASET.TABLE."
  value       = "bigquery:${var.project_id}.${google_bigquery_dataset.this.dataset_id}.${google_bigquery_table.events.table_id}"
}

output "clustering" {
  description = "Clustering columns in effect."
  value       = local.clustering
}
