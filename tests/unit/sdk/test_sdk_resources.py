"""Resource classes: constructors from ``tables``, and every validation rule."""

from __future__ import annotations

import inspect

import pytest

from flashc_runtime.sdk import (
    CpuInstanceType,
    CpuLiveLoadBalancer,
    CpuLiveServerless,
    CpuLoadBalancerSlsResource,
    CpuServerlessEndpoint,
    CudaVersion,
    DataCenter,
    GpuGroup,
    GpuType,
    LiveLoadBalancer,
    LiveServerless,
    LoadBalancerSlsResource,
    NetworkVolume,
    PodTemplate,
    ServerlessEndpoint,
    ServerlessScalerType,
    ServerlessType,
    tables,
)
from flashc_runtime.sdk.validation import SettingError

ALL = [
    ServerlessEndpoint,
    CpuServerlessEndpoint,
    LiveServerless,
    CpuLiveServerless,
    LoadBalancerSlsResource,
    CpuLoadBalancerSlsResource,
    LiveLoadBalancer,
    CpuLiveLoadBalancer,
]
LIVE = [cls for cls in ALL if tables.RESOURCE_CLASSES[cls.__name__].live]
NOT_LIVE = [cls for cls in ALL if cls not in LIVE]
CPU = [cls for cls in ALL if tables.RESOURCE_CLASSES[cls.__name__].cpu]
GPU = [cls for cls in ALL if cls not in CPU]
LB = [cls for cls in ALL if tables.RESOURCE_CLASSES[cls.__name__].load_balanced]


def make(cls, **kwargs):
    """Construct with the minimum every class accepts (non-Live classes need an image)."""
    kwargs.setdefault("name", "worker")
    if cls in NOT_LIVE:
        kwargs.setdefault("imageName", "me/worker:1")
    return cls(**kwargs)


def assert_signature_matches(cls, table):
    params = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in params] == list(table.names)
    for param, row in zip(params, table.params):
        assert param.kind is inspect.Parameter.KEYWORD_ONLY
        expected = inspect.Parameter.empty if row.default is tables.REQUIRED else row.default
        assert param.default == expected, param.name


# --- constructors come from the tables -----------------------------------------------


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_resource_signature_is_the_table(cls):
    assert_signature_matches(cls, tables.RESOURCE_SIGNATURES[cls.__name__])


def test_volume_and_template_signatures_are_the_tables():
    assert_signature_matches(NetworkVolume, tables.NETWORK_VOLUME)
    assert_signature_matches(PodTemplate, tables.POD_TEMPLATE)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_defaults_and_resource_class(cls):
    facts = tables.RESOURCE_CLASSES[cls.__name__]
    resource = make(cls)
    assert resource.resource_class is facts
    assert resource.workersMin == tables.DEFAULT_WORKERS_MIN
    assert resource.workersMax == tables.DEFAULT_WORKERS_MAX
    assert resource.idleTimeout == 60
    assert resource.scalerValue == 4
    assert resource.flashboot is True
    assert resource.type is (ServerlessType.LB if facts.load_balanced else ServerlessType.QB)
    expected_scaler = ServerlessScalerType.REQUEST_COUNT if facts.load_balanced else ServerlessScalerType.QUEUE_DELAY
    assert resource.scalerType is expected_scaler


def test_class_hierarchy_mirrors_runpod_flash():
    assert issubclass(LiveServerless, ServerlessEndpoint)
    assert issubclass(CpuServerlessEndpoint, ServerlessEndpoint)
    assert issubclass(CpuLiveServerless, CpuServerlessEndpoint)
    assert issubclass(LiveLoadBalancer, LoadBalancerSlsResource)
    assert issubclass(CpuLoadBalancerSlsResource, LoadBalancerSlsResource)
    assert issubclass(CpuLiveLoadBalancer, CpuLoadBalancerSlsResource)
    assert not issubclass(LoadBalancerSlsResource, ServerlessEndpoint)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_unknown_keyword_is_rejected_with_a_suggestion(cls):
    with pytest.raises(TypeError, match=rf"{cls.__name__}\(\) got an unknown keyword argument 'workersMaxx' \(did you mean 'workersMax'\?\)"):
        make(cls, workersMaxx=3)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_name_is_required_and_keyword_only(cls):
    with pytest.raises(TypeError, match=rf"{cls.__name__}\(\) is missing the required argument 'name'"):
        cls(imageName="x")
    with pytest.raises(TypeError):
        cls("worker")


def test_list_defaults_are_not_shared():
    first, second = LiveServerless(name="a"), LiveServerless(name="b")
    first.gpus.append("mutated")
    assert "mutated" not in second.gpus
    assert tables.RESOURCE_SIGNATURES["LiveServerless"].param("gpus").default == [GpuGroup.ANY]


# --- GPU and CPU ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", GPU, ids=lambda c: c.__name__)
def test_gpu_any_expands_to_every_pool(cls):
    assert make(cls).gpus == GpuGroup.all()
    assert make(cls, gpus=[GpuType.ANY]).gpus == GpuGroup.all()
    assert make(cls, gpus=["ADA_24", GpuType.NVIDIA_L4]).gpus == [GpuGroup.ADA_24, GpuType.NVIDIA_L4]


def test_unknown_gpu_names_field_and_allowed_values():
    with pytest.raises(SettingError, match=r"gpus: 'RTX_9999' is not a GpuGroup or GpuType; allowed groups: any, ADA_24") as info:
        LiveServerless(name="w", gpus=["RTX_9999"])
    assert info.value.setting == "gpus"


@pytest.mark.parametrize("cls", GPU, ids=lambda c: c.__name__)
def test_min_cuda_version_is_coerced(cls):
    assert make(cls).minCudaVersion is CudaVersion.V12_8
    assert make(cls, minCudaVersion="12.4").minCudaVersion is CudaVersion.V12_4
    assert make(cls, cudaVersions=["12.8", CudaVersion.V12_9]).cudaVersions == [CudaVersion.V12_8, CudaVersion.V12_9]
    with pytest.raises(SettingError, match=r"minCudaVersion: '10.0' is not a valid CudaVersion; allowed: 11.8, 12.0.*13.0"):
        make(cls, minCudaVersion="10.0")


@pytest.mark.parametrize("cls", CPU, ids=lambda c: c.__name__)
def test_cpu_classes_clear_gpu_fields(cls):
    resource = make(cls, gpus=[GpuGroup.ADA_24], gpuCount=2, minCudaVersion="12.4")
    assert resource.instanceIds == [CpuInstanceType.CPU3G_2_8]
    assert (resource.gpus, resource.gpuCount, resource.minCudaVersion, resource.cudaVersions) == ([], 0, None, [])


def test_gpu_class_given_cpu_instances_becomes_cpu_like_runpod_flash():
    resource = ServerlessEndpoint(name="w", imageName="x", instanceIds=["cpu3c-1-2"])
    assert resource.instanceIds == [CpuInstanceType.CPU3C_1_2]
    assert (resource.gpus, resource.gpuCount) == ([], 0)


def test_unknown_cpu_instance_names_field_and_allowed_values():
    with pytest.raises(SettingError, match=r"instanceIds: 'cpu9-1-1' is not a valid CpuInstanceType; allowed: cpu3g-1-4"):
        CpuLiveServerless(name="w", instanceIds=["cpu9-1-1"])


@pytest.mark.parametrize(
    ("instances", "disk"),
    [
        ([CpuInstanceType.CPU3G_2_8], 20),
        (["cpu3c-1-2"], 10),
        ([CpuInstanceType.CPU5C_1_2], 15),
        ([CpuInstanceType.CPU3G_8_32, CpuInstanceType.CPU3C_2_4], 20),
    ],
)
@pytest.mark.parametrize("cls", CPU, ids=lambda c: c.__name__)
def test_cpu_container_disk_is_auto_sized_to_the_smallest_limit(cls, instances, disk):
    assert make(cls, instanceIds=instances).template.containerDiskInGb == disk


@pytest.mark.parametrize("cls", CPU, ids=lambda c: c.__name__)
def test_cpu_container_disk_limit(cls):
    kept = make(cls, template=PodTemplate(containerDiskInGb=15))
    assert kept.template.containerDiskInGb == 15
    with pytest.raises(SettingError, match=r"containerDiskInGb: 30 GB exceeds .*cpu3g-2-8: 20 GB.*maximum: 20 GB") as info:
        make(cls, template=PodTemplate(containerDiskInGb=30))
    assert info.value.setting == "containerDiskInGb"


def test_gpu_container_disk_is_left_alone():
    assert LiveServerless(name="w").template.containerDiskInGb == tables.DEFAULT_CONTAINER_DISK_GB


def test_given_template_is_copied_not_mutated():
    template = PodTemplate(containerDiskInGb=64)
    resource = CpuLiveServerless(name="w", template=template)
    assert resource.template.containerDiskInGb == 20
    assert template.containerDiskInGb == 64
    assert template.imageName == ""


# --- numbers and versions ------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_worker_range(cls):
    resource = make(cls, workersMin=1, workersMax=5)
    assert (resource.workersMin, resource.workersMax) == (1, 5)
    with pytest.raises(SettingError, match=r"workersMin/workersMax: min \(3\) cannot exceed max \(1\)"):
        make(cls, workersMin=3)
    with pytest.raises(SettingError, match=r"workersMin/workersMax cannot be negative"):
        make(cls, workersMin=-1)
    with pytest.raises(SettingError, match=r"workersMin/workersMax: worker counts must be ints"):
        make(cls, workersMax="3")


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", [0, 3601, 1.5])
def test_idle_timeout_range(cls, value):
    with pytest.raises(SettingError, match=r"idleTimeout must be (between 1 and 3600|an int)"):
        make(cls, idleTimeout=value)


@pytest.mark.parametrize("value", [1, 3600])
def test_idle_timeout_bounds_are_inclusive(value):
    assert LiveServerless(name="w", idleTimeout=value).idleTimeout == value


def test_python_version():
    assert LiveServerless(name="w", python_version="3.11").python_version == "3.11"
    with pytest.raises(SettingError, match=r"python_version: Python 3.9 is not supported; allowed: 3.10, 3.11, 3.12, 3.13"):
        LiveServerless(name="w", python_version="3.9")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("executionTimeoutMs", -1, "executionTimeoutMs must be at least 0"),
        ("scalerValue", -1, "scalerValue must be at least 0"),
        ("gpuCount", -1, "gpuCount must be at least 0"),
        ("workersPFBTarget", -1, "workersPFBTarget must be at least 0"),
        ("flashboot", "yes", "flashboot must be True or False"),
        ("env", {"A": 1}, "env must be a dict of str to str"),
        ("imageName", 3, "imageName must be a string"),
    ],
)
def test_scalar_fields(field, value, message):
    with pytest.raises(SettingError, match=message) as info:
        LiveServerless(name="w", **{field: value})
    assert info.value.setting == field


def test_name_is_checked():
    with pytest.raises(SettingError, match=r"name 'my worker' may only contain letters, digits"):
        LiveServerless(name="my worker")


# --- placement -------------------------------------------------------------------------------


def test_datacenter_is_normalised_to_a_list_and_locations():
    resource = LiveServerless(name="w", datacenter="eu_ro_1")
    assert resource.datacenter == [DataCenter.EU_RO_1]
    assert resource.locations == "EU-RO-1"
    both = LiveServerless(name="w", datacenter=[DataCenter.US_CA_2, "EU-CZ-1"])
    assert both.datacenter == [DataCenter.US_CA_2, DataCenter.EU_CZ_1]
    assert both.locations == "US-CA-2,EU-CZ-1"
    assert LiveServerless(name="w").datacenter is None


def test_unknown_datacenter_names_the_valid_ones():
    with pytest.raises(SettingError, match=r"datacenter: Unknown datacenter 'mars'. Valid datacenters: US-CA-2"):
        LiveServerless(name="w", datacenter="mars")


@pytest.mark.parametrize("cls", CPU, ids=lambda c: c.__name__)
def test_cpu_endpoints_only_in_cpu_datacenters(cls):
    assert make(cls, datacenter="EU-RO-1").datacenter == [DataCenter.EU_RO_1]
    with pytest.raises(SettingError, match=r"not available in US-CA-2; CPU data centres: EU-RO-1") as info:
        make(cls, datacenter=[DataCenter.EU_RO_1, DataCenter.US_CA_2])
    assert info.value.setting == "datacenter"


def test_volumes_merge_and_one_per_datacenter():
    ro, cz = NetworkVolume(name="a"), NetworkVolume(name="b", datacenter="EU-CZ-1")
    resource = LiveServerless(name="w", networkVolumes=[ro], networkVolume=cz)
    assert resource.networkVolumes == [ro, cz]
    assert resource.networkVolume is ro
    assert LiveServerless(name="w", networkVolume=ro, networkVolumes=[ro]).networkVolumes == [ro]
    with pytest.raises(SettingError, match=r"only one network volume is allowed per data centre \(EU-RO-1\)") as info:
        LiveServerless(name="w", networkVolumes=[ro, NetworkVolume(name="c")])
    assert info.value.setting == "volume"


def test_volume_datacenter_must_be_an_endpoint_datacenter():
    volume = NetworkVolume(name="a", datacenter=DataCenter.US_CA_2)
    assert LiveServerless(name="w", networkVolume=volume, datacenter=["US-CA-2"]).networkVolume is volume
    with pytest.raises(SettingError, match=r"network volume data centre US-CA-2 is not among the endpoint's data centres \(EU-RO-1\)"):
        LiveServerless(name="w", networkVolume=volume, datacenter=DataCenter.EU_RO_1)


def test_volume_given_as_dict_like_runpod_flash_endpoint_passes_it():
    resource = LiveServerless(name="w", networkVolume={"name": "a", "size": 50})
    assert resource.networkVolume == NetworkVolume(name="a", size=50)


# --- queue or load balancer -----------------------------------------------------------------


@pytest.mark.parametrize("cls", LB, ids=lambda c: c.__name__)
def test_load_balancers_reject_queue_delay(cls):
    with pytest.raises(SettingError, match=r"REQUEST_COUNT; QUEUE_DELAY is for queue-based"):
        make(cls, scalerType=ServerlessScalerType.QUEUE_DELAY)
    assert make(cls, scalerType="REQUEST_COUNT").scalerType is ServerlessScalerType.REQUEST_COUNT


def test_scaler_type_names_field_and_allowed_values():
    with pytest.raises(SettingError, match=r"scalerType: 'FAST' is not a valid ServerlessScalerType; allowed: QUEUE_DELAY, REQUEST_COUNT"):
        LiveServerless(name="w", scalerType="FAST")


def test_type_is_fixed_by_the_class():
    assert LiveLoadBalancer(name="w", type="LB").type is ServerlessType.LB
    with pytest.raises(SettingError, match=r"type: LiveLoadBalancer is always LB, got 'QB'; allowed: LB"):
        LiveLoadBalancer(name="w", type="QB")
    with pytest.raises(SettingError, match=r"type: LiveServerless is always QB"):
        LiveServerless(name="w", type=ServerlessType.LB)


# --- images, templates, names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "image"),
    [
        (LiveServerless, "runpod/flash:py3.12-latest"),
        (CpuLiveServerless, "runpod/flash-cpu:py3.12-latest"),
        (LiveLoadBalancer, "runpod/flash-lb:py3.12-latest"),
        (CpuLiveLoadBalancer, "runpod/flash-lb-cpu:py3.12-latest"),
    ],
)
def test_live_classes_default_the_flash_image(cls, image):
    resource = cls(name="w")
    assert resource.imageName == image == tables.default_image(resource.resource_class.image_type, "3.12")
    assert resource.template.imageName == image
    assert cls(name="w", python_version="3.11").imageName == image.replace("py3.12", "py3.11")
    assert cls(name="w", imageName="me/img:2").imageName == "me/img:2"


@pytest.mark.parametrize("cls", NOT_LIVE, ids=lambda c: c.__name__)
def test_deploy_classes_need_an_image_or_template(cls):
    with pytest.raises(SettingError, match=rf"{cls.__name__} needs one of imageName, template or templateId"):
        cls(name="w")
    assert cls(name="w", imageName="me/img:1").template.imageName == "me/img:1"
    assert cls(name="w", templateId="tpl-1").template is None
    assert cls(name="w", template=PodTemplate(imageName="me/img:3")).template.imageName == "me/img:3"


def test_env_reaches_the_template():
    assert LiveServerless(name="w", env={"A": "1"}).template.env == {"A": "1"}


@pytest.mark.parametrize(("given", "expected"), [("w-fb", "w"), ("w-fb-fb", "w"), ("w", "w")])
def test_flashboot_strips_the_fb_suffix(given, expected):
    assert LiveServerless(name=given).name == expected
    assert LiveServerless(name=given, flashboot=False).name == given


# --- NetworkVolume and PodTemplate ------------------------------------------------------------


def test_network_volume_defaults_and_alias():
    volume = NetworkVolume(name="data")
    assert (volume.size, volume.dataCenterId, volume.datacenter, volume.id) == (100, DataCenter.EU_RO_1, DataCenter.EU_RO_1, None)
    assert not volume.is_created
    assert NetworkVolume(name="d", datacenter="us_ca_2").dataCenterId is DataCenter.US_CA_2
    # runpod-flash: an explicit dataCenterId wins over the alias
    assert NetworkVolume(name="d", dataCenterId="EU-CZ-1", datacenter="US-CA-2").dataCenterId is DataCenter.EU_CZ_1
    assert NetworkVolume(id="vol-1").is_created


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "NetworkVolume needs a name or an id"),
        ({"name": "  "}, "NetworkVolume name must be a non-empty string"),
        ({"name": "d", "size": 9}, "size must be between 10 and 4096, got 9"),
        ({"name": "d", "size": 4097}, "size must be between 10 and 4096, got 4097"),
        ({"name": "d", "datacenter": "nowhere"}, "dataCenterId: Unknown datacenter 'nowhere'"),
    ],
)
def test_network_volume_validation(kwargs, message):
    with pytest.raises(SettingError, match=message):
        NetworkVolume(**kwargs)


def test_network_volume_rejects_unknown_keywords():
    with pytest.raises(TypeError, match=r"NetworkVolume\(\) got an unknown keyword argument 'sise' \(did you mean 'size'\?\)"):
        NetworkVolume(name="d", sise=10)


def test_pod_template_defaults_and_env_forms():
    template = PodTemplate()
    assert (template.name, template.imageName, template.containerDiskInGb, template.advancedStart) == ("", "", 64, False)
    assert (template.env, template.config, template.ports) == (None, None, "")
    assert PodTemplate(env={"A": "1"}).env == {"A": "1"}
    assert PodTemplate(env=[{"key": "A", "value": "1"}]).env == {"A": "1"}
    with pytest.raises(SettingError, match="containerDiskInGb must be at least 1"):
        PodTemplate(containerDiskInGb=0)
    with pytest.raises(TypeError, match="did you mean 'dockerArgs'"):
        PodTemplate(dockerArg="--x")


def test_repr_shows_given_settings():
    assert repr(NetworkVolume(name="d", size=20)) == "NetworkVolume(name='d', size=20)"
