"""The AWS side of a real run: moto's server as Secrets Manager, Lambda (the function's record only)
and CloudWatch Logs, and the part of the Secrets Manager *service* that moto cannot play here.

moto's RotateSecret stages the new version (AWSPENDING on a version id with no value yet, rotation
enabled, the function's ARN recorded) and then calls its own Lambda backend, which runs functions in
Docker. No Docker engine runs on this machine, so moto is configured with its Docker-less Lambda
backend (its invocations do nothing), and `SecretsManagerService.rotate` makes the real invocations
of the real function itself, one step after another and again from createSecret when a step fails,
with the event Secrets Manager sends: `{"SecretId", "ClientRequestToken", "Step"}`
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html).
How often and how soon Secrets Manager retries is not documented beyond "retries the entire rotation
process"; the harness retries `retries` times, a few seconds apart.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
import zipfile

import boto3

STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


class Moto:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)

    def _post(self, path: str, body: dict | None = None):
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method="POST")
        req.add_header("Content-Type", "application/json")
        urllib.request.urlopen(req).read()

    def reset(self):
        """Forget everything (one case, one fresh account), and run Lambda without Docker."""
        self._post("/moto-api/reset")
        self._post("/moto-api/config", {"lambda": {"use_docker": False}})

    def create_function(self, name: str, timeout_s: int, source: bytes) -> str:
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=f"{name}-role",
            AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            ),
        )["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("lambda_function.py", source)
        fn = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": buf.getvalue()},
            Timeout=timeout_s,
            MemorySize=128,
        )
        return fn["FunctionArn"]


class SecretsManagerService:
    """Secrets Manager's rotation: RotateSecret on moto, then the function invoked step by step."""

    def __init__(self, moto: Moto, retries: int = 1, retry_gap_s: float = 3.0):
        self.sm = moto.client("secretsmanager")
        self.retries = retries
        self.retry_gap_s = retry_gap_s

    def create_secret(self, name: str, value: dict) -> str:
        return self.sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]

    def start_rotation(self, arn: str, function_arn: str) -> str:
        """RotateSecret: the new version id (the ClientRequestToken every step receives)."""
        r = self.sm.rotate_secret(
            SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 30}
        )
        return r["VersionId"]

    def run_steps(self, fn, arn: str, token: str, after_step=None) -> bool:
        """The steps once, stopping at the first that fails. `after_step(step)` may meddle in between."""
        for step in STEPS:
            outcome = fn.invoke({"SecretId": arn, "ClientRequestToken": token, "Step": step})
            if outcome.status != "success":
                return False
            if after_step:
                after_step(step)
        return True

    def rotate(self, fn, arn: str, function_arn: str, after_step=None) -> bool:
        token = self.start_rotation(arn, function_arn)
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.retry_gap_s)
            if self.run_steps(fn, arn, token, after_step):
                return True
        return False
