"""The params the built-in trainer (images/model-trainer-huggingface/train.py) knows, typed.

One table: GET /substratus/api/v1 serves it (`trainerParams`, the fine-tune form's typed fields)
and a fine-tune Model's spec.params are checked against it when the spec is parsed, so a wrong
value is a 400 or an InvalidSpec condition instead of a trainer Job that fails minutes later.
The trainer's own params come first, then the transformers TrainingArguments fields most runs
set (the trainer passes any other TrainingArguments field through; those are not checked here).
tests/api/test_trainer_params.py keeps this table true to train.py.
"""

import math
import reprlib
from dataclasses import asdict, dataclass
from typing import Any, Literal

ParamType = Literal["integer", "number", "boolean", "string"]


@dataclass(frozen=True)
class TrainerParam:
    name: str
    type: ParamType
    description: str
    default: int | float | bool | str | None = None  # None: unset (the trainer decides)
    minimum: float | None = None
    maximum: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def problem(self, value: Any) -> str | None:
        """Why `value` is not a valid value of this param (as the trainer reads it), or None."""
        number = _as_number(value, self.type)
        if number is _INVALID:
            return f"must be {_TYPE_NAMES[self.type]}, not {reprlib.repr(value)}"
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            if self.minimum is not None and number < self.minimum:
                return f"must be at least {_plain(self.minimum)}, not {reprlib.repr(value)}"
            if self.maximum is not None and number > self.maximum:
                return f"must be at most {_plain(self.maximum)}, not {reprlib.repr(value)}"
        return None


_TYPE_NAMES = {"integer": "an integer", "number": "a finite number", "boolean": "true or false", "string": "a string"}
_INVALID = object()
_BOOLEAN_WORDS = ("true", "1", "yes", "false", "0", "no")


def _as_number(value: Any, kind: ParamType) -> Any:
    """The value as the trainer's contract.param reads it (numbers from strings too), or _INVALID.
    An integer from a string is what int() takes ("12.0" and "1e3" are not); a number must be
    finite (NaN or infinity would train nonsense, or for ever)."""
    if kind == "string":
        return value
    if kind == "boolean":
        ok = isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS)
        return value if ok else _INVALID
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return _INVALID
    try:
        number = int(value) if kind == "integer" and not isinstance(value, float) else float(value)
    except (ValueError, OverflowError):
        return _INVALID
    if isinstance(number, float) and (not math.isfinite(number) or (kind == "integer" and not number.is_integer())):
        return _INVALID
    return number


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


TRAINER_PARAMS: tuple[TrainerParam, ...] = (
    # The trainer's own (train.py TRAINER_PARAMS).
    TrainerParam("lora_r", "integer", "LoRA rank: set it to train a LoRA adapter instead of all weights", minimum=1),
    TrainerParam("lora_alpha", "number", "LoRA scaling (default: twice lora_r)", minimum=0),
    TrainerParam("lora_dropout", "number", "dropout on the LoRA layers", default=0.05, minimum=0, maximum=1),
    TrainerParam(
        "lora_target_modules", "string", "modules the adapter wraps, comma-separated (default: all linear layers)"
    ),
    TrainerParam("lora_modules_to_save", "string", "modules trained in full beside the adapter, e.g. lm_head"),
    TrainerParam("merge_adapter", "boolean", "merge the adapter into the weights; false keeps it apart", default=True),
    TrainerParam(
        "load_in_4bit", "boolean", "QLoRA: load the base model in 4 bits (CUDA GPU, with lora_r)", default=False
    ),
    TrainerParam("max_length", "integer", "tokens per example; longer ones are cut", default=512, minimum=1),
    # transformers TrainingArguments fields, with train.py's defaults where it sets its own.
    TrainerParam("num_train_epochs", "number", "passes over the dataset", default=3.0, minimum=0),
    TrainerParam(
        "max_steps", "integer", "training steps; a positive value overrides num_train_epochs", default=-1, minimum=-1
    ),
    TrainerParam("learning_rate", "number", "the optimizer's initial learning rate", default=5e-05, minimum=0),
    TrainerParam("per_device_train_batch_size", "integer", "examples per step on each device", default=8, minimum=1),
    TrainerParam(
        "gradient_accumulation_steps", "integer", "steps whose gradients add up before an update", default=1, minimum=1
    ),
    TrainerParam(
        "warmup_steps", "number", "steps of linear warmup (a value below 1: a share of the steps)", default=0, minimum=0
    ),
    TrainerParam("weight_decay", "number", "the optimizer's weight decay", default=0.0, minimum=0),
    TrainerParam(
        "lr_scheduler_type", "string", "the learning rate schedule: linear, cosine, constant, ...", default="linear"
    ),
    TrainerParam(
        "logging_steps",
        "number",
        "a progress line every N steps (a value below 1: a share of the steps)",
        default=0.01,
        minimum=0,
    ),
    TrainerParam("seed", "integer", "the random seed of the run", default=42, minimum=0),
    TrainerParam("bf16", "boolean", "bfloat16 mixed precision (a GPU that has it)", default=False),
    TrainerParam("fp16", "boolean", "float16 mixed precision (a GPU)", default=False),
)

TRAINER_PARAMS_BY_NAME: dict[str, TrainerParam] = {param.name: param for param in TRAINER_PARAMS}


def trainer_param_problems(params: dict[str, Any]) -> dict[str, str]:
    """{key: what is wrong} for each param the table knows whose value the trainer would refuse."""
    problems = {}
    for key, value in params.items():
        param = TRAINER_PARAMS_BY_NAME.get(key)
        problem = param.problem(value) if param else None
        if problem:
            problems[key] = problem
    return problems
