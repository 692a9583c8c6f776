"""Contract tests against the official SDK (huaweicloudsdkworkspace, huaweicloudsdkcore; dev dependencies
pinned in requirements.lock): our region tables, our models and the simulator's answers agree with it.

The SDK pages through the simulator, and our client sends the SDK's paths and query parameters: see
tests/integration/test_sim_sdk.py and tests/unit/test_signer.py::test_client_sends_what_the_sdk_sends.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.auth.endpoint import get_iam_endpoint_by_id
from huaweicloudsdkcore.auth.internal import IamHelper
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkworkspace.v2 import (
    ListScheduledTasksRecordsDetailsRequest,
    ListScheduledTasksRecordsDetailsResponse,
    ListScheduledTasksRecordsResponse,
    ListScheduledTasksRequest,
    ListScheduledTasksResponse,
    ShowScheduledTasksResponse,
)
from huaweicloudsdkworkspace.v2 import WorkspaceClient as SdkWorkspaceClient
from huaweicloudsdkworkspace.v2.model import (
    ApplyObject as SdkApplyObject,
)
from huaweicloudsdkworkspace.v2.model import (
    ScheduledTask as SdkScheduledTask,
)
from huaweicloudsdkworkspace.v2.model import (
    ScheduledTasksRecords as SdkRecord,
)
from huaweicloudsdkworkspace.v2.model import (
    ScheduledTasksRecordsDetails as SdkDetail,
)
from huaweicloudsdkworkspace.v2.region.workspace_region import WorkspaceRegion

from monitor.config import WorkspaceSettings
from monitor.devtools.sim import SimOptions, wire
from monitor.devtools.sim.state import SimState
from monitor.workspace.client import PAGE_LIMIT, RECORDS_LIMIT, TaskFilter
from monitor.workspace.errors import ConfigurationError
from monitor.workspace.factory import (
    GLOBAL_IAM_ENDPOINT,
    KNOWN_REGIONS,
    WORKSPACE_ENDPOINTS,
    iam_endpoint,
    workspace_endpoint,
)
from monitor.workspace.models import ApplyObject, ExecutionRecord, RecordDetail, ScheduledTask, TaskDetail

#: Regions the Workspace API documents and this SDK version does not know yet.
DOCUMENTED_ONLY = {"na-mexico-1"}


# -- regions ---------------------------------------------------------------------------------------------


def test_every_region_the_sdk_knows_has_the_sdks_workspace_host() -> None:
    sdk = {region: r.endpoints[0] for region, r in WorkspaceRegion.static_fields.items()}
    assert {region: WORKSPACE_ENDPOINTS[region] for region in sdk} == sdk
    assert set(WORKSPACE_ENDPOINTS) - set(sdk) == DOCUMENTED_ONLY


@pytest.mark.parametrize("region", sorted(KNOWN_REGIONS))
def test_iam_hosts_are_the_sdks(region: str) -> None:
    """huaweicloudsdkcore's table, else its global default; eu-west-101 is the one region whose IAM host is
    on .myhuaweicloud.eu (huaweicloudsdkiam's IamRegion; core sends it to the global host)."""
    if region == "eu-west-101":
        assert iam_endpoint(region) == "https://iam.eu-west-101.myhuaweicloud.eu"
    else:
        assert iam_endpoint(region) == get_iam_endpoint_by_id(region, IamHelper.DEFAULT_ENDPOINT)


def test_regions_without_a_regional_iam_host_use_the_global_one() -> None:
    assert GLOBAL_IAM_ENDPOINT == IamHelper.DEFAULT_ENDPOINT
    for region in ("cn-north-11", "af-north-1"):
        assert iam_endpoint(region) == GLOBAL_IAM_ENDPOINT


def test_na_mexico_1_is_a_workspace_region() -> None:
    assert workspace_endpoint(WorkspaceSettings(region="na-mexico-1")) == (
        "https://workspace.na-mexico-1.myhuaweicloud.com"
    )


def test_an_unknown_region_names_workspace_endpoint() -> None:
    with pytest.raises(ConfigurationError, match=r"set workspace\.endpoint"):
        workspace_endpoint(WorkspaceSettings(region="xx-nowhere-1"))


# -- models: ours know every field the SDK's do ------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "sdk"),
    [
        (ScheduledTask, SdkScheduledTask),
        (TaskDetail, ShowScheduledTasksResponse),
        (ExecutionRecord, SdkRecord),
        (RecordDetail, SdkDetail),
        (ApplyObject, SdkApplyObject),
    ],
)
def test_our_models_declare_every_field_of_the_sdks(ours: Any, sdk: Any) -> None:
    fields = set(sdk.attribute_map.values()) - {"X-Request-Id", "x-request-id"}
    assert fields <= set(ours.model_fields)


def test_our_list_filters_are_query_parameters_of_the_sdks_request() -> None:
    assert set(vars(TaskFilter())) <= set(ListScheduledTasksRequest.attribute_map)


def test_pages_stay_within_the_sdks_limits() -> None:
    """The request models say "取值范围0~50" (tasks) and "0~100" (records, record details)."""
    assert "0~50" in ListScheduledTasksRequest.__init__.__doc__
    assert PAGE_LIMIT == 50
    assert "0~100" in ListScheduledTasksRecordsDetailsRequest.__init__.__doc__
    assert RECORDS_LIMIT == 100


# -- the simulator's answers deserialise into the SDK's response models ------------------------------------


class _Answer:
    """What the SDK's `deserialize` reads of an HTTP answer."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.text = json.dumps(body)
        self.content = self.text.encode()
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.status_code = 200


@pytest.fixture(scope="module")
def sdk() -> Any:
    """The SDK's client: only its deserialisation is used (no request is sent)."""
    return (
        SdkWorkspaceClient.new_builder()
        .with_credentials(BasicCredentials("AK", "SK", "p" * 32))
        .with_endpoints(["https://workspace.test"])
        .build()
    )


@pytest.fixture(scope="module")
def state() -> SimState:
    return SimState(SimOptions(tasks=200, seed=5))


@pytest.mark.parametrize("time_format", ["local", "rfc3339"])
def test_every_answer_deserialises_into_the_sdks_models_field_for_field(
    sdk: Any, state: SimState, time_format: str
) -> None:
    """The SDK reads each answer of the simulator into the response model of the same operation, and gives
    back exactly what was sent: no field the SDK does not know, none of a type it does not accept."""
    rfc3339 = time_format == "rfc3339"
    for task in state.tasks[:60]:
        answers = [
            (ListScheduledTasksResponse, {"scheduled_tasks": [wire.list_entry(task, rfc3339=rfc3339)]}),
            (ShowScheduledTasksResponse, wire.show_body(task)),
            (
                ListScheduledTasksRecordsResponse,
                {"tasks_records": [wire.record_entry(task, r, rfc3339=rfc3339) for r in task.records]},
            ),
            (
                ListScheduledTasksRecordsDetailsResponse,
                {
                    "tasks_records_details": [
                        wire.record_detail_entry(task, record, detail, rfc3339=rfc3339)
                        for record in task.records[:1]
                        for detail in record.details
                    ]
                },
            ),
        ]
        for response_type, body in answers:
            body = {**body, "total_count": 1} if response_type is not ShowScheduledTasksResponse else body
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the SDK warns when it cannot convert a value
                parsed = sdk.deserialize(_Answer(body), response_type.__name__, None)
            assert isinstance(parsed, response_type)
            assert sanitize_for_serialization(parsed) == body, response_type.__name__
