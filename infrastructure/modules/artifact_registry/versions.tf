terraform {
  required_version = ">= 1.8.0"
  required_providers {
    google = {
      source = "hashicorp/google"
      # 8.0 is the version validated by `make lint` (tests/delivery/check-terraform) and locked in
      # every root's .terraform.lock.hcl; < 6.13 fails on for_each over service-account emails.
      version = ">= 8.0.0, < 9.0.0"
    }
  }
}
