#!/bin/sh
# Removes from the image's virtualenv what Corrigo never reads at run time, in the same layer
# as the install (a later layer could not make the image smaller). `make container-test`
# grades a class through this trimmed image; its size target is 600 MB.
#   pip, setuptools, wheel     nothing installs packages in a running container
#   hf_xet                     huggingface_hub's download backend (no model is ever downloaded)
#   */tests, twisted/*/test    test suites of the installed packages
#   litellm's proxy UI         the admin web UI and OpenAPI files of litellm's proxy server
#   translations               catalogues of languages other than French and English
#   botocore/data              service models other than S3's and the credential services'
set -eu
venv=${1:-/opt/venv}
site=$(echo "$venv"/lib/python3*/site-packages)
[ -d "$site" ]

"$venv/bin/python" -m pip uninstall --yes --quiet hf_xet setuptools wheel pip 2>/dev/null || true
find "$site" -depth -type d -name tests -exec rm -rf {} +
find "$site/twisted" -depth -type d -name test -exec rm -rf {} +
rm -rf "$site/litellm/proxy/_experimental" "$site/litellm/proxy/swagger" \
  "$site/litellm/proxy/_lazy_openapi_snapshot.json"
find "$site" -type d -name LC_MESSAGES -path '*/locale/*' | while read -r dir; do
  language=$(basename "$(dirname "$dir")")
  case "$language" in
    fr|fr_*|en|en_*) ;;
    *) rm -rf "$dir" ;;
  esac
done
for service in "$site"/botocore/data/*/; do
  case "$(basename "$service")" in
    s3|sts|sso|sso-oidc) ;;
    *) rm -rf "$service" ;;
  esac
done
