"""AWS Config checks: each region records the configuration of every supported resource type.

Recording global resource types (IAM) is not judged per region: AWS advises recording them in one region only.
"""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

RECORDER = "aws.config.recorder.status"


@check("aws.config.recorder.recording_enabled", reads=RECORDER)
def recorder_recording_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The region has an AWS Config configuration recorder and it is recording."""
    o = subject.observed
    if not o["recorder_present"]:
        return Verdict.failed(f"no configuration recorder in {subject.region}")
    if not o["recording"]:
        return Verdict.failed("configuration recorder is stopped")
    return Verdict.passed("configuration recorder is recording")


@check("aws.config.recorder.all_resources_recorded", reads=RECORDER)
def recorder_all_resources_recorded(subject: Subject, policy: Policy) -> Verdict:
    """The region's configuration recorder records every supported resource type."""
    o = subject.observed
    if not o["recorder_present"]:
        return Verdict.not_applicable("no configuration recorder (judged by aws.config.recorder.recording_enabled)")
    if o["all_supported"]:
        return Verdict.passed("records all supported resource types")
    return Verdict.failed(f"records only selected resource types ({o['recording_strategy'] or 'no strategy given'})")
