# Intake: Pipedrive's webhook receiver (HTTP, public: every connection's
# webhook carries its own Basic credentials, checked in code). It reads the
# credential hashes from Firestore and publishes to the changes topic; it
# holds no tokens, so it has no KMS key and no secrets.

resource "google_service_account" "intake" {
  account_id   = "${var.name_prefix}-intake"
  display_name = "contactsync intake function"
  description  = "Runtime identity of the Intake (webhook) function."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "intake_datastore" {
  project = var.project_id
  role    = "roles/datastore.viewer"
  member  = "serviceAccount:${google_service_account.intake.email}"
}

resource "google_pubsub_topic_iam_member" "intake_changes" {
  topic  = google_pubsub_topic.topic["changes"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.intake.email}"
}

resource "google_cloudfunctions2_function" "intake" {
  name        = local.function_names.intake
  location    = var.region
  description = "contactsync Pipedrive webhook intake"

  build_config {
    runtime         = local.go_runtime
    entry_point     = "Intake"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.intake.email
    max_instance_count    = var.max_instances["intake"]
    timeout_seconds       = 30
    available_memory      = "256Mi"
    ingress_settings      = "ALLOW_ALL"

    environment_variables = local.common_env
  }

  # IAM grants (build account, secrets) have had time to propagate.
  depends_on = [time_sleep.iam_propagation]
}

# Public: Pipedrive delivers webhooks without a Google identity.
# Where an organisation policy (domain-restricted sharing) refuses allUsers,
# set disable_invoker_iam_check instead: this grant is then not made and
# Cloud Run's invoker IAM check is turned off on the service (outputs.tf,
# invoker_iam_check_disabled_services; scripts/deploy runs the command).
resource "google_cloud_run_v2_service_iam_member" "intake_public" {
  count = var.disable_invoker_iam_check ? 0 : 1

  location = google_cloudfunctions2_function.intake.location
  name     = google_cloudfunctions2_function.intake.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
