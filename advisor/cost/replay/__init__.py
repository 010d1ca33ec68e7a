"""The vectorised replay of a plan over a traffic profile, as the platforms run it.

Modules: ``engine`` (the replay: demand → metric → autoscaler → nodes → spot → served vs demand), ``load``
(load bins), ``autoscaler`` (target tracking and the simple model), ``hpa`` (the Kubernetes HPA),
``provisioning`` (start-up delays), ``spot`` (interruptions and pool reclaims), ``schedules`` (scheduled
minimums per step), ``balancing`` (how the load balancer spreads requests), ``queueing`` (the queue's
tables over load), ``backlog`` (requests carried across steps), ``series`` (time series of a replay).
"""
