"""What the operator (or the local backend) reports about a resource."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Condition types. A failure is always one of these with status "False", a reason and a message.
BUILT = "Built"  # the image was built (or did not need building)
UPLOADED = "Uploaded"  # the build context was uploaded and its checksum verified
COMPLETE = "Complete"  # Model, Dataset: the artifacts are written and complete
SERVING = "Serving"  # Server, Notebook: the workload answers


class Phase(StrEnum):
    """One word for where a resource stands, written by the reconcile flow; clients read it
    instead of working it out from the conditions."""

    PENDING = "Pending"  # waiting: for a dependency, an upload, a slot, a pod to start
    BUILDING = "Building"  # its image is being built
    RUNNING = "Running"  # its job runs (Model, Dataset)
    READY = "Ready"  # complete (Model, Dataset) or answering (Server, Notebook)
    FAILED = "Failed"  # final until the spec changes or it is run again
    SUSPENDED = "Suspended"  # a Notebook stopped on purpose
    STALLED = "Stalled"  # still waiting past the grace period for something that is missing


SETTLED_PHASES = frozenset({Phase.READY, Phase.FAILED, Phase.SUSPENDED})


class StatusPart(BaseModel):
    # Written by our own controllers: tolerate fields a newer version adds.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Condition(StatusPart):
    """The shape of metav1.Condition."""

    type: str = Field(min_length=1, max_length=316)
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime = Field(alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration", ge=0)


class BuildUpload(StatusPart):
    signed_url: str | None = Field(default=None, alias="signedURL")
    request_id: str | None = Field(default=None, alias="requestID")
    expiration: datetime | None = None
    stored_md5_checksum: str | None = Field(default=None, alias="storedMD5Checksum")


class Artifacts(StatusPart):
    url: str


class TrainerStatus(StatusPart):
    """A running fine-tune's progress, as Kubeflow Trainer's TrainJob status puts it."""

    current_step: int | None = Field(default=None, alias="currentStep", ge=0)
    total_steps: int | None = Field(default=None, alias="totalSteps", ge=0)
    current_epoch: float | None = Field(default=None, alias="currentEpoch", ge=0)
    loss: float | None = None
    progress_percentage: int | None = Field(default=None, alias="progressPercentage", ge=0, le=100)
    estimated_remaining_seconds: int | None = Field(default=None, alias="estimatedRemainingSeconds", ge=0)
    last_updated_time: datetime | None = Field(default=None, alias="lastUpdatedTime")


class Status(StatusPart):
    ready: bool = False
    phase: Phase | None = None
    image: str | None = Field(default=None, description="the image in use, built or given")
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    build_upload: BuildUpload | None = Field(default=None, alias="buildUpload")
    dependency_missing_since: datetime | None = Field(
        default=None,
        alias="dependencyMissingSince",
        description="while a Model or Dataset it needs does not exist: since when; Stalled after a grace period",
    )

    def condition(self, condition_type: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == condition_type), None)


class ArtifactStatus(Status):
    """Model, Dataset: where the output lives."""

    artifacts: Artifacts | None = None
    trainer_status: TrainerStatus | None = Field(default=None, alias="trainerStatus")


class ServingStatus(Status):
    """Server, Notebook: where to reach it."""

    url: str | None = None


class NotebookStatus(ServingStatus):
    """A Notebook: where to reach it, and its activity while suspendAfterIdle watches it."""

    last_activity: datetime | None = Field(
        default=None,
        alias="lastActivity",
        description="its Jupyter server's last activity, while it runs with suspendAfterIdle",
    )
    idle_suspended_at: datetime | None = Field(
        default=None,
        alias="idleSuspendedAt",
        description="when it was suspended for being idle (suspendAfterIdle); cleared when it resumes",
    )
