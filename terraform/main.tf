# Shared names and the project's APIs.
#
# Layout: one file per function (function_<name>.tf: its service account, its
# IAM, the function and who may invoke it), plus the shared pieces: source.tf
# (the one source zip), pubsub.tf, firestore.tf, secrets.tf, kms.tf and
# outputs.tf. terraform/drift_test.go checks this configuration against the
# code (go test ./terraform/).

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # The Go buildpack runtime; the go directive in go.mod must not be newer.
  go_runtime = "go126"

  function_names = {
    settings = "${var.name_prefix}-settings"
    intake   = "${var.name_prefix}-intake"
    poll     = "${var.name_prefix}-poll"
    apply    = "${var.name_prefix}-apply"
  }

  # The settings function needs its own public URL (PUBLIC_URL, from which the
  # OAuth redirect URIs are built) before it exists, so it uses the
  # deterministic Cloud Run functions URL
  # https://REGION-PROJECT.cloudfunctions.net/NAME. A check block in
  # outputs.tf compares it with the URL the API reports after the deploy.
  settings_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.function_names.settings}"

  firestore_location = coalesce(var.firestore_location, var.region)

  # Variables every function reads (config.Project and config.Topics).
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    FIRESTORE_DATABASE   = google_firestore_database.main.name
    CHANGES_TOPIC        = google_pubsub_topic.topic["changes"].name
    POLLS_TOPIC          = google_pubsub_topic.topic["polls"].name
    FIRST_SYNC_TOPIC     = google_pubsub_topic.topic["first-sync"].name
  }

  # The Pub/Sub service agent: it pushes with OIDC tokens and moves failed
  # messages to the dead-letter topics.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    # Reading the project (data.google_project) goes through Cloud Resource
    # Manager. With a service account's credentials the API must be on in
    # the service account's own project, even before this plan: there
    # scripts/deploy enables it (README.md, "If your project…").
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    # The Google People API, called with the users' OAuth tokens: it must be
    # on in the project that owns the OAuth client (this one).
    "people.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project = var.project_id
  service = each.key

  # Leave the APIs on at `terraform destroy`: other things in the project may
  # use them, and turning them off can take data with it.
  disable_on_destroy = false
}
