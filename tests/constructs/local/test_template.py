"""Reading a template back: intrinsic functions resolved to local names, errors for what is not a pipeline."""

import json

import pytest

from etl_constructs.local.template import SelectionError, Template, TemplateError


def _template(tmp_path, body: str) -> Template:
    path = tmp_path / "t.template.json"
    path.write_text(body)
    return Template.load(path)


def test_ref_getatt_join_and_sub_resolve(tmp_path):
    t = _template(tmp_path, '{"Resources": {"Raw": {"Type": "AWS::S3::Bucket"}, "Q": {"Type": "AWS::SQS::Queue"}}}')
    assert t.resolve({"Ref": "Raw"}) == "local-raw"
    assert t.resolve({"Fn::GetAtt": ["Raw", "Arn"]}) == "arn:aws:s3:::local-raw"
    assert t.resolve({"Fn::Join": ["/", [{"Ref": "Raw"}, "x"]]}) == "local-raw/x"
    assert t.resolve({"Fn::Sub": "${AWS::Region}:${Q.Arn}"}) == "us-east-1:arn:aws:sqs:us-east-1:123456789012:local-Q"


def test_a_file_that_is_not_a_template_is_refused(tmp_path):
    with pytest.raises(TemplateError, match="not a CloudFormation template"):
        _template(tmp_path, "[]")


def test_a_template_without_the_pipeline_is_refused(tmp_path):
    from etl_constructs.local import LocalPipeline

    path = tmp_path / "empty.template.json"
    path.write_text('{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}')
    with pytest.raises(TemplateError, match="holds no EtlPipeline"), LocalPipeline(path, out=tmp_path):
        pass


def test_long_logical_ids_keep_distinct_names_within_the_limits(tmp_path):
    head = "Pipeline" + "X" * 60
    kinds = {f"{head}RoleAAAA1111": "AWS::IAM::Role", f"{head}RoleBBBB2222": "AWS::IAM::Role"}
    kinds[f"{head}BucketCCCC3333"] = "AWS::S3::Bucket"
    t = _template(tmp_path, json.dumps({"Resources": {lid: {"Type": kind} for lid, kind in kinds.items()}}))
    names = list(t.names.values())
    assert len(set(names)) == 3
    assert all(name.startswith("local-Pipeline") or name.startswith("local-pipeline") for name in names)
    assert all(len(name) <= 63 for name in names)
    assert t.resolve({"Fn::GetAtt": [f"{head}RoleAAAA1111", "Arn"]}).endswith("role/" + names[0])


def test_short_logical_ids_are_named_as_before(tmp_path):
    t = _template(tmp_path, '{"Resources": {"CardsLedgerTableC5D62BBE": {"Type": "AWS::DynamoDB::Table"}}}')
    assert t.names == {"CardsLedgerTableC5D62BBE": "local-CardsLedgerTableC5D62BBE"}


def test_a_selection_error_lists_its_choices_one_a_line():
    error = SelectionError("the stack holds 2 pipelines; pick one with --pipeline:", ["S/A (A)", "S/B (B)"])
    assert isinstance(error, TemplateError)
    assert error.choices == ["S/A (A)", "S/B (B)"]
    assert str(error) == "the stack holds 2 pipelines; pick one with --pipeline:\n  S/A (A)\n  S/B (B)"


def test_a_role_arn_holds_its_explicit_name_and_path(tmp_path):
    role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "ingest-validate", "Path": "/etl/"}}
    t = _template(tmp_path, json.dumps({"Resources": {"R": role, "Plain": {"Type": "AWS::IAM::Role"}}}))
    assert t.resolve({"Ref": "R"}) == "ingest-validate"
    assert t.resolve({"Fn::GetAtt": ["R", "Arn"]}) == "arn:aws:iam::123456789012:role/etl/ingest-validate"
    assert t.resolve({"Fn::GetAtt": ["Plain", "Arn"]}) == "arn:aws:iam::123456789012:role/local-Plain"
