# prod: pull mode (exactly-once subscription, CPU always allocated, never cold; POST /pubsub/push
# off), protected resources, long retention, IAM-authenticated callers plus API keys. The smoke
# test only reads here: no test event ever enters the prod table.
# project_id, image and notification_email come from the CircleCI context "gcp-prod".
environment               = "prod"
region                    = "southamerica-west1"
ingest_mode               = "pull"
public                    = false
api_keys                  = true
smoke_publishes           = false
min_instances             = 1
max_instances             = 20
cpu                       = "2"
memory                    = "1Gi"
partition_expiration_days = 400
deletion_protection       = true
