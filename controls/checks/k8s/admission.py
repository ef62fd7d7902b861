"""Kubernetes admission checks: a validating admission webhook (policy engine) is present and fails closed."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

KIND = "k8s.admission.webhook.configurations"


@check("k8s.admission.webhook.validation_enabled", reads=KIND)
def validation_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The cluster calls at least one validating admission webhook (a policy engine such as Gatekeeper or Kyverno)."""
    webhooks = subject.observed["validating_webhooks"]
    if webhooks:
        return Verdict.passed(f"validating webhooks: {', '.join(webhooks)}")
    return Verdict.failed("no validating admission webhook")


@check("k8s.admission.webhook.fail_closed", reads=KIND)
def fail_closed(subject: Subject, policy: Policy) -> Verdict:
    """Admission webhooks reject requests when unreachable (failurePolicy Fail), so policy cannot be bypassed."""
    o = subject.observed
    if not o["validating_webhooks"] and not o["mutating_webhooks"]:
        return Verdict.not_applicable("no admission webhook")
    if o["fail_open_webhooks"]:
        return Verdict.failed(f"fails open (failurePolicy Ignore): {', '.join(o['fail_open_webhooks'])}")
    return Verdict.passed("every webhook fails closed")
