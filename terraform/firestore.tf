# Firestore (native mode) and its index/TTL configuration.
#
# The functions use the database named firestore_database_id
# (FIRESTORE_DATABASE, main.tf). A project whose (default) database already
# exists (another app's, or ours abandoned at tear-down) either shares it
# (firestore_import_existing = true imports it) or gives contactsync a named
# database of its own (firestore_database_id = "contactsync").

resource "google_firestore_database" "main" {
  project     = var.project_id
  name        = var.firestore_database_id
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  # ABANDON (default) keeps the database and its data on `terraform destroy`.
  deletion_policy = var.firestore_deletion_policy

  depends_on = [google_project_service.apis]
}

# TTL policies: Firestore deletes a document once its expire_at has passed
# (typically within 24 hours; the code checks expire_at itself). One per
# collection group that shared/store/store.go's layout marks "TTL expire_at":
# oauth_states (single-use OAuth states) and attempts (counts of failed
# deliveries of one change).
resource "google_firestore_field" "ttl" {
  for_each = toset(["oauth_states", "attempts"])

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.key
  field      = "expire_at"

  ttl_config {}
}

# Composite indexes.
#
# The code's queries are single-field today, which Firestore serves from its
# automatic single-field indexes, so there is none. When a query combines an
# equality filter with a range filter or an order on another field, add its
# index here, e.g.:
#
# resource "google_firestore_index" "links_by_connection_updated" {
#   project    = var.project_id
#   database   = google_firestore_database.main.name
#   collection = "links"
#
#   fields {
#     field_path = "connection_id"
#     order      = "ASCENDING"
#   }
#   fields {
#     field_path = "updated_at"
#     order      = "DESCENDING"
#   }
# }

import {
  for_each = var.firestore_import_existing ? toset([var.firestore_database_id]) : toset([])

  to = google_firestore_database.main
  id = "projects/${var.project_id}/databases/${each.key}"
}
