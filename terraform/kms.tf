# Cloud KMS key that seals refresh tokens and webhook credentials at rest
# (KMS_KEY). Settings, poll and apply may encrypt/decrypt with it
# (function_*.tf); intake may not.
#
# Key rings and keys cannot be deleted from Google Cloud, and destroying the
# key destroys its versions, which makes every stored token unreadable. Hence
# prevent_destroy; README.md ("Tear down") explains how to tear down anyway.
#
# For the same reason a redeploy into a project that had contactsync before
# finds the key ring and key still there, and creating them again fails:
# kms_import_existing = true imports them instead (scripts/deploy sets it
# when it finds the key ring). Once imported they are in the state, and the
# import blocks do nothing more.

locals {
  kms_key_ring_id = "projects/${var.project_id}/locations/${var.region}/keyRings/${var.name_prefix}-tokens"
}

resource "google_kms_key_ring" "tokens" {
  name     = "${var.name_prefix}-tokens"
  location = var.region

  depends_on = [google_project_service.apis]
}

resource "google_kms_crypto_key" "tokens" {
  name     = "tokens"
  key_ring = google_kms_key_ring.tokens.id
  purpose  = "ENCRYPT_DECRYPT"

  # A new primary version every 90 days; older versions still decrypt.
  rotation_period = "7776000s"

  lifecycle {
    prevent_destroy = true
  }
}

import {
  for_each = var.kms_import_existing ? toset(["tokens"]) : toset([])

  to = google_kms_key_ring.tokens
  id = local.kms_key_ring_id
}

import {
  for_each = var.kms_import_existing ? toset(["tokens"]) : toset([])

  to = google_kms_crypto_key.tokens
  id = "${local.kms_key_ring_id}/cryptoKeys/tokens"
}

# A key whose versions were destroyed at tear-down has no enabled primary
# version and cannot encrypt. The provider cannot set a primary version, so
# scripts/deploy creates one with gcloud before applying; this check warns
# whoever applies by hand.
check "kms_key_has_enabled_primary" {
  assert {
    condition     = try(google_kms_crypto_key.tokens.primary[0].state, "") == "ENABLED"
    error_message = "The KMS key ${google_kms_crypto_key.tokens.id} has no enabled primary version, so no token can be stored. Create one: gcloud kms keys versions create --key=tokens --keyring=${google_kms_key_ring.tokens.name} --location=${var.region} --project=${var.project_id} --primary"
  }
}
