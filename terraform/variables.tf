# Inputs. Copy terraform.tfvars.example to terraform.tfvars and fill it in.

variable "project_id" {
  description = "Google Cloud project ID to deploy into (the project must exist and have billing enabled)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID: 6-30 characters, lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region for the functions, the Cloud Scheduler job and the KMS key ring, e.g. europe-west1."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "firestore_location" {
  description = "Firestore location: a region (e.g. europe-west1) or a multi-region (eur3, nam5). Null means the same as region. Cannot be changed after the database exists."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^([a-z]+-[a-z]+[0-9]+|eur3|nam5)$", var.firestore_location))
    error_message = "firestore_location must be a region such as europe-west1, or eur3 or nam5."
  }
}

variable "name_prefix" {
  description = "Prefix for function, service-account, bucket, key-ring and scheduler-job names. Pub/Sub topic and subscription names are fixed by the code and not prefixed."
  type        = string
  default     = "contactsync"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 characters of lowercase letters, digits and hyphens, starting with a letter (service-account ids are limited to 30 characters)."
  }
}

variable "google_oauth_client_id" {
  description = "Client ID of the Google OAuth client (type Web application), ending in .apps.googleusercontent.com."
  type        = string

  validation {
    condition     = endswith(var.google_oauth_client_id, ".apps.googleusercontent.com")
    error_message = "google_oauth_client_id must end in .apps.googleusercontent.com (Google Cloud console > APIs & Services > Credentials)."
  }
}

variable "google_oauth_client_secret" {
  description = "Client secret of the Google OAuth client. Written to Secret Manager only (write-only: never stored in Terraform state or plans). Change secrets_version to push a new value."
  type        = string
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = length(var.google_oauth_client_secret) > 0
    error_message = "google_oauth_client_secret must not be empty."
  }
}

variable "pipedrive_client_id" {
  description = "Client ID of the Pipedrive app (Pipedrive Developer Hub > your app > OAuth & access scopes)."
  type        = string

  validation {
    condition     = length(trimspace(var.pipedrive_client_id)) > 0
    error_message = "pipedrive_client_id must not be empty."
  }
}

variable "pipedrive_client_secret" {
  description = "Client secret of the Pipedrive app. Written to Secret Manager only (write-only: never stored in Terraform state or plans). Change secrets_version to push a new value."
  type        = string
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = length(var.pipedrive_client_secret) > 0
    error_message = "pipedrive_client_secret must not be empty."
  }
}

variable "secrets_version" {
  description = "Bump this number (1, 2, 3, ...) to write the current OAuth client secrets and a new random session key to Secret Manager as new versions; the functions are redeployed pinned to them. Bumping it signs every user out."
  type        = number
  default     = 1

  validation {
    condition     = var.secrets_version >= 1 && floor(var.secrets_version) == var.secrets_version
    error_message = "secrets_version must be a whole number of at least 1."
  }
}

variable "poll_interval_minutes" {
  description = "Minutes between two Cloud Scheduler calls of the poll function (POLL_INTERVAL). Google has no push for contacts, so this bounds the Google-to-Pipedrive latency."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30], var.poll_interval_minutes)
    error_message = "poll_interval_minutes must divide an hour evenly: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30."
  }
}

variable "scheduler_time_zone" {
  description = "Time zone (tz database name) of the Cloud Scheduler job."
  type        = string
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", var.scheduler_time_zone))
    error_message = "scheduler_time_zone must be a tz database name such as Etc/UTC or Europe/Berlin."
  }
}

variable "safety_net_interval" {
  description = "How often the poller lists Pipedrive persons changed since its checkpoint, to catch changes whose webhook was lost (a Go duration of at least 1m, e.g. 10m)."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^([1-9][0-9]*m|[1-9][0-9]*h)$", var.safety_net_interval))
    error_message = "safety_net_interval must be a whole number of minutes or hours, such as 10m or 1h."
  }
}

variable "max_instances" {
  description = "Maximum number of instances per function (keys: settings, intake, poll, apply)."
  type        = map(number)
  default = {
    settings = 5
    intake   = 20
    poll     = 50
    apply    = 100
  }

  validation {
    condition     = alltrue([for k in ["settings", "intake", "poll", "apply"] : contains(keys(var.max_instances), k)]) && alltrue([for v in values(var.max_instances) : v >= 1 && v <= 1000])
    error_message = "max_instances must give settings, intake, poll and apply, each between 1 and 1000."
  }
}

variable "secret_replica_regions" {
  description = "Regions besides region where Secret Manager keeps replicas of the secrets (user-managed replication; none by default). Changing it replaces the three secrets (their ids name the regions), which signs every user out."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.secret_replica_regions : can(regex("^[a-z]+-[a-z]+[0-9]+$", r))])
    error_message = "secret_replica_regions must be Google Cloud regions such as europe-west4."
  }
}

variable "disable_invoker_iam_check" {
  description = "false (default): anyone may call Settings and Intake because allUsers holds roles/run.invoker on them. true: no allUsers grant (organisations with domain-restricted sharing refuse it); Cloud Run's invoker IAM check is turned off on those two services instead, by scripts/deploy after every apply. Either way both functions authenticate every caller themselves."
  type        = bool
  default     = false
}

variable "kms_import_existing" {
  description = "true imports the KMS key ring NAME_PREFIX-tokens and its key tokens, left in the project by an earlier deployment (they cannot be deleted), instead of creating them. scripts/deploy sets it when it finds the key ring."
  type        = bool
  default     = false
}

variable "firestore_database_id" {
  description = "The Firestore database contactsync uses (FIRESTORE_DATABASE): (default), or a name of its own, e.g. contactsync, when the project's (default) database belongs to another app. Cannot be changed after the database exists."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database_id == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database_id))
    error_message = "firestore_database_id must be (default) or 4-63 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "firestore_import_existing" {
  description = "true imports the existing Firestore database firestore_database_id (another app's, or contactsync's own left by a tear-down) instead of creating it. It must be in native mode and in firestore_location. scripts/deploy stops and asks when it finds one."
  type        = bool
  default     = false
}

variable "firestore_deletion_policy" {
  description = "What `terraform destroy` does with the Firestore database: ABANDON keeps it and its data (default), DELETE deletes it."
  type        = string
  default     = "ABANDON"

  validation {
    condition     = contains(["ABANDON", "DELETE"], var.firestore_deletion_policy)
    error_message = "firestore_deletion_policy must be ABANDON or DELETE."
  }

  # An imported database may hold another app's data.
  validation {
    condition     = !(var.firestore_import_existing && var.firestore_deletion_policy == "DELETE")
    error_message = "firestore_deletion_policy = DELETE cannot go with firestore_import_existing = true: the imported database existed before contactsync and may hold another app's data. To delete it anyway on destroy, set firestore_import_existing = false first (an imported database stays in the state)."
  }
}
