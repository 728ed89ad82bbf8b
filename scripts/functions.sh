# The deployable functions: one crate each under functions/. Sourced by the scripts
# that package and benchmark them.
FUNCTIONS=(api-agents api-tasks api-workflows api-runs api-run-events api-messages authorizer step-worker message-router scheduler)
