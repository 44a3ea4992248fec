"""Training examples from $CONTENT_DIR/data: prompt/completion, instruction/input/output or chat
`messages` JSONL (also CSV or Parquet with those columns, or a `text` column), and .txt plain text."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from substratus_contract import COMPLETION_MARKER, MANIFEST, PROGRESS, ContractError

SKIP = {COMPLETION_MARKER, MANIFEST, PROGRESS}


def instruction_prompt(instruction: str, context: str) -> str:
    if context:
        return f"### Instruction:\n{instruction}\n\n### Input:\n{context}\n\n### Response:\n"
    return f"### Instruction:\n{instruction}\n\n### Response:\n"


@dataclass(frozen=True)
class Chat:
    """A conversation, rendered with the tokenizer's chat template; the loss is taken on its last
    message, the assistant's answer."""

    messages: tuple[dict[str, str], ...]
    where: str


def _chat(messages: Any, where: str) -> Chat:
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages)
    ):
        raise ContractError(f"{where}: messages must be a non-empty list of {{role, content}} objects")
    if messages[-1]["role"] != "assistant":
        raise ContractError(f"{where}: the last message must be the assistant's (the answer to learn)")
    return Chat(tuple({"role": str(m["role"]), "content": str(m["content"])} for m in messages), where)


def render_chat(chat: Chat, tokenizer) -> tuple[str, str]:
    """(prompt, completion) text: the conversation up to the answer, and the answer as the template
    writes it (with its end-of-turn tokens)."""
    if not tokenizer.chat_template:
        raise ContractError(f"{chat.where}: chat messages need a tokenizer with a chat template; this model has none")
    try:
        full = tokenizer.apply_chat_template(list(chat.messages), tokenize=False)
        prompt = tokenizer.apply_chat_template(list(chat.messages[:-1]), tokenize=False, add_generation_prompt=True)
    except Exception as error:  # jinja2 raises its own errors from the model's template
        raise ContractError(f"{chat.where}: the chat template failed: {error}") from None
    cut = len(os.path.commonprefix([full, prompt]))
    return full[:cut], full[cut:]


def _example(record: Any, where: str) -> tuple[str, str] | Chat:
    """(prompt, completion): the loss is taken on the completion only; plain text has no prompt."""
    if not isinstance(record, dict):
        raise ContractError(f"{where}: a JSON object is expected")
    if "messages" in record:
        return _chat(record["messages"], where)
    if "prompt" in record and "completion" in record:
        return str(record["prompt"]), str(record["completion"])
    if "instruction" in record and "output" in record:
        return instruction_prompt(str(record["instruction"]), str(record.get("input") or "")), str(record["output"])
    if "text" in record:
        return "", str(record["text"])
    raise ContractError(
        f"{where}: expected prompt/completion, instruction/input/output, messages or text fields, "
        f"found {sorted(record)[:6]}"
    )


def read_examples(folder: Path) -> tuple[list[tuple[str, str] | Chat], list[str], list[str]]:
    """(examples, plain texts, file names) from every data file in folder."""
    examples: list[tuple[str, str] | Chat] = []
    texts: list[str] = []
    names: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if path.name in SKIP or any(part.startswith(".") for part in relative.parts):
            continue
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson", ".json"):
            lines = path.read_text(encoding="utf-8").splitlines()
            if suffix == ".json" and lines and lines[0].lstrip().startswith("["):
                records = json.loads(path.read_text(encoding="utf-8"))
                examples += [_example(r, f"{relative} item {i}") for i, r in enumerate(records, 1)]
            else:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise ContractError(f"{relative} line {number}: not valid JSON ({error.msg})") from None
                    examples.append(_example(record, f"{relative} line {number}"))
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as stream:
                rows = csv.DictReader(stream)
                examples += [_example(row, f"{relative} line {i + 1}") for i, row in enumerate(rows, 1)]
        elif suffix == ".parquet":
            import pyarrow.parquet as parquet

            rows = parquet.read_table(path).to_pylist()
            examples += [_example(row, f"{relative} row {i}") for i, row in enumerate(rows, 1)]
        elif suffix in (".txt", ".md"):
            texts.append(path.read_text(encoding="utf-8"))
        else:
            continue
        names.append(str(relative))
    if not examples and not any(t.strip() for t in texts):
        raise ContractError(f"no training data in {folder}: expected .jsonl, .json, .csv, .parquet or .txt files")
    return examples, texts, names


def tokenize(examples: list[tuple[str, str] | Chat], texts: list[str], tokenizer, max_length: int) -> list[dict]:
    """Token ids and labels (-100 on the prompt) per example; plain text cut into max_length blocks.
    A chat is rendered by the template, which writes its own special tokens."""
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    items = []
    for example in examples:
        chat = isinstance(example, Chat)
        prompt, completion = render_chat(example, tokenizer) if chat else example
        special = {"add_special_tokens": not chat}
        prompt_ids = tokenizer(prompt, **special)["input_ids"] if prompt else []
        ids = tokenizer(prompt + completion, **special)["input_ids"] + ([] if chat else eos)
        ids = ids[:max_length]
        cut = min(len(prompt_ids), len(ids))
        labels = [-100] * cut + ids[cut:]
        if all(label == -100 for label in labels):
            continue
        items.append({"input_ids": ids, "labels": labels})
    for text in texts:
        ids = tokenizer(text)["input_ids"] + eos
        for start in range(0, len(ids), max_length):
            block = ids[start : start + max_length]
            if len(block) > 1:
                items.append({"input_ids": block, "labels": list(block)})
    if not items:
        raise ContractError(f"no example fits max_length={max_length} tokens with a completion left to learn")
    return items


class Collator:
    """Right-pads a batch: input_ids with the pad token, labels with -100."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, batch):
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        ids = [item["input_ids"] + [self.pad] * (width - len(item["input_ids"])) for item in batch]
        labels = [item["labels"] + [-100] * (width - len(item["labels"])) for item in batch]
        mask = [[1] * len(item["input_ids"]) + [0] * (width - len(item["input_ids"])) for item in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}
