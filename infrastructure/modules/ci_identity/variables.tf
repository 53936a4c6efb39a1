variable "project_id" {
  description = "GCP project."
  type        = string
}

variable "circleci_org_id" {
  description = "CircleCI organization id (UUID): the OIDC issuer is https://oidc.circleci.com/org/<id> and the audience is the id."
  type        = string
}

variable "circleci_project_id" {
  description = "CircleCI project id (UUID) allowed to impersonate the deployer."
  type        = string
}

variable "branch" {
  description = "Only pipelines on this branch may deploy."
  type        = string
  default     = "main"
}

variable "pool_id" {
  description = "Workload identity pool id."
  type        = string
  default     = "circleci"
}

variable "deployer_account_id" {
  description = "Deployer service account id."
  type        = string
  default     = "circleci-deployer"
}

variable "deployer_role_id" {
  description = "Id of the deployer's custom role."
  type        = string
  default     = "colibriDeployer"
}

variable "state_bucket" {
  description = "GCS bucket of the Terraform state."
  type        = string
}

variable "state_prefix" {
  description = "Prefix of the state CI applies (the backend prefix of infrastructure/envs/<env>)."
  type        = string
}

variable "deployer_permissions" {
  description = "Permissions of the deployer's custom role: what tofu apply of infrastructure/envs/<env> reads and writes, plus the Cloud Run rollout (gcloud run deploy --no-traffic, update-traffic)."
  type        = list(string)
  default = [
    # read the project and the accounts bootstrap made (data sources)
    "resourcemanager.projects.get",
    "iam.serviceAccounts.get",
    "serviceusage.services.use",
    # Cloud Run: the service, its invoker bindings, revisions and traffic (rollout)
    "run.services.create", "run.services.get", "run.services.list", "run.services.update", "run.services.delete",
    "run.services.getIamPolicy", "run.services.setIamPolicy",
    "run.revisions.get", "run.revisions.list", "run.revisions.delete",
    "run.configurations.get", "run.configurations.list", "run.routes.get", "run.routes.list",
    "run.operations.get", "run.operations.list", "run.locations.list",
    # BigQuery: dataset, tables, dataset-level grants for the runtime account
    "bigquery.datasets.create", "bigquery.datasets.get", "bigquery.datasets.update", "bigquery.datasets.delete",
    "bigquery.datasets.getIamPolicy", "bigquery.datasets.setIamPolicy",
    "bigquery.tables.create", "bigquery.tables.get", "bigquery.tables.list", "bigquery.tables.update", "bigquery.tables.delete",
    # Pub/Sub: topics, subscriptions, their grants. No publish: dev's smoke test publishes through
    # a grant on dev's topic (envs/*: smoke_publishes), so in prod CI cannot write an event at all
    "pubsub.topics.create", "pubsub.topics.get", "pubsub.topics.update", "pubsub.topics.delete",
    "pubsub.topics.attachSubscription",
    "pubsub.topics.getIamPolicy", "pubsub.topics.setIamPolicy",
    "pubsub.subscriptions.create", "pubsub.subscriptions.get", "pubsub.subscriptions.update", "pubsub.subscriptions.delete",
    "pubsub.subscriptions.getIamPolicy", "pubsub.subscriptions.setIamPolicy",
    # Cloud Monitoring and the log-based metrics the SLOs read
    "monitoring.alertPolicies.create", "monitoring.alertPolicies.get", "monitoring.alertPolicies.list",
    "monitoring.alertPolicies.update", "monitoring.alertPolicies.delete",
    "monitoring.uptimeCheckConfigs.create", "monitoring.uptimeCheckConfigs.get", "monitoring.uptimeCheckConfigs.list",
    "monitoring.uptimeCheckConfigs.update", "monitoring.uptimeCheckConfigs.delete",
    "monitoring.services.create", "monitoring.services.get", "monitoring.services.update", "monitoring.services.delete",
    "monitoring.slos.create", "monitoring.slos.get", "monitoring.slos.update", "monitoring.slos.delete",
    "monitoring.notificationChannels.create", "monitoring.notificationChannels.get", "monitoring.notificationChannels.list",
    "monitoring.notificationChannels.update", "monitoring.notificationChannels.delete",
    "monitoring.dashboards.create", "monitoring.dashboards.get", "monitoring.dashboards.update", "monitoring.dashboards.delete",
    "logging.logMetrics.create", "logging.logMetrics.get", "logging.logMetrics.update", "logging.logMetrics.delete",
  ]

  validation {
    condition = length([for p in var.deployer_permissions : p if can(regex(
      "^(iam\\.serviceAccounts\\.(create|delete|setIamPolicy|actAs|getAccessToken|signJwt|signBlob|implicitDelegation|getOpenIdToken)|iam\\.serviceAccountKeys\\..*|iam\\.roles\\..*|resourcemanager\\.projects\\.setIamPolicy|secretmanager\\.versions\\.access|storage\\.buckets\\.setIamPolicy|iam\\.workloadIdentityPool.*)$", p
    ))]) == 0
    error_message = "The deployer must not manage service accounts, keys, roles, project IAM, the WIF pool or the state bucket's IAM, nor read secrets: grant actAs on one account at a time instead."
  }
}
