# The one deployable source: the repository root, zipped by Terraform.
#
# The Go buildpack builds the root package (contactsync.go imports the four
# function packages), so every function deploys the same zip and differs only
# in its entry point. The zip's MD5 is part of the object name: a code change
# makes a new object, and that changes every function's build source, which
# redeploys them. Same code, same name: nothing to do.
#
# The excludes drop what the build does not need, so that editing docs or
# tests does not redeploy. If code ever //go:embed's a .md file or testdata,
# take its pattern out of this list.

data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/build/contactsync-source.zip"

  # Fixed file modes keep the hash (and so the object name) the same on every
  # machine for the same code.
  output_file_mode = "0644"

  excludes = [
    ".git",
    ".git/**",
    ".github/**",
    ".dev",
    ".dev/**",
    ".idea/**",
    ".vscode/**",
    "terraform",
    "terraform/**",
    ".ci/**",
    "scripts/**",
    "**/*_test.go",
    "**/testdata/**",
    "**/*.md",
    "**/*.zip",
    "**/*.tfstate",
    "**/*.tfstate.*",
    "**/.terraform/**",
  ]
}

resource "google_storage_bucket" "source" {
  name     = "${var.project_id}-${var.name_prefix}-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # The bucket only holds build inputs (a few hundred kB per deployed code
  # version), so `terraform destroy` may remove it with its contents.
  force_destroy = true

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "source" {
  name   = "contactsync-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

# Cloud Build runs the Go buildpack as this account (since 2024-07 the default
# build account may lack the permissions). roles/run.builder is the role
# Google documents for building Cloud Run functions.
resource "google_service_account" "build" {
  account_id   = "${var.name_prefix}-build"
  display_name = "contactsync function builds"
  description  = "Cloud Build identity that builds the four functions from the source zip."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "build_builder" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# On a fresh project the build account and its roles are minutes old when
# the four builds start, and builds fail until IAM has propagated (the
# provider's own example waits 60 s). The functions wait for this sleep,
# which runs again whenever one of these grants is replaced. The runtime
# accounts' secret grants are in it too: deploying a revision checks them,
# and new ones appear when the secrets are replaced (secrets.tf).
resource "time_sleep" "iam_propagation" {
  create_duration = "60s"

  triggers = merge(
    {
      build_builder       = google_project_iam_member.build_builder.id
      build_source_reader = google_storage_bucket_iam_member.build_source_reader.id
    },
    { for k, m in google_secret_manager_secret_iam_member.settings : "settings_${k}" => m.id },
    { for k, m in google_secret_manager_secret_iam_member.poll : "poll_${k}" => m.id },
    { for k, m in google_secret_manager_secret_iam_member.apply : "apply_${k}" => m.id },
  )
}
