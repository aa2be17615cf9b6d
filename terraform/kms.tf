# Cloud KMS key that seals refresh tokens and webhook credentials at rest
# (KMS_KEY). Settings, poll and apply may encrypt/decrypt with it
# (function_*.tf); intake may not.
#
# Key rings and keys cannot be deleted from Google Cloud, and destroying the
# key destroys its versions, which makes every stored token unreadable. Hence
# prevent_destroy; README.md ("Tear down") explains how to tear down anyway.

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
