#!/usr/bin/env bash
# Deploys the edge Worker (functions/edge) in front of a deployed platform: the origin is
# the API URL from Terraform's `api_url` output or the SAM stack's `ApiUrl` output, and
# the Worker verifies tokens with the platform's public key.
#
#   scripts/edge-deploy.sh terraform             # reads `terraform -chdir=terraform output`
#   scripts/edge-deploy.sh sam STACK_NAME        # reads the CloudFormation stack's outputs
#
# SKEIN_JWT_PUBLIC_KEY_FILE (default terraform/jwt.pub.pem) is the PEM public key the deploy
# was given (Terraform's jwt_public_key, SAM's JwtPublicKey). Needs wrangler logged in.
set -euo pipefail
cd "$(dirname "$0")/.."
source_of_truth=${1:?"say where the platform was deployed from: terraform, or sam STACK_NAME"}
case "$source_of_truth" in
    terraform) origin=$(terraform -chdir=terraform output -raw api_url) ;;
    sam)
        stack=${2:?"sam needs the stack's name"}
        origin=$(aws cloudformation describe-stacks --stack-name "$stack" \
            --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text)
        ;;
    *) echo "unknown source '$source_of_truth': use terraform or sam STACK_NAME" >&2; exit 2 ;;
esac
public_key=${SKEIN_JWT_PUBLIC_KEY_FILE:-terraform/jwt.pub.pem}
[ -r "$public_key" ] || { echo "no public key at $public_key: set SKEIN_JWT_PUBLIC_KEY_FILE" >&2; exit 2; }
public_key=$(realpath "$public_key")
bash scripts/setup.sh
node_bin="$(realpath -m "${SKEIN_NODE_TOOLS:-.tools/node}")/node_modules/.bin"
cd functions/edge
PATH="$node_bin:$PATH" wrangler secret put SKEIN_JWT_PUBLIC_KEY < "$public_key"
PATH="$node_bin:$PATH" wrangler deploy --var "SKEIN_ORIGIN_URL:$origin"
