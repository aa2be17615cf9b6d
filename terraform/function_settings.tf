# Settings: the OAuth flows and the settings/status page (HTTP, public: the
# code authenticates users with its session cookie).

resource "google_service_account" "settings" {
  account_id   = "${var.name_prefix}-settings"
  display_name = "contactsync settings function"
  description  = "Runtime identity of the Settings function."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "settings_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.settings.email}"
}

# Save and Preview send a first sync's first step at once.
resource "google_pubsub_topic_iam_member" "settings_first_sync" {
  topic  = google_pubsub_topic.topic["first-sync"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.settings.email}"
}

resource "google_kms_crypto_key_iam_member" "settings_tokens" {
  crypto_key_id = google_kms_crypto_key.tokens.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.settings.email}"
}

resource "google_secret_manager_secret_iam_member" "settings" {
  for_each = toset(["google_client_secret", "pipedrive_client_secret", "session_key"])

  secret_id = google_secret_manager_secret.this[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.settings.email}"
}

resource "google_cloudfunctions2_function" "settings" {
  name        = local.function_names.settings
  location    = var.region
  description = "contactsync settings page and OAuth flows"

  build_config {
    runtime         = local.go_runtime
    entry_point     = "Settings"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.settings.email
    max_instance_count    = var.max_instances["settings"]
    timeout_seconds       = 60
    available_memory      = "256Mi"
    ingress_settings      = "ALLOW_ALL"

    environment_variables = merge(local.common_env, {
      KMS_KEY             = google_kms_crypto_key.tokens.id
      GOOGLE_CLIENT_ID    = var.google_oauth_client_id
      PIPEDRIVE_CLIENT_ID = var.pipedrive_client_id
      PUBLIC_URL          = local.settings_url
      INTAKE_URL          = google_cloudfunctions2_function.intake.url
    })

    secret_environment_variables {
      key        = "GOOGLE_CLIENT_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.this["google_client_secret"].secret_id
      version    = google_secret_manager_secret_version.this["google_client_secret"].version
    }

    secret_environment_variables {
      key        = "PIPEDRIVE_CLIENT_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.this["pipedrive_client_secret"].secret_id
      version    = google_secret_manager_secret_version.this["pipedrive_client_secret"].version
    }

    secret_environment_variables {
      key        = "SESSION_KEY"
      project_id = var.project_id
      secret     = google_secret_manager_secret.this["session_key"].secret_id
      version    = google_secret_manager_secret_version.this["session_key"].version
    }
  }

  # IAM grants (build account, secrets) have had time to propagate.
  depends_on = [time_sleep.iam_propagation]
}

# Public: browsers call it directly.
# Where an organisation policy (domain-restricted sharing) refuses allUsers,
# set disable_invoker_iam_check instead: this grant is then not made and
# Cloud Run's invoker IAM check is turned off on the service (outputs.tf,
# invoker_iam_check_disabled_services; scripts/deploy runs the command).
resource "google_cloud_run_v2_service_iam_member" "settings_public" {
  count = var.disable_invoker_iam_check ? 0 : 1

  location = google_cloudfunctions2_function.settings.location
  name     = google_cloudfunctions2_function.settings.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
