"""The safety policy (layered: normalisation, rules, named people, a learned classifier), its red-team
harness and corpus. The pipeline, the CLI and the API call :func:`check_prompt` before any compute."""

from tessera.safety.policy import Decision, Policy, check_prompt, default_policy
from tessera.safety.rules import CATEGORIES

__all__ = ["CATEGORIES", "Decision", "Policy", "check_prompt", "default_policy"]
