"""cdk-nag acknowledgments: one place to record a finding we accept and why.

cdk-nag 3.x runs as a policy-validation plugin (``Validations.of(app).add_plugins(...)``) and
reads acknowledgments from construct metadata written by ``Validations.of(c).acknowledge``.
Every acknowledgment names one exact finding (wildcard findings are per action/resource, e.g.
``AwsSolutions-IAM5[Action::s3:List*]``) and carries the reason it is acceptable here.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one cdk-nag finding on ``scope`` (and everything under it), with its reason."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a written reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def arn_ref(resource: IConstruct) -> str:
    """How cdk-nag prints ``Fn::GetAtt [<logical id>, Arn]`` in a finding id: ``<Id.Arn>``."""
    default_child = resource.node.default_child
    if not isinstance(default_child, CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource")
    logical_id = Stack.of(resource).resolve(default_child.logical_id)
    return f"<{logical_id}.Arn>"
