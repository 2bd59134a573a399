"""The exceptions a command raises for problems the user can fix."""


class PipelineError(Exception):
    """A problem with the data, the parameters or the inputs, explained in one message."""

    exit_code = 1


class UnusableInput(PipelineError):
    """Input that cannot be used at all: missing, empty, unreadable or the wrong columns."""

    exit_code = 2  # `monitor` keeps 1 for "drift found"


def not_an_option(value: str, variable: str) -> str:
    """The value itself, unless git or dvc, which it is handed to, would read it as an
    option (BASE=-h printed dvc's help): then PipelineError naming the variable."""
    if value.startswith("-"):
        raise PipelineError(
            f"{variable}={value!r} looks like an option, not a name - give a branch, tag, "
            "commit or experiment"
        )
    return value
