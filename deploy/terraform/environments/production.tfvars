# terraform init -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="prefix=paygate/production"
# terraform apply -var-file=environments/production.tfvars -var project_id=$PROJECT_ID -var github_repository=OWNER/REPO
environment          = "production"
region               = "us-central1"
db_tier              = "db-custom-1-3840" # 1 vCPU, 3.75 GB, 100 connections
db_high_availability = false              # true: a standby in a second zone, twice the database cost
min_instances        = 1                  # no cold start
max_instances        = 1                  # 1 while the in-process sandbox is the connector
