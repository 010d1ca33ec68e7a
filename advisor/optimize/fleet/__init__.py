"""The fleet stage: one step over every model's right-sizing outcome.

Modules: ``decide`` (the order of the steps and the decisions they take), ``churn`` (whether a change is
worth its disruption), ``pooling`` (sharing nodes between models, through :mod:`advisor.optimize.packing`),
``commitments`` (Savings Plans sized after schedules), ``totals`` (the fleet totals and each model's
effective cost under the recommendation: the one rule, stored in the document).
"""
