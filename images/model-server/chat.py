"""Chat messages -> prompt token ids, with the tokenizer's chat template or a plain fallback."""

from jinja2 import TemplateError

# For tokenizers without a chat template (base models, tiny test models): one "Role: text"
# line per message, then "Assistant:" for the model to continue.
FALLBACK_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


class ChatTemplateError(ValueError):
    """The messages cannot be rendered by the model's chat template (e.g. a role it refuses)."""


def chat_prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    own = tokenizer.chat_template is not None
    try:
        text = tokenizer.apply_chat_template(
            messages,
            chat_template=None if own else FALLBACK_TEMPLATE,
            add_generation_prompt=True,
            tokenize=False,
        )
    except TemplateError as e:
        raise ChatTemplateError(f"the model's chat template rejects these messages: {e}") from e
    # A model's own template writes its special tokens (BOS) itself; the fallback does not.
    return tokenizer(text, add_special_tokens=not own)["input_ids"]
