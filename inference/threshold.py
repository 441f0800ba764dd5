"""The one probability threshold that turns a predicted probability map into a mask.

RITM's evaluation uses ``prob > 0.49``; training's click simulation, evaluation, the app's
default (the Threshold slider) and object mode all use this value.
"""

PRED_THRESHOLD = 0.49
"""mask = probability > PRED_THRESHOLD (RITM's ``pred_thr``)."""
