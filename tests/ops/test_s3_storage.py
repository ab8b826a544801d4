"""With S3 settings in the environment, files go through Django's storage API to an
S3-compatible server: here moto's server mode, a real HTTP server speaking the S3 API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
from django.core.files.storage import storages

from tests.support.servers import moto_s3_start, s3_settings_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# Run in a fresh process: settings are read from the environment once, at start-up.
ROUND_TRIP = """
import json, django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import storages
default_storage = storages["default"]
name = default_storage.save("copies/7/scan.pdf", ContentFile(b"%PDF-1.7 copy of Lea", name="scan.pdf"))
again = default_storage.save("copies/7/scan.pdf", ContentFile(b"another upload", name="scan.pdf"))
with default_storage.open(name) as handle:
    read_back = handle.read().decode()
print(json.dumps({
    "backend": type(default_storage).__module__ + "." + type(default_storage).__name__,
    "name": name, "again": again, "read_back": read_back,
    "exists": default_storage.exists(name), "size": default_storage.size(name),
    "url": default_storage.url(name),
    "listing": default_storage.listdir("copies/7")[1],
}))
default_storage.delete(again)
"""


@pytest.fixture
def s3(tmp_path):
    server = moto_s3_start(tmp_path)
    yield server
    server.stop()


def _client(s3):
    return boto3.client(
        "s3", endpoint_url=s3.url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_the_storage_api_round_trips_files_through_s3_when_a_bucket_is_configured(s3):
    bucket = f"corrigo-{uuid.uuid4().hex[:8]}"
    _client(s3).create_bucket(Bucket=bucket)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **s3_settings_env(s3, bucket)}
    env.pop("MEDIA_ROOT", None)
    result = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["backend"] == "storages.backends.s3.S3Storage"
    assert seen["name"] == "copies/7/scan.pdf"
    assert seen["again"] != seen["name"]  # an upload never overwrites another
    assert seen["read_back"] == "%PDF-1.7 copy of Lea"
    assert seen["exists"] and seen["size"] == len(b"%PDF-1.7 copy of Lea")
    assert sorted(seen["listing"]) == sorted(Path(n).name for n in (seen["name"], seen["again"]))

    # The object is in the bucket, private, and reachable only through a signed, short-lived URL.
    objects = _client(s3).list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in objects] == ["copies/7/scan.pdf"]  # the second one was deleted
    body = _client(s3).get_object(Bucket=bucket, Key="copies/7/scan.pdf")["Body"].read()
    assert body == b"%PDF-1.7 copy of Lea"
    assert "X-Amz-Signature=" in seen["url"] and "X-Amz-Expires=300" in seen["url"]
    assert httpx.get(seen["url"]).content == body
    grants = _client(s3).get_object_acl(Bucket=bucket, Key="copies/7/scan.pdf")["Grants"]
    assert not any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)


def test_without_a_bucket_files_stay_on_the_local_disk():
    assert type(storages["default"]).__name__ == "FileSystemStorage"
