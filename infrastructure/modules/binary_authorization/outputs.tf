output "attestor" {
  description = "Full name of the attestor made here (null unless create_signer): CircleCI context BINAUTHZ_ATTESTOR, prod's trusted_attestors."
  value       = var.create_signer ? local.attestors[0] : null
}

output "signing_key_version" {
  description = "KMS key version CI signs with (null unless create_signer): CircleCI context IMAGE_SIGNING_KEY."
  value       = one(data.google_kms_crypto_key_version.signer[*].id)
}

output "enforcement_mode" {
  description = "The default rule's enforcement mode."
  value       = google_binary_authorization_policy.this.default_admission_rule[0].enforcement_mode
}

output "required_attestors" {
  description = "Attestors the default rule requires."
  value       = local.attestors
}
