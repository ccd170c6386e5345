"""RawLanding alone: the raw bucket, the rule, the dead-letter queue, the quarantine bucket."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template

from etl_constructs import ConfigurationError, RawLanding, RawLandingProps


def _build(stack: cdk.Stack) -> RawLanding:
    landing = RawLanding(stack, "Landing")
    landing.connect(
        sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P")))
    )
    return landing


@pytest.fixture(scope="module")
def built(synthesize):
    return synthesize(_build)


@pytest.fixture(scope="module")
def template(built) -> Template:
    return built[0]


def _raw(template: Template) -> dict:
    buckets = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"NotificationConfiguration": Match.any_value()}}
    )
    assert len(buckets) == 1, "exactly one bucket sends events: the raw bucket"
    return next(iter(buckets.values()))["Properties"]


def test_raw_bucket_is_versioned(template):
    assert _raw(template)["VersioningConfiguration"] == {"Status": "Enabled"}


def test_raw_bucket_blocks_all_public_access(template):
    assert _raw(template)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_raw_bucket_is_encrypted_with_s3_managed_keys_by_default(template):
    rule = _raw(template)["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_raw_bucket_owner_enforced(template):
    assert _raw(template)["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_raw_bucket_logs_access_to_the_logs_bucket(template):
    assert "DestinationBucketName" in _raw(template)["LoggingConfiguration"]


def test_raw_bucket_lifecycle_glacier_after_90_days_and_cleanup(template):
    (rule,) = _raw(template)["LifecycleConfiguration"]["Rules"]
    assert rule["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 90}]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_eventbridge_is_on_as_a_bucket_property_without_a_custom_resource(template):
    assert _raw(template)["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert template.find_resources("Custom::S3BucketNotifications") == {}


def test_every_bucket_denies_requests_without_tls(template):
    policies = template.find_resources("AWS::S3::BucketPolicy")
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(policies) == len(buckets) == 3  # raw, quarantine, access logs
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_rule_matches_object_created_in_the_raw_bucket_by_suffix_ignoring_case(template):
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"][0]["Ref"].startswith("LandingRaw")
    assert pattern["detail"]["object"]["key"] == [
        {"suffix": {"equals-ignore-case": s}} for s in (".csv", ".json", ".jsonl", ".ndjson")
    ]


def test_rule_target_has_retry_policy_and_dead_letter_queue(template):
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 10}
    assert "Arn" in target["DeadLetterConfig"]


def test_rule_target_input_is_bucket_key_version_and_size(template):
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    paths = rule["Properties"]["Targets"][0]["InputTransformer"]["InputPathsMap"]
    assert sorted(paths.values()) == [
        "$.detail.bucket.name",
        "$.detail.object.key",
        "$.detail.object.size",
        "$.detail.object.version-id",
    ]


def test_dead_letter_queue_is_encrypted_and_tls_only(template):
    (queue,) = template.find_resources("AWS::SQS::Queue").values()
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    (policy,) = template.find_resources("AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in str(s.get("Condition")) for s in statements)


def test_buckets_are_retained_by_default(template):
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"


def test_quarantine_bucket_exists_and_is_exposed(built):
    landing = built[1]
    assert landing.quarantine_bucket is not landing.bucket
    assert landing.quarantine_prefix == "quarantine/"


def test_kms_key_encrypts_with_bucket_keys(synthesize):
    def build(stack):
        RawLanding(stack, "Landing", RawLandingProps(encryption_key=kms.Key(stack, "Key", enable_key_rotation=True)))

    template, _ = synthesize(build)
    raw = _raw(template)
    rule = raw["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True


def test_existing_bucket_and_bucket_props_together_fail(synthesize):
    with pytest.raises(ConfigurationError, match="not both"):
        RawLandingProps(
            existing_bucket=s3.Bucket.from_bucket_name(cdk.Stack(), "B", "existing-raw"),
            bucket_props={"versioned": True},
        )


def test_unknown_suffix_fails():
    with pytest.raises(ConfigurationError, match=r"unknown suffix '\.xlsx'"):
        RawLandingProps(suffixes=(".csv", ".xlsx"))


def test_auto_delete_without_destroy_fails():
    with pytest.raises(ConfigurationError, match="DESTROY"):
        RawLandingProps(auto_delete_objects=True)


def test_with_a_prefix_the_rule_matches_the_prefix_in_the_form_s3_writes_it(synthesize):
    # The suffix, in any case, is matched by the state machine's first state (see test_workflow).
    template, _ = synthesize(lambda stack: RawLanding(stack, "Landing", RawLandingProps(input_prefix="in coming/")))
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "in+coming/"}]


def test_your_bucket_must_be_versioned(synthesize):
    def build(stack):
        RawLanding(stack, "Landing", RawLandingProps(existing_bucket=s3.Bucket(stack, "Theirs")))

    with pytest.raises(ConfigurationError, match="not versioned"):
        synthesize(build)


def test_versioned_false_in_bucket_props_is_refused():
    with pytest.raises(ConfigurationError, match="must be versioned"):
        RawLandingProps(bucket_props={"versioned": False})


def test_your_bucket_gets_eventbridge_through_its_own_property(synthesize):
    def build(stack):
        RawLanding(stack, "Landing", RawLandingProps(existing_bucket=s3.Bucket(stack, "Theirs", versioned=True)))

    template, _ = synthesize(build)
    (theirs,) = [b for k, b in template.find_resources("AWS::S3::Bucket").items() if k.startswith("Theirs")]
    assert theirs["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert template.find_resources("Custom::S3BucketNotifications") == {}


def test_an_imported_bucket_gets_a_warning_stating_what_it_needs(synthesize, find_warnings):
    def build(stack):
        theirs = s3.Bucket.from_bucket_name(stack, "Theirs", "their-raw-bucket")
        return RawLanding(stack, "Landing", RawLandingProps(existing_bucket=theirs))

    _, landing = synthesize(build)
    warnings = find_warnings(cdk.Stack.of(landing), "versioned.*EventBridge")
    assert len(warnings) == 1


def test_quarantine_in_the_raw_bucket_under_the_input_prefix_is_refused(synthesize):
    def build(stack):
        raw = s3.Bucket(stack, "Theirs", versioned=True)
        RawLanding(stack, "Landing", RawLandingProps(existing_bucket=raw, existing_quarantine_bucket=raw))

    with pytest.raises(ConfigurationError, match="would start the pipeline again"):
        synthesize(build)
