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
