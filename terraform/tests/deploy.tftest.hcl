# terraform test for the whole configuration with a mocked google provider
# (no Google Cloud project, no credentials): a first deploy, a secret
# rotation, the "If your project…" cases of README.md, the tear-down and a
# redeploy into the same project. Needs the providers of versions.tf:
#
#   terraform -chdir=terraform init -backend=false
#   terraform -chdir=terraform test
#
# Every run keeps its state under the key "deploy", so that the tear-down
# (tests/teardown) and the redeploy act on what the runs before them left,
# and the state is empty when the test ends (the KMS key has
# prevent_destroy, so the test's own clean-up could not destroy it).

mock_provider "google" {
  # The provider checks service-account names against their format.
  mock_resource "google_service_account" {
    defaults = {
      email  = "mock-account@tf-test-project.iam.gserviceaccount.com"
      member = "serviceAccount:mock-account@tf-test-project.iam.gserviceaccount.com"
      name   = "projects/tf-test-project/serviceAccounts/mock-account@tf-test-project.iam.gserviceaccount.com"
      id     = "projects/tf-test-project/serviceAccounts/mock-account@tf-test-project.iam.gserviceaccount.com"
    }
  }

  mock_resource "google_kms_crypto_key" {
    defaults = {
      primary = [{ name = "projects/tf-test-project/locations/europe-west1/keyRings/contactsync-tokens/cryptoKeys/tokens/cryptoKeyVersions/1", state = "ENABLED" }]
    }
  }
}

# time_sleep would really wait 60 s on every apply.
mock_provider "time" {}

variables {
  project_id                 = "tf-test-project"
  region                     = "europe-west1"
  google_oauth_client_id     = "123-test.apps.googleusercontent.com"
  google_oauth_client_secret = "google-secret"
  pipedrive_client_id        = "pd-client"
  pipedrive_client_secret    = "pd-secret"
}

# The functions' URLs are the provider's; the settings URL is checked
# against PUBLIC_URL (check "settings_url_matches").
override_resource {
  target = google_cloudfunctions2_function.settings
  values = {
    url = "https://europe-west1-tf-test-project.cloudfunctions.net/contactsync-settings"
  }
}

run "first_deploy" {
  state_key = "deploy"

  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.settings_public) == 1 && google_cloud_run_v2_service_iam_member.settings_public[0].member == "allUsers"
    error_message = "Settings must be public through allUsers by default."
  }

  assert {
    condition = alltrue([
      for s in google_secret_manager_secret.this :
      length(s.replication[0].auto) == 0 && [for r in s.replication[0].user_managed[0].replicas : r.location] == ["europe-west1"]
    ])
    error_message = "Secrets must be replicated in the region only (user-managed), never automatically (global)."
  }

  assert {
    condition     = time_sleep.iam_propagation.create_duration == "60s"
    error_message = "The functions must wait 60 s for IAM to propagate."
  }

  assert {
    condition     = google_firestore_database.main.name == "(default)" && google_cloudfunctions2_function.apply.service_config[0].environment_variables["FIRESTORE_DATABASE"] == "(default)"
    error_message = "The functions must use the (default) database by default."
  }

  assert {
    condition     = output.invoker_iam_check_disabled_services == ""
    error_message = "No invoker check is turned off by default."
  }

  assert {
    condition     = output.settings_url == "https://europe-west1-tf-test-project.cloudfunctions.net/contactsync-settings"
    error_message = "settings_url is the deterministic function URL."
  }

  assert {
    # A number up to google 7.x, a string from 8.0 on.
    condition     = tostring(google_secret_manager_secret_version.this["session_key"].secret_data_wo_version) == "1"
    error_message = "The first secret versions carry secrets_version 1."
  }
}

run "rotate_secrets" {
  command   = plan
  state_key = "deploy"

  variables {
    secrets_version = 2
  }

  assert {
    condition     = alltrue([for v in google_secret_manager_secret_version.this : tostring(v.secret_data_wo_version) == "2"])
    error_message = "Raising secrets_version must write new versions of all three secrets."
  }
}

run "domain_restricted_sharing" {
  command   = plan
  state_key = "deploy"

  variables {
    disable_invoker_iam_check = true
  }

  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.settings_public) == 0 && length(google_cloud_run_v2_service_iam_member.intake_public) == 0
    error_message = "No allUsers grant where domain-restricted sharing refuses it."
  }

  assert {
    condition = output.invoker_iam_check_disabled_services == join("\n", [
      google_cloudfunctions2_function.settings.service_config[0].service,
      google_cloudfunctions2_function.intake.service_config[0].service,
    ])
    error_message = "The output must name the services of Settings and Intake, one per line."
  }
}

run "extra_secret_replica" {
  command   = plan
  state_key = "deploy"

  variables {
    secret_replica_regions = ["europe-west4"]
  }

  assert {
    condition = alltrue([
      for s in google_secret_manager_secret.this :
      [for r in s.replication[0].user_managed[0].replicas : r.location] == ["europe-west1", "europe-west4"] && endswith(s.secret_id, "-europe-west1-europe-west4")
    ])
    error_message = "Extra replica regions must be added, and the secret ids must change with them."
  }
}

run "deleting_an_imported_database_is_refused" {
  command   = plan
  state_key = "deploy"

  variables {
    firestore_import_existing = true
    firestore_deletion_policy = "DELETE"
  }

  expect_failures = [var.firestore_deletion_policy]
}

run "tear_down" {
  state_key = "deploy"

  module {
    source = "./tests/teardown"
  }
}

# Redeploy into the same project: the key ring and key are still there
# (their versions destroyed), and so is the abandoned (default) database.
# Mock providers cannot import; these overrides are what the imports find.
run "redeploy_after_tear_down" {
  state_key = "deploy"

  variables {
    kms_import_existing       = true
    firestore_import_existing = true
  }

  override_resource {
    target = google_kms_key_ring.tokens
    values = {
      id       = "projects/tf-test-project/locations/europe-west1/keyRings/contactsync-tokens"
      name     = "contactsync-tokens"
      location = "europe-west1"
    }
  }

  override_resource {
    target = google_kms_crypto_key.tokens
    values = {
      id              = "projects/tf-test-project/locations/europe-west1/keyRings/contactsync-tokens/cryptoKeys/tokens"
      name            = "tokens"
      key_ring        = "projects/tf-test-project/locations/europe-west1/keyRings/contactsync-tokens"
      purpose         = "ENCRYPT_DECRYPT"
      rotation_period = "7776000s"
      primary         = [{ name = "projects/tf-test-project/locations/europe-west1/keyRings/contactsync-tokens/cryptoKeys/tokens/cryptoKeyVersions/1", state = "DESTROYED" }]
    }
  }

  override_resource {
    target = google_firestore_database.main
    values = {
      id              = "projects/tf-test-project/databases/(default)"
      name            = "(default)"
      location_id     = "europe-west1"
      type            = "FIRESTORE_NATIVE"
      deletion_policy = "ABANDON"
    }
  }

  # The key's versions were destroyed: the check must say so.
  expect_failures = [check.kms_key_has_enabled_primary]

  assert {
    condition     = google_cloudfunctions2_function.poll.service_config[0].environment_variables["KMS_KEY"] == "projects/tf-test-project/locations/europe-west1/keyRings/contactsync-tokens/cryptoKeys/tokens"
    error_message = "The functions must use the imported key."
  }
}

run "tear_down_again" {
  state_key = "deploy"

  module {
    source = "./tests/teardown"
  }
}
