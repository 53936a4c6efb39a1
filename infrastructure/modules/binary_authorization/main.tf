# Binary Authorization for Cloud Run: the project's policy admits only images attested by the
# colibri image signer (plus Google's system images and the allowlisted sidecar), enforced (prod)
# or in dry-run (dev: violations are only audit-logged).
#
# The signer lives in the project that hosts the image registry (dev; create_signer): a Cloud KMS
# asymmetric key, a Container Analysis note and an attestor holding the key's public half. CI
# signs every pushed digest with that key (scripts/image-sign: a cosign signature next to the
# image in the registry, and the Binary Authorization attestation on the note). Cloud Run's
# admission check reads attestations from attestors, so the signing key is KMS, not a keyless
# (Fulcio) certificate, which no attestor can name. Other projects (prod) trust the same attestor
# through trusted_attestors; their Binary Authorization agent is granted here (verifier_members).
locals {
  signer    = var.create_signer ? 1 : 0
  attestors = concat([for a in google_binary_authorization_attestor.signer : "projects/${var.project_id}/attestors/${a.name}"], var.trusted_attestors)
}

resource "google_kms_key_ring" "signer" {
  count    = local.signer
  project  = var.project_id
  name     = "colibri-image-signing"
  location = var.region
}

resource "google_kms_crypto_key" "signer" {
  #checkov:skip=CKV_GCP_43:asymmetric signing keys cannot rotate automatically (rotation_period is for symmetric keys); a new version is a new attestor key
  count    = local.signer
  name     = "image-signer"
  key_ring = google_kms_key_ring.signer[0].id
  purpose  = "ASYMMETRIC_SIGN"
  labels   = var.labels
  version_template {
    algorithm        = "EC_SIGN_P256_SHA256"
    protection_level = "SOFTWARE"
  }
  lifecycle {
    prevent_destroy = true
  }
}

data "google_kms_crypto_key_version" "signer" {
  count      = local.signer
  crypto_key = google_kms_crypto_key.signer[0].id
  version    = 1
}

resource "google_container_analysis_note" "signer" {
  count   = local.signer
  project = var.project_id
  name    = "colibri-image-signer"
  attestation_authority {
    hint {
      human_readable_name = "colibri CI: image passed tests and scans"
    }
  }
}

resource "google_binary_authorization_attestor" "signer" {
  count       = local.signer
  project     = var.project_id
  name        = "colibri-image-signer"
  description = "Images pushed by CircleCI after the tests, the image scan and the SBOM (scripts/image-sign)."
  attestation_authority_note {
    note_reference = google_container_analysis_note.signer[0].name
    public_keys {
      id = data.google_kms_crypto_key_version.signer[0].id
      pkix_public_key {
        public_key_pem      = data.google_kms_crypto_key_version.signer[0].public_key[0].pem
        signature_algorithm = data.google_kms_crypto_key_version.signer[0].public_key[0].algorithm
      }
    }
  }
}

# --- who signs (CI's deployer) and who verifies from other projects (prod's agent) ----------------
resource "google_kms_crypto_key_iam_member" "signers" {
  for_each      = var.create_signer ? toset(var.signer_members) : toset([])
  crypto_key_id = google_kms_crypto_key.signer[0].id
  role          = "roles/cloudkms.signerVerifier"
  member        = each.value
}

resource "google_container_analysis_note_iam_member" "signers" {
  for_each = var.create_signer ? toset(var.signer_members) : toset([])
  project  = var.project_id
  note     = google_container_analysis_note.signer[0].name
  role     = "roles/containeranalysis.notes.attacher"
  member   = each.value
}

resource "google_binary_authorization_attestor_iam_member" "signers" {
  for_each = var.create_signer ? toset(var.signer_members) : toset([])
  project  = var.project_id
  attestor = google_binary_authorization_attestor.signer[0].name
  role     = "roles/binaryauthorization.attestorsViewer"
  member   = each.value
}

# the attestation itself is an occurrence in this project
resource "google_project_iam_member" "signers_write_occurrences" {
  for_each = var.create_signer ? toset(var.signer_members) : toset([])
  project  = var.project_id
  role     = "roles/containeranalysis.occurrences.editor"
  member   = each.value
}

resource "google_binary_authorization_attestor_iam_member" "verifiers" {
  for_each = var.create_signer ? toset(var.verifier_members) : toset([])
  project  = var.project_id
  attestor = google_binary_authorization_attestor.signer[0].name
  role     = "roles/binaryauthorization.attestorsVerifier"
  member   = each.value
}

resource "google_container_analysis_note_iam_member" "verifiers" {
  for_each = var.create_signer ? toset(var.verifier_members) : toset([])
  project  = var.project_id
  note     = google_container_analysis_note.signer[0].name
  role     = "roles/containeranalysis.notes.occurrences.viewer"
  member   = each.value
}

# --- the policy (one per project) ------------------------------------------------------------------
resource "google_binary_authorization_policy" "this" {
  project                       = var.project_id
  description                   = "colibri: only images signed by CI (${var.enforce ? "enforced" : "dry-run"})"
  global_policy_evaluation_mode = "ENABLE"

  dynamic "admission_whitelist_patterns" {
    for_each = var.allowlist_patterns
    content {
      name_pattern = admission_whitelist_patterns.value
    }
  }

  default_admission_rule {
    evaluation_mode         = "REQUIRE_ATTESTATION"
    enforcement_mode        = var.enforce ? "ENFORCED_BLOCK_AND_AUDIT_LOG" : "DRYRUN_AUDIT_LOG_ONLY"
    require_attestations_by = local.attestors
  }

  lifecycle {
    precondition {
      condition     = length(local.attestors) > 0
      error_message = "No attestor: set create_signer (the registry's project) or trusted_attestors (dev bootstrap's output image_attestor)."
    }
  }
}
