"""checkov checks of our own for Compose files (checkov 3.3.30 has no Compose framework: over a compose file it
runs only its secrets scan). Each mirrors a check checkov runs on Kubernetes manifests or the CIS Docker
Benchmark, on the fields the Compose specification defines (https://docs.docker.com/reference/compose-file/
services/). checkov loads this file with ``--external-checks-dir`` into its ``yaml`` framework, so its own
inline suppressions apply: ``# checkov:skip=CKV_NFLDEPLOY_N:reason`` inside the service's block.

This module runs inside checkov's venv (scripts/tools.txt), never in the test process."""

from __future__ import annotations

import ipaddress
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.yaml_doc.base_yaml_check import BaseYamlCheck
from checkov.yaml_doc.enums import BlockType

SERVICES = ("services.*",)  # each service's mapping, with its lines (per-service suppressions)


class ComposeServiceCheck(BaseYamlCheck):
    def __init__(self, name: str, id: str, category: CheckCategories) -> None:
        super().__init__(
            name=name, id=id, categories=(category,), supported_entities=SERVICES, block_type=BlockType.ARRAY
        )

    def scan_entity_conf(self, conf: dict[str, Any], entity_type: str) -> CheckResult:
        if not isinstance(conf, dict) or ("image" not in conf and "build" not in conf):
            return CheckResult.UNKNOWN  # not a service of a compose file
        return CheckResult.PASSED if self.passes(conf) else CheckResult.FAILED

    def passes(self, service: dict[str, Any]) -> bool:
        raise NotImplementedError


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


class NoHostPrivileges(ComposeServiceCheck):
    """`privileged`, and the host's network, PID, IPC or user namespace (`network_mode`, `pid`, `ipc`,
    `userns_mode`: "host"), as CKV_K8S_16 to _19 refuse them on a pod."""

    def __init__(self) -> None:
        super().__init__(
            "Ensure no service runs privileged or in the host's network, PID, IPC or user namespace",
            "CKV_NFLDEPLOY_1",
            CheckCategories.GENERAL_SECURITY,
        )

    def passes(self, service: dict[str, Any]) -> bool:
        host = ("network_mode", "pid", "ipc", "userns_mode")
        return service.get("privileged") is not True and all(service.get(key) != "host" for key in host)


class NoNewPrivileges(ComposeServiceCheck):
    """`security_opt: [no-new-privileges:true]` (CKV_K8S_20's allowPrivilegeEscalation false). Docker takes
    `no-new-privileges`, `no-new-privileges:true` and `no-new-privileges=true`
    (https://docs.docker.com/reference/cli/docker/container/run/#security-opt)."""

    def __init__(self) -> None:
        super().__init__(
            "Ensure every service sets no-new-privileges", "CKV_NFLDEPLOY_2", CheckCategories.GENERAL_SECURITY
        )

    def passes(self, service: dict[str, Any]) -> bool:
        options = {option.replace("=", ":").lower() for option in _strings(service.get("security_opt"))}
        return bool(options & {"no-new-privileges", "no-new-privileges:true"})


class DropAllCapabilities(ComposeServiceCheck):
    """`cap_drop: [ALL]`, adding back only named capabilities (CKV_K8S_37; Docker's capability names,
    https://docs.docker.com/engine/containers/run/#runtime-privilege-and-linux-capabilities)."""

    def __init__(self) -> None:
        super().__init__(
            "Ensure every service drops all capabilities", "CKV_NFLDEPLOY_3", CheckCategories.GENERAL_SECURITY
        )

    def passes(self, service: dict[str, Any]) -> bool:
        dropped = {cap.upper() for cap in _strings(service.get("cap_drop"))}
        added = {cap.upper() for cap in _strings(service.get("cap_add"))}
        return "ALL" in dropped and "ALL" not in added


class ReadOnlyRootFilesystem(ComposeServiceCheck):
    """`read_only: true` (CKV_K8S_22's readOnlyRootFilesystem)."""

    def __init__(self) -> None:
        super().__init__(
            "Ensure every service's root filesystem is read-only",
            "CKV_NFLDEPLOY_4",
            CheckCategories.GENERAL_SECURITY,
        )

    def passes(self, service: dict[str, Any]) -> bool:
        return service.get("read_only") is True


class MemoryLimit(ComposeServiceCheck):
    """`mem_limit`, or `deploy.resources.limits.memory` (CKV_K8S_13; both are the specification's:
    https://docs.docker.com/reference/compose-file/services/#mem_limit,
    https://docs.docker.com/reference/compose-file/deploy/#resources)."""

    def __init__(self) -> None:
        super().__init__(
            "Ensure every service has a memory limit", "CKV_NFLDEPLOY_5", CheckCategories.GENERAL_SECURITY
        )

    def passes(self, service: dict[str, Any]) -> bool:
        deploy = service.get("deploy")
        resources = deploy.get("resources") if isinstance(deploy, dict) else None
        limits = resources.get("limits") if isinstance(resources, dict) else None
        return bool(service.get("mem_limit")) or (isinstance(limits, dict) and bool(limits.get("memory")))


def host_ip(port: Any) -> str | None:
    """The host address a `ports` entry publishes on; None when it names none (every interface). The short
    syntax is `[HOST:]CONTAINER[/PROTOCOL]`, HOST being `[IP:](port | range)`, an IPv6 address bare or in
    brackets; the long syntax has `host_ip` (https://docs.docker.com/reference/compose-file/services/#ports)."""
    if isinstance(port, dict):
        value = port.get("host_ip")
        return str(value) if value else None
    text = str(port).split("/", 1)[0]
    if text.startswith("["):
        return text[1 : text.index("]")]
    parts = text.split(":")
    return ":".join(parts[:-2]) if len(parts) >= 3 else None


def _specific(address: str | None) -> bool:
    if address is None:
        return False
    try:
        return not ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return True  # a variable (${HOST_IP}) or a name: the user chose an interface


class PortsOnAnInterface(ComposeServiceCheck):
    """Every published port names the host address it binds (CIS Docker Benchmark 5.13: "bind incoming
    container traffic to a specific host interface"): without one, Docker publishes on every interface,
    and its own iptables rules bypass the host's firewall
    (https://docs.docker.com/engine/network/packet-filtering-firewalls/)."""

    def __init__(self) -> None:
        super().__init__(
            "Ensure every published port is bound to a specific host address",
            "CKV_NFLDEPLOY_6",
            CheckCategories.NETWORKING,
        )

    def passes(self, service: dict[str, Any]) -> bool:
        ports = service.get("ports")
        if not isinstance(ports, list):
            return True
        return all(_specific(host_ip(port)) for port in ports)


checks = [
    NoHostPrivileges(),
    NoNewPrivileges(),
    DropAllCapabilities(),
    ReadOnlyRootFilesystem(),
    MemoryLimit(),
    PortsOnAnInterface(),
]
