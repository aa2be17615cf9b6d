# What to register with Google and Pipedrive after `terraform apply`.

output "settings_url" {
  description = "The settings page: open it to connect Pipedrive and Google."
  value       = local.settings_url
}

output "webhook_url" {
  description = "The intake (Pipedrive webhook) URL. The settings function registers it with Pipedrive per connection; nothing to do by hand."
  value       = google_cloudfunctions2_function.intake.url
}

output "google_oauth_redirect_uri" {
  description = "Add this to the Google OAuth client's Authorized redirect URIs."
  value       = "${local.settings_url}/oauth/google/callback"
}

output "pipedrive_oauth_redirect_uri" {
  description = "Set this as the Pipedrive app's Callback URL."
  value       = "${local.settings_url}/oauth/pipedrive/callback"
}

# google_cloudfunctions2_function has no invoker_iam_disabled (only the Cloud
# Run service resource has, and the function owns its service), so with
# disable_invoker_iam_check the check is turned off with gcloud after every
# apply; scripts/deploy does it for each line of this output.
output "invoker_iam_check_disabled_services" {
  description = "With disable_invoker_iam_check = true: the Cloud Run services of Settings and Intake (one per line) whose invoker IAM check must be off. After every apply run, for each: gcloud run services update NAME --region REGION --project PROJECT --no-invoker-iam-check (scripts/deploy does it). Empty otherwise."
  value = var.disable_invoker_iam_check ? join("\n", [
    for fn in [google_cloudfunctions2_function.settings, google_cloudfunctions2_function.intake] : fn.service_config[0].service
  ]) : ""
}

# PUBLIC_URL (and so the redirect URIs) is the deterministic function URL;
# warn if the API reports a different one.
check "settings_url_matches" {
  assert {
    condition     = google_cloudfunctions2_function.settings.url == local.settings_url
    error_message = "The settings function's URL differs from local.settings_url; PUBLIC_URL and the OAuth redirect URIs would be wrong."
  }
}
