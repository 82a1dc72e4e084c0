"""The SDK's enumerations, member for member the same as runpod-flash 1.19-1.21.

These classes are the single table of allowed values: the runtime SDK validates
user arguments against them, and the static analysis in ``flashc.analysis``
resolves ``GpuGroup.ADA_24`` in user source to the very same members.
"""

from __future__ import annotations

from enum import Enum


class GpuGroup(Enum):
    """A RunPod GPU pool (what ``gpuIds`` is made of)."""

    ANY = "any"
    ADA_24 = "ADA_24"
    ADA_32_PRO = "ADA_32_PRO"
    ADA_48_PRO = "ADA_48_PRO"
    ADA_80_PRO = "ADA_80_PRO"
    AMPERE_16 = "AMPERE_16"
    AMPERE_24 = "AMPERE_24"
    AMPERE_48 = "AMPERE_48"
    AMPERE_80 = "AMPERE_80"
    HOPPER_141 = "HOPPER_141"
    BLACKWELL_96 = "BLACKWELL_96"
    BLACKWELL_180 = "BLACKWELL_180"

    @classmethod
    def all(cls) -> list[GpuGroup]:
        """Every concrete pool, in the order runpod-flash expands ``ANY`` to."""
        return [cls.AMPERE_48] + [g for g in cls if g is not cls.ANY and g is not cls.AMPERE_48]


class GpuType(Enum):
    """A concrete GPU model; converted to its pool plus negations of the pool's other models."""

    ANY = "any"
    NVIDIA_GEFORCE_RTX_4090 = "NVIDIA GeForce RTX 4090"
    NVIDIA_GEFORCE_RTX_5090 = "NVIDIA GeForce RTX 5090"
    NVIDIA_RTX_6000_ADA_GENERATION = "NVIDIA RTX 6000 Ada Generation"
    NVIDIA_RTX_PRO_6000_BLACKWELL_SERVER_EDITION = "NVIDIA RTX PRO 6000 Blackwell Server Edition"
    NVIDIA_RTX_PRO_6000_BLACKWELL_WORKSTATION_EDITION = (
        "NVIDIA RTX PRO 6000 Blackwell Workstation Edition"
    )
    NVIDIA_RTX_PRO_6000_BLACKWELL_MAX_Q_WORKSTATION_EDITION = (
        "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition"
    )
    NVIDIA_H100_80GB_HBM3 = "NVIDIA H100 80GB HBM3"
    NVIDIA_RTX_A4000 = "NVIDIA RTX A4000"
    NVIDIA_RTX_A4500 = "NVIDIA RTX A4500"
    NVIDIA_RTX_4000_ADA_GENERATION = "NVIDIA RTX 4000 Ada Generation"
    NVIDIA_RTX_2000_ADA_GENERATION = "NVIDIA RTX 2000 Ada Generation"
    NVIDIA_RTX_A5000 = "NVIDIA RTX A5000"
    NVIDIA_L4 = "NVIDIA L4"
    NVIDIA_GEFORCE_RTX_3090 = "NVIDIA GeForce RTX 3090"
    NVIDIA_A40 = "NVIDIA A40"
    NVIDIA_RTX_A6000 = "NVIDIA RTX A6000"
    NVIDIA_A100_80GB_PCIe = "NVIDIA A100 80GB PCIe"
    NVIDIA_A100_SXM4_80GB = "NVIDIA A100-SXM4-80GB"
    NVIDIA_H200 = "NVIDIA H200"
    NVIDIA_B200 = "NVIDIA B200"

    @classmethod
    def all(cls) -> list[GpuType]:
        return [g for g in cls if g is not cls.ANY]


# Which concrete models make up each pool (used to compute gpuIds negations).
POOLS_TO_TYPES: dict[GpuGroup, tuple[GpuType, ...]] = {
    GpuGroup.ADA_24: (GpuType.NVIDIA_GEFORCE_RTX_4090,),
    GpuGroup.ADA_32_PRO: (GpuType.NVIDIA_GEFORCE_RTX_5090,),
    GpuGroup.ADA_48_PRO: (GpuType.NVIDIA_RTX_6000_ADA_GENERATION,),
    GpuGroup.ADA_80_PRO: (GpuType.NVIDIA_H100_80GB_HBM3,),
    GpuGroup.AMPERE_16: (
        GpuType.NVIDIA_RTX_A4000,
        GpuType.NVIDIA_RTX_A4500,
        GpuType.NVIDIA_RTX_4000_ADA_GENERATION,
        GpuType.NVIDIA_RTX_2000_ADA_GENERATION,
    ),
    GpuGroup.AMPERE_24: (
        GpuType.NVIDIA_RTX_A5000,
        GpuType.NVIDIA_L4,
        GpuType.NVIDIA_GEFORCE_RTX_3090,
    ),
    GpuGroup.AMPERE_48: (GpuType.NVIDIA_A40, GpuType.NVIDIA_RTX_A6000),
    GpuGroup.AMPERE_80: (GpuType.NVIDIA_A100_80GB_PCIe, GpuType.NVIDIA_A100_SXM4_80GB),
    GpuGroup.HOPPER_141: (GpuType.NVIDIA_H200,),
    GpuGroup.BLACKWELL_96: (
        GpuType.NVIDIA_RTX_PRO_6000_BLACKWELL_SERVER_EDITION,
        GpuType.NVIDIA_RTX_PRO_6000_BLACKWELL_WORKSTATION_EDITION,
        GpuType.NVIDIA_RTX_PRO_6000_BLACKWELL_MAX_Q_WORKSTATION_EDITION,
    ),
    GpuGroup.BLACKWELL_180: (GpuType.NVIDIA_B200,),
}


class CpuInstanceType(str, Enum):
    """A CPU instance flavour: ``cpu{generation}{kind}-{vcpu}-{memory_gb}``."""

    CPU3G_1_4 = "cpu3g-1-4"
    CPU3G_2_8 = "cpu3g-2-8"
    CPU3G_4_16 = "cpu3g-4-16"
    CPU3G_8_32 = "cpu3g-8-32"
    CPU3C_1_2 = "cpu3c-1-2"
    CPU3C_2_4 = "cpu3c-2-4"
    CPU3C_4_8 = "cpu3c-4-8"
    CPU3C_8_16 = "cpu3c-8-16"
    CPU5C_1_2 = "cpu5c-1-2"
    CPU5C_2_4 = "cpu5c-2-4"
    CPU5C_4_8 = "cpu5c-4-8"
    CPU5C_8_16 = "cpu5c-8-16"


def cpu_disk_limit_gb(instance: CpuInstanceType) -> int:
    """Largest container disk the platform allows on a CPU flavour (10 or 15 GB per vCPU)."""
    vcpus = int(instance.value.split("-")[1])
    return vcpus * (15 if instance.value.startswith("cpu5c") else 10)


class DataCenter(str, Enum):
    """Data centres with network-storage support."""

    US_CA_2 = "US-CA-2"
    US_IL_1 = "US-IL-1"
    US_KS_2 = "US-KS-2"
    US_MO_1 = "US-MO-1"
    US_MO_2 = "US-MO-2"
    US_NC_2 = "US-NC-2"
    US_NE_1 = "US-NE-1"
    US_WA_1 = "US-WA-1"
    EU_CZ_1 = "EU-CZ-1"
    EU_RO_1 = "EU-RO-1"
    EUR_NO_1 = "EUR-NO-1"

    @classmethod
    def from_string(cls, value: str) -> DataCenter:
        """Accept ``EU-RO-1`` as well as ``eu_ro_1``; name the valid ones otherwise."""
        normalized = value.strip().upper().replace("_", "-")
        try:
            return cls(normalized)
        except ValueError:
            valid = ", ".join(dc.value for dc in cls)
            raise ValueError(f"Unknown datacenter '{value}'. Valid datacenters: {valid}") from None

    @classmethod
    def all(cls) -> list[DataCenter]:
        return list(cls)


# The only data centres that run CPU serverless endpoints.
CPU_DATACENTERS: frozenset[DataCenter] = frozenset({DataCenter.EU_RO_1})


class CudaVersion(Enum):
    V11_8 = "11.8"
    V12_0 = "12.0"
    V12_1 = "12.1"
    V12_2 = "12.2"
    V12_3 = "12.3"
    V12_4 = "12.4"
    V12_5 = "12.5"
    V12_6 = "12.6"
    V12_7 = "12.7"
    V12_8 = "12.8"
    V12_9 = "12.9"
    V13_0 = "13.0"


class ServerlessScalerType(Enum):
    QUEUE_DELAY = "QUEUE_DELAY"
    REQUEST_COUNT = "REQUEST_COUNT"


class ServerlessType(Enum):
    """QB: queue-based jobs; LB: plain HTTP routed to healthy workers."""

    QB = "QB"
    LB = "LB"


ENUMS: dict[str, type[Enum]] = {
    cls.__name__: cls
    for cls in (
        GpuGroup,
        GpuType,
        CpuInstanceType,
        DataCenter,
        CudaVersion,
        ServerlessScalerType,
        ServerlessType,
    )
}
