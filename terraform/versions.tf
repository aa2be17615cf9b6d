# Terraform and provider versions.
#
# Terraform >= 1.11 is needed for write-only arguments (secret_data_wo), which
# keep the OAuth client secrets and the session key out of state and plan
# files (it also has import blocks with for_each and cross-variable
# validation, used in kms.tf and firestore.tf). The random provider >= 3.7.1
# has the ephemeral random_password; archive >= 2.5.0 is the first whose glob
# excludes work (source.tf); time provides time_sleep (source.tf).
#
# README.md ("Deploy to Google Cloud") states these ranges: change both
# together. Both ends of each range were checked with terraform validate and
# terraform test (tests/).
terraform {
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.25, < 9.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5.0, < 3.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7.1, < 4.0"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.11.1, < 1.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
