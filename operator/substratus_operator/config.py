"""The operator's configuration: the data of one ConfigMap, checked before anything runs."""

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

from jupyter_substratus.reconcile import DEFAULT_STALLED_AFTER

# The maintained fork of kaniko (Google's was archived in June 2025; see operator/README.md).
DEFAULT_KANIKO_IMAGE = "ghcr.io/osscontainertools/kaniko:v1.28.3"
PLATFORMS = ("gke", "generic")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    cluster_name: str
    registry: str
    platform: str  # gke: GCS FUSE CSI volumes and accelerator node selectors; generic: a PVC per namespace
    artifacts_url: str | None = None  # gs://bucket[/prefix], gke only
    artifacts_pvc_size: str = "100Gi"
    artifacts_pvc_storage_class: str | None = None
    upload_url: str | None = None  # gs://bucket[/prefix] for uploaded build contexts
    signing_key_file: str | None = None
    gcs_endpoint: str | None = None
    kaniko_image: str = DEFAULT_KANIKO_IMAGE
    workload_service_account: str | None = None
    upload_poll_seconds: float = 5.0
    # How long a resource waits for a dependency that does not exist before it shows Stalled.
    stalled_after_seconds: float = DEFAULT_STALLED_AFTER.total_seconds()

    @property
    def stalled_after(self) -> timedelta:
        return timedelta(seconds=self.stalled_after_seconds)

    @property
    def gke(self) -> bool:
        return self.platform == "gke"

    @property
    def artifacts_bucket_url(self) -> str:
        """ARTIFACTS_URL, which the gke platform requires."""
        if self.artifacts_url is None:
            raise ConfigError("ARTIFACTS_URL (gs://bucket) is required when PLATFORM is gke")
        return self.artifacts_url

    @classmethod
    def from_data(cls, data: dict[str, str]) -> "Config":
        """From a ConfigMap's data; raises ConfigError listing every missing or wrong key."""
        data = {k: v.strip() for k, v in (data or {}).items() if v and v.strip()}
        problems = [f"{key} is required" for key in ("CLUSTER_NAME", "REGISTRY", "PLATFORM") if key not in data]
        platform = data.get("PLATFORM", "")
        if platform and platform not in PLATFORMS:
            problems.append(f"PLATFORM must be one of {', '.join(PLATFORMS)}, got {platform!r}")
        if platform == "gke" and "ARTIFACTS_URL" not in data:
            problems.append("ARTIFACTS_URL (gs://bucket) is required when PLATFORM is gke")
        for key in ("ARTIFACTS_URL", "UPLOAD_URL"):
            if key in data and urlparse(data[key]).scheme != "gs":
                problems.append(f"{key} must be a gs:// URL, got {data[key]!r}")
        signing = "SIGNING_KEY_FILE" in data
        upload_url = data.get("UPLOAD_URL") or (data.get("ARTIFACTS_URL") if platform == "gke" and signing else None)
        if upload_url and not signing:
            problems.append(
                "SIGNING_KEY_FILE (a service-account key that signs upload URLs) is required "
                "when uploads go to a bucket"
            )
        numbers = {}
        for key, default in (
            ("UPLOAD_POLL_SECONDS", 5.0),
            ("STALLED_AFTER_SECONDS", DEFAULT_STALLED_AFTER.total_seconds()),
        ):
            try:
                numbers[key] = float(data.get(key, default))
            except ValueError:
                problems.append(f"{key} must be a number, got {data[key]!r}")
        if problems:
            raise ConfigError("incomplete operator configuration:\n  " + "\n  ".join(problems))
        return cls(
            cluster_name=data["CLUSTER_NAME"],
            registry=data["REGISTRY"].rstrip("/"),
            platform=platform,
            artifacts_url=data.get("ARTIFACTS_URL"),
            artifacts_pvc_size=data.get("ARTIFACTS_PVC_SIZE", "100Gi"),
            artifacts_pvc_storage_class=data.get("ARTIFACTS_PVC_STORAGE_CLASS"),
            upload_url=upload_url,
            signing_key_file=data.get("SIGNING_KEY_FILE"),
            gcs_endpoint=data.get("GCS_ENDPOINT"),
            kaniko_image=data.get("KANIKO_IMAGE", DEFAULT_KANIKO_IMAGE),
            workload_service_account=data.get("WORKLOAD_SERVICE_ACCOUNT"),
            upload_poll_seconds=numbers["UPLOAD_POLL_SECONDS"],
            stalled_after_seconds=numbers["STALLED_AFTER_SECONDS"],
        )
