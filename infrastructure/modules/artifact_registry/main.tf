# Docker repository for the colibri image. CI pushes <region>-docker.pkg.dev/<project>/<repo>/colibri:<git sha>
# and deploys by digest; tags are immutable so a sha always names the same image.
resource "google_artifact_registry_repository" "this" {
  #checkov:skip=CKV_GCP_84:CMEK is optional (var.kms_key_name); the image holds no data, Google-managed keys by default.
  project       = var.project_id
  location      = var.region
  repository_id = var.repository_id
  description   = "colibri container images"
  format        = "DOCKER"
  kms_key_name  = var.kms_key_name
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-most-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.keep_count
    }
  }
  cleanup_policies {
    id     = "delete-old-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "${var.untagged_retention_days * 86400}s"
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "writers" {
  for_each   = toset(var.writer_members)
  project    = var.project_id
  location   = google_artifact_registry_repository.this.location
  repository = google_artifact_registry_repository.this.name
  role       = "roles/artifactregistry.writer"
  member     = each.value
}

resource "google_artifact_registry_repository_iam_member" "readers" {
  for_each   = toset(var.reader_members)
  project    = var.project_id
  location   = google_artifact_registry_repository.this.location
  repository = google_artifact_registry_repository.this.name
  role       = "roles/artifactregistry.reader"
  member     = each.value
}
