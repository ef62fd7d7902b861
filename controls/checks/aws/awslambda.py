"""Lambda checks: a function accepts new code only when it is signed by a trusted signing profile."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

ENFORCE = "Enforce"


@check("aws.lambda.function.code_signing_enforced", reads="aws.lambda.function.code_signing")
def code_signing_enforced(subject: Subject, policy: Policy) -> Verdict:
    """New code for the function is deployed only when signed by an allowed signing profile (policy Enforce)."""
    o = subject.observed
    if o["package_type"] == "Image":
        return Verdict.not_applicable("container image function: Lambda code signing applies to .zip packages only")
    if o["code_signing_config_arn"] is None:
        return Verdict.failed("no code signing configuration: any code package can be deployed to the function")
    if o["untrusted_artifact_on_deployment"] != ENFORCE:
        return Verdict.failed(
            f"code signing policy is {o['untrusted_artifact_on_deployment']}: code signed by a profile that is not "
            "allowed, or whose signature expired or was revoked, is still deployed"
        )
    profiles = len(o["allowed_publishers"])
    return Verdict.passed(f"code signing enforced: new code must be signed by one of {profiles} allowed signing "
                          "profile version(s)")  # fmt: skip
