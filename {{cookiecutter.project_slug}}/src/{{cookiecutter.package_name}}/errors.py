"""The one exception a stage raises for problems the user can fix."""


class PipelineError(Exception):
    """A problem with the data, the parameters or the inputs, explained in one message."""
