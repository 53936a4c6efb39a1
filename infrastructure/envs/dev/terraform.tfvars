# dev: cheap and disposable. Push mode (scales to zero), short retention; the smoke test publishes
# a tagged event here. project_id, image and notification_email come from CI (TF_VAR_* in the
# CircleCI context "gcp-dev"; scripts/deploy sets image).
environment               = "dev"
region                    = "southamerica-west1"
ingest_mode               = "push"
public                    = false
api_keys                  = true
smoke_publishes           = true
min_instances             = 0
max_instances             = 3
partition_expiration_days = 30
deletion_protection       = false
