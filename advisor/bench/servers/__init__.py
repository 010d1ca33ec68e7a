"""Bench targets: the model servers a bench measures, and the shapes it emulates for them.

Modules: ``spec`` (a server described once for ``bench run`` and ``recommend --bench``), ``server`` (start,
health-check and stop a server process), ``registry`` (the reference models), ``servers/`` (the reference
model servers themselves), ``payloads`` (request bodies and protocol templates), ``emulation`` (instance
shapes on this machine: CPU affinity, cgroups, thread variables).
"""
