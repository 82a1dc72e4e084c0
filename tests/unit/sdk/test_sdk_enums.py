"""The enums have runpod-flash 1.21's members, in its order, with its values."""

from __future__ import annotations

import pytest

from flashc_runtime.sdk import (
    CPU_DATACENTERS,
    CpuInstanceType,
    CudaVersion,
    DataCenter,
    GpuGroup,
    GpuType,
    ServerlessScalerType,
    ServerlessType,
)

EXPECTED_MEMBERS = {
    GpuGroup: [
        "ANY", "ADA_24", "ADA_32_PRO", "ADA_48_PRO", "ADA_80_PRO", "AMPERE_16", "AMPERE_24",
        "AMPERE_48", "AMPERE_80", "HOPPER_141", "BLACKWELL_96", "BLACKWELL_180",
    ],
    GpuType: [
        "ANY",
        "NVIDIA_GEFORCE_RTX_4090",
        "NVIDIA_GEFORCE_RTX_5090",
        "NVIDIA_RTX_6000_ADA_GENERATION",
        "NVIDIA_RTX_PRO_6000_BLACKWELL_SERVER_EDITION",
        "NVIDIA_RTX_PRO_6000_BLACKWELL_WORKSTATION_EDITION",
        "NVIDIA_RTX_PRO_6000_BLACKWELL_MAX_Q_WORKSTATION_EDITION",
        "NVIDIA_H100_80GB_HBM3",
        "NVIDIA_RTX_A4000",
        "NVIDIA_RTX_A4500",
        "NVIDIA_RTX_4000_ADA_GENERATION",
        "NVIDIA_RTX_2000_ADA_GENERATION",
        "NVIDIA_RTX_A5000",
        "NVIDIA_L4",
        "NVIDIA_GEFORCE_RTX_3090",
        "NVIDIA_A40",
        "NVIDIA_RTX_A6000",
        "NVIDIA_A100_80GB_PCIe",
        "NVIDIA_A100_SXM4_80GB",
        "NVIDIA_H200",
        "NVIDIA_B200",
    ],
    CpuInstanceType: [
        "CPU3G_1_4", "CPU3G_2_8", "CPU3G_4_16", "CPU3G_8_32",
        "CPU3C_1_2", "CPU3C_2_4", "CPU3C_4_8", "CPU3C_8_16",
        "CPU5C_1_2", "CPU5C_2_4", "CPU5C_4_8", "CPU5C_8_16",
    ],
    DataCenter: [
        "US_CA_2", "US_IL_1", "US_KS_2", "US_MO_1", "US_MO_2", "US_NC_2", "US_NE_1", "US_WA_1",
        "EU_CZ_1", "EU_RO_1", "EUR_NO_1",
    ],
    CudaVersion: [
        "V11_8", "V12_0", "V12_1", "V12_2", "V12_3", "V12_4", "V12_5", "V12_6", "V12_7",
        "V12_8", "V12_9", "V13_0",
    ],
    ServerlessScalerType: ["QUEUE_DELAY", "REQUEST_COUNT"],
    ServerlessType: ["QB", "LB"],
}  # fmt: skip


@pytest.mark.parametrize("enum", list(EXPECTED_MEMBERS), ids=lambda e: e.__name__)
def test_members_match_runpod_flash(enum):
    assert [member.name for member in enum] == EXPECTED_MEMBERS[enum]


def test_values_follow_runpod_flash_spelling():
    assert GpuGroup.ANY.value == "any"
    assert GpuGroup.ADA_24.value == "ADA_24"
    assert GpuType.ANY.value == "any"
    assert GpuType.NVIDIA_GEFORCE_RTX_4090.value == "NVIDIA GeForce RTX 4090"
    assert GpuType.NVIDIA_A100_SXM4_80GB.value == "NVIDIA A100-SXM4-80GB"
    assert [m.value for m in CpuInstanceType][:4] == ["cpu3g-1-4", "cpu3g-2-8", "cpu3g-4-16", "cpu3g-8-32"]
    assert [m.value for m in DataCenter] == [
        "US-CA-2", "US-IL-1", "US-KS-2", "US-MO-1", "US-MO-2", "US-NC-2", "US-NE-1", "US-WA-1",
        "EU-CZ-1", "EU-RO-1", "EUR-NO-1",
    ]  # fmt: skip
    assert [m.value for m in CudaVersion] == [
        "11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8", "12.9", "13.0",
    ]  # fmt: skip
    assert ServerlessScalerType.REQUEST_COUNT.value == "REQUEST_COUNT"
    assert ServerlessType.LB.value == "LB"


def test_str_enums_compare_equal_to_their_values():
    # runpod-flash declares these two as ``str`` enums: user code compares them to strings.
    assert CpuInstanceType.CPU3G_2_8 == "cpu3g-2-8"
    assert DataCenter.EU_RO_1 == "EU-RO-1"


def test_cpu_datacenters():
    assert CPU_DATACENTERS == frozenset({DataCenter.EU_RO_1})


def test_datacenter_from_string_accepts_variants_and_names_valid_ones():
    assert DataCenter.from_string("eu_ro_1") is DataCenter.EU_RO_1
    assert DataCenter.from_string(" US-CA-2 ") is DataCenter.US_CA_2
    with pytest.raises(ValueError, match="Valid datacenters: US-CA-2, .*EUR-NO-1"):
        DataCenter.from_string("mars-1")


def test_gpu_group_all_covers_every_concrete_pool():
    assert GpuGroup.ANY not in GpuGroup.all()
    assert set(GpuGroup.all()) == set(GpuGroup) - {GpuGroup.ANY}
    assert GpuGroup.all()[0] is GpuGroup.AMPERE_48
