"""Resource configurations shared by the workers."""

from flashc import CpuInstanceType, CpuLiveServerless

cpu_config = CpuLiveServerless(
    name="quickstart-cpu",
    instanceIds=[CpuInstanceType.CPU3C_1_2],
    workersMax=2,
    idleTimeout=30,
)
