"""Signals model: frustration, urgency and dialect of a customer message.

One small transformer encoder with three classification heads, next to a linear
character n-gram baseline; per head, training keeps whichever of the two (or their
average) did best on validation. Importing this package is cheap: torch and
transformers are only imported by the modules that need them.

Entry points:
    ``python -m bot.signals.train --out models/signals``
    ``python -m bot.signals.evaluate --model models/signals --out reports/signals``
    ``bot.signals.predict.SignalsPredictor.load("models/signals").predict([...])``
"""

from bot.signals import _env  # noqa: F401,E402  (environment before torch is imported)
