# This file is maintained automatically by "tofu init".
# Manual edits may be lost in future updates.

provider "registry.opentofu.org/hashicorp/google" {
  version     = "8.0.0"
  constraints = ">= 8.0.0, < 9.0.0"
}
