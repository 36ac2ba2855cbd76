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

# What the container sees as the TCP peer behind Cloud Run's front end is not
# documented: the container runtime contract
# (cloud.google.com/run/docs/container-contract) names no address or range
# for it. The ranges Google does publish for its front ends, 35.191.0.0/16
# and 130.211.0.0/22 (cloud.google.com/load-balancing/docs/firewall-rules),
# are the sources load balancers use towards VM backends, not a promise about
# Cloud Run containers. Reported observations (e.g. withastro/astro issue
# 9124) show a link-local peer such as 169.254.1.1; Google's own ESPv2 proxy
# (GoogleCloudPlatform/esp-v2 pull request 318) describes the peer as a
# Google-internal proxy, and Cloud Run as setting X-Forwarded-For to the
# client's address when the request carries none and appending to one it
# does (so the right-most entry is Google's, never the client's choice).
# Since no range is documented, none is trusted by default: paygate ignores
# X-Forwarded-For, and its per-address rate limits and audit entries see the
# front end's address, i.e. all clients share one address (per-key limits
# are unaffected). Set this only after checking the peer address your
# service actually sees (the source address of admin audit entries while
# this is empty), e.g. "169.254.0.0/16"; with a load balancer in front of
# Cloud Run, its proxies' addresses are in X-Forwarded-For too.
variable "trusted_proxies" {
  description = "PAYGATE_TRUSTED_PROXIES: comma-separated CIDRs whose requests' X-Forwarded-For paygate believes. Empty (the default): none, see the comment above."
  type        = string
  default     = ""
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
