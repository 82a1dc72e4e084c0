"""The rule engine: the catalogue of rules and the check that runs them."""
