terraform {
  required_version = ">= 1.8.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 8.0.0, < 9.0.0"
    }
  }

  # Same bucket as the app state, another prefix: the deployer's bucket grant is conditioned to
  # colibri/<env>/, so CI can neither read nor change this state.
  #   tofu init -backend-config="bucket=$TF_STATE_BUCKET"
  backend "gcs" {
    prefix = "colibri/bootstrap"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  default_labels = {
    app        = "colibri"
    managed-by = "opentofu-bootstrap"
  }
}
