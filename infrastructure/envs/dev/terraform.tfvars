# dev: cheap and disposable. Push mode (scales to zero), public API, short retention.
# project_id, image, circleci_org_id, circleci_project_id and state_bucket come from CI
# (TF_VAR_* in the CircleCI context "gcp-dev"; scripts/deploy sets image).
environment               = "dev"
region                    = "southamerica-west1"
ingest_mode               = "push"
public                    = true
min_instances             = 0
max_instances             = 3
partition_expiration_days = 30
deletion_protection       = false
