# The tear-down of README.md ("Tear down") as a configuration for
# deploy.tftest.hcl: the KMS key ring and key leave the state without being
# destroyed (they cannot be deleted; `terraform state rm`), and everything
# else the state holds is destroyed, since this configuration declares none
# of it.

terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
    time = {
      source = "hashicorp/time"
    }
  }
}

removed {
  from = google_kms_crypto_key.tokens

  lifecycle {
    destroy = false
  }
}

removed {
  from = google_kms_key_ring.tokens

  lifecycle {
    destroy = false
  }
}
