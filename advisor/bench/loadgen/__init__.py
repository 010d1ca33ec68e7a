"""Load generation: open-loop arrivals at an intended schedule, sent by Locust in processes of their own.

Modules: ``arrivals`` (Poisson and other schedules), ``locust_user`` (the Locust user that sends them),
``process`` (a generator process and its saturation check), ``driver`` (several processes, one load),
``measure`` (one measured point from the samples).
"""
