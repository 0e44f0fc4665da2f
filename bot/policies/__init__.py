"""Custom Rasa 3.6 policies."""

from bot.policies.escalation import EscalationPolicy

__all__ = ["EscalationPolicy"]
