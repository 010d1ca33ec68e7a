"""Traffic profiles: requests/s over time at a fixed step, from files, logs, CloudWatch or generators.

Public API (the CloudWatch importer lives in ``advisor.traffic.cloudwatch`` and is not imported here, so
that importing this package never loads boto3)::

    from advisor.traffic import TrafficProfile, resolve_profile, ops
    profile = resolve_profile("diurnal-business-api", settings)
    month = ops.repeat_to(ops.rescale_to_peak(profile, 250.0), "month")
"""

from __future__ import annotations

from advisor.traffic import ops
from advisor.traffic.csvfile import FillPolicy, read_profile_csv, write_profile_csv
from advisor.traffic.generators import GENERATORS, ProfileSpec, generate, generate_file, load_spec
from advisor.traffic.library import ProfileEntry, list_profiles, load_profile_file, resolve_profile
from advisor.traffic.profile import DEFAULT_STEP_S, HOURS_PER_MONTH, ProfileSummary, TrafficProfile
from advisor.traffic.requestlog import read_request_log

__all__ = [
    "DEFAULT_STEP_S",
    "GENERATORS",
    "HOURS_PER_MONTH",
    "FillPolicy",
    "ProfileEntry",
    "ProfileSpec",
    "ProfileSummary",
    "TrafficProfile",
    "generate",
    "generate_file",
    "list_profiles",
    "load_profile_file",
    "load_spec",
    "ops",
    "read_profile_csv",
    "read_request_log",
    "resolve_profile",
    "write_profile_csv",
]
