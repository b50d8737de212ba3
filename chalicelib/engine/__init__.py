"""The offer engine. PURE: candidate index, eligibility, ranking, personalisation, guardrails
and the decision with its reason. Must not import boto3, botocore or chalice (a test enforces
it); time comes in as arguments, never from the system clock."""
