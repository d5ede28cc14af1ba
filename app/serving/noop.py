"""The callback a closed timer or a dropped answer is left holding.

Timers and answers keep their owner's bound method until they close; closing swaps it for this
function so that the connection it belonged to is freed by reference counting, and a late call
(there should be none: the timer is cancelled, the answer never written) does nothing.
"""


def nothing() -> None:
    """Do nothing: what a closed timer or an answer that will never be written calls."""
