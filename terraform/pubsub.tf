# Pub/Sub: topics, dead-letter topics and the push subscriptions that feed the
# functions. Names and settings mirror shared/queue/names.go
# (queue.Subscriptions); terraform/drift_test.go fails when they drift apart.

locals {
  # Topic ids (queue.ChangesTopic, queue.PollsTopic, queue.FirstSyncTopic).
  topics = toset(["changes", "polls", "first-sync"])

  # queue.Subscriptions: a message that fails max_delivery_attempts times
  # goes to its topic's dead-letter topic; retries back off from 10 s to 600 s.
  max_delivery_attempts = 10
  minimum_backoff       = "10s"
  maximum_backoff       = "600s"

  # The applier is a CloudEvent function. functions-framework-go turns a raw
  # push body into a messagePublished CloudEvent, reading the topic from the
  # path /projects/P/topics/T, hence these push paths.
  push_subscriptions = {
    "changes-apply" = {
      topic                = "changes"
      function             = "apply"
      path                 = "/projects/${var.project_id}/topics/changes"
      ordered              = true
      ack_deadline_seconds = 600
    }
    "first-sync-apply" = {
      topic                = "first-sync"
      function             = "apply"
      path                 = "/projects/${var.project_id}/topics/first-sync"
      ordered              = false
      ack_deadline_seconds = 600
    }
    "polls-poll" = {
      topic                = "polls"
      function             = "poll"
      path                 = "/connection"
      ordered              = false
      ack_deadline_seconds = 300
    }
  }

  # Where each push-fed function is served (its Cloud Run URL).
  push_targets = {
    apply = google_cloudfunctions2_function.apply.service_config[0].uri
    poll  = google_cloudfunctions2_function.poll.service_config[0].uri
  }
}

resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  name = each.key

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.topics

  name = "${each.key}-dead-letter"

  depends_on = [google_project_service.apis]
}

# Keeps every dead letter (a topic without a subscription drops what is
# published to it): none is silently lost. The poller moves the changes
# topic's dead letters into the held list the settings page shows.
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each = local.topics

  name  = "${each.key}-dead-letter-hold"
  topic = google_pubsub_topic.dead_letter[each.key].id

  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# Our own push subscriptions (Google's "direct Pub/Sub trigger"), not Eventarc
# triggers: only these can have ordering, a retry policy and a dead-letter
# policy set here.
resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  name  = each.key
  topic = google_pubsub_topic.topic[each.value.topic].id

  ack_deadline_seconds    = each.value.ack_deadline_seconds
  enable_message_ordering = each.value.ordered

  push_config {
    push_endpoint = "${local.push_targets[each.value.function]}${each.value.path}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = local.push_targets[each.value.function]
    }
  }

  retry_policy {
    minimum_backoff = local.minimum_backoff
    maximum_backoff = local.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.topic].id
    max_delivery_attempts = local.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.apply_pubsub_push,
    google_cloud_run_v2_service_iam_member.poll_pubsub_push,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# The identity Pub/Sub uses for the OIDC token of every push; it may invoke
# the applier and the poller (function_apply.tf, function_poll.tf) and nothing
# else.
resource "google_service_account" "pubsub_push" {
  account_id   = "${var.name_prefix}-pubsub-push"
  display_name = "contactsync Pub/Sub push"
  description  = "OIDC identity of the push subscriptions that call the apply and poll functions."

  depends_on = [google_project_service.apis]
}

# The Pub/Sub service agent mints the push OIDC tokens. Projects whose agent
# predates 2021-04-08 need this grant explicitly; it is scoped to the push
# service account.
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Dead lettering: the service agent publishes to the dead-letter topics and
# acknowledges on the source subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topics

  topic  = google_pubsub_topic.dead_letter[each.key].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.push_subscriptions

  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
