# Secret Manager: the OAuth client secrets and the session-cookie key.
#
# The values are write-only (secret_data_wo): Terraform sends them to Secret
# Manager and never stores them in state or plan files. They are sent when a
# version is created, that is on the first apply and whenever secrets_version
# changes. The functions read them as secret_environment_variables pinned to
# these numeric versions, so a new value redeploys them.

# A random session key (SESSION_KEY must be base64 of at least 32 bytes: this
# is base64 of 48 random characters). Ephemeral: generated at apply time, only
# ever stored in Secret Manager.
ephemeral "random_password" "session_key" {
  length  = 48
  special = false
}

locals {
  # User-managed replication in the deployment's region (plus any
  # secret_replica_regions): automatic replication stores secrets in
  # "global", which resource-location organisation policies often refuse.
  secret_locations = distinct(concat([var.region], sort(var.secret_replica_regions)))

  # The replica locations are part of the secret ids. Replication cannot be
  # changed in place, and the versions' create_before_destroy extends to the
  # secrets, so a replacement secret must have a new id or its creation
  # would collide with the old one still there.
  secret_suffix = join("-", local.secret_locations)

  secret_ids = {
    google_client_secret    = "${var.name_prefix}-google-client-secret-${local.secret_suffix}"
    pipedrive_client_secret = "${var.name_prefix}-pipedrive-client-secret-${local.secret_suffix}"
    session_key             = "${var.name_prefix}-session-key-${local.secret_suffix}"
  }
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secret_ids

  secret_id = each.value

  replication {
    user_managed {
      dynamic "replicas" {
        for_each = local.secret_locations
        content {
          location = replicas.value
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "this" {
  for_each = local.secret_ids

  secret = google_secret_manager_secret.this[each.key].id

  secret_data_wo = {
    google_client_secret    = var.google_oauth_client_secret
    pipedrive_client_secret = var.pipedrive_client_secret
    session_key             = base64encode(ephemeral.random_password.session_key.result)
  }[each.key]
  secret_data_wo_version = var.secrets_version

  # Create the new version before the old one goes, so running instances and
  # the redeploy never point at a destroyed version.
  lifecycle {
    create_before_destroy = true
  }
}
