"""Who may use the registry (人员): one rule per act, asked by the pages (``registry.views``) and the API
(``shebao.api.persons``) alike. The persons themselves are then limited to the user's towns
(``selectors.persons_visible``/``person_get``): another town's person looks missing (404)."""

from shebao.common.policy import rule

VIEW = rule("registry.view_person", note="人员信息（列表、导出、详情、查找）")
ADD = rule("registry.add_person", note="新增人员")
CHANGE = rule("registry.change_person", note="修改人员信息")
CHANGE_ACCOUNT = rule("registry.change_bankaccount", note="变更支付账户")
# the communities of a town, for the person form (region data, no personal data)
FORM_REGIONS = rule("registry.add_person", "registry.change_person", note="人员表单的村社区选项")
