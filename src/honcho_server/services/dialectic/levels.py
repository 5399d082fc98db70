"""What each reasoning level allows the agent (BEHAVIOUR §18.3). Pure."""

from __future__ import annotations

from dataclasses import dataclass

from ...llm import ToolChoice
from ...schemas.chat import ReasoningLevel

MINIMAL_OUTPUT_TOKENS = 250
FULL_OUTPUT_TOKENS = 8192


@dataclass(frozen=True)
class LevelPlan:
    max_tool_iterations: int
    max_output_tokens: int
    tool_choice: ToolChoice  # None: the model's default (not sent)
    minimal_tools: bool  # only search_memory and search_messages
    prefetch: int  # conclusions prefetched per group (explicit; derived)


_TABLE: dict[ReasoningLevel, LevelPlan] = {
    "minimal": LevelPlan(1, MINIMAL_OUTPUT_TOKENS, "auto", True, 10),
    "low": LevelPlan(5, FULL_OUTPUT_TOKENS, "auto", False, 25),
    "medium": LevelPlan(2, FULL_OUTPUT_TOKENS, None, False, 25),
    "high": LevelPlan(4, FULL_OUTPUT_TOKENS, None, False, 25),
    "max": LevelPlan(10, FULL_OUTPUT_TOKENS, None, False, 25),
}


def plan_for(level: ReasoningLevel, max_output_tokens: int) -> LevelPlan:
    """The level's plan, its output tokens capped by ``LLM_MAX_OUTPUT_TOKENS``."""
    plan = _TABLE[level]
    capped = min(plan.max_output_tokens, max_output_tokens)
    return LevelPlan(
        plan.max_tool_iterations, capped, plan.tool_choice, plan.minimal_tools, plan.prefetch
    )
