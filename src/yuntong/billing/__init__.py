"""Billing: catalog, ledger, statements, orders, disputes, collections, payments.

Sub-packages in a one-way order; each imports only those before it (and ``models``,
``store``, ``core``, ``accounts``, ``notifications``):

1. ``models``, ``store`` — the tables and the queries several layers share;
2. ``catalog`` — packages, price versions and their announcement, tariff arithmetic, cycles;
3. ``ledger`` — billing accounts, rents, usage records, rating, credit control;
4. ``statements`` — cycle close, first and final statements, the statement a customer reads,
   documents (PDF/CSV);
5. ``orders`` — subscribe, change, cancel (the first order issues the first statement);
6. ``disputes`` — disputes and their state machine;
7. ``collections`` — dunning (overdue, late fees, suspension), account lifecycle;
8. ``payments`` — payments and the provider webhook (a payment reviews dunning);
9. ``api``, ``worker`` — the REST routes and the background process.

Billing never imports calls or meetings (nor terminals or sla, which use billing). What
crosses the other way is handed over when a context is built (``yuntong.services``): calls
receive the credit gate (``ledger.credit``), usage collection receives the finished calls'
query (``calls.store``), statements receive sla's incident titles, notifications receive
billing's recipient look-up. Meetings record their usage through ``ledger.usage``.
"""
