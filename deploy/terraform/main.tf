# One paygate environment on Google Cloud: Cloud Run (the API), Cloud SQL for
# PostgreSQL, Secret Manager (database URL, card-data keys, admin and metrics
# tokens),
# Artifact Registry as a pull-through cache of GHCR (Cloud Run cannot pull
# from GHCR itself), Workload Identity Federation for GitHub Actions, and an
# uptime check. Apply once per environment, each with its own state prefix.

data "google_project" "this" {}

locals {
  name = "paygate-${var.environment}"

  image_repository = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.ghcr.repository_id}"
  image            = "${local.image_repository}/${lower(var.github_repository)}${startswith(var.image_ref, "sha256:") ? "@" : ":"}${var.image_ref}"

  # Cloud Run's deterministic URL, known before the service exists, so that
  # paygate can be told where customers reach it.
  public_url = "https://${local.name}-${data.google_project.this.number}.${var.region}.run.app"

  # Secret name suffix => the variable paygate reads it from.
  secret_env = {
    database-url    = "PAYGATE_DATABASE_URL"
    encryption-keys = "PAYGATE_ENCRYPTION_KEYS"
    fingerprint-key = "PAYGATE_FINGERPRINT_KEY"
    admin-token     = "PAYGATE_ADMIN_TOKEN"
    metrics-token   = "PAYGATE_METRICS_TOKEN"
  }
  secret_values = {
    # The Cloud SQL connector mounted at /cloudsql gives a Unix socket; it
    # authenticates with IAM and encrypts, so the socket needs no TLS.
    database-url    = "postgres://${google_sql_user.paygate.name}:${random_password.db.result}@/${google_sql_database.paygate.name}?host=/cloudsql/${google_sql_database_instance.db.connection_name}&sslmode=disable"
    encryption-keys = "k1:${random_bytes.encryption_key.base64}"
    fingerprint-key = random_bytes.fingerprint_key.base64
    admin-token     = random_password.admin_token.result
    metrics-token   = random_password.metrics_token.result
  }
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "sts.googleapis.com",
  ])
  service = each.value
  # Another environment in the same project may still use them.
  disable_on_destroy = false
}

# --- image -------------------------------------------------------------------

resource "google_artifact_registry_repository" "ghcr" {
  location      = var.region
  repository_id = "ghcr-${var.environment}"
  description   = "Pull-through cache of ghcr.io, where CI publishes the paygate image"
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"
  remote_repository_config {
    description = "ghcr.io (the image package must be public)"
    docker_repository {
      custom_repository {
        uri = "https://ghcr.io"
      }
    }
  }
  depends_on = [google_project_service.apis]
}

# --- database ----------------------------------------------------------------

resource "google_sql_database_instance" "db" {
  name                = local.name
  database_version    = "POSTGRES_17"
  region              = var.region
  deletion_protection = var.deletion_protection

  settings {
    edition                     = "ENTERPRISE"
    tier                        = var.db_tier
    availability_type           = var.db_high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = 10
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection

    ip_configuration {
      # A public address with no authorized networks: only the Cloud SQL
      # connector (IAM-checked, TLS) reaches it, and no VPC is needed.
      ipv4_enabled = true
      ssl_mode     = "ENCRYPTED_ONLY"
    }
    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "03:00"
      backup_retention_settings {
        retained_backups = 7
      }
    }
    maintenance_window {
      day  = 7
      hour = 4
    }
    insights_config {
      query_insights_enabled = true
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_sql_database" "paygate" {
  name     = "paygate"
  instance = google_sql_database_instance.db.name
}

resource "random_password" "db" {
  length  = 32
  special = false # it goes into a URL unescaped
}

resource "google_sql_user" "paygate" {
  name     = "paygate"
  instance = google_sql_database_instance.db.name
  password = random_password.db.result
  # The user owns the tables; dropping the instance removes it anyway.
  deletion_policy = "ABANDON"
}

# --- secrets -----------------------------------------------------------------
# Generated here, so they are also in the Terraform state: keep the state
# bucket as private as the secrets (see the README).

resource "random_bytes" "encryption_key" {
  length = 32
}

resource "random_bytes" "fingerprint_key" {
  length = 32
}

resource "random_password" "admin_token" {
  length  = 48
  special = false
}

# Cloud Run routes one port to the container, so /metrics cannot have a
# listener of its own (PAYGATE_METRICS_ADDR) that stays private: it is served
# on the public URL and answers only "Authorization: Bearer <this token>".
resource "random_password" "metrics_token" {
  length  = 48
  special = false
}

resource "google_secret_manager_secret" "paygate" {
  for_each  = local.secret_env
  secret_id = "${local.name}-${each.key}"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "paygate" {
  for_each    = local.secret_env
  secret      = google_secret_manager_secret.paygate[each.key].id
  secret_data = local.secret_values[each.key]
}

# --- identities --------------------------------------------------------------

resource "google_service_account" "runtime" {
  account_id   = "${local.name}-run"
  display_name = "paygate ${var.environment}: Cloud Run runtime"
  depends_on   = [google_project_service.apis]
}

resource "google_project_iam_member" "runtime_sql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each  = local.secret_env
  secret_id = google_secret_manager_secret.paygate[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# GitHub Actions jobs of this repository running in the GitHub environment of
# the same name (the OIDC subject says so) become the deployer: no key exists.
resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "github-${var.environment}"
  display_name              = "GitHub Actions ${var.environment}"
  depends_on                = [google_project_service.apis]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
  }
  attribute_condition = "assertion.repository == \"${var.github_repository}\""
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "deployer" {
  account_id   = "${local.name}-deploy"
  display_name = "paygate ${var.environment}: GitHub Actions deployer"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account_iam_member" "deployer_from_github" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/subject/repo:${var.github_repository}:environment:${var.environment}"
}

# Deploying a revision that runs as the runtime account needs actAs on it.
resource "google_service_account_iam_member" "deployer_acts_as_runtime" {
  service_account_id = google_service_account.runtime.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

# Only this environment's service, not the project's.
resource "google_cloud_run_v2_service_iam_member" "deployer" {
  name     = google_cloud_run_v2_service.paygate.name
  location = var.region
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_artifact_registry_repository_iam_member" "deployer" {
  repository = google_artifact_registry_repository.ghcr.name
  location   = var.region
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.deployer.email}"
}

# --- service -----------------------------------------------------------------

resource "google_cloud_run_v2_service" "paygate" {
  name                = local.name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.runtime.email
    max_instance_request_concurrency = 80
    timeout                          = "30s"

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [google_sql_database_instance.db.connection_name]
      }
    }

    containers {
      image = local.image
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle          = true # CPU billed only while serving requests
        startup_cpu_boost = true
      }

      env {
        name  = "PAYGATE_ENV"
        value = "production"
      }
      env {
        name  = "PAYGATE_PUBLIC_URL"
        value = local.public_url
      }
      # Migrations run at start under PostgreSQL's advisory lock: instances
      # starting together wait for one another, and a revision whose
      # migration fails never becomes ready, so the previous one keeps serving.
      env {
        name  = "PAYGATE_AUTO_MIGRATE"
        value = "true"
      }
      # See var.trusted_proxies: unset by default.
      dynamic "env" {
        for_each = var.trusted_proxies == "" ? [] : [var.trusted_proxies]
        content {
          name  = "PAYGATE_TRUSTED_PROXIES"
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.secret_env
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.paygate[env.key].secret_id
              version = "latest"
            }
          }
        }
      }

      volume_mounts {
        name       = "cloudsql"
        mount_path = "/cloudsql"
      }

      startup_probe {
        http_get {
          path = "/readyz"
        }
        period_seconds    = 2
        timeout_seconds   = 2
        failure_threshold = 30
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 15
        timeout_seconds   = 3
        failure_threshold = 3
      }
    }
  }

  lifecycle {
    # CI deploys new images (by digest); Terraform owns everything else.
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [
    google_secret_manager_secret_version.paygate,
    google_secret_manager_secret_iam_member.runtime,
    google_project_iam_member.runtime_sql_client,
  ]
}

# A public API: merchants authenticate with their secret keys.
resource "google_cloud_run_v2_service_iam_member" "public" {
  name     = google_cloud_run_v2_service.paygate.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- monitoring --------------------------------------------------------------
# Cloud Run's request counts, latencies and logs (paygate logs JSON, one line
# per request) arrive in Cloud Monitoring and Logging without set-up; this
# adds an outside check that the API answers and its database is reachable.

resource "google_monitoring_uptime_check_config" "readyz" {
  display_name = "${local.name} /readyz"
  timeout      = "10s"
  period       = "300s"

  http_check {
    path         = "/readyz"
    port         = 443
    use_ssl      = true
    validate_ssl = true
  }
  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = trimprefix(google_cloud_run_v2_service.paygate.uri, "https://")
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_monitoring_notification_channel" "email" {
  count        = var.alert_email == "" ? 0 : 1
  display_name = "${local.name} alerts"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
}

resource "google_monitoring_alert_policy" "down" {
  count        = var.alert_email == "" ? 0 : 1
  display_name = "${local.name} is not ready"
  combiner     = "OR"
  conditions {
    display_name = "/readyz uptime check failing"
    condition_threshold {
      filter          = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND metric.label.check_id=\"${google_monitoring_uptime_check_config.readyz.uptime_check_id}\" AND resource.type=\"uptime_url\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "600s"
      aggregations {
        alignment_period     = "1200s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.*"]
      }
      trigger {
        count = 1
      }
    }
  }
  notification_channels = [google_monitoring_notification_channel.email[0].id]
}
