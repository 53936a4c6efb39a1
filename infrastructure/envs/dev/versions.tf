terraform {
  required_version = ">= 1.8.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 8.0.0, < 9.0.0" # validated and locked version: see .terraform.lock.hcl
    }
  }

  # State in GCS, one prefix per environment. The bucket is given at init time:
  #   tofu init -backend-config="bucket=$TF_STATE_BUCKET"   (scripts/deploy does this)
  backend "gcs" {
    prefix = "colibri/dev"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  default_labels = {
    app         = "colibri"
    environment = "dev"
    managed-by  = "terraform"
  }
}
