"""The certification app fills the 回流库's slots (``common.hooks``): 记为认证 records a 数据比对
certification through ``certification_record``; a confirmed death finding runs 死亡减员 through
``person_death``; the 生存迹象 check reads each person's last certification date. A refusal reaches the
caller as ``HookRefused`` with the Chinese reason, and nothing is written."""

import datetime as dt

import pytest
from django.utils import timezone

from shebao.benefits.models import Enrollment
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.certification.models import Certification
from shebao.common import hooks
from shebao.registry.models import Person
from shebao.web.tests.helpers import id_number, make_person, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    clerk = make_user("h_clerk", all_regions=True)
    person = make_person("回流甲", number=id_number(dt.date(1950, 3, 1)))
    enrollment_create(person=person, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                      items={"basic": "2000.00"})
    return clerk, person


def test_the_recorder_records_a_data_comparison_certification_once(world):
    clerk, person = world
    record = hooks.provided("certification_recorder")
    on = timezone.localdate() - dt.timedelta(days=3)
    record(person, on, method="数据比对", user=clerk, source="省.ke_act", note="医保结算")
    record(person, on, method="数据比对", user=clerk, source="省.ke_act", note="医保结算")
    assert list(Certification.objects.values_list("person_id", "certified_on", "method")) == [(person.pk, on, "data")]
    assert list(hooks.provided("certification_last_dates")()) == [{"person_id": person.pk, "last_on": on}]
    with pytest.raises(hooks.HookRefused):
        record(person, timezone.localdate() + dt.timedelta(days=1), method="数据比对", user=clerk)
    assert Certification.objects.count() == 1


def test_the_death_starter_ends_the_schemes_once(world):
    clerk, person = world
    start = hooks.provided("death_flow_starter")
    start(person, dt.date(2025, 6, 20), clerk, source="回流库", note="省死亡登记")
    person.refresh_from_db()
    assert person.death_date == dt.date(2025, 6, 20)
    assert Enrollment.objects.get(person=person).end_month == dt.date(2025, 6, 1)
    assert start(person, dt.date(2025, 7, 1), clerk, source="回流库") is None  # recorded already: left as it is
    assert Person.objects.get(pk=person.pk).death_date == dt.date(2025, 6, 20)
