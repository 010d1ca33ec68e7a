"""The LLM bench: token-streaming servers measured open loop under TTFT and TPOT SLOs, per request size.

Value types and the metric definitions are in :mod:`advisor.bench.llm.records`.
"""
