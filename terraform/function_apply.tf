# Apply: applies change messages (CloudEvent
# google.cloud.pubsub.topic.v1.messagePublished). Fed by our own push
# subscriptions changes-apply and first-sync-apply (pubsub.tf), not by an
# Eventarc trigger, so ordering, retries and dead letters are ours to set.
# Not public: only the push service account may invoke it.

resource "google_service_account" "apply" {
  account_id   = "${var.name_prefix}-apply"
  display_name = "contactsync apply function"
  description  = "Runtime identity of the Apply function."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "apply_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.apply.email}"
}

# A first sync's chunks publish the next step (first-sync), and its end
# hands the records its listing missed to the applier (changes).
resource "google_pubsub_topic_iam_member" "apply_publisher" {
  for_each = toset(["first-sync", "changes"])

  topic  = google_pubsub_topic.topic[each.key].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.apply.email}"
}

resource "google_kms_crypto_key_iam_member" "apply_tokens" {
  crypto_key_id = google_kms_crypto_key.tokens.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.apply.email}"
}

resource "google_secret_manager_secret_iam_member" "apply" {
  for_each = toset(["google_client_secret", "pipedrive_client_secret"])

  secret_id = google_secret_manager_secret.this[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.apply.email}"
}

resource "google_cloudfunctions2_function" "apply" {
  name        = local.function_names.apply
  location    = var.region
  description = "contactsync applier (changes and first-sync chunks)"

  build_config {
    runtime         = local.go_runtime
    entry_point     = "Apply"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.apply.email
    max_instance_count    = var.max_instances["apply"]
    # At least the longest ack deadline of its subscriptions (first-sync-apply).
    timeout_seconds  = 600
    available_memory = "256Mi"
    ingress_settings = "ALLOW_ALL"

    environment_variables = merge(local.common_env, {
      KMS_KEY             = google_kms_crypto_key.tokens.id
      GOOGLE_CLIENT_ID    = var.google_oauth_client_id
      PIPEDRIVE_CLIENT_ID = var.pipedrive_client_id
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
  }

  # IAM grants (build account, secrets) have had time to propagate.
  depends_on = [time_sleep.iam_propagation]
}

# Invoker: the changes-apply and first-sync-apply push subscriptions. No allUsers.
resource "google_cloud_run_v2_service_iam_member" "apply_pubsub_push" {
  location = google_cloudfunctions2_function.apply.location
  name     = google_cloudfunctions2_function.apply.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pubsub_push.email}"
}
