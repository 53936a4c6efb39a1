# prod: pull mode (exactly-once subscription, CPU always allocated, never cold), protected
# resources, long retention. Secrets and ids come from the CircleCI context "gcp-prod".
environment               = "prod"
region                    = "southamerica-west1"
ingest_mode               = "pull"
public                    = true
min_instances             = 1
max_instances             = 20
cpu                       = "2"
memory                    = "1Gi"
partition_expiration_days = 400
deletion_protection       = true
