"""Adapters: the only package that imports boto3/botocore. Each implements a domain port and
translates AWS error codes into domain errors in one place (``aws_errors``)."""
