"""Model families: which lab a model (or a judge) comes from.

A judge may favour answers of its own family (self-preference). :func:`model_family`
names the family of a model from its name with a few default rules for common
names; a user mapping (``families={"my-model": "acme"}``) is consulted first, and a
name no rule knows is its own family (``"unknown"`` is never guessed).

Examples
--------
>>> model_family("gpt-4-0613")
'openai'
>>> model_family("claude-3-opus-20240229")
'anthropic'
>>> model_family("my-model", families={"my-model": "acme"})
'acme'
>>> model_family("some-new-model")
'some-new-model'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from debias.errors import ParameterError

__all__ = ["DEFAULT_FAMILY_RULES", "model_families", "model_family", "same_family"]

#: Default rules, tried in order: a regular expression matched at the start of the
#: lower-cased name (after any ``org/`` prefix) and the family it names.
DEFAULT_FAMILY_RULES: tuple[tuple[str, str], ...] = (
    (r"^gpt4all", "nomic"),
    (r"^(gpt|chatgpt|text-davinci|davinci|o1\b|o3\b|o4\b)", "openai"),
    (r"^claude", "anthropic"),
    (r"^(gemini|gemma|palm|bard|chat-bison|text-bison)", "google"),
    (r"^(llama|meta-llama|codellama)", "meta"),
    (r"^(mistral|mixtral|codestral|ministral)", "mistral"),
    (r"^(vicuna|fastchat)", "lmsys"),
    (r"^qwen", "alibaba"),
    (r"^deepseek", "deepseek"),
    (r"^yi\b", "01-ai"),
    (r"^(command|cohere|c4ai)", "cohere"),
    (r"^phi\b|^phi-?\d", "microsoft"),
    (r"^alpaca", "stanford"),
    (r"^koala", "berkeley"),
    (r"^falcon", "tii"),
    (r"^(chatglm|glm-)", "zhipu"),
    (r"^dolly", "databricks"),
    (r"^mpt-", "mosaicml"),
    (r"^stablelm", "stability"),
    (r"^(wizardlm|wizardcoder)", "wizardlm"),
    (r"^tulu", "allenai"),
    (r"^starling", "nexusflow"),
    (r"^openchat", "openchat"),
    (r"^zephyr", "huggingface"),
    (r"^guanaco", "uw"),
    (r"^(oasst|openassistant)", "laion"),
    (r"^rwkv", "rwkv"),
    (r"^nous", "nous"),
    (r"^h2ogpt", "h2o"),
)
_COMPILED = tuple((re.compile(p), f) for p, f in DEFAULT_FAMILY_RULES)


def _check_mapping(families) -> Mapping[str, str]:
    if families is None:
        return {}
    if not isinstance(families, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in families.items()
    ):
        raise ParameterError(
            "The 'families' parameter must map model names to family names, e.g. "
            f"families={{'my-model': 'acme'}}. Got {families!r}."
        )
    return families


def model_family(name: str, families: Mapping[str, str] | None = None) -> str:
    """The family of one model or judge.

    Parameters
    ----------
    name : str
        A model or judge name (an ``org/`` prefix such as ``mistralai/`` is ignored by
        the default rules).
    families : mapping, optional
        User mapping name -> family, consulted first (exact name).

    Returns
    -------
    str
        The family; a name no rule knows is its own family.

    Examples
    --------
    >>> [model_family(m) for m in ["gpt-3.5-turbo", "mistralai/Mixtral-8x7B", "vicuna-13b"]]
    ['openai', 'mistral', 'lmsys']
    """
    mapping = _check_mapping(families)
    if not isinstance(name, str) or not name:
        raise ParameterError(f"A model name must be a non-empty str. Got {name!r}.")
    if name in mapping:
        return mapping[name]
    short = name.lower().rsplit("/", 1)[-1]
    for pattern, family in _COMPILED:
        if pattern.search(short):
            return family
    return name


def model_families(
    names: Iterable[str], families: Mapping[str, str] | None = None
) -> dict[str, str]:
    """:func:`model_family` of each name, as a dict.

    Examples
    --------
    >>> model_families(["gpt-4", "claude-v1"])
    {'gpt-4': 'openai', 'claude-v1': 'anthropic'}
    """
    mapping = _check_mapping(families)
    return {n: model_family(n, mapping) for n in dict.fromkeys(names)}


def same_family(judge: str, model: str, families: Mapping[str, str] | None = None) -> bool:
    """Whether ``model`` belongs to ``judge``'s family.

    Examples
    --------
    >>> same_family("gpt-4-0613", "gpt-3.5-turbo"), same_family("gpt-4-0613", "claude-v1")
    (True, False)
    """
    return model_family(judge, families) == model_family(model, families)
