terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State lives in a GCS bucket you create once (see the README's Deploy
  # section); bucket and prefix are given to `terraform init -backend-config`,
  # one prefix per environment.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
