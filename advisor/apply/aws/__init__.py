"""Appliers for AWS targets: EC2 Auto Scaling groups (``asg``), SageMaker endpoints (``sagemaker``), ECS
services (``ecs``), Application Auto Scaling shared by the last two (``aas``) and the boto3 clients they
use (``clients``).
"""
