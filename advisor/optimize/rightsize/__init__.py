"""Right-sizing one model: every (platform, shape) with a capacity, its best autoscaling bounds, purchase mix
and schedules under the SLO budget, checked by the replay.

Modules: ``per_model`` (one model's search from its spec: profile, capacities, candidates), ``candidates``
(the shapes worth replaying, prefiltered on bounds), ``search`` (the search itself), ``search_types`` (what
it evaluates), ``sizing`` (on-demand base for spot, minimums), ``fit`` (replicas per node),
``ec2_scaling`` (target-tracking bounds on EC2), ``scheduling`` (scheduled minimums), ``compare`` (today's
cost, baselines, savings), ``pricecache`` (prices resolved once per shape), ``outcome`` (the per-model
result the fleet stage takes).
"""
