"""The exceptions a command raises for problems the user can fix."""


class PipelineError(Exception):
    """A problem with the data, the parameters or the inputs, explained in one message."""

    exit_code = 1


class UnusableInput(PipelineError):
    """Input that cannot be used at all: missing, empty, unreadable or the wrong columns."""

    exit_code = 2  # `monitor` keeps 1 for "drift found"
