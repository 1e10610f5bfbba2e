"""Training chat templates: the family's own format, think block kept, assistant turns marked.

`{% generation %}` marks what the loss is computed on (TRL's assistant_only_loss); the turn's
end-of-sequence token sits inside it so the model learns to stop, the role cue outside it.
"""

from __future__ import annotations

# DeepSeek-R1-Distill (Qwen and Llama bases). The stock template keeps only what follows
# `</think>` in every assistant turn and opens the next answer with `<think>\n`. This one renders
# the earlier turns exactly as the stock one does (think blocks dropped, no loss on them) and the
# final answer as exported, reasoning included, inside the loss. So the text before the final
# answer is byte-identical to what the stock template renders with add_generation_prompt at
# inference, for multi-turn conversations too (tests/test_train_config.py checks it against
# the template DeepSeek ships).
DEEPSEEK_R1_DISTILL = (
    "{% if not add_generation_prompt is defined %}"
    "{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{ bos_token }}{{ ns.system_prompt }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}"
    "{%- elif message['role'] == 'assistant' and not loop.last %}"
    "{%- set content = message['content'] %}"
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1] %}{%- endif %}"
    "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}"
    "{%- elif message['role'] == 'assistant' %}{{ '<｜Assistant｜>' }}"
    "{%- generation %}{{ message['content'] + '<｜end▁of▁sentence｜>' }}{%- endgeneration %}"
    "{%- endif %}"
    "{%- endfor -%}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}"
)

# Gemma 2/3 turns (no think token): the `model` cue outside the loss, content and end of turn in.
GEMMA = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if message['role'] == 'assistant' -%}{{ '<start_of_turn>model\\n' }}"
    "{%- generation -%}{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}{%- endgeneration -%}"
    "{%- else -%}{{ '<start_of_turn>' + message['role'] + '\\n'"
    " + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)

TRAINING_TEMPLATES: dict[str, str] = {
    "deepseek-r1-distill": DEEPSEEK_R1_DISTILL,
    "gemma": GEMMA,
}


def training_template(base_family: str, current: str | None) -> str | None:
    """The template to train with: ours for a known family, the tokenizer's own if it already
    marks generations, else None (TRL then patches known templates itself or refuses)."""
    for family, template in TRAINING_TEMPLATES.items():
        if base_family == family or base_family.startswith(family + "-"):
            return template
    if current and "{% generation %}" in current.replace("{%- generation", "{% generation"):
        return current
    return None
