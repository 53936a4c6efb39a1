# tflint with its bundled Terraform ruleset only (no plugin downloads): every rule, including
# documented variables/outputs, typed variables, naming, standard module structure and pinned
# provider versions. Run by tests/delivery/check-terraform.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
