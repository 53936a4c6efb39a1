output "repository_id" {
  description = "Repository name."
  value       = google_artifact_registry_repository.this.name
}

output "image_base" {
  description = "Image path without tag: <region>-docker.pkg.dev/<project>/<repo>/colibri."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.name}/colibri"
}
