"""The permissions of 社会化管理 / 生存认证 (held by roles in ``shebao.accounts.roles.ROLE_PERMISSIONS``) and
the rules (``shebao.common.policy``) every page, command and job of the app is behind. A certification
concerns a person of any scheme, so the rules name no scheme; persons are limited to the user's towns
(``policy.scope_town``; another town's person looks missing). A death ends every scheme the person is
in: the user must also hold each of those schemes (``death_denial``). The sweep and the file import
reach the whole county: 全市范围."""

from shebao.common import policy
from shebao.common.policy import rule

VIEW = "certification.view_certification"
RECORD = "certification.add_certification"
DEATH = "certification.record_death"
SWEEP = "certification.run_sweep"
COMMUNITY = "certification.manage_community"

VIEW_RULE = rule(VIEW, note="生存认证查询，本人管辖镇街道")
RECORD_RULE = rule(RECORD, note="生存认证登记，本人管辖镇街道")
DEATH_RULE = rule(DEATH, note="死亡减员，本人管辖镇街道，且须有该人员所在各险种的权限")
SWEEP_RULE = rule(SWEEP, county=True, note="生存认证到期清理涉及全市人员")
IMPORT_RULE = rule(SWEEP, county=True, note="生存认证批量导入涉及全市人员")
COMMUNITY_RULE = rule(COMMUNITY, note="维护村社区信息与人员联系人，本人管辖范围")


def death_denial(user, person) -> str | None:
    """Why ``user`` may not record ``person``'s death (None when they may): the rule, the person's town
    and every scheme the person is still paid in."""
    reason = policy.denial(user, DEATH_RULE, town_id=person.town_id, community_id=person.community_id,
                           check_town=True)
    if reason:
        return reason
    from shebao.benefits.models import Enrollment

    for code in (Enrollment.objects.filter(person=person).exclude(payment_status="terminated")
                 .values_list("scheme__code", flat=True)):
        reason = policy.denial(user, DEATH_RULE, scheme=code)
        if reason:
            return reason
    return None
