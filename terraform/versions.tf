# Terraform and provider versions.
#
# Terraform >= 1.11 is needed for write-only arguments (secret_data_wo), which
# keep the OAuth client secrets and the session key out of state and plan
# files. The random provider >= 3.7.1 has the ephemeral random_password.
terraform {
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.25, < 9.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4.1, < 3.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7.1, < 4.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
