# terraform init -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="prefix=paygate/staging"
# terraform apply -var-file=environments/staging.tfvars -var project_id=$PROJECT_ID -var github_repository=OWNER/REPO
environment   = "staging"
region        = "us-central1"
db_tier       = "db-f1-micro" # shared core, no SLA: fine for staging
min_instances = 0
max_instances = 1
