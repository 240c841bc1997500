"""Kubernetes placement of GPU steps: with the k8s_job_executor each step runs as its own pod, and
the ``dagster-k8s/config`` op tag asks for one GPU on a GPU node for the model-heavy assets."""

GPU_RESOURCE = "nvidia.com/gpu"
# NVIDIA's GPU feature discovery labels GPU nodes so; GPU node pools are commonly tainted with the key.
GPU_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}
GPU_TOLERATIONS = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]

GPU_K8S_CONFIG = {
    "container_config": {"resources": {"limits": {GPU_RESOURCE: "1"}, "requests": {GPU_RESOURCE: "1"}}},
    "pod_spec_config": {"node_selector": GPU_NODE_SELECTOR, "tolerations": GPU_TOLERATIONS},
}
GPU_OP_TAGS = {"dagster-k8s/config": GPU_K8S_CONFIG}
