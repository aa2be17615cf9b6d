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

# PUBLIC_URL (and so the redirect URIs) is the deterministic function URL;
# warn if the API reports a different one.
check "settings_url_matches" {
  assert {
    condition     = google_cloudfunctions2_function.settings.url == local.settings_url
    error_message = "The settings function's URL differs from local.settings_url; PUBLIC_URL and the OAuth redirect URIs would be wrong."
  }
}
