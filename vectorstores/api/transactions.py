"""The API's views (and the console's pages) run outside a host's ATOMIC_REQUESTS transaction.

Their records (the audit trail, whose File or store is whose) are written as things happen at OpenAI, which
no rollback can undo. In a request transaction they would be rolled back with an error's answer (a store
found gone at OpenAI stayed recorded), kept from other instances for an upload's minutes (a File made
there not yet known to be anyone's), or written after an error's rollback marked the transaction broken
(a 500 instead of the error's own answer).
"""

from django.db import connections, transaction


def outside_request_transactions(view):
    """`view`, exempt from ATOMIC_REQUESTS on every database."""
    for alias in connections:
        view = transaction.non_atomic_requests(using=alias)(view)
    return view
