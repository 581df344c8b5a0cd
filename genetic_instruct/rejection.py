"""The one way an offspring is turned down: an exception whose message is the counted reason.

Roles raise it for answers they cannot read, filters and gates for offspring they drop; the
loop counts the message per generation (stats, report), so a reason is a short snake_case
name such as `coder_truncated` or `near_duplicate_batch`.
"""


class Rejection(ValueError):
    """An offspring is not kept; str(rejection) is the reason counted in the stats."""


def truncated_reason(engine_role: str) -> str:
    """The rejection of an answer cut by max_tokens; the report counts them per role."""
    return f"{engine_role}_truncated"
