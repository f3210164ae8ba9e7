import random

import pytest

from shebao.common.jobs import Progress
from shebao.demo.runner import demo_users_ensure
from shebao.maintenance.demo import maint_demo, maint_reset
from shebao.maintenance.models import ConvertLayout, CorrectionRequest, SavedQuery
from shebao.maintenance.statistics import run_query
from shebao.web.tests.helpers import make_person

pytestmark = pytest.mark.django_db


def test_the_demo_step_makes_requests_queries_and_a_layout_and_resets():
    demo_users_ensure()
    for i in range(5):
        make_person(f"演示{i}")
    assert maint_demo("small", random.Random(1), Progress()) == "数据维护：更正申请 3 条、统计查询 3 个、转换格式 1 个"
    assert sorted(CorrectionRequest.objects.values_list("state", flat=True)) == ["applied", "open", "refused"]
    assert SavedQuery.objects.count() == 3 and ConvertLayout.objects.count() == 1
    from shebao.accounts.models import User

    for q in SavedQuery.objects.all():  # every demo query runs
        run_query(user=User.objects.get(username="clerk"), source=q.source, dimensions=q.dimensions,
                  measures=q.measures, parameters=q.parameters, values={})
    maint_reset()
    assert CorrectionRequest.objects.count() == SavedQuery.objects.count() == ConvertLayout.objects.count() == 0


def test_the_batch_demo_step_makes_one_applied_and_one_waiting_batch_once():
    from shebao.maintenance.demo import BATCH_FILES, maint_batch_demo
    from shebao.maintenance.models import CorrectionBatch
    from shebao.registry.models import Person

    demo_users_ensure()
    for i in range(6):
        make_person(f"批量{i}")
    before = dict(Person.objects.values_list("pk", "residence_address"))
    assert maint_batch_demo("small", random.Random(1), Progress()) == "数据维护：批量更正 2 批（已更正 1 批、待审核 1 批）"
    batches = {b.file_name: b for b in CorrectionBatch.objects.all()}
    assert set(batches) == set(BATCH_FILES)
    applied, waiting = batches[BATCH_FILES[0]], batches[BATCH_FILES[1]]
    assert (applied.state, applied.row_count, applied.applied_count, applied.error_count) == ("applied", 2, 2, 0)
    assert applied.proposed_by.username == "clerk" and applied.decided_by.username == "reviewer"
    assert (waiting.state, waiting.row_count, waiting.applied_count, waiting.error_count) == ("open", 2, 0, 0)
    after = dict(Person.objects.values_list("pk", "residence_address"))
    changed = {pk for pk in after if after[pk] != before[pk]}
    assert changed == {r["person_id"] for r in applied.rows}
    assert all(after[r["person_id"]] == r["new"] for r in applied.rows)
    # idempotent: a second run makes nothing and changes nothing
    assert maint_batch_demo("small", random.Random(2), Progress()) is None
    assert CorrectionBatch.objects.count() == 2
    assert dict(Person.objects.values_list("pk", "residence_address")) == after
    maint_reset()
    assert CorrectionBatch.objects.count() == 0
