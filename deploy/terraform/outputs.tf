output "url" {
  description = "The API's base URL."
  value       = google_cloud_run_v2_service.paygate.uri
}

output "docs_url" {
  description = "The API documentation (Swagger UI)."
  value       = "${google_cloud_run_v2_service.paygate.uri}/docs"
}

output "admin_token_command" {
  description = "Prints the admin API token."
  value       = "gcloud secrets versions access latest --project ${var.project_id} --secret ${google_secret_manager_secret.paygate["admin-token"].secret_id}"
}

output "metrics_token_command" {
  description = "Prints the bearer token GET /metrics requires."
  value       = "gcloud secrets versions access latest --project ${var.project_id} --secret ${google_secret_manager_secret.paygate["metrics-token"].secret_id}"
}

# What the deploy workflow reads from the GitHub environment of the same name.
output "github_environment_variables" {
  description = "Variables to set on the GitHub environment named like var.environment."
  value = {
    GCP_PROJECT_ID                 = var.project_id
    GCP_REGION                     = var.region
    GCP_WORKLOAD_IDENTITY_PROVIDER = google_iam_workload_identity_pool_provider.github.name
    GCP_DEPLOY_SERVICE_ACCOUNT     = google_service_account.deployer.email
    GCP_IMAGE_REPOSITORY           = local.image_repository
    CLOUD_RUN_SERVICE              = google_cloud_run_v2_service.paygate.name
  }
}

output "github_setup_commands" {
  description = "The same variables as gh commands, ready to paste."
  value = join("\n", [
    for k, v in {
      GCP_PROJECT_ID                 = var.project_id
      GCP_REGION                     = var.region
      GCP_WORKLOAD_IDENTITY_PROVIDER = google_iam_workload_identity_pool_provider.github.name
      GCP_DEPLOY_SERVICE_ACCOUNT     = google_service_account.deployer.email
      GCP_IMAGE_REPOSITORY           = local.image_repository
      CLOUD_RUN_SERVICE              = google_cloud_run_v2_service.paygate.name
    } : "gh variable set ${k} --repo ${var.github_repository} --env ${var.environment} --body '${v}'"
  ])
}
