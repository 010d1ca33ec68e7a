"""The annotated scenario `advisor init` writes: every key, with what it means."""

from __future__ import annotations

EXAMPLE_SCENARIO = """\
# advisor scenario: what to serve, under which SLO, at what traffic, and what runs today.
# `advisor recommend scenario.yaml` reads it. Every key below is optional unless marked REQUIRED.
name: my-team-inference
region: us-east-1                      # AWS region to price in
platforms: [ec2, sagemaker, fargate]   # where replicas may run
candidates:
  families: [c6i, c7i, c7g, m6i, m7i, g5, g6]   # instance families the optimiser may pick
  instance_types: []                   # or exact types, added to the families
  exclude: []                          # types never to use
  max_size_vcpu: 64
spot:
  allowed: true
  max_interruption_band: "10-15%"      # <5%, 5-10%, 10-15%, 15-20%, >20% (AWS Spot Instance Advisor bands)
  min_on_demand_base: 1                # on-demand nodes kept under the spot share
  min_instance_types_per_pool: 2       # diversify spot pools over at least this many types
apply:                                 # guardrails `advisor apply` keeps (flags override them)
  max_disruption_pct: 25               # at most this share of a model's replicas replaced at once
  min_on_demand_base: 0                # never set an on-demand base below this (nodes, tasks)
load_balancer:
  kind: application
  shared: true                         # one ALB for all models
  payload_kib: 4
slo_budget_pct_minutes: 0.1            # at most 0.1% of minutes over the SLO
min_replicas: 2                        # high-availability floor
churn_threshold: 0.5                   # a model's saving share / its restarted share needed to change it
churn_min_savings_usd_per_month: 10    # changes saving less are not worth a roll-out
churn_max_payback_days: 30             # the roll-out (replicas running twice) must pay back within this
capacity_estimates: conservative       # unmeasured families: conservative (low end), point, or off
bench:                                 # `advisor recommend --bench` measures reference/command servers on
  shapes: [c7a.medium]                 #   these shapes (each at most the size of this machine)
  quick: true
cluster:                               # how EC2 nodes run replicas when a model's deploy target does not say
  orchestrator: eks                    # eks, ecs, or instance (an ASG, one server per instance)
  daemonsets:                          # on every EKS node; their requests are not left for replicas
    - {name: aws-node, vcpu: 0.05}
    - {name: kube-proxy, vcpu: 0.1}
  # ecs_reserved_memory_mib: 0         # the ECS agent's ECS_RESERVED_MEMORY
models:                                # REQUIRED: at least one
  - name: fraud-scorer                 # REQUIRED
    team: risk
    server:
      reference: tabular               # or command: "python -m my_server --port {port}", or endpoint: URL
    resources: {vcpu: 1, memory_gib: 2}             # REQUIRED: per-replica request
    slo: {latency_p99_ms: 50, max_error_rate: 0.001}  # REQUIRED
    traffic: {profile: diurnal-business-api, peak_rps: 400}  # REQUIRED: bundled name or file
    current: {platform: ec2, instance_type: m5.2xlarge, count: 4, purchase_option: on_demand}
    #   add load_balancer: own to current when today it has a balancer of its own (default: as above)
    capacities_rps: {c7a.medium: 350}  # by hand, per replica within the SLO (measured ones win)
    # unloaded_p99_ms: 5               # p99 of a lone request, if known: no SLO below it can be met
    # bench_shapes: [c7a.medium]       # shapes --bench measures this model on (default: bench.shapes)
    architectures: [x86_64, arm64]     # what the image is built for (default x86_64 only; arm64 = Graviton)
    # deploy: where `advisor apply` puts the recommendation; exactly one of
    #   {aws_asg: {name: fraud-scorer}}
    #   {sagemaker: {endpoint: fraud-scorer, variant: AllTraffic}}
    #   {ecs: {cluster: prod, service: fraud-scorer}}
    #   {kubernetes: {namespace: risk, deployment: fraud-scorer, container: server,
    #                 autoscaler: hpa, nodes: karpenter}}   # or keda; or cluster-autoscaler
    #   {cortex: {api: fraud-scorer, cluster: prod}}
    deploy: {aws_asg: {name: fraud-scorer}}
  - name: search-embedder
    team: search
    server: {reference: embedding}
    resources: {vcpu: 2, memory_gib: 4}
    slo: {latency_p99_ms: 300}
    traffic: {profile: flat, monthly_requests: 50000000}
    current: {platform: sagemaker, instance_type: ml.c5.2xlarge, count: 3}
    capacities_rps: {c7a.large: 40}
    deploy: {sagemaker: {endpoint: search-embedder}}
    # platforms: [sagemaker]           # hold this model to some of the scenario's platforms
  # A language model: an llm: key instead of server/resources; its SLO is p99 TTFT and TPOT
  # - name: chat
  #   team: assistants
  #   llm: {model: llama-3.1-8b, dtype: bf16, engine: vllm}   # or {config: path/to/config.json}
  #   slo: {ttft_p99_ms: 2000, tpot_p99_ms: 100}
  #   traffic: {profile: diurnal-business-api, peak_rps: 6}
  #   tokens: {input: 1000, output: 130}                # or {trace: a token trace CSV}
  #   current: {platform: ec2, instance_type: p4d.24xlarge, count: 1}
  #   per_token_api: {name: Amazon Bedrock, usd_per_m_input: ..., usd_per_m_output: ..., source: "page, date"}
"""
