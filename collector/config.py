"""`evidence-agent.yaml`: validated, with errors that name the file, the field and what was expected."""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connectors.aws import AwsTarget
from connectors.base import KindSpec, canonical_json, registered_kinds, sha256_hex
from controls.base import Policy
from controls.catalog import Catalog, CatalogError, load_catalog

DEFAULT_CONFIG = Path("evidence-agent.yaml")
DEFAULT_DATABASE_URL = "sqlite:///evidence.db"
DRIVERS = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgresql": "postgresql+psycopg",
           "postgresql+psycopg": "postgresql+psycopg"}  # fmt: skip
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class ConfigError(Exception):
    """Bad configuration: the CLI prints each line and exits 2, never with a traceback."""

    def __init__(self, lines: list[str] | str):
        self.lines = [lines] if isinstance(lines, str) else lines
        super().__init__("\n".join(self.lines))


class Environment(BaseSettings):
    """Settings read from the environment (they override the file)."""

    model_config = SettingsConfigDict(env_prefix="EVIDENCE_AGENT_", extra="ignore")
    config: Path | None = None
    database_url: str | None = None
    log_format: Literal["json", "console"] | None = None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_cron(expr: str) -> str:
    from collector.cron import cron_trigger

    try:
        cron_trigger(expr)
    except ValueError as exc:
        raise ValueError(f"not a 5-field cron expression ({exc})") from None
    return expr


# AWS tag limits: a key is 1-128 characters, a value up to 256 (blank ones, after stripping, are refused).
TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(min_length=1, max_length=256)]


class PolicyConfig(Strict):
    """Policy parameters the checks use (see controls.base.Policy for the defaults)."""

    allowed_regions: list[str] | None = None
    max_access_key_age_days: Annotated[int, Field(ge=1)] | None = None
    max_unused_credential_days: Annotated[int, Field(ge=1)] | None = None
    min_password_length: Annotated[int, Field(ge=6, le=128)] | None = None
    min_password_reuse_prevention: Annotated[int, Field(ge=0, le=24)] | None = None
    min_log_retention_days: Annotated[int, Field(ge=1)] | None = None
    min_backup_retention_days: Annotated[int, Field(ge=0)] | None = None
    max_key_rotation_days: Annotated[int, Field(ge=1)] | None = None
    required_pod_security_level: Literal["privileged", "baseline", "restricted"] | None = None
    admin_ports: list[Annotated[int, Field(ge=0, le=65535)]] | None = None
    allowed_member_domains: list[str] | None = None
    owner_tag_keys: Annotated[list[TagKey], Field(min_length=1)] | None = None
    classification_tag_keys: Annotated[list[TagKey], Field(min_length=1)] | None = None
    classification_levels: Annotated[list[TagValue], Field(min_length=1)] | None = None

    def overrides(self) -> dict[str, Any]:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in self.model_dump(exclude_none=True).items()}


class OrganizationConfig(Strict):
    """Collect every active account of the AWS Organization the target's credentials manage."""

    role_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$")]
    external_id: str | None = None


class KeepConfig(Strict):
    keep_days: Annotated[int, Field(ge=1)] | None = None
    keep_runs_min: Annotated[int, Field(ge=1)] = 10  # the newest N collection runs of a target keep its data


class TargetRetentionConfig(KeepConfig):
    """A target's own `retention:`: the fields it sets win over the global ones (`keep_days: null`: never pruned)."""

    # Present only to say why it is refused: a prune covers the whole store, so when it runs is global.
    auto: Any = Field(default=None, exclude=True)

    @field_validator("auto")
    @classmethod
    def _global_only(cls, value: Any) -> Any:
        raise ValueError("auto is global only: set it in the top-level retention:, every prune covers all targets")


class BaseTarget(Strict):
    """What every target has: a unique name, which kinds to collect, when, and its policy overrides."""

    kind_provider: ClassVar[str]  # the prefix of this provider's evidence kinds
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
    kinds: list[str] = Field(default_factory=list, description="glob patterns of kinds to collect; all if empty")
    exclude_kinds: list[str] = Field(default_factory=list, description="glob patterns of kinds not to collect")
    schedule: str = "0 * * * *"
    policy: PolicyConfig = Field(default_factory=PolicyConfig)  # overrides the global policy for this target
    # kind glob or provider -> duration; wins over the global `freshness:` (docs/store.md, Freshness)
    freshness: dict[str, str] = Field(default_factory=dict)
    retention: TargetRetentionConfig | None = None  # overrides the global `retention:` for this target's data

    @field_validator("kinds", "exclude_kinds")
    @classmethod
    def _kinds(cls, patterns: list[str]) -> list[str]:
        names = [k.name for k in registered_kinds(cls.kind_provider)]
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                raise ValueError(
                    f"{pattern!r} matches no {cls.kind_provider} evidence kind (see `evidence-agent kinds`)"
                )
        return patterns

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, expr: str) -> str:
        return _check_cron(expr)

    @field_validator("freshness")
    @classmethod
    def _freshness(cls, limits: dict[str, str]) -> dict[str, str]:
        return check_freshness(limits)

    def schedule_interval(self) -> dt.timedelta:
        """The longest time between two runs this cron schedule makes (over a sample of its next fires)."""
        return cron_interval(self.schedule)

    def wants(self, spec: KindSpec) -> bool:
        """Whether this target collects the kind: it matches `kinds` (or all) and no `exclude_kinds`."""
        return spec.matches(self.kinds) and not (self.exclude_kinds and spec.matches(self.exclude_kinds))


class AwsTargetConfig(BaseTarget):
    kind_provider: ClassVar[str] = "aws"
    provider: Literal["aws"]
    regions: Annotated[list[str], Field(min_length=1)] | Literal["all-enabled"] = ["us-east-1"]
    endpoint_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")] | None = None
    assume_role_arn: str | None = None
    external_id: str | None = None
    profile: str | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    organization: OrganizationConfig | None = None
    concurrency: Annotated[int, Field(ge=1, le=256, description="API calls in flight for this target")] = 16
    service_concurrency: dict[str, Annotated[int, Field(ge=1, le=256)]] = Field(
        default_factory=lambda: {"iam": 4, "organizations": 2}
    )

    @field_validator("regions")
    @classmethod
    def _regions(cls, regions: list[str] | str) -> list[str] | str:
        if isinstance(regions, str):
            return regions
        for region in regions:
            if not AWS_REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name such as 'eu-west-1'")
        if len(set(regions)) != len(regions):
            raise ValueError("a region is listed twice")
        return regions

    @field_validator("assume_role_arn")
    @classmethod
    def _role(cls, arn: str | None) -> str | None:
        if arn is not None and not ROLE_ARN.match(arn):
            raise ValueError("expected an IAM role ARN such as 'arn:aws:iam::123456789012:role/EvidenceReader'")
        return arn

    def connector_target(self) -> AwsTarget:
        return AwsTarget(
            name=self.name,
            regions=None if self.regions == "all-enabled" else tuple(self.regions),
            endpoint_url=self.endpoint_url,
            assume_role_arn=self.assume_role_arn,
            external_id=self.external_id,
            profile=self.profile,
            max_attempts=self.max_attempts,
            concurrency=self.concurrency,
            service_concurrency=tuple(sorted(self.service_concurrency.items())),
        )

    def open(self) -> Any:
        """The connector's context for one run of this target (clients; not yet any API call)."""
        from connectors import aws

        org = self.organization
        return aws.open_target(
            self.connector_target(), org.role_name if org else None, org.external_id if org else None
        )


class KubernetesTargetConfig(BaseTarget):
    """A cluster: through a kubeconfig (file and context), or in-cluster with the pod's service account."""

    kind_provider: ClassVar[str] = "k8s"
    provider: Literal["kubernetes"]
    kubeconfig: Path | None = None  # default: $KUBECONFIG or ~/.kube/config
    context: str | None = None
    in_cluster: bool = False
    cluster: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")] | None = None  # default: name
    chunk_size: Annotated[int, Field(ge=10, le=5000)] = 500

    @model_validator(mode="after")
    def _one_way_in(self) -> KubernetesTargetConfig:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster: true uses the pod's service account; remove kubeconfig/context")
        return self

    def connector_target(self) -> Any:
        from connectors.kubernetes import KubernetesTarget

        return KubernetesTarget(name=self.name, cluster=self.cluster or self.name,
                                kubeconfig=str(self.kubeconfig) if self.kubeconfig else None, context=self.context,
                                in_cluster=self.in_cluster, chunk_size=self.chunk_size)  # fmt: skip

    def open(self) -> Any:
        from connectors import kubernetes

        return kubernetes.open_target(self.connector_target())


class GcpTargetConfig(BaseTarget):
    """Projects by id, or every active project of an organization (with its org-level settings)."""

    kind_provider: ClassVar[str] = "gcp"
    provider: Literal["gcp"]
    organization_id: Annotated[str, Field(pattern=r"^\d{1,20}$")] | None = None
    projects: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]] = Field(default_factory=list)
    endpoint: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")] | None = None  # tests, private endpoints

    @model_validator(mode="after")
    def _something_to_read(self) -> GcpTargetConfig:
        if not self.organization_id and not self.projects:
            raise ValueError("give organization_id, projects, or both")
        return self

    def connector_target(self) -> Any:
        from connectors.gcp import GcpTarget

        return GcpTarget(name=self.name, organization_id=self.organization_id, projects=tuple(self.projects),
                         endpoint=self.endpoint)  # fmt: skip

    def open(self) -> Any:
        from connectors import gcp

        return gcp.open_target(self.connector_target())


EVENT_TYPES = ("regressed", "new_failure", "remediated", "removed", "collection_gap", "gap_resolved")
SEVERITIES = ("low", "medium", "high")
SINK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DURATION = re.compile(r"^(\d+)([mhd])$")
INLINE_SECRET = "never inline in the config: name an environment variable ({0}_env) or a file ({0}_file)"
# What each sink type reads: its URL (or PagerDuty routing key) and, for webhooks, the HMAC key.
SINK_SECRETS = {"webhook": ("url", "secret"), "slack": ("url",), "pagerduty": ("routing_key", "url"), "file": ()}
OPTIONAL_SECRETS = {("webhook", "secret"), ("pagerduty", "url")}  # unsigned webhooks; PagerDuty's default URL


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30m, 12h or 7d")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return dt.timedelta(**{unit: int(match.group(1))})


def cron_interval(expr: str) -> dt.timedelta:
    from collector.cron import cron_trigger

    trigger = cron_trigger(expr)  # crontab meaning (weekdays from Sunday), as the scheduler runs it
    moment = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday: the sample is the same on every machine
    fires = []
    for _ in range(16):
        moment = trigger.get_next_fire_time(None, moment + dt.timedelta(seconds=1) if fires else moment)
        fires.append(moment)
    return max(b - a for a, b in itertools.pairwise(fires))


def check_freshness(limits: dict[str, str]) -> dict[str, str]:
    for pattern, text in limits.items():
        if not (pattern in PROVIDER_NAMES or pattern in ("k8s",) or any(
                fnmatch.fnmatchcase(k.name, pattern) for k in registered_kinds())):  # fmt: skip
            raise ValueError(f"{pattern!r} is neither a provider nor a pattern matching an evidence kind")
        parse_duration(text)
    return limits


def freshness_limit(kind: str, *maps: dict[str, str]) -> dt.timedelta | None:
    """The first map with a matching key decides: an exact kind, then the longest matching glob, then the
    provider (`aws`, `gcp`, `kubernetes`/`k8s`). None when no map names the kind."""
    provider = kind.split(".", 1)[0]
    for limits in maps:
        if kind in limits:
            return parse_duration(limits[kind])
        globs = sorted((p for p in limits if any(c in p for c in "*?[") and fnmatch.fnmatchcase(kind, p)), key=len)
        if globs:
            return parse_duration(limits[globs[-1]])
        for name in (provider, "kubernetes" if provider == "k8s" else provider):
            if name in limits:
                return parse_duration(limits[name])
    return None


class RetentionConfig(KeepConfig):
    """What `prune` keeps (docs/store.md, Retention). Without keep_days nothing is ever pruned."""

    auto: bool = False  # prune after every collect (under the same lock)


class SinkFilter(Strict):
    """Which events a sink gets; an empty list means all."""

    types: list[Literal[EVENT_TYPES]] = Field(default_factory=list)  # type: ignore[valid-type]
    frameworks: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    min_severity: Literal[SEVERITIES] = "low"  # type: ignore[valid-type]


class SinkConfig(Strict):
    """One alert destination. Its URL and keys come from the environment or files, never the config."""

    name: str
    type: Literal["webhook", "slack", "pagerduty", "file"]
    url_env: str | None = None
    url_file: Path | None = None
    secret_env: str | None = None
    secret_file: Path | None = None
    routing_key_env: str | None = None
    routing_key_file: Path | None = None
    path: Path | None = None  # `file` sinks: where the webhook payloads are appended, one JSON line each
    filters: SinkFilter = Field(default_factory=SinkFilter)
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    # Present only to say why they are refused: a secret in the config would end up in backups and diffs.
    url: Any = Field(default=None, exclude=True)
    secret: Any = Field(default=None, exclude=True)
    routing_key: Any = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not SINK_NAME.match(name):
            raise ValueError("use lower-case letters, digits, '-' and '_' (at most 64)")
        return name

    @field_validator("url", "secret", "routing_key")
    @classmethod
    def _not_inline(cls, value: Any, info: Any) -> Any:
        if value is not None:
            raise ValueError(INLINE_SECRET.format(info.field_name))
        return value

    @model_validator(mode="after")
    def _sources(self) -> SinkConfig:
        needs = SINK_SECRETS[self.type]
        for secret in ("url", "secret", "routing_key"):
            given = [f"{secret}{s}" for s in ("_env", "_file") if getattr(self, f"{secret}{s}") is not None]
            if secret not in needs and given:
                raise ValueError(f"{given[0]} does not apply to a {self.type} sink")
            if secret in needs and len(given) > 1:
                raise ValueError(f"give either {secret}_env or {secret}_file, not both")
            if secret in needs and not given and (self.type, secret) not in OPTIONAL_SECRETS:
                raise ValueError(f"a {self.type} sink needs {secret}_env or {secret}_file")
        if self.type == "file" and self.path is None:
            raise ValueError("a file sink needs path")
        if self.type != "file" and self.path is not None:
            raise ValueError(f"path does not apply to a {self.type} sink")
        return self


class AlertsConfig(Strict):
    """Drift alerting (docs/alerts.md). The structured log always gets every run's digest."""

    # A failure is alerted once it has held for this many consecutive collections of its unit.
    confirm_runs: Annotated[int, Field(ge=1, le=100)] = 1
    # Undelivered events are retried on every run until delivered or older than this.
    max_age: str = "7d"
    # Attempts after the first within one run, waiting backoff_seconds, then twice that, ...
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_seconds: Annotated[float, Field(ge=0, le=300)] = 2.0
    sinks: list[SinkConfig] = Field(default_factory=list)

    @field_validator("max_age")
    @classmethod
    def _max_age(cls, text: str) -> str:
        parse_duration(text)
        return text

    @property
    def max_age_delta(self) -> dt.timedelta:
        return parse_duration(self.max_age)

    @model_validator(mode="after")
    def _unique_sinks(self) -> AlertsConfig:
        names = [s.name for s in self.sinks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"duplicate sink name {name!r}: sink names must be unique")
        return self


TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._-]{0,63}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class AuditWindow(Strict):
    """The days an auditor may see, both included (UTC)."""

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> AuditWindow:
        if self.start > self.end:
            raise ValueError(f"from {self.start} is after to {self.end}")
        return self


class PortalToken(Strict):
    """One portal access token, by the SHA-256 of the token (never the token itself), with its role."""

    name: str
    sha256: str
    role: Literal["auditor", "engineer"]
    frameworks: list[str] = Field(default_factory=list)  # auditor: what they may see
    window: AuditWindow | None = None  # auditor: the audit window
    # Present only to say why it is refused: a token in the config would end up in backups and diffs.
    token: Any = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not TOKEN_NAME.match(name):
            raise ValueError("use letters, digits, '@', '.', '_' and '-' (at most 64)")
        return name

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if not SHA256_HEX.match(value.lower()):
            raise ValueError("expected the token's SHA-256 as 64 hex digits (`evidence-agent portal token`)")
        return value.lower()

    @field_validator("token")
    @classmethod
    def _not_inline(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("never put a token in the config: give its sha256 (`evidence-agent portal token`)")
        return value

    @model_validator(mode="after")
    def _scope(self) -> PortalToken:
        if self.role == "auditor" and (not self.frameworks or self.window is None):
            raise ValueError("an auditor token needs `frameworks` and `window` (its audit scope)")
        if self.role == "engineer" and (self.frameworks or self.window is not None):
            raise ValueError("an engineer token is unscoped: drop `frameworks` and `window`")
        return self


class PortalTokens(Strict):
    """The portal's tokens file (mounted from a Secret): `tokens: [...]`."""

    tokens: list[PortalToken] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> PortalTokens:
        for field_name in ("name", "sha256"):
            seen: set[str] = set()
            for token in self.tokens:
                value = getattr(token, field_name)
                if value in seen:
                    raise ValueError(f"two tokens have the same {field_name} {value[:16]!r}")
                seen.add(value)
        return self


class PortalConfig(Strict):
    """`evidence-agent serve` (docs/portal.md): who may read, and how downloads are signed."""

    tokens_file: Path | None = None  # YAML `tokens: [...]`, e.g. mounted from a Secret
    tokens: list[PortalToken] = Field(default_factory=list)  # hashes only; merged with tokens_file
    session_hours: Annotated[int, Field(ge=1, le=24 * 7)] = 8  # how long a sign-in cookie lasts
    sign_key_file: Path | None = None  # Ed25519 private key (PEM) that signs downloaded bundles


TargetConfig = Annotated[AwsTargetConfig | KubernetesTargetConfig | GcpTargetConfig, Field(discriminator="provider")]
PROVIDER_NAMES = ("aws", "gcp", "kubernetes")


class Config(Strict):
    database_url: str = DEFAULT_DATABASE_URL
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    mapping_files: list[Path] = Field(default_factory=list, description="extra check -> control mapping files")
    # Units collected at once. API calls in flight are bounded per target (`targets[].concurrency`),
    # so this only needs to be large enough that small units never hold up large ones.
    concurrency: Annotated[int, Field(ge=1, le=256)] = 32
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    portal: PortalConfig = Field(default_factory=PortalConfig)
    # kind glob or provider -> duration (30m, 12h, 7d); default twice the target's schedule interval
    freshness: dict[str, str] = Field(default_factory=dict)
    targets: Annotated[list[TargetConfig], Field(min_length=1)]

    @field_validator("freshness")
    @classmethod
    def _freshness(cls, limits: dict[str, str]) -> dict[str, str]:
        return check_freshness(limits)

    def freshness_for(self, target: TargetConfig, kind: str) -> dt.timedelta:
        """How long a successful collection of `kind` on `target` counts as current."""
        limit = freshness_limit(kind, target.freshness, self.freshness)
        return limit if limit is not None else 2 * target.schedule_interval()

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, url: str) -> str:
        return normalize_database_url(url)

    @model_validator(mode="after")
    def _unique_targets(self) -> Config:
        seen: set[str] = set()
        for target in self.targets:
            if target.name in seen:
                raise ValueError(f"duplicate target name {target.name!r}: target names must be unique")
            seen.add(target.name)
        return self

    def digest(self) -> str:
        """Digest of what was asked for, stored on each run; not the database URL (it may hold a password),
        nor who may read the portal (it asks nothing of a collection)."""
        return sha256_hex(canonical_json(self.model_dump(mode="json", exclude={"database_url", "portal"})))

    def policy_for(self, target: TargetConfig) -> Policy:
        """Defaults, then the global `policy:`, then the target's own `policy:`."""
        return Policy(**(self.policy.overrides() | target.policy.overrides()))

    def retention_for(self, target: TargetConfig) -> RetentionConfig:
        """The global `retention:`, with the fields the target's own `retention:` sets."""
        own = target.retention
        if own is None:
            return self.retention
        return self.retention.model_copy(update={name: getattr(own, name) for name in own.model_fields_set})

    def retention_overrides(self) -> dict[str, RetentionConfig]:
        """The effective retention of each target that has its own `retention:`."""
        return {t.name: self.retention_for(t) for t in self.targets if t.retention is not None}

    def catalog(self) -> Catalog:
        try:
            return load_catalog(self.mapping_files)
        except CatalogError as exc:
            raise ConfigError(f"mapping_files: {exc}") from None

    def target(self, name: str) -> TargetConfig:
        for target in self.targets:
            if target.name == name:
                return target
        raise ConfigError(f"no target named {name!r} (configured: {', '.join(t.name for t in self.targets)})")


def normalize_database_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a database URL; expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB") from None
    if parsed.drivername not in DRIVERS:
        raise ValueError(f"unsupported database {parsed.drivername!r}; expected sqlite or postgresql+psycopg")
    if DRIVERS[parsed.drivername] == "sqlite" and not parsed.database:
        raise ValueError("an SQLite URL needs a file path: sqlite:///evidence.db")
    return parsed.set(drivername=DRIVERS[parsed.drivername]).render_as_string(hide_password=False)


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    # pydantic names the union member in the path (targets.0.aws.regions): the user never wrote that
    loc = tuple(p for i, p in enumerate(loc) if not (i and isinstance(loc[i - 1], int) and p in PROVIDER_TAGS))
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


PROVIDER_TAGS = ("aws", "kubernetes", "gcp", "function-after[_one_way_in()]")


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "union_tag_invalid":
        return f"unknown provider {err['ctx']['tag']!r}; expected one of {', '.join(PROVIDER_NAMES)}"
    if kind == "union_tag_not_found":
        return f"provider is missing; expected one of {', '.join(PROVIDER_NAMES)}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def format_validation_error(origin: str, exc: ValidationError) -> list[str]:
    lines = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "provider")
        lines.append(f"{origin}: {_field_path(loc)}: {_message(e)}")
    return lines


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read config file: {reason}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}")
    return data


def config_path(explicit: Path | None = None) -> tuple[Path, bool]:
    """The config file to read and whether the user named it (a named file must exist)."""
    if explicit is not None:
        return explicit, True
    env = Environment()
    if env.config is not None:
        return env.config, True
    return DEFAULT_CONFIG, False


def load_config(explicit: Path | None = None) -> Config:
    path, _ = config_path(explicit)
    data = read_yaml(path)
    env = Environment()
    if env.database_url:
        data["database_url"] = env.database_url
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        origin = str(path)
        lines = format_validation_error(origin, exc)
        if env.database_url:
            lines = [ln.replace(f"{origin}: database_url:", "EVIDENCE_AGENT_DATABASE_URL:") for ln in lines]
        raise ConfigError(lines) from None


def database_url(explicit_config: Path | None = None) -> str:
    """The database URL for read-only commands, which also work without a config file."""
    env = Environment()
    if env.database_url:
        try:
            return normalize_database_url(env.database_url)
        except ValueError as exc:
            raise ConfigError(f"EVIDENCE_AGENT_DATABASE_URL: {exc}") from None
    path, named = config_path(explicit_config)
    if not named and not path.exists():
        return DEFAULT_DATABASE_URL
    return load_config(explicit_config).database_url
