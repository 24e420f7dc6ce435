"""A few calls of the Kubernetes CRI (runtime.v1.RuntimeService) over gRPC,
as kubelet makes them, for tests that drive containerd's CRI plugin without
kubelet (which cannot be installed on the test machines; Debian 12 has no
crictl either).

The messages are encoded here by hand: protobuf's wire format is a list of
(field number, wire type, value), and these calls use only strings, nested
messages, maps of strings, bools and enums. Field numbers are those of the
CRI API (k8s.io/cri-api, pkg/apis/runtime/v1/api.proto). grpcio (Debian
python3-grpcio) carries the bytes.
"""

SERVICE = "/runtime.v1.RuntimeService/"

# NamespaceMode
NAMESPACE_POD = 0
NAMESPACE_CONTAINER = 1
NAMESPACE_NODE = 2
# ContainerState
CONTAINER_STATES = {0: "CREATED", 1: "RUNNING", 2: "EXITED", 3: "UNKNOWN"}


# --------------------------------------------------------------------------
# encoding


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def string(field, value):
    data = value.encode() if isinstance(value, str) else value
    return _key(field, 2) + _varint(len(data)) + data


def message(field, *parts):
    return string(field, b"".join(parts))


def varint(field, value):
    return _key(field, 0) + _varint(int(value))


def strings(field, values):
    return b"".join(string(field, v) for v in values)


def string_map(field, mapping):
    return b"".join(message(field, string(1, k), string(2, v)) for k, v in mapping.items())


# --------------------------------------------------------------------------
# decoding: {field: [raw values]}; nested messages decoded on demand


def decode(data):
    fields = {}
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            n, i = _read_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        fields.setdefault(field, []).append(value)
    return fields


def _read_varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def first(fields, field, default=None):
    values = fields.get(field)
    return values[0] if values else default


def signed32(value):
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


# --------------------------------------------------------------------------
# the calls


class RuntimeService:
    def __init__(self, socket_path):
        import grpc
        self.channel = grpc.insecure_channel(f"unix://{socket_path}")

    def ready(self, timeout):
        """Wait for the CRI service: containerd serves its socket before the
        CRI plugin has registered."""
        import time
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.call("Version", b"", timeout=5)
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def call(self, method, request, timeout=60):
        stub = self.channel.unary_unary(SERVICE + method, request_serializer=None,
                                        response_deserializer=None)
        return decode(stub(request, timeout=timeout))

    def close(self):
        self.channel.close()


def sandbox_config(name, uid, annotations, log_directory):
    """A pod on the host's network (no CNI needed), the way kubelet sends
    hostNetwork: true."""
    # no hostname: a pod on the host's network shares the host's UTS
    # namespace, where runc refuses to set one
    return b"".join([
        message(1, string(1, name), string(2, uid), string(3, "default"), varint(4, 0)),
        string(3, log_directory),
        string_map(7, annotations),
        message(8, message(2, message(1, varint(1, NAMESPACE_NODE)))),
    ])


def run_pod_sandbox(rs, config, handler):
    r = rs.call("RunPodSandbox", message(1, config) + string(2, handler))
    return first(r, 1).decode()


def create_container(rs, pod_id, config, name, image, command, log_path, annotations=None):
    container = b"".join([
        message(1, string(1, name), varint(2, 0)),
        message(2, string(1, image)),
        strings(3, command),
        string_map(10, annotations or {}),
        string(11, log_path),
        # linux.security_context.namespace_options, as kubelet sends them
        # for a pod on the host's network without shareProcessNamespace:
        # the pod's network, a pid namespace of the container's own, the
        # pod's ipc
        message(15, message(2, message(3, varint(1, NAMESPACE_NODE),
                                       varint(2, NAMESPACE_CONTAINER),
                                       varint(3, NAMESPACE_POD)))),
    ])
    r = rs.call("CreateContainer", string(1, pod_id) + message(2, container) + message(3, config))
    return first(r, 1).decode()


def start_container(rs, container_id):
    rs.call("StartContainer", string(1, container_id))


def container_status(rs, container_id):
    """(state name, exit code)."""
    r = rs.call("ContainerStatus", string(1, container_id))
    status = decode(first(r, 1, b""))
    return CONTAINER_STATES.get(first(status, 3, 0), "?"), signed32(first(status, 7, 0))


def stop_and_remove_pod(rs, pod_id):
    for method in ("StopPodSandbox", "RemovePodSandbox"):
        try:
            rs.call(method, string(1, pod_id))
        except Exception:  # noqa: BLE001 - teardown: the next call still runs
            pass
