"""The engine the stages run on, chosen at bake time (the `compute` option): {{ cookiecutter.compute }}.

Stages import tables from here only, so their partition functions run on either engine:
tables.py processes partitions one by one in this process; dask_tables.py on a cluster.
"""

{% if cookiecutter.compute == "dask" -%}
from .dask_tables import Table, from_frame, open_table, running
{%- else -%}
from .tables import Table, from_frame, open_table, running
{%- endif %}

__all__ = ["Table", "from_frame", "open_table", "running"]
