# syntax=docker/dockerfile:1
# Single-user image of the JupyterHub in server/chart/jupyterhub/values.yaml: a Jupyter Docker
# Stacks image plus jupyter-mlops (server extension + prebuilt JupyterLab extension, no Node.js
# needed), MLflow for kernels, and nbgitpuller for SharingHub's "Open in Jupyter" links.
# Build from the repository root, after `make wheel` (or from PyPI once published):
#   docker build -f server/chart/jupyterhub/singleuser.Dockerfile \
#     -t <registry>/jupyter-mlops/singleuser:<version> .

ARG BASE=quay.io/jupyter/scipy-notebook:2026-11-02
FROM ${BASE}

# The wheel built by `make wheel` (dist/jupyter_mlops-*.whl); installing it enables the server
# extension through its jupyter_server_config.d file and registers the labextension.
COPY --chown=${NB_UID}:${NB_GID} dist/jupyter_mlops-*.whl /tmp/wheels/
COPY requirements/constraints.txt /tmp/constraints.txt
RUN WHEEL="$(ls /tmp/wheels/jupyter_mlops-*.whl)" \
    && pip install --no-cache-dir -c /tmp/constraints.txt "${WHEEL}[tracking]" nbgitpuller \
    && rm -rf /tmp/wheels /tmp/constraints.txt \
    && jupyter server extension list 2>&1 | grep -E "jupyter_mlops.*OK" \
    && jupyter labextension list 2>&1 | grep -E "jupyter-mlops.*OK"

# On the platform the extension talks to the configured SharingHub, MLflow and GitLab; the
# embedded local platform (extra [embedded]) is not installed here.
ENV MLFLOW_TRACKING_AUTH=jupyter-mlops \
    MLFLOW_DISABLE_TELEMETRY=true
