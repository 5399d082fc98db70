"""The language model behind the deriver, summaries, dialectic chat and dreams.

Configure with ``LLM_BASE_URL``, ``LLM_API_KEY`` and ``LLM_MODEL`` (per feature:
``DERIVER_*``, ``SUMMARY_*``, ``DIALECTIC_*``, ``DREAM_*``). Use through
:class:`LLMRegistry`::

    llm = registry.client("deriver")              # LLMNotConfigured: leave the job waiting
    result = await llm.structured([system(...), user(...)], Conclusions)
    result.value, result.usage                    # validated model, tokens spent

Works with hosted and local models alike: structured output is asked for the strongest way
the endpoint supports, and the answer is read tolerantly (thinking, fences, prose, broken
JSON); see :mod:`.structured` and :mod:`.repair`. The implementation,
:class:`.client.OpenAICompatClient`, is imported at startup when a model is configured
(:meth:`LLMRegistry.load`), else when the first client is built.
"""

from .config import (
    FEATURES,
    NO_LLM,
    Feature,
    FeatureStatus,
    LLMConfig,
    StructuredMode,
    is_configured,
    llm_config_problem,
    llm_status,
    resolve_llm_config,
)
from .endpoints import ENDPOINTS, EndpointMemory
from .errors import (
    LLMError,
    LLMNotConfigured,
    LLMOutputInvalid,
    LLMRequestRejected,
    LLMUnavailable,
)
from .messages import Message, ToolCall, assistant, system, tool_result, user
from .protocol import LLMClient
from .registry import LLMRegistry, build_llm_client, log_llm_configuration
from .repair import RepairError, extract_json, parse_model
from .results import Completion, ConcreteMode, Structured, TextStream
from .schema_output import SchemaAnswer, schema_model
from .tools import Tool, ToolChoice, ToolsUnsupported, ToolTurn, parse_arguments
from .usage import Usage

__all__ = [
    "ENDPOINTS",
    "FEATURES",
    "NO_LLM",
    "Completion",
    "ConcreteMode",
    "EndpointMemory",
    "Feature",
    "FeatureStatus",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "LLMNotConfigured",
    "LLMOutputInvalid",
    "LLMRegistry",
    "LLMRequestRejected",
    "LLMUnavailable",
    "Message",
    "RepairError",
    "SchemaAnswer",
    "Structured",
    "StructuredMode",
    "TextStream",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolTurn",
    "ToolsUnsupported",
    "Usage",
    "assistant",
    "build_llm_client",
    "extract_json",
    "is_configured",
    "llm_config_problem",
    "llm_status",
    "log_llm_configuration",
    "parse_arguments",
    "parse_model",
    "resolve_llm_config",
    "schema_model",
    "system",
    "tool_result",
    "user",
]
