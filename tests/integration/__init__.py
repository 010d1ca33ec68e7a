"""Integration tests: real parts started by the tests (model servers, moto, SMTP, Prometheus, the
Kubernetes API stand-in, Streamlit's AppTest)."""
