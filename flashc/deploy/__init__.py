"""Deploy targets: plan what changes, apply it, and record the deployment as it is."""
