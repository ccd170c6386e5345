"""Lambda code of etl-constructs: an AWS-free core (`etl_handlers.core`) and thin entry points.

This package is deployed as the functions' asset. It never imports `aws_cdk` or
`etl_constructs`; its core never imports boto3 or anything of AWS.
"""
