# Binary Authorization: only CI-signed images run; dry-run in dev, enforced in prod; a policy with
# no attestor is refused (it would require nothing, or lock out every deploy). Mock providers.
mock_provider "google" {}

override_data {
  target = data.google_kms_crypto_key_version.signer
  values = {
    id         = "projects/dev-project/locations/southamerica-west1/keyRings/colibri-image-signing/cryptoKeys/image-signer/cryptoKeyVersions/1"
    public_key = [{ pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", algorithm = "EC_SIGN_P256_SHA256" }]
  }
}

variables {
  project_id = "dev-project"
  region     = "southamerica-west1"
}

run "dev_signs_and_runs_dry" {
  command = plan
  variables {
    enforce        = false
    create_signer  = true
    signer_members = ["serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com"]
  }
  assert {
    condition     = google_binary_authorization_policy.this.default_admission_rule[0].enforcement_mode == "DRYRUN_AUDIT_LOG_ONLY"
    error_message = "dev runs Binary Authorization in dry-run (audit log only)."
  }
  assert {
    condition     = google_binary_authorization_policy.this.default_admission_rule[0].evaluation_mode == "REQUIRE_ATTESTATION"
    error_message = "The default rule must require an attestation, not allow all."
  }
  assert {
    condition     = output.required_attestors == ["projects/dev-project/attestors/colibri-image-signer"] && output.attestor == "projects/dev-project/attestors/colibri-image-signer"
    error_message = "The policy must require exactly the attestor made here."
  }
  assert {
    condition     = google_kms_crypto_key.signer[0].purpose == "ASYMMETRIC_SIGN" && google_kms_crypto_key.signer[0].version_template[0].algorithm == "EC_SIGN_P256_SHA256"
    error_message = "The signer is an asymmetric EC P-256 KMS key (what cosign and the attestor both use)."
  }
  assert {
    condition     = google_binary_authorization_attestor.signer[0].attestation_authority_note[0].note_reference == google_container_analysis_note.signer[0].name
    error_message = "The attestor points at the note CI attaches attestations to."
  }
  assert {
    condition = (
      keys(google_kms_crypto_key_iam_member.signers) == ["serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com"]
      && google_kms_crypto_key_iam_member.signers["serviceAccount:circleci-deployer@dev-project.iam.gserviceaccount.com"].role == "roles/cloudkms.signerVerifier"
      && length(google_container_analysis_note_iam_member.signers) == 1
    )
    error_message = "Only the deployer may sign (KMS signerVerifier) and attach attestations."
  }
}

run "prod_enforces_devs_attestor" {
  command = plan
  variables {
    enforce           = true
    trusted_attestors = ["projects/dev-project/attestors/colibri-image-signer"]
  }
  assert {
    condition     = google_binary_authorization_policy.this.default_admission_rule[0].enforcement_mode == "ENFORCED_BLOCK_AND_AUDIT_LOG"
    error_message = "prod blocks unsigned images."
  }
  assert {
    condition     = google_binary_authorization_policy.this.default_admission_rule[0].require_attestations_by == toset(["projects/dev-project/attestors/colibri-image-signer"])
    error_message = "prod requires dev's attestor: the digest signed once after dev's tests is the one prod runs."
  }
  assert {
    condition     = length(google_kms_crypto_key.signer) == 0 && length(google_binary_authorization_attestor.signer) == 0
    error_message = "prod makes no signing key of its own."
  }
}

run "no_attestor_refused" {
  command = plan
  variables {
    enforce = true
  }
  expect_failures = [google_binary_authorization_policy.this]
}

run "attestor_must_be_a_full_name" {
  command = plan
  variables {
    enforce           = true
    trusted_attestors = ["colibri-image-signer"]
  }
  expect_failures = [var.trusted_attestors]
}

run "only_the_sidecar_is_allowlisted" {
  command = plan
  variables {
    enforce           = true
    trusted_attestors = ["projects/dev-project/attestors/colibri-image-signer"]
  }
  assert {
    condition     = [for p in google_binary_authorization_policy.this.admission_whitelist_patterns : p.name_pattern] == ["us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/*"]
    error_message = "Nothing but Google's Managed Prometheus sidecar may skip the signature check."
  }
}
