"""One row of a fixed statement as a model instance, the way `QuerySet.raw()` builds it, for every API call.

`raw()` works out on each call which column is which field and how each value converts from the
database; for the two statements every API call runs (its token, its credential) that took more CPU
than running them. `fetch_instance` works it out once per model and connection, and keeps it in the
thread that uses the connection (Django's connections are per thread), so that nothing outlives either.
"""

import threading

from django.db import connections

_plans = threading.local()  # .by_model: {(alias, model): _Plan}


def fetch_instance(model, alias, sql, params, extra_names=()):
    """The first row `sql` selects, as a `model` instance, or None.

    The row holds every concrete field of `model`, in `_meta.concrete_fields` order, then one column per
    name of `extra_names`, set on the instance as it comes from the database (like raw()'s annotations).
    """
    connection = connections[alias]
    plan = _plan(connection, model)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, converters, column in plan.converters:
        for converter in converters:
            values[position] = converter(values[position], column, connection)
    instance = model.from_db(alias, plan.field_names, values[: plan.field_count])
    for name, value in zip(extra_names, values[plan.field_count :], strict=True):
        setattr(instance, name, value)
    return instance


class _Plan:
    def __init__(self, connection, model):
        self.operations = connection.ops  # the connection it was made for (its converters are bound to it)
        fields = model._meta.concrete_fields
        self.field_names = [field.attname for field in fields]
        self.field_count = len(fields)
        # What the compiler of a query on `model` would apply to each column (SQLCompiler.get_converters).
        self.converters = []
        for position, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                self.converters.append((position, converters, column))


def _plan(connection, model):
    plans = getattr(_plans, "by_model", None)
    if plans is None:
        plans = _plans.by_model = {}
    plan = plans.get((connection.alias, model))
    if plan is None or plan.operations is not connection.ops:
        plan = plans[connection.alias, model] = _Plan(connection, model)
    return plan
