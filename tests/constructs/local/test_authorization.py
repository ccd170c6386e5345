"""What each call needs, and how IAM decides, as run-local authorizes them (no emulation needed)."""

from __future__ import annotations

import pytest

from etl_constructs.local.authorization import Permission, evaluate, required, with_key_policy
from etl_constructs.local.calls import Call

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/ledger"


def needs(service: str, operation: str, **params: object) -> list[tuple[str, str]]:
    return [(p.action, p.resource) for p in required(Call(service, operation, dict(params), None))]


def test_reading_a_version_needs_get_object_version():
    assert needs("s3", "GetObject", Bucket="b", Key="k", VersionId="v") == [("s3:GetObjectVersion", "arn:aws:s3:::b/k")]
    assert needs("s3", "GetObject", Bucket="b", Key="k") == [("s3:GetObject", "arn:aws:s3:::b/k")]


def test_a_multipart_upload_needs_put_object_and_a_listing_needs_list_bucket():
    assert needs("s3", "UploadPart", Bucket="b", Key="a/k", UploadId="u") == [("s3:PutObject", "arn:aws:s3:::b/a/k")]
    assert needs("s3", "ListObjectsV2", Bucket="b", Prefix="a/") == [("s3:ListBucket", "arn:aws:s3:::b")]


def test_a_copy_needs_to_read_the_source_version_and_write_the_target():
    assert needs(
        "s3", "CopyObject", Bucket="q", Key="k2", CopySource={"Bucket": "r", "Key": "k", "VersionId": "v"}
    ) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::r/k"),
        ("s3:PutObject", "arn:aws:s3:::q/k2"),
    ]


def test_dynamodb_calls_need_their_table_and_a_transaction_each_item():
    assert needs("dynamodb", "PutItem", TableName="ledger") == [("dynamodb:PutItem", TABLE)]
    assert needs("dynamodb", "Query", TableName="ledger", IndexName="by-status") == [
        ("dynamodb:Query", TABLE + "/index/by-status")
    ]
    items = [{"Put": {"TableName": "ledger"}}, {"ConditionCheck": {"TableName": "other"}}]
    assert needs("dynamodb", "TransactWriteItems", TransactItems=items) == [
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other"),
    ]


def test_an_invoke_needs_invoke_function_on_the_function():
    assert needs("lambda", "Invoke", FunctionName="f") == [
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:f")
    ]


def test_writing_to_a_bucket_with_a_customer_key_needs_the_key_too():
    call = Call("s3", "PutObject", {"Bucket": "b", "Key": "k"}, None)
    assert [p.action for p in required(call, {"b": "arn:aws:kms:us-east-1:123456789012:key/1"})] == [
        "s3:PutObject",
        "kms:GenerateDataKey",
    ]


def policy(*statements: dict) -> list[dict]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


@pytest.mark.parametrize(
    ("statement", "decision"),
    [
        ({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE}, "allow"),
        ({"Effect": "Allow", "Action": "DynamoDB:Put*", "Resource": "arn:aws:dynamodb:*:*:table/*"}, "allow"),
        ({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE + "-other"}, "none"),
        ({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}, "none"),
        ({"Effect": "Allow", "NotAction": "dynamodb:PutItem", "Resource": "*"}, "none"),
        ({"Effect": "Allow", "Action": "*", "NotResource": TABLE}, "none"),
    ],
)
def test_one_statement_decides_as_iam_does(statement, decision):
    assert evaluate(policy(statement), Permission("dynamodb:PutItem", TABLE)) == decision


def test_an_explicit_deny_wins_over_any_allow():
    allow = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": TABLE}
    assert evaluate(policy(allow, deny), Permission("dynamodb:PutItem", TABLE)) == "deny"


def test_a_part_copy_is_authorized_as_a_copy():
    source = {"Bucket": "r", "Key": "k", "VersionId": "v"}
    assert needs("s3", "UploadPartCopy", Bucket="q", Key="k2", CopySource=source, UploadId="u", PartNumber=1) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::r/k"),
        ("s3:PutObject", "arn:aws:s3:::q/k2"),
    ]


def test_a_deny_on_a_condition_run_local_knows_is_evaluated():
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    tls_only = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    permission = Permission("s3:GetObject", "arn:aws:s3:::b/k")
    assert evaluate(policy(allow, tls_only), permission) == "allow"
    always = {**tls_only, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert evaluate(policy(allow, always), permission) == "deny"


def test_a_condition_run_local_cannot_evaluate_never_refuses():
    unknown = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    permission = Permission("s3:GetObject", "arn:aws:s3:::b/k")
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": unknown}
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*", "Condition": unknown}
    assert evaluate(policy(allow), permission) == "allow"
    assert evaluate(policy(allow, deny), permission) == "allow"


def test_a_condition_on_the_principal_is_evaluated():
    statement = {
        "Effect": "Allow",
        "Action": "dynamodb:PutItem",
        "Resource": TABLE,
        "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:sts::123456789012:assumed-role/writer/*"}},
    }
    permission = Permission("dynamodb:PutItem", TABLE)
    assert evaluate(policy(statement), permission, "arn:aws:sts::123456789012:assumed-role/writer/s") == "allow"
    assert evaluate(policy(statement), permission, "arn:aws:sts::123456789012:assumed-role/reader/s") == "none"


KEY_USER = "arn:aws:sts::123456789012:assumed-role/local-TransformRole/f"


def test_a_key_policy_naming_the_role_allows_without_an_iam_grant():
    key_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:role/local-TransformRole"]},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ]
    }
    assert with_key_policy("none", key_policy, KEY_USER, "kms:Decrypt") == "allow"
    assert with_key_policy("none", key_policy, KEY_USER, "kms:Encrypt") == "none"  # root delegation: IAM decides


def test_a_key_policy_denying_the_role_refuses_whatever_iam_allows():
    key_policy = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/local-TransformRole"},
                "Action": "kms:*",
            }
        ]
    }
    assert with_key_policy("allow", key_policy, KEY_USER, "kms:Decrypt") == "deny"


def test_s3_operations_map_to_the_actions_iam_checks():
    assert needs("s3", "ListParts", Bucket="b", Key="k", UploadId="u") == [
        ("s3:ListMultipartUploadParts", "arn:aws:s3:::b/k")
    ]
    assert needs("s3", "ListMultipartUploads", Bucket="b") == [("s3:ListBucketMultipartUploads", "arn:aws:s3:::b")]
    assert needs("s3", "HeadBucket", Bucket="b") == [("s3:ListBucket", "arn:aws:s3:::b")]
    assert needs(
        "s3", "DeleteObjects", Bucket="b", Delete={"Objects": [{"Key": "a"}, {"Key": "c", "VersionId": "v"}]}
    ) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/a"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::b/c"),
    ]


def test_head_object_needs_no_key_and_starting_a_multipart_upload_only_a_data_key():
    keys = {"b": "arn:aws:kms:us-east-1:123456789012:key/1"}
    head = required(Call("s3", "HeadObject", {"Bucket": "b", "Key": "k"}, None), keys)
    start = required(Call("s3", "CreateMultipartUpload", {"Bucket": "b", "Key": "k"}, None), keys)
    assert [p.action for p in head] == ["s3:GetObject"]
    assert [p.action for p in start] == ["s3:PutObject", "kms:GenerateDataKey"]
