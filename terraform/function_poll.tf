# Poll: called every poll_interval_minutes (default 1) by Cloud Scheduler at /tick (fans out one message
# per due connection to the polls topic) and by the polls-poll push
# subscription at /connection (polls one connection, publishes its changes).
# Not public: both callers present OIDC tokens of service accounts that hold
# roles/run.invoker on this function only.

resource "google_service_account" "poll" {
  account_id   = "${var.name_prefix}-poll"
  display_name = "contactsync poll function"
  description  = "Runtime identity of the Poll function."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "poll_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.poll.email}"
}

resource "google_kms_crypto_key_iam_member" "poll_tokens" {
  crypto_key_id = google_kms_crypto_key.tokens.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.poll.email}"
}

resource "google_secret_manager_secret_iam_member" "poll" {
  for_each = toset(["google_client_secret", "pipedrive_client_secret"])

  secret_id = google_secret_manager_secret.this[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.poll.email}"
}

# The fan-out (polls), the changes it finds (changes), and the steps of a
# first sync it starts (a full reconcile) or sends again (first-sync).
resource "google_pubsub_topic_iam_member" "poll_publisher" {
  for_each = toset(["polls", "changes", "first-sync"])

  topic  = google_pubsub_topic.topic[each.key].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.poll.email}"
}

# The poller moves what the changes subscription dead-letters into the held
# list (shared/poller DrainDeadLetters): it pulls the hold subscription.
resource "google_pubsub_subscription_iam_member" "poll_dead_letters" {
  subscription = google_pubsub_subscription.dead_letter_hold["changes"].id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.poll.email}"
}

resource "google_cloudfunctions2_function" "poll" {
  name        = local.function_names.poll
  location    = var.region
  description = "contactsync poller (Cloud Scheduler tick and per-connection polls)"

  build_config {
    runtime         = local.go_runtime
    entry_point     = "Poll"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.poll.email
    max_instance_count    = var.max_instances["poll"]
    # At least the polls-poll subscription's ack deadline.
    timeout_seconds  = 300
    available_memory = "256Mi"
    ingress_settings = "ALLOW_ALL"

    environment_variables = merge(local.common_env, {
      KMS_KEY             = google_kms_crypto_key.tokens.id
      GOOGLE_CLIENT_ID    = var.google_oauth_client_id
      PIPEDRIVE_CLIENT_ID = var.pipedrive_client_id
      INTAKE_URL          = google_cloudfunctions2_function.intake.url
      POLL_INTERVAL       = "${var.poll_interval_minutes}m"
      SAFETY_NET_INTERVAL = var.safety_net_interval
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

# Invokers: the polls-poll push subscription and the scheduler. No allUsers.
resource "google_cloud_run_v2_service_iam_member" "poll_pubsub_push" {
  location = google_cloudfunctions2_function.poll.location
  name     = google_cloudfunctions2_function.poll.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pubsub_push.email}"
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "contactsync poll scheduler"
  description  = "OIDC identity of the Cloud Scheduler job that calls the Poll function."

  depends_on = [google_project_service.apis]
}

resource "google_cloud_run_v2_service_iam_member" "poll_scheduler" {
  location = google_cloudfunctions2_function.poll.location
  name     = google_cloudfunctions2_function.poll.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "poll_tick" {
  name        = "${var.name_prefix}-poll-tick"
  description = "Calls the contactsync poll function, which fans out one poll per due connection."
  region      = var.region
  schedule    = var.poll_interval_minutes == 1 ? "* * * * *" : "*/${var.poll_interval_minutes} * * * *"
  time_zone   = var.scheduler_time_zone

  # The tick only fans out; a missed tick is made up by the next one.
  attempt_deadline = "60s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloudfunctions2_function.poll.service_config[0].uri}/tick"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.poll.service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.poll_scheduler]
}
