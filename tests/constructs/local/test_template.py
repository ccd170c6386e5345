"""Reading a template back: intrinsic functions resolved to local names, errors for what is not a pipeline."""

import pytest

from etl_constructs.local.template import Template, TemplateError


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
