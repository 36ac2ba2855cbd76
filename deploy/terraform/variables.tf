variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, Cloud SQL, Artifact Registry and Secret Manager replicas."
  type        = string
  default     = "us-central1"
}

variable "environment" {
  description = "Environment name; also the GitHub environment whose jobs may deploy it."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.environment))
    error_message = "environment: lower-case letters, digits and dashes, 2 to 15 characters (e.g. staging, production)."
  }
}

variable "github_repository" {
  description = "GitHub repository \"owner/name\", spelled exactly as GitHub does: its workflows may deploy, and its GHCR image is run."
  type        = string
}

variable "image_ref" {
  description = "Tag (e.g. main, 1.2.0) or digest (sha256:…) of the GHCR image the service is created with. Later deployments come from CI, and Terraform leaves them alone."
  type        = string
  default     = "main"
}

variable "db_tier" {
  description = "Cloud SQL machine type. db-f1-micro (shared core, 25 connections) suits staging only."
  type        = string
  default     = "db-custom-1-3840"
}

variable "db_high_availability" {
  description = "Regional (HA) Cloud SQL instance with a standby in a second zone; doubles its cost."
  type        = bool
  default     = false
}

variable "min_instances" {
  description = "Cloud Run instances kept warm (0 scales to zero: cheapest, with a cold start of about a second)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Cloud Run instance limit. Each instance opens up to 20 database connections. Keep 1 while the in-process sandbox connector is used: its state lives in the instance's memory."
  type        = number
  default     = 1
}

variable "alert_email" {
  description = "Where uptime alerts go; empty: an uptime check without alerting."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Refuse to destroy the database and the service. Turn off only to tear an environment down."
  type        = bool
  default     = true
}
