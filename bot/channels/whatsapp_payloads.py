"""Graph API message bodies that processes other than the Rasa server also build.

Kept free of Rasa imports: the action server queues one-time codes with them.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple


def template_message(to: str, name: str, language: str, parameters: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """A Graph API template message (the only kind allowed outside the 24-hour window).

    Args:
        to: the recipient's WhatsApp id (international digits).
        name: an approved template's name.
        language: its language code (``ar``).
        parameters: values of the body's ``{{1}}``, ``{{2}}`` … placeholders.
    """
    template: Dict[str, Any] = {"name": name, "language": {"code": language}}
    if parameters:
        template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}]
    return {"messaging_product": "whatsapp", "to": to, "type": "template", "template": template}
